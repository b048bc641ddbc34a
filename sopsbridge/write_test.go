package sopsbridge

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// copyFixture copies a fixture into a temp folder with the given mode.
func copyFixture(t *testing.T, name string, mode os.FileMode) string {
	t.Helper()
	b, err := os.ReadFile(fixture(name))
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, b, mode); err != nil {
		t.Fatal(err)
	}
	return p
}

func read(t *testing.T, file string, path ...string) string {
	t.Helper()
	v, err := NewReader().Read(context.Background(), fileSource(file, &SOPSRef{Path: path}))
	if err != nil {
		t.Fatal(err)
	}
	return string(v.Data)
}

// changedLines lists the lines of b that are not in a.
func changedLines(a, b []byte) []string {
	have := map[string]bool{}
	for _, l := range strings.Split(string(a), "\n") {
		have[l] = true
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if !have[l] {
			out = append(out, strings.TrimSpace(l))
		}
	}
	return out
}

func TestSetValue(t *testing.T) {
	t.Setenv("SOPS_AGE_KEY_FILE", testKeyFile(t))
	tests := []struct {
		fixture string
		path    []string
		others  map[string][]string // other values that must not change
		changed []string            // prefixes of the only lines that may change
	}{
		{"app.enc.yaml", []string{"db", "password"}, map[string][]string{canaryAPIKey: {"api_key"}, "app": {"db", "user"}, "b": {"hosts", "1"}},
			[]string{"password: ENC[", "lastmodified:", "mac: ENC["}},
		{"app.enc.json", []string{"db", "password"}, map[string][]string{canaryAPIKey: {"api_key"}},
			[]string{`"password": "ENC[`, `"lastmodified":`, `"mac": "ENC[`}},
		{"app.enc.env", []string{"DB_PASSWORD"}, map[string][]string{canaryAPIKey: {"API_KEY"}},
			[]string{"DB_PASSWORD=ENC[", "sops_lastmodified=", "sops_mac=ENC["}},
		{"app.enc.ini", []string{"db", "password"}, nil,
			[]string{"password", "lastmodified", "mac"}},
	}
	for _, tt := range tests {
		t.Run(tt.fixture, func(t *testing.T) {
			file := copyFixture(t, tt.fixture, 0o640)
			before, _ := os.ReadFile(file)
			if err := SetValue(context.Background(), file, "", tt.path, []byte("NEW-VALUE-1")); err != nil {
				t.Fatal(err)
			}
			if got := read(t, file, tt.path...); got != "NEW-VALUE-1" {
				t.Errorf("value after write = %q", got)
			}
			for want, path := range tt.others {
				if got := read(t, file, path...); got != want {
					t.Errorf("%v changed to %q", path, got)
				}
			}
			after, _ := os.ReadFile(file)
			if bytes.Contains(after, []byte("NEW-VALUE-1")) {
				t.Error("the new value is in the file in clear")
			}
			for _, l := range changedLines(before, after) {
				ok := l == ""
				for _, p := range tt.changed {
					ok = ok || strings.HasPrefix(l, p)
				}
				if !ok {
					t.Errorf("unexpected changed line %q", l)
				}
			}
			if info, _ := os.Stat(file); info.Mode().Perm() != 0o640 {
				t.Errorf("mode = %v, want 0640", info.Mode().Perm())
			}
			if entries, _ := os.ReadDir(filepath.Dir(file)); len(entries) != 1 {
				t.Errorf("left files behind: %v", entries)
			}
		})
	}

	t.Run("binary file is replaced whole", func(t *testing.T) {
		file := copyFixture(t, "tls.key.enc", 0o600)
		if err := SetValue(context.Background(), file, "", nil, []byte("NEW-KEY\n")); err != nil {
			t.Fatal(err)
		}
		if got := read(t, file); got != "NEW-KEY\n" {
			t.Errorf("whole file = %q", got)
		}
	})
}

func TestSetValueErrorsLeaveTheFile(t *testing.T) {
	t.Setenv("SOPS_AGE_KEY_FILE", testKeyFile(t))
	plain := filepath.Join(t.TempDir(), "plain.yaml")
	os.WriteFile(plain, []byte("a: b\n"), 0o600)
	tests := []struct {
		name string
		file string
		path []string
		kind error
	}{
		{"wrong key", copyFixture(t, "foreign.enc.yaml", 0o600), []string{"password"}, ErrNoKey},
		{"tampered", copyFixture(t, "tampered.enc.yaml", 0o600), []string{"db", "password"}, ErrTampered},
		{"unknown key", copyFixture(t, "app.enc.yaml", 0o600), []string{"db", "nope"}, ErrKeyNotFound},
		{"a mapping", copyFixture(t, "app.enc.yaml", 0o600), []string{"db"}, ErrKeyNotFound},
		{"whole structured file", copyFixture(t, "app.enc.yaml", 0o600), nil, ErrKeyNotFound},
		{"not encrypted", plain, []string{"a"}, ErrNotEncrypted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before, _ := os.ReadFile(tt.file)
			err := SetValue(context.Background(), tt.file, "", tt.path, []byte("NEW-VALUE-1"))
			if !errors.Is(err, tt.kind) {
				t.Fatalf("err = %v, want %v", err, tt.kind)
			}
			after, _ := os.ReadFile(tt.file)
			if !bytes.Equal(before, after) {
				t.Error("the file changed")
			}
			if strings.Contains(err.Error(), "NEW-VALUE-1") {
				t.Error("error quotes the value")
			}
		})
	}
}

// TestSetValueHonoursSopsYAML: the store settings of the .sops.yaml that
// governs the file (here a 2-space indent) shape the rewritten file.
func TestSetValueHonoursSopsYAML(t *testing.T) {
	t.Setenv("SOPS_AGE_KEY_FILE", testKeyFile(t))
	file := copyFixture(t, "app.enc.yaml", 0o600)
	os.WriteFile(filepath.Join(filepath.Dir(file), ".sops.yaml"), []byte("stores:\n  yaml:\n    indent: 2\n"), 0o600)
	if err := SetValue(context.Background(), file, "", []string{"api_key"}, []byte("NEW")); err != nil {
		t.Fatal(err)
	}
	out, _ := os.ReadFile(file)
	if !strings.Contains(string(out), "\n  user: ENC[") {
		t.Errorf("not indented by 2 as .sops.yaml says:\n%s", out)
	}
	if got := read(t, file, "api_key"); got != "NEW" {
		t.Errorf("api_key = %q", got)
	}
}

// TestSetValueKeepsTheFile: a write goes through a symbolic link to its
// target, keeps owner, group and mode, and a read-only file is refused
// untouched.
func TestSetValueKeepsTheFile(t *testing.T) {
	t.Setenv("SOPS_AGE_KEY_FILE", testKeyFile(t))
	t.Run("through a symbolic link", func(t *testing.T) {
		target := copyFixture(t, "app.enc.yaml", 0o640)
		link := filepath.Join(t.TempDir(), "link.enc.yaml")
		if err := os.Symlink(target, link); err != nil {
			t.Fatal(err)
		}
		if err := SetValue(context.Background(), link, "", []string{"db", "password"}, []byte("NEW-VALUE-2")); err != nil {
			t.Fatal(err)
		}
		if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
			t.Fatalf("the link was replaced by a file: %v", err)
		}
		if got := read(t, target, "db", "password"); got != "NEW-VALUE-2" {
			t.Errorf("the target reads %q", got)
		}
	})
	t.Run("owner and group", func(t *testing.T) {
		if os.Geteuid() != 0 {
			t.Fatal("needs root to give the file another owner (CI runs as root)")
		}
		file := copyFixture(t, "app.enc.yaml", 0o640)
		if err := os.Chown(file, 4321, 4322); err != nil {
			t.Fatal(err)
		}
		if err := SetValue(context.Background(), file, "", []string{"db", "password"}, []byte("NEW-VALUE-3")); err != nil {
			t.Fatal(err)
		}
		fi, _ := os.Stat(file)
		st := fi.Sys().(*syscall.Stat_t)
		if st.Uid != 4321 || st.Gid != 4322 || fi.Mode().Perm() != 0o640 {
			t.Errorf("after the write: %d:%d %v, want 4321:4322 0640", st.Uid, st.Gid, fi.Mode().Perm())
		}
	})
	t.Run("read-only", func(t *testing.T) {
		file := copyFixture(t, "app.enc.yaml", 0o440)
		before, _ := os.ReadFile(file)
		err := SetValue(context.Background(), file, "", []string{"db", "password"}, []byte("NEW-VALUE-4"))
		if err == nil || !strings.Contains(err.Error(), "read-only") {
			t.Fatalf("err = %v, want a refusal", err)
		}
		if after, _ := os.ReadFile(file); !bytes.Equal(before, after) {
			t.Error("the read-only file changed")
		}
	})
}

// TestSetValueKeepsLayout rewrites files made by the sops CLI of two
// releases that order an age key's fields differently (3.12: recipient,
// enc; 3.13: enc, recipient). Line by line, only the value, lastmodified
// and mac may change, whichever release wrote the file.
func TestSetValueKeepsLayout(t *testing.T) {
	t.Setenv("SOPS_AGE_KEY_FILE", testKeyFile(t))
	files, _ := filepath.Glob(filepath.Join(testdata, "sops", "cli", "*.two.*"))
	if len(files) < 4 {
		t.Fatalf("want the sops 3.12.1 and 3.13.3 fixtures under testdata/sops/cli, have %v", files)
	}
	for _, src := range files {
		t.Run(filepath.Base(src), func(t *testing.T) {
			before, err := os.ReadFile(src)
			if err != nil {
				t.Fatal(err)
			}
			file := filepath.Join(t.TempDir(), filepath.Base(src))
			if err := os.WriteFile(file, before, 0o600); err != nil {
				t.Fatal(err)
			}
			if err := SetValue(context.Background(), file, "", []string{"db", "password"}, []byte("NEW-VALUE-2")); err != nil {
				t.Fatal(err)
			}
			if got := read(t, file, "db", "password"); got != "NEW-VALUE-2" {
				t.Errorf("value after write = %q", got)
			}
			after, _ := os.ReadFile(file)
			was, now := strings.Split(string(before), "\n"), strings.Split(string(after), "\n")
			if len(was) != len(now) {
				t.Fatalf("%d lines became %d:\n%s", len(was), len(now), after)
			}
			for i := range was {
				if was[i] == now[i] {
					continue
				}
				l := strings.Trim(strings.TrimSpace(now[i]), `"`)
				if !strings.HasPrefix(l, "password") && !strings.HasPrefix(l, "lastmodified") && !strings.HasPrefix(l, "mac") {
					t.Errorf("line %d changed:\n-%s\n+%s", i+1, was[i], now[i])
				}
			}
		})
	}
}
