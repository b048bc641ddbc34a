package compose

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseStoreRef(t *testing.T) {
	good := map[string]StoreRef{
		"vault://secret/shop/db#password": {Scheme: "vault", Path: "secret/shop/db", Parts: []string{"secret", "shop", "db"}, Field: "password"},
		"awssm://prod/stripe#api_key":     {Scheme: "awssm", Path: "prod/stripe", Parts: []string{"prod", "stripe"}, Field: "api_key"},
		"awssm://stripe":                  {Scheme: "awssm", Path: "stripe", Parts: []string{"stripe"}},
		"gcpsm://my-project/db":           {Scheme: "gcpsm", Path: "my-project/db", Parts: []string{"my-project", "db"}},
		"azkv://shop-kv/db":               {Scheme: "azkv", Path: "shop-kv/db", Parts: []string{"shop-kv", "db"}},
		"op://prod/db/password":           {Scheme: "op", Path: "prod/db/password", Parts: []string{"prod", "db", "password"}},
	}
	for uri, want := range good {
		got, err := ParseStoreRef(uri)
		if err != nil {
			t.Errorf("%s: %v", uri, err)
			continue
		}
		if got.Scheme != want.Scheme || got.Path != want.Path || got.Field != want.Field || strings.Join(got.Parts, "|") != strings.Join(want.Parts, "|") || got.URI != uri {
			t.Errorf("%s: %+v, want %+v", uri, got, want)
		}
	}
	bad := map[string]string{
		"vault://secret/shop/db":        "vault://MOUNT/PATH#FIELD",
		"vault://db#password":           "vault://MOUNT/PATH#FIELD",
		"vault://secret//db#password":   "vault://MOUNT/PATH#FIELD",
		"gcpsm://only-name":             "gcpsm://PROJECT/NAME",
		"gcpsm://p/n#field":             "gcpsm://PROJECT/NAME",
		"azkv://v/n/extra":              "azkv://VAULT/NAME",
		"op://vault/item":               "op://VAULT/ITEM/FIELD",
		"awssm://":                      "awssm://NAME",
		"http://example.com/x":          "is not a store reference",
		"secret/shop/db#password":       "is not a store reference",
		"vault://secret/a?version=1#pw": "vault://MOUNT/PATH#FIELD",
	}
	for uri, want := range bad {
		if _, err := ParseStoreRef(uri); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err = %v, want %q", uri, err, want)
		}
	}
}

func TestXStore(t *testing.T) {
	const head = "services:\n  a:\n    image: x\n    secrets: [pw]\n    configs: [c]\nconfigs:\n  c: {content: x}\nsecrets:\n  pw:\n"
	tests := []struct{ name, secret, want string }{
		{"vault", "    x-store: vault://secret/shop/db#password\n", ""},
		{"and a file", "    file: ./s.txt\n    x-store: vault://secret/shop/db#password\n", "more than one value (file:, environment:, content:, x-store)"},
		{"and x-sops", "    x-store: vault://secret/shop/db#password\n    x-sops: {key: a}\n", "x-sops: only a file: source can be SOPS-encrypted, this one is store:"},
		{"external", "    external: true\n    x-store: vault://secret/shop/db#password\n", "external: true and a value (environment:, content: or x-store)"},
		{"not a string", "    x-store: {vault: secret}\n", "x-store: must be a reference like vault://secret/shop/db#password"},
		{"bad spelling", "    x-store: vault://secret/db\n", `secrets.pw.x-store: "vault://secret/db": write it as vault://MOUNT/PATH#FIELD`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeFiles(t, map[string]string{"compose.yml": head + tt.secret, "s.txt": "v"})
			p, err := Load(context.Background(), Options{Files: []string{filepath.Join(dir, "compose.yml")}, Stack: "s"})
			if err != nil {
				t.Fatal(err)
			}
			srcs, _, err := p.Sources(false)
			if tt.want != "" {
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("err = %v, want %q", err, tt.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range srcs {
				if s.Key == "pw" && (s.Origin != FromStore || s.Store == nil || s.Store.Field != "password") {
					t.Errorf("source %+v", s)
				}
			}
		})
	}
	t.Run("on a config", func(t *testing.T) {
		dir := writeFiles(t, map[string]string{"compose.yml": "services:\n  a:\n    image: x\n    configs: [c]\nconfigs:\n  c:\n    x-store: vault://secret/shop/db#password\n"})
		p, err := Load(context.Background(), Options{Files: []string{filepath.Join(dir, "compose.yml")}, Stack: "s"})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := p.Sources(false); err == nil || !strings.Contains(err.Error(), "configs.c.x-store: a config is stored in clear") {
			t.Errorf("err = %v", err)
		}
	})
}
