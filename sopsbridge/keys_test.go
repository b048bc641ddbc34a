package sopsbridge

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getsops/sops/v3/cmd/sops/formats"
	"github.com/getsops/sops/v3/keyservice"
)

// sopsFile is a SOPS yaml document whose metadata lists the given master
// keys (indented as under "sops:"); its one value never decrypts.
func sopsFile(t *testing.T, keys string) string {
	t.Helper()
	const enc = "ENC[AES256_GCM,data:GYpx,iv:R2ZrvTU7mOe47Vu2gWznfVDqSriNiQ9LpuK/Fo0xih4=,tag:1Ft7ICAdqnjrHTAdqyyFVw==,type:str]"
	doc := "a: " + enc + "\nsops:\n" + keys +
		"    lastmodified: \"2026-11-23T09:27:00Z\"\n    mac: " + enc + "\n    version: 3.12.1\n"
	file := filepath.Join(t.TempDir(), "f.enc.yaml")
	if err := os.WriteFile(file, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	return file
}

// silentServer accepts connections and never answers, like a key service
// behind a firewall that drops replies.
func silentServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return ln.Addr().String()
}

func setTimeouts(t *testing.T, perKey, total time.Duration) {
	oldKey, oldTotal := keyTimeout, dataKeyTimeout
	keyTimeout, dataKeyTimeout = perKey, total
	t.Cleanup(func() { keyTimeout, dataKeyTimeout = oldKey, oldTotal })
}

// TestReadUnresponsiveKeyServiceIsBounded is the regression test for the
// stall: sops asks each master key with context.Background(), so a file
// whose Vault (or Azure key vault) address accepts connections and never
// answers blocked Read for 60s per key (the Vault client's own timeout),
// for as many keys as the file lists.
func TestReadUnresponsiveKeyServiceIsBounded(t *testing.T) {
	t.Setenv("VAULT_TOKEN", "test-token")
	t.Setenv("SOPS_AGE_KEY_FILE", testKeyFile(t))
	addr := silentServer(t)
	var keys strings.Builder
	keys.WriteString("    hc_vault:\n")
	for range 5 {
		keys.WriteString("        - vault_address: http://" + addr + "\n          engine_path: transit\n          key_name: k\n          created_at: \"2026-11-23T09:27:00Z\"\n          enc: vault:v1:abc\n")
	}
	keys.WriteString("    azure_kv:\n        - vault_url: https://" + addr + "\n          name: k\n          version: v\n          created_at: \"2026-11-23T09:27:00Z\"\n          enc: abc\n")
	file := sopsFile(t, keys.String())

	t.Run("per key and per file deadlines", func(t *testing.T) {
		setTimeouts(t, 200*time.Millisecond, 700*time.Millisecond)
		start := time.Now()
		_, err := NewReader().Read(context.Background(), fileSource(file, path("a")))
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("Read took %v", d)
		}
		if !errors.Is(err, ErrUnreachable) {
			t.Fatalf("err = %v, want ErrUnreachable", err)
		}
		_, slow, _ := strings.Cut(err.Error(), "no answer in time from ")
		for _, k := range []string{"hc_vault http://" + addr + "/v1/transit/keys/k", "azure_kv https://" + addr + "/keys/k/v"} {
			if !strings.Contains(slow, k) {
				t.Errorf("error does not name %s as a key that did not answer: %v", k, err)
			}
		}
	})

	t.Run("the caller's context", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		r := NewReader()
		start := time.Now()
		_, err := r.Read(ctx, fileSource(file, path("a")))
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("Read took %v after its context ended", d)
		}
		var e *Error
		if !errors.As(err, &e) {
			t.Fatalf("err = %v, want a sopsbridge error", err)
		}
		if len(r.files) != 0 {
			t.Error("a decryption cut short by the context was cached")
		}
	})
}

func TestReadRefusesHugeFiles(t *testing.T) {
	file := filepath.Join(t.TempDir(), "huge.enc.yaml")
	f, err := os.Create(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(maxFileSize + 1); err != nil {
		t.Fatal(err)
	}
	f.Close()
	_, err = NewReader().Read(context.Background(), fileSource(file, path("a")))
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "more than 16 MiB") || !strings.Contains(err.Error(), "secret s") {
		t.Fatalf("err = %v, want ErrInvalid about the size", err)
	}
	if err := SetValue(context.Background(), file, "", []string{"a"}, []byte("x")); !errors.Is(err, ErrInvalid) {
		t.Fatalf("SetValue: err = %v, want ErrInvalid", err)
	}
}

// TestEveryKeyTypeHandled fails when sops gains a kind of master key
// (a new member of its keyservice.Key oneof) that stackctl's key service
// would not decrypt with or could not name in an error.
func TestEveryKeyTypeHandled(t *testing.T) {
	fields := (&keyservice.Key{}).ProtoReflect().Descriptor().Oneofs().ByName("key_type").Fields()
	if fields.Len() < 7 {
		t.Fatalf("sops's Key has %d key types, want at least the 7 stackctl knows", fields.Len())
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // a known key type fails on the context, or on its empty fields
	for i := range fields.Len() {
		fd := fields.Get(i)
		t.Run(string(fd.Name()), func(t *testing.T) {
			k := &keyservice.Key{}
			m := k.ProtoReflect()
			m.Set(fd, m.NewField(fd))
			if d := describeKey(k); d == "an unknown key" {
				t.Errorf("describeKey does not name a %s key", fd.Name())
			}
			done := make(chan error, 1)
			go func() { _, err := decryptDataKey(ctx, k, nil); done <- err }()
			select {
			case err := <-done:
				if errors.Is(err, errUnsupportedKey) {
					t.Errorf("decryptDataKey does not handle a %s key", fd.Name())
				}
			case <-time.After(5 * time.Second): // it tried: the type is handled
			}
		})
	}
}

// TestFormatOfIsSopsRule: stackctl picks a file's format and store as the
// sops CLI does (its cmd/sops/formats is the oracle here, not a dependency).
func TestFormatOfIsSopsRule(t *testing.T) {
	for _, file := range []string{"a.yaml", "a.yml", "a.json", "a.env", "a.ini", "a.key", "a", "a.yaml.txt", "dir.yaml/a"} {
		for _, name := range []string{"", "yaml", "json", "dotenv", "ini", "binary", "toml"} {
			want := formats.FormatForPathOrString(file, name)
			got := formatOf(file, name)
			if sopsName := map[formats.Format]format{formats.Yaml: formatYAML, formats.Json: formatJSON, formats.Dotenv: formatDotenv, formats.Ini: formatINI, formats.Binary: formatBinary}[want]; got != sopsName {
				t.Errorf("formatOf(%q, %q) = %s, sops reads it as %s", file, name, got, sopsName)
			}
		}
	}
}
