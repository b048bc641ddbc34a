package plan

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/stackctl/stackctl/compose"
	"github.com/stackctl/stackctl/sopsbridge"
)

// sourced is a value and where it comes from, as NameVersion takes them.
type sourced struct {
	src compose.Source
	v   sopsbridge.Value
}

func value(kind compose.Kind, name, data string, nameKey []byte) sourced {
	return sourced{compose.Source{Kind: kind, Key: "k", Name: name}, sopsbridge.Value{Data: []byte(data), NameKey: nameKey}}
}

func templated(v sourced, driver string) sourced {
	v.src.TemplateDriver = driver
	return v
}

func named(stack string, s sourced) Version { return NameVersion(stack, s.src, s.v) }

func TestNameVersion(t *testing.T) {
	keyA, keyB := []byte("data-key-derived-A"), []byte("data-key-derived-B")
	base := named("shop", value(compose.Secret, "shop_db", "hunter2", keyA))
	if !regexp.MustCompile(`^shop_db\.[0-9a-f]{12}$`).MatchString(base.Name) {
		t.Fatalf("name %q is not <name>.<12 hex>", base.Name)
	}
	tests := []struct {
		name string
		v    Version
		same bool
	}{
		{"same content, same key", named("shop", value(compose.Secret, "shop_db", "hunter2", keyA)), true},
		{"other content", named("shop", value(compose.Secret, "shop_db", "hunter3", keyA)), false},
		{"other file key", named("shop", value(compose.Secret, "shop_db", "hunter2", keyB)), false},
		{"other name", named("shop", value(compose.Secret, "shop_db2", "hunter2", keyA)), false},
		{"config, not secret", named("shop", value(compose.Config, "shop_db", "hunter2", keyA)), false},
		{"plain source", named("shop", value(compose.Secret, "shop_db", "hunter2", nil)), false},
		{"templated", named("shop", templated(value(compose.Secret, "shop_db", "hunter2", keyA), "golang")), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if (tt.v.Hash == base.Hash) != tt.same {
				t.Errorf("hash %s vs %s: same = %v, want %v", tt.v.Hash, base.Hash, !tt.same, tt.same)
			}
		})
	}
}

func TestNameVersionPlainIsSaltedByStack(t *testing.T) {
	a := named("shop", value(compose.Secret, "db", "hunter2", nil))
	b := named("blog", value(compose.Secret, "db", "hunter2", nil))
	if a.Hash == b.Hash {
		t.Error("a plain value hashes the same in two stacks")
	}
	if a.Hash != named("shop", value(compose.Secret, "db", "hunter2", nil)).Hash {
		t.Error("a plain value's hash is not deterministic")
	}
}

func TestNameVersionIsNotAPlainHash(t *testing.T) {
	// Peers name versions by sha256(value): ours must not match any prefix of it.
	v := named("shop", value(compose.Secret, "db", "hunter2", []byte("k")))
	for _, plain := range []string{"f52fbd32b2b3b86ff88ef6c490628285f482af15ddcb29541f94bcf526a3f6c7"} {
		if strings.HasPrefix(plain, v.Hash) {
			t.Error("version hash is the plain sha256 of the value")
		}
	}
}

func TestLongestNameFits(t *testing.T) {
	name := strings.Repeat("n", 64-compose.VersionSuffixLen)
	if err := compose.ValidateName(compose.Secret, "k", name); err != nil {
		t.Fatal(err)
	}
	if v := named("s", value(compose.Secret, name, "x", nil)); len(v.Name) != 64 {
		t.Errorf("len = %d, want 64", len(v.Name))
	}
}

func BenchmarkNameVersion500(b *testing.B) {
	vals := make([]sourced, 500)
	for i := range vals {
		vals[i] = value(compose.Secret, fmt.Sprintf("shop_s%d", i), strings.Repeat("v", 64), []byte("k"))
	}
	b.ResetTimer()
	for b.Loop() {
		for _, v := range vals {
			named("shop", v)
		}
	}
}
