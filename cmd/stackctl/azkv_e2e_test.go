//go:build e2e

package main

import (
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stackctl/stackctl/rotate/store/storetest"
)

// TestAzureKeyVaultEndToEnd deploys a secret from Azure Key Vault through
// the Azure SDK (DefaultAzureCredential signing in as a service principal,
// azsecrets), against a local TLS server that speaks Entra ID's token
// endpoint and Key Vault's API (no Azure server can run here): deploy, the
// same value set again (nothing rolls), a new value (one service rolls),
// rotate (a new version tagged with the identity stackctl chose, rolled
// out), and refused credentials (exit 2, the engine untouched).
func TestAzureKeyVaultEndToEnd(t *testing.T) {
	api := realEngine(t)
	fake := storetest.NewKeyVault()
	srv := httptest.NewTLSServer(fake)
	t.Cleanup(srv.Close)
	env, err := storetest.AzureEnv(srv, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	stack := newStack(t)
	uri := "azkv://" + storetest.AzureVault(srv) + "/stripe-key"
	first := fake.Put("stripe-key", "CANARY-az-one-5b1d", map[string]string{"owner": "shop"})
	rec, run := storeStack(t, stack, uri)
	if r := run(env, "deploy"); r.code != 0 {
		t.Fatalf("deploy: exit %d\n%s", r.code, r.stderr)
	}
	checkReads(t, api, stack+"_api", "CANARY-az-one-5b1d")
	deployed := inspectSecretRef(t, api, stack+"_api", "db_password")
	if l := secretLabels(t, api, stack)[deployed]; l["io.stackctl.store.version"] != first || l["io.stackctl.source"] != uri {
		t.Errorf("labels of %s: %v, want store version %s", deployed, l, first)
	}

	// The same value set again, as a new version: nothing to roll.
	fake.Put("stripe-key", "CANARY-az-one-5b1d", map[string]string{"owner": "billing"})
	if r := run(env, "plan"); r.code != 0 || !strings.Contains(r.stdout, "no changes") {
		t.Errorf("plan after the same value was set again: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	// A new value: the one service that mounts it rolls.
	fake.Put("stripe-key", "CANARY-az-two-e40c", map[string]string{"owner": "billing"})
	bystander := serviceIndex(t, api, stack+"_bystander")
	if r := run(env, "deploy"); r.code != 0 {
		t.Fatalf("deploy of the new value: exit %d\n%s", r.code, r.stderr)
	}
	if now := inspectSecretRef(t, api, stack+"_api", "db_password"); now == deployed || serviceIndex(t, api, stack+"_bystander") != bystander {
		t.Errorf("api on %s (was %s); bystander updated: %t", now, deployed, serviceIndex(t, api, stack+"_bystander") != bystander)
	}
	checkReads(t, api, stack+"_api", "CANARY-az-two-e40c")

	// rotate writes a new version tagged with the identity it planned.
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
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil || len(res.Rotated) != 1 {
		t.Fatalf("rotate's result: %v\n%s", err, r.stdout)
	}
	_, value, tags := fake.Current("stripe-key")
	if len(value) != 32 || tags["stackctl-version"] != res.Rotated[0].StoreVersion || tags["owner"] != "billing" || fake.Versions("stripe-key") != 4 {
		t.Fatalf("the latest of %d versions holds %d characters, tags %v; rotate said store version %s", fake.Versions("stripe-key"), len(value), tags, res.Rotated[0].StoreVersion)
	}
	if got := inspectSecretRef(t, api, stack+"_api", "db_password"); got != res.Rotated[0].Version {
		t.Errorf("api on %s, want the rotated %s", got, res.Rotated[0].Version)
	}
	checkReads(t, api, stack+"_api", value)

	// A refused client secret: exit 2, the engine untouched.
	before := engineSnapshot(t, api, stack)
	r = run(append(env, "AZURE_CLIENT_SECRET=wrong"), "deploy")
	if r.code != 2 || !strings.Contains(r.stderr, "secret db_password (x-store "+uri+")") || !strings.Contains(r.stderr, "Microsoft Entra ID refused the Azure credentials") {
		t.Errorf("refused credentials: exit %d\n%s", r.code, r.stderr)
	}
	if after := engineSnapshot(t, api, stack); after != before {
		t.Errorf("a refused deploy changed the engine")
	}
	checkNoValue(t, api, stack, rec.outputs, "CANARY-az-one-5b1d", "CANARY-az-two-e40c", value)
}
