package compose

import (
	"strings"
	"testing"
)

// FuzzParseKeyPath: any x-sops key either parses into non-empty segments
// that join back to it, or is refused; it never panics.
func FuzzParseKeyPath(f *testing.F) {
	for _, seed := range []string{"db.password", "a", "db..x", ".", "a.0.b", "ünï.cödé"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, key string) {
		path, err := parseKeyPath(key)
		if err != nil {
			return
		}
		for _, p := range path {
			if p == "" {
				t.Fatalf("empty segment from %q", key)
			}
		}
		if strings.Join(path, ".") != key {
			t.Fatalf("%q parsed into %q", key, path)
		}
	})
}
