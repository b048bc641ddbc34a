package store_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/stackctl/stackctl/compose"
	"github.com/stackctl/stackctl/rotate/store"
	"github.com/stackctl/stackctl/rotate/store/storetest"
)

// TestAzureKeyVault runs DefaultAzureCredential and azsecrets against a
// fake of Entra ID and Key Vault: the credential signs in as a service
// principal, Key Vault's challenge and token flow run as they do in Azure.
func TestAzureKeyVault(t *testing.T) {
	fake := storetest.NewKeyVault()
	fake.PageSize = 2 // lists take more than one page
	v1 := fake.Put("db", "CANARY-az-one-41c7", nil)
	v2 := fake.Put("db", "CANARY-az-two-9d02", map[string]string{"owner": "shop"})
	v3 := fake.Put("db", "CANARY-az-two-9d02", map[string]string{"owner": "shop", "note": "the same value set again"})
	srv := httptest.NewTLSServer(fake)
	defer srv.Close()
	env, err := storetest.AzureEnv(srv, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	ctx := context.Background()
	vault := storetest.AzureVault(srv)
	uri := "azkv://" + vault + "/db"
	ref := func(uri string) *compose.StoreRef {
		r, err := compose.ParseStoreRef(uri)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	var errs []error
	stores := &store.Stores{Getenv: os.Getenv}

	// The value is named by the first version that holds it, Key Vault's
	// own version ID, since stackctl wrote none of them.
	v, err := stores.Read(ctx, "db", ref(uri))
	if err != nil || string(v.Data) != "CANARY-az-two-9d02" || v.Version != v2 || v.Current != v3 {
		t.Fatalf("read %q, version %s (current %s), %v: want the second value, first held by %s, current %s (not %s)", v.Data, v.Version, v.Current, err, v2, v3, v1)
	}
	_, err = stores.Read(ctx, "db", ref("azkv://"+vault+"/gone"))
	if errs = append(errs, err); !errors.Is(err, store.ErrBadReference) || !strings.Contains(err.Error(), "secret db (x-store azkv://"+vault+"/gone)") || !strings.Contains(err.Error(), "has no secret gone") {
		t.Errorf("a missing secret: %v", err)
	}

	// Rotate: the new version carries the identity Next chose, as a tag,
	// beside the other tags of the latest version.
	next, err := stores.Next(ctx, "db", ref(uri), v.Current)
	if err != nil || len(next) != 36 {
		t.Fatalf("next version %q, %v", next, err)
	}
	got, err := stores.Write(ctx, "db", ref(uri), []byte("CANARY-az-three-c3a8"), v3, next)
	if err != nil || got != next {
		t.Fatalf("write: %s, %v; want %s", got, err, next)
	}
	if _, value, tags := fake.Current("db"); value != "CANARY-az-three-c3a8" || tags["stackctl-version"] != next || tags["owner"] != "shop" || fake.Versions("db") != 4 {
		t.Errorf("the new version holds %q, tags %v, %d versions: want the new value, tagged %s, the owner tag kept, a fourth version", value, tags, fake.Versions("db"), next)
	}
	// The same value set again by someone else renames nothing.
	v5 := fake.Put("db", "CANARY-az-three-c3a8", nil)
	if v, err := stores.Read(ctx, "db", ref(uri)); err != nil || string(v.Data) != "CANARY-az-three-c3a8" || v.Version != next || v.Current != v5 {
		t.Errorf("read after the write: %q, version %s (current %s), %v: want version %s, current %s", v.Data, v.Version, v.Current, err, next, v5)
	}
	// Another writer went first: nothing is written.
	_, err = stores.Write(ctx, "db", ref(uri), []byte("CANARY-az-four-77e1"), next, "00000000-0000-4000-8000-000000000004")
	if errs = append(errs, err); !errors.Is(err, store.ErrBadReference) || !strings.Contains(err.Error(), "another writer went first") || fake.Versions("db") != 5 {
		t.Errorf("a write after another writer: %v (%d versions)", err, fake.Versions("db"))
	}

	// Refused and missing credentials.
	for _, c := range []struct {
		name string
		env  []string
		want string
	}{
		{"a wrong client secret", []string{"AZURE_CLIENT_SECRET=wrong"}, "Microsoft Entra ID refused the Azure credentials (401 invalid_client, AADSTS7000215)"},
		{"a principal with no access policy", []string{"AZURE_CLIENT_ID=" + storetest.AzureClientNoAccess}, "refused the credentials (403 Forbidden)"},
		// Only the environment's credentials, so that no managed identity
		// endpoint is probed.
		{"no client secret", []string{"AZURE_CLIENT_SECRET=", "AZURE_TOKEN_CREDENTIALS=EnvironmentCredential"}, "no usable Azure credentials"},
	} {
		t.Run(c.name, func(t *testing.T) {
			for _, kv := range c.env {
				k, v, _ := strings.Cut(kv, "=")
				t.Setenv(k, v)
			}
			_, err := (&store.Stores{Getenv: os.Getenv}).Read(ctx, "db", ref(uri))
			if errs = append(errs, err); !errors.Is(err, store.ErrNoAccess) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("err = %v, want ErrNoAccess saying %q", err, c.want)
			}
		})
	}
	for _, err := range errs {
		for _, value := range []string{"CANARY-az", storetest.AzureClientSecret} {
			if err != nil && strings.Contains(err.Error(), value) {
				t.Errorf("a value shows in %q", err)
			}
		}
	}
}
