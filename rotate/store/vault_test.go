package store

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stackctl/stackctl/compose"
)

// kvFake answers the KV version 2 calls the backend makes, as Vault's API
// documents them (GET/PUT /v1/MOUNT/data/PATH, ?version=N, options.cas),
// for fault cases; TestVaultEndToEnd runs against a real Vault.
type kvFake struct {
	mu       sync.Mutex
	versions map[string][]map[string]any // path -> data of versions 1..n
}

func (f *kvFake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r.Header.Get("X-Vault-Token") != "root" {
		w.WriteHeader(http.StatusForbidden)
		w.Write([]byte(`{"errors":["permission denied"]}`))
		return
	}
	path := strings.TrimPrefix(r.URL.Path, "/v1/secret/data/")
	vs := f.versions[path]
	if r.Method == http.MethodGet {
		n := len(vs)
		if q := r.URL.Query().Get("version"); q != "" {
			n, _ = strconv.Atoi(q)
		}
		if n < 1 || n > len(vs) {
			w.WriteHeader(http.StatusNotFound)
			w.Write([]byte(`{"errors":[]}`))
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"data": map[string]any{"data": vs[n-1], "metadata": map[string]any{"version": n}}})
		return
	}
	var body struct {
		Data    map[string]any
		Options struct{ CAS *int }
	}
	json.NewDecoder(r.Body).Decode(&body)
	if body.Options.CAS != nil && *body.Options.CAS != len(vs) {
		w.WriteHeader(http.StatusBadRequest)
		w.Write([]byte(`{"errors":["check-and-set parameter did not match the current version"]}`))
		return
	}
	f.versions[path] = append(vs, body.Data)
	json.NewEncoder(w).Encode(map[string]any{"data": map[string]any{"version": len(vs) + 1}})
}

func TestVaultKV(t *testing.T) {
	fake := &kvFake{versions: map[string][]map[string]any{
		"shop/db": {{"password": "one", "user": "a"}, {"password": "two", "user": "a"}, {"password": "two", "user": "b"}, {"password": "two", "user": "c", "n": 3}},
	}}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	t.Setenv("VAULT_ADDR", srv.URL)
	env := map[string]string{"VAULT_TOKEN": "root"}
	stores := &Stores{Getenv: func(k string) string { return env[k] }}
	ctx := context.Background()
	ref := func(uri string) *compose.StoreRef {
		r, err := compose.ParseStoreRef(uri)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}

	v, err := stores.Read(ctx, "db", ref("vault://secret/shop/db#password"))
	if err != nil || string(v.Data) != "two" || v.Version != "2" || v.Current != "4" {
		t.Errorf("read %q, version %s (current %s), %v: want two, first held at version 2, current 4", v.Data, v.Version, v.Current, err)
	}
	for uri, want := range map[string]error{
		"vault://secret/shop/db#nope":     ErrBadReference,
		"vault://secret/shop/db#n":        ErrBadReference,
		"vault://secret/shop/gone#pw":     ErrBadReference,
		"vault://secret/shop/db#password": nil,
	} {
		_, err := stores.Read(ctx, "db", ref(uri))
		var e *Error
		if !errors.Is(err, want) || (err != nil && (!errors.As(err, &e) || !strings.Contains(err.Error(), "secret db (x-store "+uri+")"))) {
			t.Errorf("%s: err = %v, want %v naming the secret and reference", uri, err, want)
		}
	}

	// A scheme with no backend linked (none today: compose refuses what
	// no backend reads) is a clear error, not a crash.
	if _, err := stores.Read(ctx, "db", &compose.StoreRef{URI: "nope://x/y", Scheme: "nope"}); !errors.Is(err, ErrBadReference) || !strings.Contains(err.Error(), "reads no nope:// store") {
		t.Errorf("a scheme with no backend: %v", err)
	}

	got, err := stores.Write(ctx, "db", ref("vault://secret/shop/db#password"), []byte("three"), "4", "5")
	if err != nil || got != "5" {
		t.Fatalf("write: version %s, %v", got, err)
	}
	if last := fake.versions["shop/db"][4]; last["password"] != "three" || last["user"] != "c" {
		t.Errorf("version 5 holds %v: want the new password and the other fields as they were", last)
	}
	if _, err := stores.Write(ctx, "db", ref("vault://secret/shop/db#password"), []byte("four"), "4", "5"); !errors.Is(err, ErrBadReference) || !strings.Contains(err.Error(), "another writer went first") {
		t.Errorf("a write after another writer: %v", err)
	}

	env["VAULT_TOKEN"] = "wrong"
	wrong := &Stores{Getenv: func(k string) string { return env[k] }}
	if _, err := wrong.Read(ctx, "db", ref("vault://secret/shop/db#password")); !errors.Is(err, ErrNoAccess) || !strings.Contains(err.Error(), "refused the token") {
		t.Errorf("a wrong token: %v", err)
	}
	srv.Close()
	if _, err := wrong.Read(ctx, "db", ref("vault://secret/shop/db#password")); !errors.Is(err, ErrUnreachable) {
		t.Errorf("Vault down: %v", err)
	}
}

func TestVaultNeedsAToken(t *testing.T) {
	t.Setenv("HOME", t.TempDir())
	stores := &Stores{Getenv: func(string) string { return "" }}
	_, err := stores.Read(context.Background(), "db", &compose.StoreRef{URI: "vault://secret/a#b", Scheme: "vault", Path: "secret/a", Parts: []string{"secret", "a"}, Field: "b"})
	if !errors.Is(err, ErrNoAccess) || !strings.Contains(err.Error(), "set VAULT_TOKEN") {
		t.Errorf("err = %v", err)
	}
}
