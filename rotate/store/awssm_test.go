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

func TestAWSSecretsManager(t *testing.T) {
	fake := storetest.NewSecretsManager()
	fake.Put("prod/db", "v1-0000000000000000000000000000000", `{"password":"one","user":"a"}`)
	fake.Put("prod/db", "v2-0000000000000000000000000000000", `{"password":"two","user":"a"}`)
	fake.Put("prod/db", "v3-0000000000000000000000000000000", `{"password":"two","user":"b"}`)
	fake.Put("prod/token", "t1-0000000000000000000000000000000", "plain-token")
	srv := httptest.NewServer(fake)
	defer srv.Close()
	for _, kv := range storetest.Env(srv.URL) {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	ctx := context.Background()
	ref := func(uri string) *compose.StoreRef {
		r, err := compose.ParseStoreRef(uri)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	stores := &store.Stores{Getenv: func(string) string { return "" }}

	v, err := stores.Read(ctx, "db", ref("awssm://prod/db#password"))
	if err != nil || string(v.Data) != "two" || v.Version != "v2-0000000000000000000000000000000" || v.Current != "v3-0000000000000000000000000000000" {
		t.Errorf("read %q, version %s (current %s), %v: want two, first held by v2, current v3", v.Data, v.Version, v.Current, err)
	}
	if v, err := stores.Read(ctx, "tok", ref("awssm://prod/token")); err != nil || string(v.Data) != "plain-token" {
		t.Errorf("a plain string: %q, %v", v.Data, err)
	}
	for uri, want := range map[string]error{"awssm://prod/db#nope": store.ErrBadReference, "awssm://prod/token#key": store.ErrBadReference, "awssm://prod/gone": store.ErrBadReference} {
		if _, err := stores.Read(ctx, "db", ref(uri)); !errors.Is(err, want) || !strings.Contains(err.Error(), "secret db (x-store "+uri+")") {
			t.Errorf("%s: err = %v, want %v naming the secret and reference", uri, err, want)
		}
	}

	next, err := stores.Next(ctx, "db", ref("awssm://prod/db#password"), v.Current)
	if err != nil || len(next) != 36 {
		t.Fatalf("next version %q, %v", next, err)
	}
	got, err := stores.Write(ctx, "db", ref("awssm://prod/db#password"), []byte("three"), "v3-0000000000000000000000000000000", next)
	if err != nil || got != next {
		t.Fatalf("write: %s, %v; want %s", got, err, next)
	}
	if id, value := fake.Current("prod/db"); id != next || value != `{"password":"three","user":"b"}` {
		t.Errorf("the new version %s holds %s: want the new password and the other keys as they were", id, value)
	}
	if _, err := stores.Write(ctx, "db", ref("awssm://prod/db#password"), []byte("four"), "v3-0000000000000000000000000000000", next); err == nil || !strings.Contains(err.Error(), "another writer went first") {
		t.Errorf("a write after another writer: %v", err)
	}

	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDWRONG")
	wrong := &store.Stores{Getenv: func(string) string { return "" }}
	if _, err := wrong.Read(ctx, "db", ref("awssm://prod/db#password")); !errors.Is(err, store.ErrNoAccess) {
		t.Errorf("wrong credentials: %v", err)
	}
}
