//go:build e2e

package main

import (
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stackctl/stackctl/rotate/store/storetest"
)

// TestAWSSecretsManagerEndToEnd deploys a secret from AWS Secrets Manager
// through the AWS SDK, against a local server that speaks the service's
// API (no AWS server can run here): deploy, a new value in the store (one
// service rolls), rotate (a new version in the store, rolled out), and
// refused credentials (exit 2, the engine untouched).
func TestAWSSecretsManagerEndToEnd(t *testing.T) {
	api := realEngine(t)
	fake := storetest.NewSecretsManager()
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	stack := newStack(t)
	name := stack + "/stripe"
	fake.Put(name, "00000000-0000-4000-8000-000000000001", `{"api_key":"CANARY-aws-one-3e9b","other":"x"}`)
	env := storetest.Env(srv.URL)
	rec, run := storeStack(t, stack, "awssm://"+name+"#api_key")
	if r := run(env, "deploy"); r.code != 0 {
		t.Fatalf("deploy: exit %d\n%s", r.code, r.stderr)
	}
	checkReads(t, api, stack+"_api", "CANARY-aws-one-3e9b")
	first := inspectSecretRef(t, api, stack+"_api", "db_password")

	fake.Put(name, "00000000-0000-4000-8000-000000000002", `{"api_key":"CANARY-aws-one-3e9b","other":"y"}`)
	if r := run(env, "plan"); r.code != 0 || !strings.Contains(r.stdout, "no changes") {
		t.Errorf("plan after another key changed: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	fake.Put(name, "00000000-0000-4000-8000-000000000003", `{"api_key":"CANARY-aws-two-77d0","other":"y"}`)
	if r := run(env, "deploy"); r.code != 0 {
		t.Fatalf("deploy of the new value: exit %d\n%s", r.code, r.stderr)
	}
	if now := inspectSecretRef(t, api, stack+"_api", "db_password"); now == first {
		t.Error("api was not rolled to the new value")
	}
	checkReads(t, api, stack+"_api", "CANARY-aws-two-77d0")

	r := run(env, "rotate", "db_password", "-o", "json")
	if r.code != 0 {
		t.Fatalf("rotate: exit %d\n%s", r.code, r.stderr)
	}
	id, value := fake.Current(name)
	var stored map[string]string
	if err := json.Unmarshal([]byte(value), &stored); err != nil || stored["other"] != "y" || len(stored["api_key"]) != 32 || !strings.Contains(r.stdout, id) {
		t.Fatalf("the store's current version %s holds %d characters of api_key, other %q; rotate said:\n%s", id, len(stored["api_key"]), stored["other"], r.stdout)
	}
	checkReads(t, api, stack+"_api", stored["api_key"])

	before := engineSnapshot(t, api, stack)
	wrong := append(storetest.Env(srv.URL), "AWS_ACCESS_KEY_ID=AKIDWRONG")
	r = run(wrong, "deploy")
	if r.code != 2 || !strings.Contains(r.stderr, "secret db_password (x-store awssm://"+name+"#api_key)") || !strings.Contains(r.stderr, "AWS refused the credentials") {
		t.Errorf("refused credentials: exit %d\n%s", r.code, r.stderr)
	}
	if after := engineSnapshot(t, api, stack); after != before {
		t.Errorf("a refused deploy changed the engine")
	}
	checkNoValue(t, api, stack, rec.outputs, "CANARY-aws-one-3e9b", "CANARY-aws-two-77d0", stored["api_key"])
}
