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

func TestOnePassword(t *testing.T) {
	fake := storetest.NewConnect()
	vaultID, itemID := fake.Put("prod", "db", map[string]string{"password": "CANARY-op-one", "username": "a"})
	fake.Put("prod", "api", map[string]string{"token": "CANARY-op-token"})
	srv := httptest.NewServer(fake)
	defer srv.Close()
	env := map[string]string{}
	for _, kv := range storetest.ConnectEnv(srv.URL) {
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
	var errs []error
	stores := &store.Stores{Getenv: getenv}
	read := func(uri string) store.Value {
		t.Helper()
		v, err := stores.Read(ctx, "db", ref(uri))
		if err != nil {
			t.Fatalf("read %s: %v", uri, err)
		}
		return v
	}
	const pw = "op://prod/db/password"

	// An item stackctl never wrote: named by the item's version, so an
	// edit of another field renames it (Connect keeps no history).
	if v := read(pw); string(v.Data) != "CANARY-op-one" || v.Version != "1" || v.Current != "1" {
		t.Errorf("read %q, version %s (current %s): want the value, named by item version 1", v.Data, v.Version, v.Current)
	}
	fake.Put("prod", "db", map[string]string{"username": "b"})
	if v := read(pw); v.Version != "2" || v.Current != "2" {
		t.Errorf("unmarked, after another field changed: version %s (current %s), want 2", v.Version, v.Current)
	}
	// By UUIDs, by field ID, by label in another case.
	for _, uri := range []string{"op://" + vaultID + "/" + itemID + "/password", "op://prod/db/PassWord"} {
		if v := read(uri); string(v.Data) != "CANARY-op-one" {
			t.Errorf("%s: read %q", uri, v.Data)
		}
	}
	for uri, want := range map[string]error{"op://prod/db/nope": store.ErrBadReference, "op://prod/gone/password": store.ErrBadReference, "op://nope/db/password": store.ErrBadReference} {
		_, err := stores.Read(ctx, "db", ref(uri))
		errs = append(errs, err)
		if !errors.Is(err, want) || !strings.Contains(err.Error(), "secret db (x-store "+uri+")") {
			t.Errorf("%s: err = %v, want %v naming the secret and reference", uri, err, want)
		}
	}

	// rotate: the next item version, the other fields and attributes kept,
	// and a marker that keeps the name while the value stays.
	next, err := stores.Next(ctx, "db", ref(pw), "2")
	if err != nil || next != "3" {
		t.Fatalf("next %q, %v", next, err)
	}
	if got, err := stores.Write(ctx, "db", ref(pw), []byte("CANARY-op-two"), "2", next); err != nil || got != "3" {
		t.Fatalf("write: %s, %v; want 3", got, err)
	}
	item := fake.Item("prod", "db")
	if value, version := fake.Field("prod", "db", "password"); value != "CANARY-op-two" || version != 3 {
		t.Errorf("the item holds %q at version %d", value, version)
	}
	if user, _ := fake.Field("prod", "db", "username"); user != "b" || item["category"] != "LOGIN" || item["tags"] == nil || item["createdAt"] == nil {
		t.Errorf("another field or attribute changed: username %q, %v", user, item)
	}
	if marker, _ := fake.Field("prod", "db", "stackctl.version.password"); !strings.HasPrefix(marker, "s1:3:") {
		t.Errorf("marker %q", marker)
	}
	if v := read(pw); string(v.Data) != "CANARY-op-two" || v.Version != "3" || v.Current != "3" {
		t.Errorf("after the write: %q, version %s (current %s)", v.Data, v.Version, v.Current)
	}
	fake.Put("prod", "db", map[string]string{"username": "c"})
	fake.Put("prod", "db", map[string]string{"password": "CANARY-op-two"}) // saved again, same value
	if v := read(pw); v.Version != "3" || v.Current != "5" {
		t.Errorf("after another field changed and the same value was saved: version %s (current %s), want 3 (5)", v.Version, v.Current)
	}

	// Another writer went first: refused, nothing written.
	_, err = stores.Write(ctx, "db", ref(pw), []byte("CANARY-op-lost"), "4", "5")
	errs = append(errs, err)
	if !errors.Is(err, store.ErrBadReference) || !strings.Contains(err.Error(), "another writer went first") {
		t.Errorf("a write after another writer: %v", err)
	}
	if value, _ := fake.Field("prod", "db", "password"); value != "CANARY-op-two" {
		t.Error("a refused write changed the item")
	}

	// A new value put in 1Password: a new name, kept by a keyed hash (the
	// key in the marker) through edits of other fields; back to the value
	// of version 3, back to its name.
	fake.Put("prod", "db", map[string]string{"password": "CANARY-op-three"})
	changed := read(pw)
	fake.Put("prod", "db", map[string]string{"username": "d"})
	if again := read(pw); !strings.HasPrefix(changed.Version, "h-") || again.Version != changed.Version || again.Current != "7" {
		t.Errorf("a value changed in 1Password: version %s, then %s after another field changed", changed.Version, again.Version)
	}
	fake.Put("prod", "db", map[string]string{"password": "CANARY-op-two"})
	if v := read(pw); v.Version != "3" {
		t.Errorf("the value of version 3 again: version %s", v.Version)
	}

	// The same value written again: no new name. Unmarked, it writes the
	// marker, naming the value by the version read.
	api := ref("op://prod/api/token")
	if got, err := stores.Write(ctx, "api", api, []byte("CANARY-op-token"), "1", "1"); err != nil || got != "1" {
		t.Errorf("the same value into an unmarked item: %s, %v; want 1", got, err)
	}
	fake.Put("prod", "api", map[string]string{"note": "x"})
	if v, err := stores.Read(ctx, "api", api); err != nil || v.Version != "1" || v.Current != "3" {
		t.Errorf("marked by the same value: version %s (current %s), %v; want 1 (3)", v.Version, v.Current, err)
	}
	if got, err := stores.Write(ctx, "api", api, []byte("CANARY-op-token"), "3", "1"); err != nil || got != "1" {
		t.Errorf("the same value into a marked item: %s, %v", got, err)
	}
	if _, version := fake.Field("prod", "api", "token"); version != 3 {
		t.Errorf("the same value into a marked item wrote version %d", version)
	}

	// Credentials: refused, missing; a server that is down.
	env["OP_CONNECT_TOKEN"] = "wrong"
	_, err = (&store.Stores{Getenv: getenv}).Read(ctx, "db", ref(pw))
	errs = append(errs, err)
	if !errors.Is(err, store.ErrNoAccess) || !strings.Contains(err.Error(), "refused the token (401)") {
		t.Errorf("a wrong token: %v", err)
	}
	delete(env, "OP_CONNECT_TOKEN")
	_, err = (&store.Stores{Getenv: getenv}).Read(ctx, "db", ref(pw))
	errs = append(errs, err)
	if !errors.Is(err, store.ErrNoAccess) || !strings.Contains(err.Error(), "set OP_CONNECT_HOST") {
		t.Errorf("no token: %v", err)
	}
	env["OP_CONNECT_TOKEN"] = storetest.ConnectToken
	srv.Close()
	_, err = (&store.Stores{Getenv: getenv}).Read(ctx, "db", ref(pw))
	errs = append(errs, err)
	if !errors.Is(err, store.ErrUnreachable) {
		t.Errorf("Connect down: %v", err)
	}
	for _, err := range errs {
		if err != nil && strings.Contains(err.Error(), "CANARY") {
			t.Errorf("a value in an error: %v", err)
		}
	}
}
