package main

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

func TestLockHolder(t *testing.T) {
	host, _ := os.Hostname()
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"a person", map[string]string{"USER": "ada"}, fmt.Sprintf("stackctl deploy by ada@%s pid %d", host, os.Getpid())},
		{"no USER", nil, fmt.Sprintf("stackctl deploy by uid %d@%s pid %d", os.Getuid(), host, os.Getpid())},
		{"a GitHub Actions run", map[string]string{"USER": "runner", "GITHUB_RUN_ID": "42", "GITHUB_REPOSITORY": "shop/infra", "GITHUB_WORKFLOW": "deploy"}, "stackctl deploy in shop/infra run 42 (deploy)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := &deps{getenv: func(k string) string { return tc.env[k] }}
			if got := holder(d, "deploy"); got != tc.want {
				t.Errorf("holder = %q, want %q", got, tc.want)
			}
			if got := holder(d, "deploy"); strings.ContainsAny(got, "\n\t") {
				t.Errorf("holder %q spans lines", got)
			}
		})
	}
}
