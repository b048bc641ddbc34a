package store_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stackctl/stackctl/compose"
	"github.com/stackctl/stackctl/rotate/store"
	"github.com/stackctl/stackctl/rotate/store/storetest"
)

func TestGCPSecretManager(t *testing.T) {
	fake := storetest.NewGoogleSecretManager()
	fake.Add("shop", "db", "CANARY-gcp-one")
	fake.Add("shop", "db", "CANARY-gcp-two")
	fake.Add("shop", "db", "CANARY-gcp-two")
	fake.Add("shop", "db", "CANARY-gcp-two") // the same value added again and again
	fake.SetState("shop", "db", 2, "DISABLED")
	fake.Add("shop", "token", "plain-token")
	fake.Add("shop", "off", "x")
	fake.SetState("shop", "off", 1, "DESTROYED")
	srv := httptest.NewServer(fake)
	defer srv.Close()
	env := map[string]string{}
	for _, kv := range storetest.GoogleEnv(srv.URL) {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	getenv := func(k string) string { return env[k] }
	ctx := context.Background()
	ref := func(uri string) *compose.StoreRef {
		r, err := compose.ParseStoreRef(uri)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	stores := &store.Stores{Getenv: getenv}
	var shown []string
	errText := func(err error) error {
		if err != nil {
			shown = append(shown, err.Error())
		}
		return err
	}

	// Version 2 is disabled, so the run of the value starts at 3.
	db := ref("gcpsm://shop/db")
	v, err := stores.Read(ctx, "db", db)
	if errText(err) != nil || string(v.Data) != "CANARY-gcp-two" || v.Version != "3" || v.Current != "4" {
		t.Errorf("read %q, version %s (current %s), %v: want the value of 4, first held by 3 (2 is disabled)", v.Data, v.Version, v.Current, err)
	}
	if v, err := stores.Read(ctx, "tok", ref("gcpsm://shop/token")); errText(err) != nil || string(v.Data) != "plain-token" || v.Version != "1" || v.Current != "1" {
		t.Errorf("a secret with one version: %q %s %s, %v", v.Data, v.Version, v.Current, err)
	}
	for uri, want := range map[string]string{
		"gcpsm://shop/gone":  "has no secret gone in project shop",
		"gcpsm://other/db":   "has no secret db in project other",
		"gcpsm://shop/off":   "is in DESTROYED state",
		"gcpsm://shop/token": "",
	} {
		_, err := stores.Read(ctx, "db", ref(uri))
		if errText(err); want == "" && err == nil {
			continue
		}
		if !errors.Is(err, store.ErrBadReference) || !strings.Contains(err.Error(), "secret db (x-store "+uri+")") || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err = %v, want a bad reference naming the secret, the reference and %q", uri, err, want)
		}
	}

	next, err := stores.Next(ctx, "db", db, v.Current)
	if err != nil || next != "5" {
		t.Fatalf("next version %q, %v: want 5", next, err)
	}
	got, err := stores.Write(ctx, "db", db, []byte("CANARY-gcp-three"), v.Current, next)
	if errText(err) != nil || got != "5" {
		t.Fatalf("write: %s, %v; want 5", got, err)
	}
	if n, value := fake.Latest("shop", "db"); n != 5 || value != "CANARY-gcp-three" {
		t.Errorf("the latest version %d holds %q", n, value)
	}
	if v, err := stores.Read(ctx, "db", db); err != nil || string(v.Data) != "CANARY-gcp-three" || v.Version != "5" || v.Current != "5" {
		t.Errorf("read after the write: %q %s %s, %v", v.Data, v.Version, v.Current, err)
	}
	_, err = stores.Write(ctx, "db", db, []byte("CANARY-gcp-four"), "4", "5")
	if errText(err); !errors.Is(err, store.ErrBadReference) || !strings.Contains(err.Error(), "another writer went first") {
		t.Errorf("a write after another writer: %v", err)
	}
	if n, _ := fake.Latest("shop", "db"); n != 5 {
		t.Errorf("a refused write added a version: latest is %d", n)
	}

	env["GOOGLE_OAUTH_ACCESS_TOKEN"] = storetest.GoogleReadToken
	readOnly := &store.Stores{Getenv: getenv}
	if _, err := readOnly.Read(ctx, "db", db); err != nil {
		t.Errorf("a reader's read: %v", err)
	}
	_, err = readOnly.Write(ctx, "db", db, []byte("CANARY-gcp-four"), "5", "6")
	if errText(err); !errors.Is(err, store.ErrNoAccess) || !strings.Contains(err.Error(), "403") || !strings.Contains(err.Error(), "Secret Version Adder") {
		t.Errorf("a write with a reader's token: %v", err)
	}
	env["GOOGLE_OAUTH_ACCESS_TOKEN"] = "ya29.wrong"
	wrong := &store.Stores{Getenv: getenv}
	_, err = wrong.Read(ctx, "db", db)
	if errText(err); !errors.Is(err, store.ErrNoAccess) || !strings.Contains(err.Error(), "401") || !strings.Contains(err.Error(), "secret db (x-store gcpsm://shop/db)") {
		t.Errorf("a refused token: %v", err)
	}
	// No token and no usable Application Default Credentials (a key file
	// that is not there: nothing else, the metadata server included, is
	// looked for).
	delete(env, "GOOGLE_OAUTH_ACCESS_TOKEN")
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", t.TempDir()+"/missing-key.json")
	_, err = (&store.Stores{Getenv: getenv}).Read(ctx, "db", db)
	if errText(err); !errors.Is(err, store.ErrNoAccess) || !strings.Contains(err.Error(), "gcloud auth application-default login") {
		t.Errorf("no credentials: %v", err)
	}
	env["GOOGLE_OAUTH_ACCESS_TOKEN"] = storetest.GoogleToken
	fake.Corrupt()
	_, err = (&store.Stores{Getenv: getenv}).Read(ctx, "db", db)
	if errText(err); !errors.Is(err, store.ErrUnreachable) || !strings.Contains(err.Error(), "CRC32C") {
		t.Errorf("a payload whose checksum does not match: %v", err)
	}
	srv.Close()
	_, err = (&store.Stores{Getenv: getenv}).Read(ctx, "db", db)
	if errText(err); !errors.Is(err, store.ErrUnreachable) {
		t.Errorf("a store that does not answer: %v", err)
	}

	for _, s := range shown {
		if strings.Contains(s, "CANARY") || strings.Contains(s, "plain-token") {
			t.Errorf("a value shows in an error: %s", s)
		}
	}
}
