package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestQuickstartRenders runs the quickstart example's command as its
// README gives it, and checks that no value from it is printed.
func TestQuickstartRenders(t *testing.T) {
	dir := filepath.Join("..", "..", "examples", "quickstart")
	cmd := exec.Command(binary(t), "render", "-c", filepath.Join(dir, "compose.yml"), "quickstart")
	cmd.Env = append(os.Environ(), "SOPS_AGE_KEY_FILE="+filepath.Join(dir, "demo-age-key.txt"))
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("render: %v", err)
	}
	for _, want := range []string{"name: quickstart_db_password.", "name: quickstart_api_token.", "target: /etc/web/web.conf"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q", want)
		}
	}
	for _, value := range []string{"demo-db-password-1", "demo-api-token-1", "hello from stackctl"} {
		if strings.Contains(string(out), value) {
			t.Errorf("output holds the value %q", value)
		}
	}
}
