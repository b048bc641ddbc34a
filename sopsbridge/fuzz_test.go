package sopsbridge

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/getsops/sops/v3/cmd/sops/formats"
)

// fuzzBounds keeps key services short in fuzzing: a mutated file can name
// any Vault address or key vault URL. It also keeps the AWS SDK off the
// instance metadata service.
func fuzzBounds(f *testing.F) {
	oldKey, oldTotal := keyTimeout, dataKeyTimeout
	keyTimeout, dataKeyTimeout = time.Second, 3*time.Second
	f.Cleanup(func() { keyTimeout, dataKeyTimeout = oldKey, oldTotal })
	f.Setenv("AWS_EC2_METADATA_DISABLED", "true")
}

// readBounded runs Read and fails, with every goroutine's stack, if it
// takes far longer than the key service deadlines allow: a hang becomes a
// crasher the fuzzer saves, not a stall.
func readWithin(t *testing.T, r *Reader, s Source) (Value, error) {
	t.Helper()
	type result struct {
		v   Value
		err error
	}
	done := make(chan result, 1)
	go func() {
		v, err := r.Read(context.Background(), s)
		done <- result{v, err}
	}()
	select {
	case res := <-done:
		return res.v, res.err
	case <-time.After(20 * time.Second):
		buf := make([]byte, 1<<20)
		t.Fatalf("Read still running after 20s:\n%s", buf[:runtime.Stack(buf, true)])
		return Value{}, nil
	}
}

// sopsSeeds are the SOPS files under testdata/sops and examples/, by name.
func sopsSeeds(f *testing.F) map[string][]byte {
	f.Helper()
	var files []string
	for _, pattern := range []string{filepath.Join(testdata, "sops", "*.enc*"), filepath.Join(testdata, "sops", "cli", "*.two.*"), filepath.Join("..", "examples", "*", "*.enc.*")} {
		m, err := filepath.Glob(pattern)
		if err != nil {
			f.Fatal(err)
		}
		files = append(files, m...)
	}
	out := map[string][]byte{}
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		out[filepath.Base(file)] = b
	}
	if len(out) < len(fixtures) {
		f.Fatalf("found only %d SOPS seed files", len(out))
	}
	return out
}

// FuzzRead: whatever a secret file holds, reading it returns a value or
// one of our errors, in bounded time; sops never panics through; plaintext
// that looks encrypted is never returned as is; and no error quotes a
// value of the fixtures.
func FuzzRead(f *testing.F) {
	fuzzBounds(f)
	// The test key decrypts the fixtures, so mutations reach the code
	// past decryption (the MAC check, key paths).
	f.Setenv("SOPS_AGE_KEY_FILE", testKeyFile(f))
	seeds := sopsSeeds(f)
	for _, name := range sortedNames(seeds) {
		b := seeds[name]
		f.Add(b, "yaml", "db.password")
		f.Add(b, "", "api_key")
		f.Add(b[:len(b)/3], "yaml", "")
	}
	f.Add(seeds["app.enc.json"], "json", "db.password")
	f.Add(seeds["app.enc.env"], "dotenv", "DB_PASSWORD")
	f.Add(seeds["app.enc.ini"], "ini", "db.password")
	f.Add(seeds["tls.key.enc"], "binary", "")
	f.Add([]byte("ENC[AES256_GCM,"), "binary", "")
	f.Add([]byte("plain"), "", "")
	file := filepath.Join(f.TempDir(), "f.enc.yaml")
	f.Fuzz(func(t *testing.T, data []byte, format, key string) {
		switch format {
		case "yaml", "json", "dotenv", "ini", "binary":
		default:
			format = ""
		}
		if err := os.WriteFile(file, data, 0o600); err != nil {
			t.Fatal(err)
		}
		ref := &SOPSRef{Format: format}
		if key != "" {
			ref.Path = strings.Split(key, ".")
		}
		v, err := readWithin(t, NewReader(), fileSource(file, ref))
		var e *Error
		if err != nil && !errors.As(err, &e) {
			t.Fatalf("not a sopsbridge error: %v", err)
		}
		if err == nil && IsEncrypted(data) && !v.Encrypted() {
			t.Fatal("an encrypted-looking file was returned without decryption")
		}
		if err != nil {
			for _, c := range []string{canaryDBPassword, canaryAPIKey, canaryTLS} {
				if strings.Contains(err.Error(), c) && !strings.Contains(string(data)+key, c) {
					t.Fatal("an error quotes a decrypted value")
				}
			}
		}
	})
}

// FuzzIsEncrypted: SOPS detection. A file is encrypted exactly when it
// holds a whole value as sops encrypts it (every SOPS file's MAC is one), and
// detection decides the path Read takes: a plain file is returned byte for
// byte, or refused when x-sops promises encryption; an encrypted-looking
// file is decrypted or refused, never returned as is. The format sops
// parses it as is the x-sops format when given, else the file extension's.
func FuzzIsEncrypted(f *testing.F) {
	fuzzBounds(f)
	f.Setenv("SOPS_AGE_KEY_FILE", filepath.Join(f.TempDir(), "no-such-key.txt"))
	seeds := sopsSeeds(f)
	for _, name := range sortedNames(seeds) {
		f.Add(seeds[name], name, "")
	}
	// Plain files of every kind stackctl reads: compose files, env files,
	// configs and secrets under testdata/ and examples/.
	for _, pattern := range []string{filepath.Join(testdata, "*", "*"), filepath.Join("..", "examples", "*", "*")} {
		m, err := filepath.Glob(pattern)
		if err != nil {
			f.Fatal(err)
		}
		for _, file := range m {
			b, err := os.ReadFile(file)
			if err != nil || len(b) > 64<<10 {
				continue
			}
			f.Add(b, filepath.Base(file), "")
		}
	}
	f.Add([]byte("a: ENC[AES256_GCM,data:x]\n"), "x.json", "yaml")
	f.Add([]byte("ENC[AES256_GCM"), "secret.txt", "binary")
	f.Add([]byte{}, "", "")
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte, name, format string) {
		enc := IsEncrypted(data)
		if enc != encryptedValue().Match(data) || (enc && !bytes.Contains(data, []byte("ENC[AES256_GCM,"))) {
			t.Fatalf("IsEncrypted = %v", enc)
		}
		if enc && (!IsEncrypted(append([]byte("x\n"), data...)) || !IsEncrypted(append(bytes.Clone(data), "\nx"...))) {
			t.Fatal("surrounding an encrypted document with text hid it")
		}

		// Format detection: an explicit format wins over the extension.
		name = filepath.Base(name)
		if name == "." || name == "/" || name == "" || strings.ContainsAny(name, "\x00") {
			name = "f"
		}
		byExt := formats.FormatForPath(name)
		got := formats.FormatForPathOrString(name, format)
		switch format {
		case "yaml", "json", "dotenv", "ini", "binary":
			if got != formats.FormatFromString(format) {
				t.Fatalf("format %q for %s: sops picked %v", format, name, got)
			}
		case "":
			if got != byExt {
				t.Fatalf("no format for %s: sops picked %v, its extension says %v", name, got, byExt)
			}
		default:
			format = "" // x-sops refuses other formats before reading
		}

		file := filepath.Join(dir, name)
		if err := os.WriteFile(file, data, 0o600); err != nil {
			t.Skip(err) // a name the file system refuses
		}
		defer os.Remove(file)
		plain := Source{Ref: "config c", Kind: "config", MaxSize: configMax, File: file}
		sops := plain
		sops.SOPS = &SOPSRef{Format: format}

		v, err := readWithin(t, NewReader(), plain)
		switch {
		case enc && err == nil:
			if !v.Encrypted() {
				t.Fatal("an encrypted-looking file was returned as is")
			}
		case !enc && len(data) > 0 && len(data) < configMax:
			if err != nil || !bytes.Equal(v.Data, data) || v.Encrypted() {
				t.Fatalf("a plain file was not returned as is: %v", err)
			}
		}
		_, err = readWithin(t, NewReader(), sops)
		if !enc && !errors.Is(err, ErrNotEncrypted) {
			t.Fatalf("x-sops on a plain file: err = %v, want ErrNotEncrypted", err)
		}
		if enc && errors.Is(err, ErrNotEncrypted) {
			t.Fatal("an encrypted file was called plain")
		}
	})
}

func sortedNames(m map[string][]byte) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
