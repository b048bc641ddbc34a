//go:build e2e

package main

import (
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestConnection reaches the engine the ways the docker CLI does, and
// fails clearly when it cannot.
func TestConnection(t *testing.T) {
	realEngine(t)
	stack := newStack(t)
	dir := writeDir(t, map[string]string{"compose.yml": "services:\n  app:\n    image: {{image}}\n    deploy: {endpoint_mode: dnsrr}\n"})

	ctxName := "stackctl-e2e-" + randomHex(3)
	if out, err := exec.Command("docker", "context", "create", ctxName, "--docker", "host=unix:///var/run/docker.sock").CombinedOutput(); err != nil {
		t.Fatalf("docker context create: %v\n%s", err, out)
	}
	t.Cleanup(func() { exec.Command("docker", "context", "rm", "-f", ctxName).Run() })

	tests := []struct {
		name string
		env  []string
		args []string
		code int
		want string
	}{
		{"DOCKER_HOST unix", []string{"DOCKER_HOST=unix:///var/run/docker.sock"}, nil, 0, "create    service " + stack + "_app"},
		{"--host", nil, []string{"--host", "unix:///var/run/docker.sock"}, 0, "create    service"},
		{"--context", nil, []string{"--context", ctxName}, 0, "create    service"},
		{"DOCKER_CONTEXT", []string{"DOCKER_CONTEXT=" + ctxName}, nil, 0, "create    service"},
		{"unknown context", nil, []string{"--context", "no-such-context"}, 1, "no-such-context"},
		{"nothing listens", []string{"DOCKER_HOST=tcp://127.0.0.1:1"}, nil, 1, "cannot reach the Docker engine"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			args := append(append([]string{"plan"}, tt.args...), "-c", "compose.yml", stack)
			r := stackctl(t, dir, tt.env, args...)
			if r.code != tt.code || !strings.Contains(r.stdout+r.stderr, tt.want) {
				t.Errorf("exit %d, want %d with %q:\n%s%s", r.code, tt.code, tt.want, r.stdout, r.stderr)
			}
			if time.Since(start) > 30*time.Second {
				t.Error("took more than 30s")
			}
		})
	}
}
