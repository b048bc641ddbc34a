package sopsbridge

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stackctl/stackctl/compose"
)

// FuzzRead: whatever a secret file holds, reading it returns a value or
// one of our errors; sops never panics through, and plaintext that looks
// encrypted is never returned as is.
func FuzzRead(f *testing.F) {
	for _, name := range []string{"app.enc.yaml", "app.enc.json", "app.enc.env", "tls.key.enc", "tampered.enc.yaml"} {
		b, err := os.ReadFile(fixture(name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, "yaml", "db.password")
		f.Add(b[:len(b)/3], "yaml", "")
	}
	f.Add([]byte("ENC[AES256_GCM,"), "binary", "")
	f.Add([]byte("plain"), "", "")
	f.Fuzz(func(t *testing.T, data []byte, format, key string) {
		switch format {
		case "yaml", "json", "dotenv", "ini", "binary":
		default:
			format = ""
		}
		file := filepath.Join(t.TempDir(), "f.enc.yaml")
		if err := os.WriteFile(file, data, 0o600); err != nil {
			t.Fatal(err)
		}
		ref := &compose.SOPSRef{Format: format}
		if key != "" {
			ref.Path = []string{key}
		}
		v, err := NewReader().Read(context.Background(), fileSource(file, ref))
		var e *Error
		if err != nil && !errors.As(err, &e) {
			t.Fatalf("not a sopsbridge error: %v", err)
		}
		if err == nil && IsEncrypted(data) && !v.Encrypted() {
			t.Fatal("an encrypted-looking file was returned without decryption")
		}
	})
}
