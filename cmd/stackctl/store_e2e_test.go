//go:build e2e

package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/moby/moby/client"
)

// storeCompose reads db_password from Vault; api mounts it, bystander
// does not.
const storeCompose = `
services:
  api:
    image: {{image}}
    deploy: {replicas: 2, endpoint_mode: dnsrr, update_config: {parallelism: 2, monitor: 1s}}
    secrets: [db_password]
  bystander:
    image: {{image}}
    deploy: {endpoint_mode: dnsrr}
secrets:
  db_password:
    x-store: vault://secret/{{path}}#password
`

// storeStack is a folder holding storeCompose with db_password read from
// uri, and a recorder of what stackctl prints there.
func storeStack(t *testing.T, stack, uri string) (*recorder, func(env []string, args ...string) result) {
	t.Helper()
	dir := writeDir(t, map[string]string{"compose.yml": strings.ReplaceAll(storeCompose, "x-store: vault://secret/{{path}}#password", "x-store: "+uri)})
	rec := &recorder{dir: dir, stack: stack}
	return rec, func(env []string, args ...string) result { t.Helper(); return rec.run(t, env, args...) }
}

// checkNoValue fails if any value shows in what stackctl printed or in
// the labels of the stack's secrets.
func checkNoValue(t *testing.T, api *client.Client, stack string, printed []string, values ...string) {
	t.Helper()
	for _, v := range values {
		for _, shown := range append(printed, mustJSON(secretLabels(t, api, stack))) {
			if strings.Contains(shown, v) {
				t.Errorf("a value shows in %.300q", shown)
			}
		}
	}
}

// TestVaultEndToEnd deploys a secret whose value lives in a real Vault
// server (1.14.1, built from the module proxy by make test): the value is
// read in memory and named by its KV version; a change to another field
// rolls nothing; a new value rolls the one service that mounts it, once;
// rotate writes Vault's next version and rolls it out; a refused token
// and a missing path are exit 2 with the engine untouched.
func TestVaultEndToEnd(t *testing.T) {
	api := realEngine(t)
	addr, token := vaultServer(t)
	stack := newStack(t)
	path := stack + "/db"
	vaultPut(t, addr, token, "secret", path, map[string]string{"password": "CANARY-vault-one-5c2e", "user": "app"})
	dir := writeDir(t, map[string]string{"compose.yml": strings.ReplaceAll(storeCompose, "{{path}}", path)})
	env := []string{"VAULT_ADDR=" + addr, "VAULT_TOKEN=" + token}
	rec := &recorder{dir: dir, stack: stack}
	run := func(env []string, args ...string) result { t.Helper(); return rec.run(t, env, args...) }
	if r := run(env, "deploy"); r.code != 0 {
		t.Fatalf("deploy: exit %d\n%s", r.code, r.stderr)
	}
	first := inspectSecretRef(t, api, stack+"_api", "db_password")
	checkReads(t, api, stack+"_api", "CANARY-vault-one-5c2e")

	// Another field of the same Vault secret changes: nothing to roll.
	vaultPut(t, addr, token, "secret", path, map[string]string{"password": "CANARY-vault-one-5c2e", "user": "admin"})
	if r := run(env, "plan"); r.code != 0 || !strings.Contains(r.stdout, "no changes") {
		t.Errorf("plan after another field changed: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	// A new value: the one service that mounts it rolls, once.
	vaultPut(t, addr, token, "secret", path, map[string]string{"password": "CANARY-vault-two-81aa", "user": "admin"})
	bystander := serviceIndex(t, api, stack+"_bystander")
	if r := run(env, "deploy"); r.code != 0 {
		t.Fatalf("deploy of the new value: exit %d\n%s", r.code, r.stderr)
	}
	second := inspectSecretRef(t, api, stack+"_api", "db_password")
	if second == first || serviceIndex(t, api, stack+"_bystander") != bystander {
		t.Errorf("api on %s (was %s); bystander updated: %t", second, first, serviceIndex(t, api, stack+"_bystander") != bystander)
	}
	checkReads(t, api, stack+"_api", "CANARY-vault-two-81aa")
	if l := secretLabels(t, api, stack)[second]; l["io.stackctl.store.version"] != "3" || l["io.stackctl.source"] != "vault://secret/"+path+"#password" {
		t.Errorf("labels of %s: %v", second, l)
	}

	// rotate writes Vault's next version, keeps the other field, rolls it out.
	r := run(env, "rotate", "db_password", "-o", "json")
	if r.code != 0 {
		t.Fatalf("rotate: exit %d\n%s", r.code, r.stderr)
	}
	var res struct {
		Rotated []struct{ Store, StoreVersion, Version string } `json:"rotated"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil || len(res.Rotated) != 1 {
		t.Fatalf("rotate's result: %v\n%s", err, r.stdout)
	}
	data, version := vaultGet(t, addr, token, "secret", path)
	if version != 4 || data["user"] != "admin" || data["password"] == "CANARY-vault-two-81aa" || len(data["password"]) != 32 {
		t.Errorf("Vault holds version %d: user %q, a password of %d characters", version, data["user"], len(data["password"]))
	}
	if got := inspectSecretRef(t, api, stack+"_api", "db_password"); got != res.Rotated[0].Version {
		t.Errorf("api on %s, want the rotated %s", got, res.Rotated[0].Version)
	}
	checkReads(t, api, stack+"_api", data["password"])
	rec.outputs = append(rec.outputs, mustJSON(secretLabels(t, api, stack)))

	// A refused token and a missing path: exit 2, nothing written.
	before := engineSnapshot(t, api, stack)
	r = run([]string{"VAULT_ADDR=" + addr, "VAULT_TOKEN=not-a-token"}, "deploy")
	if r.code != 2 || !strings.Contains(r.stderr, "secret db_password (x-store vault://secret/"+path+"#password)") || !strings.Contains(r.stderr, "refused the token") {
		t.Errorf("a bad token: exit %d\n%s", r.code, r.stderr)
	}
	writeInto(t, dir, map[string]string{"compose.yml": strings.ReplaceAll(storeCompose, "{{path}}", stack+"/nope")})
	r = run(env, "deploy")
	if r.code != 2 || !strings.Contains(r.stderr, "has no secret "+stack+"/nope in mount secret") {
		t.Errorf("a missing path: exit %d\n%s", r.code, r.stderr)
	}
	if after := engineSnapshot(t, api, stack); after != before {
		t.Errorf("a refused deploy changed the engine:\n%s\n->\n%s", before, after)
	}
	for _, v := range []string{"CANARY-vault-one-5c2e", "CANARY-vault-two-81aa", data["password"]} {
		for _, shown := range rec.outputs {
			if strings.Contains(shown, v) {
				t.Errorf("a value shows in %.300q", shown)
			}
		}
	}
}

// checkReads: every running task of service reads want as its db_password.
func checkReads(t *testing.T, api *client.Client, service, want string) {
	t.Helper()
	got := readInContainers(t, api, service, "/run/secrets/db_password")
	if len(got) == 0 {
		t.Fatalf("%s has no running task", service)
	}
	for _, g := range got {
		if g != want {
			t.Errorf("%s reads another value than the store's", service)
		}
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
