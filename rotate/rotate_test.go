package rotate

import (
	"regexp"
	"strings"
	"testing"
)

func TestGenerate(t *testing.T) {
	tests := []struct {
		charset string
		length  int
		pattern string
	}{
		{CharsetAlnum, 32, `^[A-Za-z0-9]{32}$`},
		{CharsetBase64URL, 48, `^[A-Za-z0-9_-]{48}$`},
		{CharsetHex, 31, `^[0-9a-f]{31}$`},
		{CharsetAlnum, 1, `^[A-Za-z0-9]$`},
	}
	for _, tt := range tests {
		t.Run(tt.charset, func(t *testing.T) {
			a, err := Generate(tt.length, tt.charset)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := Generate(tt.length, tt.charset)
			if !regexp.MustCompile(tt.pattern).Match(a) {
				t.Errorf("%q does not match %s", a, tt.pattern)
			}
			if tt.length > 8 && string(a) == string(b) {
				t.Error("two generated values are equal")
			}
		})
	}
	for _, bad := range []struct {
		length  int
		charset string
	}{{0, CharsetAlnum}, {5000, CharsetHex}, {8, "emoji"}} {
		if _, err := Generate(bad.length, bad.charset); err == nil {
			t.Errorf("Generate(%d, %q) did not fail", bad.length, bad.charset)
		}
	}
}

func TestRotationTarget(t *testing.T) {
	withTestKey(t)
	files := map[string]string{
		"compose.yml": `
services:
  a:
    image: x
    secrets: [db, {source: db, target: /etc/db2}, plain, env, ext]
  b:
    image: x
    secrets: [{source: db, target: other}]
    configs: [conf]
secrets:
  db: {file: {{sops}}/app.enc.yaml, x-sops: {key: db.password}}
  unused: {file: {{sops}}/app.enc.yaml, x-sops: {key: api_key}}
  plain: {file: ./plain.txt}
  env: {environment: HOME}
  ext: {external: true}
configs:
  conf: {content: x}
`,
		"plain.txt": "p",
	}
	dir := scenario(t, files)
	d := desiredForDir(t, dir, []string{"HOME=/root"})
	v, services, err := RotationTarget(d, "db")
	if err != nil {
		t.Fatal(err)
	}
	if v.Source.Key != "db" || strings.Join(services, ",") != "a,b" {
		t.Errorf("target %s, services %v", v.Source.Key, services)
	}
	for secret, want := range map[string]string{
		"nope":   "no secret nope",
		"ext":    "is external",
		"conf":   "is a config",
		"plain":  "plain file",
		"env":    "comes from environment",
		"unused": "no service uses secret unused",
	} {
		if _, _, err := RotationTarget(d, secret); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err = %v, want %q", secret, err, want)
		}
	}
}
