//go:build e2e

package main

import (
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stackctl/stackctl/rotate/store/storetest"
)

// TestGCPSecretManagerEndToEnd deploys a secret from Google Cloud Secret
// Manager through Google's Go client library (REST), against a local
// server that speaks the service's REST API (no Google server can run
// here): deploy, the same value added again (nothing rolls), a new value
// (one service rolls), rotate (the next version in the store, rolled
// out), and a refused token (exit 2, the engine untouched).
func TestGCPSecretManagerEndToEnd(t *testing.T) {
	api := realEngine(t)
	fake := storetest.NewGoogleSecretManager()
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	stack := newStack(t)
	uri := "gcpsm://" + stack + "-proj/stripe"
	fake.Add(stack+"-proj", "stripe", "CANARY-gcp-one-4a1f")
	env := storetest.GoogleEnv(srv.URL)
	rec, run := storeStack(t, stack, uri)
	if r := run(env, "deploy"); r.code != 0 {
		t.Fatalf("deploy: exit %d\n%s", r.code, r.stderr)
	}
	checkReads(t, api, stack+"_api", "CANARY-gcp-one-4a1f")
	first := inspectSecretRef(t, api, stack+"_api", "db_password")

	// The same value as a new version: still named by version 1.
	fake.Add(stack+"-proj", "stripe", "CANARY-gcp-one-4a1f")
	if r := run(env, "plan"); r.code != 0 || !strings.Contains(r.stdout, "no changes") {
		t.Errorf("plan after the same value was added again: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// A new value: api rolls, bystander does not.
	fake.Add(stack+"-proj", "stripe", "CANARY-gcp-two-c05e")
	bystander := serviceIndex(t, api, stack+"_bystander")
	if r := run(env, "deploy"); r.code != 0 {
		t.Fatalf("deploy of the new value: exit %d\n%s", r.code, r.stderr)
	}
	second := inspectSecretRef(t, api, stack+"_api", "db_password")
	if second == first || serviceIndex(t, api, stack+"_bystander") != bystander {
		t.Errorf("api on %s (was %s); bystander updated: %t", second, first, serviceIndex(t, api, stack+"_bystander") != bystander)
	}
	checkReads(t, api, stack+"_api", "CANARY-gcp-two-c05e")
	if l := secretLabels(t, api, stack)[second]; l["io.stackctl.store.version"] != "3" || l["io.stackctl.source"] != uri {
		t.Errorf("labels of %s: %v", second, l)
	}

	// rotate adds version 4 and rolls it out.
	r := run(env, "rotate", "db_password", "-o", "json")
	if r.code != 0 {
		t.Fatalf("rotate: exit %d\n%s", r.code, r.stderr)
	}
	var res struct {
		Rotated []struct {
			StoreVersion string `json:"store_version"`
			Version      string `json:"version"`
		} `json:"rotated"`
	}
	n, value := fake.Latest(stack+"-proj", "stripe")
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil || len(res.Rotated) != 1 || res.Rotated[0].StoreVersion != "4" || n != 4 || len(value) != 32 {
		t.Fatalf("the store's latest version %d holds %d characters; rotate said:\n%s", n, len(value), r.stdout)
	}
	if got := inspectSecretRef(t, api, stack+"_api", "db_password"); got != res.Rotated[0].Version {
		t.Errorf("api on %s, want the rotated %s", got, res.Rotated[0].Version)
	}
	checkReads(t, api, stack+"_api", value)

	before := engineSnapshot(t, api, stack)
	r = run(append(storetest.GoogleEnv(srv.URL), "GOOGLE_OAUTH_ACCESS_TOKEN=ya29.wrong"), "deploy")
	if r.code != 2 || !strings.Contains(r.stderr, "secret db_password (x-store "+uri+")") || !strings.Contains(r.stderr, "Google Cloud refused the credentials") {
		t.Errorf("a refused token: exit %d\n%s", r.code, r.stderr)
	}
	if after := engineSnapshot(t, api, stack); after != before {
		t.Errorf("a refused deploy changed the engine")
	}
	checkNoValue(t, api, stack, rec.outputs, "CANARY-gcp-one-4a1f", "CANARY-gcp-two-c05e", value)
}
