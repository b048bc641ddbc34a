//go:build e2e

package sopsbridge

// Needs gpg, so it runs with the end-to-end tier (make test).

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestReadSopsPGPExample decrypts the PGP-encrypted example that ships in
// the sops module, with the test key that ships beside it.
func TestReadSopsPGPExample(t *testing.T) {
	if _, err := exec.LookPath("gpg"); err != nil {
		t.Fatal("this test needs gpg: apt-get install gnupg (make test does)")
	}
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/getsops/sops/v3").Output()
	if err != nil {
		t.Fatalf("locate the sops module: %v", err)
	}
	mod := strings.TrimSpace(string(out))
	home, err := os.MkdirTemp("", "gpg")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		exec.Command("gpgconf", "--homedir", home, "--kill", "all").Run()
		os.RemoveAll(home)
	})
	t.Setenv("GNUPGHOME", home)
	imp := exec.Command("gpg", "--batch", "--import", filepath.Join(mod, "pgp", "sops_functional_tests_key.asc"))
	if b, err := imp.CombinedOutput(); err != nil {
		t.Fatalf("gpg --import: %v\n%s", err, b)
	}
	v, err := NewReader().Read(context.Background(), fileSource(filepath.Join(mod, "example.yaml"), path("app2", "db", "password")))
	if err != nil {
		t.Fatal(err)
	}
	if string(v.Data) != "c4r1b0u" {
		t.Errorf("app2.db.password = %q, want c4r1b0u", v.Data)
	}
}
