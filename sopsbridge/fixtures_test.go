package sopsbridge

import (
	"bufio"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("fixtures", false, "re-encrypt the SOPS fixtures under testdata/sops (new data keys: rewrite the golden files after)")

// Canary values: they are only in the fixtures below (plaintext) and in
// testdata/sops (ciphertext). Tests assert they never reach output.
const (
	canaryDBPassword = "CANARY-db-password-7c1e"
	canaryAPIKey     = "CANARY-api-key-52ab"
	canaryTLS        = "CANARY-tls-key-d04f"
)

var testdata = filepath.Join("..", "testdata")

// fixtures are the plaintexts of testdata/sops, encrypted for the test key.
var fixtures = []struct {
	file, format, plain string
	foreign             bool // encrypted for a key the tests do not have
}{
	{"app.enc.yaml", "yaml", "db:\n  user: app\n  password: " + canaryDBPassword + "\napi_key: " + canaryAPIKey + "\nport: 5432\nhosts:\n  - a\n  - b\nnote_unencrypted: visible\n", false},
	{"app.enc.json", "json", `{"db": {"password": "` + canaryDBPassword + `"}, "api_key": "` + canaryAPIKey + `"}`, false},
	{"app.enc.env", "dotenv", "DB_PASSWORD=" + canaryDBPassword + "\nAPI_KEY=" + canaryAPIKey + "\n", false},
	{"app.enc.ini", "ini", "[db]\npassword = " + canaryDBPassword + "\n", false},
	{"tls.key.enc", "binary", "-----BEGIN KEY-----\n" + canaryTLS + "\n-----END KEY-----\n", false},
	{"foreign.enc.yaml", "yaml", "password: " + canaryDBPassword + "\n", true},
}

// foreignRecipient is an age recipient whose identity was thrown away.
const foreignRecipient = "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p"

// TestFixtures rewrites testdata/sops with -update, and otherwise checks
// that every fixture is there and encrypted.
func TestFixtures(t *testing.T) {
	recipient := testRecipient(t)
	for _, f := range fixtures {
		path := filepath.Join(testdata, "sops", f.file)
		if *update {
			r := recipient
			if f.foreign {
				r = foreignRecipient
			}
			out, err := Encrypt([]byte(f.plain), f.format, r)
			if err != nil {
				t.Fatalf("%s: %v", f.file, err)
			}
			if err := os.WriteFile(path, out, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run go test ./sopsbridge -run TestFixtures -fixtures)", err)
		}
		if !IsEncrypted(b) {
			t.Errorf("%s is not SOPS-encrypted", f.file)
		}
	}
	if *update {
		writeTampered(t)
	}
}

// writeTampered changes a value that is stored in clear but covered by the MAC.
func writeTampered(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(testdata, "sops", "app.enc.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	out := strings.Replace(string(b), "note_unencrypted: visible", "note_unencrypted: changed", 1)
	if out == string(b) {
		t.Fatal("tamper target not found")
	}
	if err := os.WriteFile(filepath.Join(testdata, "sops", "tampered.enc.yaml"), []byte(out), 0o644); err != nil {
		t.Fatal(err)
	}
}

// testKeyFile is the committed, test-only age identity.
func testKeyFile(t testing.TB) string {
	p, err := filepath.Abs(filepath.Join(testdata, "age", "test-key.txt"))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func testRecipient(t testing.TB) string {
	f, err := os.Open(testKeyFile(t))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if r, ok := strings.CutPrefix(s.Text(), "# public key: "); ok {
			return r
		}
	}
	t.Fatal("no public key in test key file")
	return ""
}
