package sopsbridge

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func fixture(name string) string {
	p, _ := filepath.Abs(filepath.Join(testdata, "sops", name))
	return p
}

// Swarm's limits (exclusive) on a secret's and a config's size.
const secretMax, configMax = 500 * 1024, 1000 * 1024

func fileSource(file string, ref *SOPSRef) Source {
	return Source{Ref: "secret s", Kind: "secret", MaxSize: secretMax, File: file, SOPS: ref}
}

func path(p ...string) *SOPSRef { return &SOPSRef{Path: p} }

func TestRead(t *testing.T) {
	t.Setenv("SOPS_AGE_KEY_FILE", testKeyFile(t))
	plain := filepath.Join(t.TempDir(), "plain.txt")
	if err := os.WriteFile(plain, []byte("plain-value"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		src       Source
		want      string
		encrypted bool
	}{
		{"yaml key", fileSource(fixture("app.enc.yaml"), path("db", "password")), canaryDBPassword, true},
		{"yaml top-level key", fileSource(fixture("app.enc.yaml"), path("api_key")), canaryAPIKey, true},
		{"yaml number", fileSource(fixture("app.enc.yaml"), path("port")), "5432", true},
		{"yaml list index", fileSource(fixture("app.enc.yaml"), path("hosts", "1")), "b", true},
		{"json key", fileSource(fixture("app.enc.json"), path("db", "password")), canaryDBPassword, true},
		{"dotenv key", fileSource(fixture("app.enc.env"), path("API_KEY")), canaryAPIKey, true},
		{"ini section key", fileSource(fixture("app.enc.ini"), path("db", "password")), canaryDBPassword, true},
		{"binary whole file", fileSource(fixture("tls.key.enc"), nil), "-----BEGIN KEY-----\n" + canaryTLS + "\n-----END KEY-----\n", true},
		{"dotenv whole file", fileSource(fixture("app.enc.env"), nil), "DB_PASSWORD=" + canaryDBPassword + "\nAPI_KEY=" + canaryAPIKey + "\n", true},
		{"plain file", fileSource(plain, nil), "plain-value", false},
		{"environment", Source{Ref: "secret s", Kind: "secret", MaxSize: secretMax, Inline: []byte("from-env")}, "from-env", false},
		{"content", Source{Ref: "config c", Kind: "config", MaxSize: configMax, Inline: []byte("x=1\n")}, "x=1\n", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := NewReader().Read(context.Background(), tt.src)
			if err != nil {
				t.Fatal(err)
			}
			if string(v.Data) != tt.want {
				t.Errorf("got %d bytes, not the expected value", len(v.Data))
			}
			if v.Encrypted() != tt.encrypted {
				t.Errorf("Encrypted() = %v, want %v", v.Encrypted(), tt.encrypted)
			}
		})
	}
}

func TestReadErrors(t *testing.T) {
	t.Setenv("SOPS_AGE_KEY_FILE", testKeyFile(t))
	dir := t.TempDir()
	plain := filepath.Join(dir, "plain.yaml")
	empty := filepath.Join(dir, "empty.txt")
	big := filepath.Join(dir, "big.txt")
	truncated := filepath.Join(dir, "truncated.enc.yaml")
	orig, _ := os.ReadFile(fixture("app.enc.yaml"))
	for name, data := range map[string][]byte{
		plain:     []byte("password: " + canaryDBPassword + "\n"),
		empty:     nil,
		big:       make([]byte, 500*1024),
		truncated: orig[:len(orig)/2],
	} {
		if err := os.WriteFile(name, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name     string
		src      Source
		kind     error
		mentions []string
	}{
		{"wrong key", fileSource(fixture("foreign.enc.yaml"), path("password")), ErrNoKey, []string{"foreign.enc.yaml", "age1ql3z7", "SOPS_AGE_KEY_FILE"}},
		{"tampered", fileSource(fixture("tampered.enc.yaml"), path("db", "password")), ErrTampered, []string{"tampered.enc.yaml", "MAC mismatch"}},
		{"key not found", fileSource(fixture("app.enc.yaml"), path("db", "pasword")), ErrKeyNotFound, []string{"db.pasword", "password, user"}},
		{"key selects a mapping", fileSource(fixture("app.enc.yaml"), path("db")), ErrKeyNotFound, []string{"key db", "mapping"}},
		{"index out of range", fileSource(fixture("app.enc.yaml"), path("hosts", "5")), ErrKeyNotFound, []string{"hosts.5", "2 items"}},
		{"x-sops on a plain file", fileSource(plain, path("password")), ErrNotEncrypted, []string{"plain.yaml", "sops encrypt"}},
		{"truncated", fileSource(truncated, path("db", "password")), ErrMalformed, []string{"truncated.enc.yaml"}},
		{"missing file", fileSource(filepath.Join(dir, "nope.txt"), nil), ErrInvalid, []string{"nope.txt", "no such file"}},
		{"empty value", fileSource(empty, nil), ErrInvalid, []string{"0 bytes"}},
		{"oversize secret", fileSource(big, nil), ErrInvalid, []string{"512000 bytes", "1 to 511999"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewReader().Read(context.Background(), tt.src)
			if !errors.Is(err, tt.kind) {
				t.Fatalf("err = %v, want %v", err, tt.kind)
			}
			msg := err.Error()
			for _, m := range append(tt.mentions, "secret s") {
				if !strings.Contains(msg, m) {
					t.Errorf("error %q does not mention %q", msg, m)
				}
			}
			for _, c := range []string{canaryDBPassword, canaryAPIKey, canaryTLS} {
				if strings.Contains(msg, c) {
					t.Errorf("error quotes a secret value: %q", msg)
				}
			}
		})
	}
}

func TestReadNoKeyAtAll(t *testing.T) {
	t.Setenv("SOPS_AGE_KEY_FILE", "")
	t.Setenv("HOME", t.TempDir())
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	_, err := NewReader().Read(context.Background(), fileSource(fixture("app.enc.yaml"), path("api_key")))
	if !errors.Is(err, ErrNoKey) {
		t.Fatalf("err = %v, want ErrNoKey", err)
	}
	if !strings.Contains(err.Error(), "none of SOPS_AGE_KEY") {
		t.Errorf("error does not say which key sources were empty: %v", err)
	}
}

func TestReaderDecryptsEachFileOnce(t *testing.T) {
	t.Setenv("SOPS_AGE_KEY_FILE", testKeyFile(t))
	r := NewReader()
	a, err := r.Read(context.Background(), fileSource(fixture("app.enc.yaml"), path("api_key")))
	if err != nil {
		t.Fatal(err)
	}
	b, err := r.Read(context.Background(), fileSource(fixture("app.enc.yaml"), path("db", "password")))
	if err != nil {
		t.Fatal(err)
	}
	if len(r.files) != 1 {
		t.Errorf("decrypted %d times, want 1", len(r.files))
	}
	if string(a.NameKey) != string(b.NameKey) {
		t.Error("values of one file have different name keys")
	}
	c, _ := r.Read(context.Background(), fileSource(fixture("app.enc.json"), path("api_key")))
	if string(c.NameKey) == string(a.NameKey) {
		t.Error("two files with different data keys share a name key")
	}
}

// TestReadRefusesClearValues: x-sops selects a secret, so a value that the
// file's sops settings leave unencrypted is refused, naming the setting;
// a plain file that merely mentions sops' marker is read as it is.
func TestReadRefusesClearValues(t *testing.T) {
	t.Setenv("SOPS_AGE_KEY_FILE", testKeyFile(t))
	enc, err := Encrypt([]byte("db:\n  password: CANARY-enc-1\n  user_unencrypted: CANARY-clear-2\n"), "yaml", testRecipient(t))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "mixed.enc.yaml")
	if err := os.WriteFile(file, enc, 0o600); err != nil {
		t.Fatal(err)
	}
	if v, err := NewReader().Read(context.Background(), fileSource(file, path("db", "password"))); err != nil || string(v.Data) != "CANARY-enc-1" {
		t.Fatalf("the encrypted value: %v", err)
	}
	_, err = NewReader().Read(context.Background(), fileSource(file, path("db", "user_unencrypted")))
	if !errors.Is(err, ErrClear) || !strings.Contains(err.Error(), `unencrypted_suffix "_unencrypted"`) || !strings.Contains(err.Error(), "mixed.enc.yaml") {
		t.Fatalf("err = %v, want ErrClear naming the file and the setting", err)
	}
	if strings.Contains(err.Error(), "CANARY") {
		t.Fatal("the error quotes the value")
	}

	doc := filepath.Join(dir, "README.txt")
	text := "sops writes values like ENC[AES256_GCM,data:...] into files\n"
	if err := os.WriteFile(doc, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	v, err := NewReader().Read(context.Background(), fileSource(doc, nil))
	if err != nil || string(v.Data) != text || v.Encrypted() {
		t.Fatalf("a plain file mentioning the marker: %q, %v", v.Data, err)
	}
}

// TestReadAllOneMessagePerCause: a file nobody can decrypt, read by two
// secrets, is one error naming both.
func TestReadAllOneMessagePerCause(t *testing.T) {
	t.Setenv("SOPS_AGE_KEY_FILE", testKeyFile(t))
	a := fileSource(fixture("foreign.enc.yaml"), path("password"))
	b := a
	b.Ref = "secret t"
	_, err := NewReader().ReadAll(context.Background(), []Source{a, b})
	if err == nil || strings.Count(err.Error(), "no usable key") != 1 || !strings.Contains(err.Error(), "secret s, secret t") {
		t.Fatalf("err = %v, want one error naming both secrets", err)
	}
}
