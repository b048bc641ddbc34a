package compose

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseEvery(t *testing.T) {
	const day = 24 * time.Hour
	for in, want := range map[string]time.Duration{
		"90d": 90 * day, "12h": 12 * time.Hour, "4w": 28 * day, "2s": 2 * time.Second,
		"1d12h": 36 * time.Hour, "30m": 30 * time.Minute, " 7d ": 7 * day,
	} {
		if got, err := ParseEvery(in); err != nil || got != want {
			t.Errorf("ParseEvery(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "0d", "90", "d", "-1d", "1.5d", "1y", "90 d", "99999999999999999999d", "106752d"} {
		if got, err := ParseEvery(in); err == nil {
			t.Errorf("ParseEvery(%q) = %v, want an error", in, got)
		}
	}
}

func TestXRotate(t *testing.T) {
	const head = "services:\n  a:\n    image: x\n    secrets: [pw]\nsecrets:\n  pw:\n"
	tests := []struct {
		name, secret, want string
		policy             *RotatePolicy
	}{
		{"every alone", "    file: ./s.enc.yaml\n    x-sops: {key: pw}\n    x-rotate: {every: 90d}\n", "",
			&RotatePolicy{Every: 90 * 24 * time.Hour, EverySpec: "90d"}},
		{"generator settings", "    file: ./s.enc.yaml\n    x-sops: {key: pw}\n    x-rotate: {every: 12h, length: 48, charset: hex}\n", "",
			&RotatePolicy{Every: 12 * time.Hour, EverySpec: "12h", Length: 48, Charset: "hex"}},
		{"no policy", "    file: ./s.enc.yaml\n    x-sops: {key: pw}\n", "", nil},
		{"every missing", "    file: ./s.enc.yaml\n    x-sops: {key: pw}\n    x-rotate: {length: 3}\n", "secrets.pw.x-rotate: every: is missing", nil},
		{"number without unit", "    file: ./s.enc.yaml\n    x-sops: {key: pw}\n    x-rotate: {every: 90}\n", "every: 90 has no unit: write it like 90d", nil},
		{"bad unit", "    file: ./s.enc.yaml\n    x-sops: {key: pw}\n    x-rotate: {every: 3y}\n", `every: "3y" is not a period`, nil},
		{"bad charset", "    file: ./s.enc.yaml\n    x-sops: {key: pw}\n    x-rotate: {every: 1d, charset: emoji}\n", "charset: must be one of alnum, base64url, hex", nil},
		{"bad length", "    file: ./s.enc.yaml\n    x-sops: {key: pw}\n    x-rotate: {every: 1d, length: 0}\n", "length: must be a whole number from 1 to", nil},
		{"unknown field", "    file: ./s.enc.yaml\n    x-sops: {key: pw}\n    x-rotate: {every: 1d, when: monday}\n", `unknown field "when"`, nil},
		{"not a mapping", "    file: ./s.enc.yaml\n    x-sops: {key: pw}\n    x-rotate: 90d\n", "x-rotate: must be a mapping", nil},
		{"plain file", "    file: ./s.txt\n    x-rotate: {every: 1d}\n", "only a secret from a SOPS-encrypted file (x-sops) or a secret store (x-store) can be rotated", nil},
		{"environment", "    environment: PW\n    x-rotate: {every: 1d}\n", "only a secret from a SOPS-encrypted file", nil},
		{"external", "    external: true\n    x-rotate: {every: 1d}\n", "secrets.pw.x-rotate: the value of a secret with external: true is not stackctl's to rotate", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeFiles(t, map[string]string{"compose.yml": head + tt.secret, "s.txt": "v", "s.enc.yaml": "pw: x\n"})
			p, err := Load(context.Background(), Options{Files: []string{filepath.Join(dir, "compose.yml")}, Stack: "s", Env: []string{"PW=x"}})
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
			got := srcs[0].Rotate
			if (got == nil) != (tt.policy == nil) || (got != nil && *got != *tt.policy) {
				t.Errorf("policy %+v, want %+v", got, tt.policy)
			}
		})
	}
}
