//go:build e2e

package main

import (
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stackctl/stackctl/rotate/store/storetest"
)

// TestOnePasswordEndToEnd deploys a secret from a 1Password item through
// a Connect server's REST API, against a local server that speaks it (no
// Connect server can run here): deploy, a new value in 1Password (api
// rolls, bystander does not), rotate (the item's next version, rolled out
// and read), then another field of the item changes (nothing to roll: the
// marker rotate wrote keeps the name), and a refused token (exit 2, the
// engine untouched). An item stackctl never wrote is named by the item's
// version, so that no-op change comes after the rotate (see store/op.go).
func TestOnePasswordEndToEnd(t *testing.T) {
	api := realEngine(t)
	fake := storetest.NewConnect()
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	stack := newStack(t)
	fake.Put("prod", stack, map[string]string{"password": "CANARY-op-one-6b1f", "username": "app"})
	uri := "op://prod/" + stack + "/password"
	env := storetest.ConnectEnv(srv.URL)
	rec, run := storeStack(t, stack, uri)
	if r := run(env, "deploy"); r.code != 0 {
		t.Fatalf("deploy: exit %d\n%s", r.code, r.stderr)
	}
	checkReads(t, api, stack+"_api", "CANARY-op-one-6b1f")
	first := inspectSecretRef(t, api, stack+"_api", "db_password")

	// A new value in 1Password: the one service that mounts it rolls.
	fake.Put("prod", stack, map[string]string{"password": "CANARY-op-two-94c3"})
	bystander := serviceIndex(t, api, stack+"_bystander")
	if r := run(env, "deploy"); r.code != 0 {
		t.Fatalf("deploy of the new value: exit %d\n%s", r.code, r.stderr)
	}
	if now := inspectSecretRef(t, api, stack+"_api", "db_password"); now == first || serviceIndex(t, api, stack+"_bystander") != bystander {
		t.Errorf("api on %s (was %s); bystander updated: %t", now, first, serviceIndex(t, api, stack+"_bystander") != bystander)
	}
	checkReads(t, api, stack+"_api", "CANARY-op-two-94c3")

	// rotate writes the item's next version, keeps the other field, rolls it out.
	r := run(env, "rotate", "db_password", "-o", "json")
	if r.code != 0 {
		t.Fatalf("rotate: exit %d\n%s", r.code, r.stderr)
	}
	var res struct {
		Rotated []struct {
			StoreVersion string `json:"store_version"`
			Version      string
		} `json:"rotated"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil || len(res.Rotated) != 1 {
		t.Fatalf("rotate's result: %v\n%s", err, r.stdout)
	}
	password, version := fake.Field("prod", stack, "password")
	user, _ := fake.Field("prod", stack, "username")
	marker, _ := fake.Field("prod", stack, "stackctl.version.password")
	if version != 3 || res.Rotated[0].StoreVersion != "3" || user != "app" || len(password) != 32 || !strings.HasPrefix(marker, "s1:3:") {
		t.Fatalf("the item is at version %d (rotate said %s), username %q, a password of %d characters, marker %.5q", version, res.Rotated[0].StoreVersion, user, len(password), marker)
	}
	if got := inspectSecretRef(t, api, stack+"_api", "db_password"); got != res.Rotated[0].Version {
		t.Errorf("api on %s, want the rotated %s", got, res.Rotated[0].Version)
	}
	checkReads(t, api, stack+"_api", password)
	if l := secretLabels(t, api, stack)[res.Rotated[0].Version]; l["io.stackctl.store.version"] != "3" || l["io.stackctl.source"] != uri {
		t.Errorf("labels of %s: %v", res.Rotated[0].Version, l)
	}

	// Another field of the item changes: nothing to roll.
	fake.Put("prod", stack, map[string]string{"username": "admin"})
	if r := run(env, "plan"); r.code != 0 || !strings.Contains(r.stdout, "no changes") {
		t.Errorf("plan after another field changed: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	// A refused token: exit 2, nothing changed.
	before := engineSnapshot(t, api, stack)
	r = run([]string{"OP_CONNECT_HOST=" + srv.URL, "OP_CONNECT_TOKEN=not-a-token"}, "deploy")
	if r.code != 2 || !strings.Contains(r.stderr, "secret db_password (x-store "+uri+")") || !strings.Contains(r.stderr, "refused the token") {
		t.Errorf("a refused token: exit %d\n%s", r.code, r.stderr)
	}
	if after := engineSnapshot(t, api, stack); after != before {
		t.Errorf("a refused deploy changed the engine:\n%s\n->\n%s", before, after)
	}
	key := strings.Split(marker, ":")[2]
	checkNoValue(t, api, stack, rec.outputs, "CANARY-op-one-6b1f", "CANARY-op-two-94c3", password, key)
}
