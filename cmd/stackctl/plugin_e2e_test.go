//go:build e2e

package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestDockerPlugin installs the built binary as a docker CLI plugin in a
// DOCKER_CONFIG of its own and drives it through the docker CLI here:
// docker lists it, runs its commands against the local swarm, and hands it
// its global flags (--context, -H, --config, TLS) and its signals.
func TestDockerPlugin(t *testing.T) {
	realEngine(t)
	stack := newStack(t)
	dir := writeDir(t, map[string]string{"compose.yml": "services:\n  app:\n    image: {{image}}\n    deploy: {endpoint_mode: dnsrr}\n"})
	cfg := t.TempDir()
	installPlugin(t, cfg)
	env := append(os.Environ(), "DOCKER_HOST=", "DOCKER_CONTEXT=", "DOCKER_TLS=", "DOCKER_TLS_VERIFY=", "DOCKER_CERT_PATH=", "DOCKER_CONFIG="+cfg,
		"SOPS_AGE_KEY_FILE="+testdataPath(t, "age", "test-key.txt"))
	docker := func(args ...string) result {
		t.Helper()
		cmd := exec.Command("docker", args...)
		cmd.Dir, cmd.Env = dir, env
		var errb bytes.Buffer
		cmd.Stderr = &errb
		out, err := cmd.Output()
		if _, exited := err.(*exec.ExitError); err != nil && !exited {
			t.Fatal(err)
		}
		return result{string(out), errb.String(), cmd.ProcessState.ExitCode()}
	}
	if r := docker("context", "create", "swarm", "--docker", "host=unix:///var/run/docker.sock"); r.code != 0 {
		t.Fatalf("docker context create: %s", r.stderr)
	}
	if r := docker("context", "create", "down", "--docker", "host=unix:///nonexistent/docker.sock"); r.code != 0 {
		t.Fatalf("docker context create: %s", r.stderr)
	}
	certs := t.TempDir()
	tlsHost, px := tlsEngine(t, writeTestCerts(t, certs))
	otherConfig := t.TempDir()                              // for --config: its currentContext is an engine that is down
	for _, d := range []string{"contexts", "cli-plugins"} { // docker finds its plugins in --config too
		os.Symlink(filepath.Join(cfg, d), filepath.Join(otherConfig, d))
	}
	writeFile(t, filepath.Join(otherConfig, "config.json"), []byte(`{"currentContext": "down"}`))

	const created = "create    service"
	plan := []string{"stackctl", "plan", "-c", "compose.yml", stack}
	tests := []struct {
		name      string
		args      []string
		code      int
		stdout    string
		stderr    string
		throughPx bool
	}{
		{name: "version", args: []string{"stackctl", "version"}, stdout: "stackctl "},
		{name: "plan", args: plan, stdout: created + " " + stack + "_app"},
		{name: "--context", args: append([]string{"--context", "swarm"}, plan...), stdout: created},
		{name: "-c is --context before stackctl", args: append([]string{"-c", "swarm"}, plan...), stdout: created},
		{name: "-H", args: append([]string{"-H", "unix:///var/run/docker.sock"}, plan...), stdout: created},
		{name: "TLS flags", args: append([]string{"-H", tlsHost, "--tlsverify", "--tlscacert", filepath.Join(certs, "ca.pem"),
			"--tlscert", filepath.Join(certs, "cert.pem"), "--tlskey", filepath.Join(certs, "key.pem")}, plan...), stdout: created, throughPx: true},
		{name: "--context of an engine that is down", args: append([]string{"--context", "down"}, plan...), code: 1, stderr: "cannot reach the Docker engine"},
		{name: "--config", args: append([]string{"--config", otherConfig}, plan...), code: 1, stderr: "cannot reach the Docker engine"},
		{name: "unknown context", args: append([]string{"--context", "no-such-context"}, plan...), code: 1, stderr: `docker context "no-such-context" (from --context) does not exist`},
		{name: "--help", args: []string{"stackctl", "--help"}, stdout: "docker stackctl [command]"},
		{name: "docker help stackctl", args: []string{"help", "stackctl"}, stdout: "Use \"docker stackctl [command] --help\""},
		{name: "command help", args: []string{"stackctl", "deploy", "--help"}, stdout: "  docker stackctl deploy -c docker-compose.yml shop"},
		{name: "usage error exit code", args: []string{"stackctl", "plna"}, code: 2, stderr: "did you mean plan?"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			px.Reset()
			r := docker(tt.args...)
			if r.code != tt.code || !strings.Contains(r.stdout, tt.stdout) || !strings.Contains(r.stderr, tt.stderr) {
				t.Errorf("docker %s: exit %d, want %d\nstdout (want %q):\n%s\nstderr (want %q):\n%s", strings.Join(tt.args, " "), r.code, tt.code, tt.stdout, r.stdout, tt.stderr, r.stderr)
			}
			if tt.throughPx && px.Total() == 0 {
				t.Error("no request went through the TLS front end")
			}
		})
	}

	t.Run("docker info lists it", func(t *testing.T) {
		r := docker("info", "--format", "{{range .ClientInfo.Plugins}}{{.Name}} {{.Vendor}} {{.Version}} {{.Path}} {{.Err}}\n{{end}}")
		want := "stackctl stackctl " + pluginVersion(t) + " " + filepath.Join(cfg, "cli-plugins", "docker-stackctl") + " <nil>"
		if !strings.Contains(r.stdout, want) {
			t.Errorf("docker info plugins (exit %d):\n%s\nwant the line %q\n%s", r.code, r.stdout, want, r.stderr)
		}
	})
	t.Run("docker --help lists it", func(t *testing.T) {
		r := docker("--help")
		for _, line := range strings.Split(r.stdout, "\n") {
			if strings.Join(strings.Fields(line), " ") == "stackctl* Deploy Docker Swarm stacks whose secrets and configs change" {
				return
			}
		}
		t.Errorf("docker --help has no line for stackctl:\n%s", r.stdout)
	})
	t.Run("docker's SIGTERM stops it", func(t *testing.T) {
		// Not on a terminal, docker passes a signal on by closing the
		// plugin's socket: stackctl must stop reading and exit 1.
		cmd := exec.Command("docker", "stackctl", "render", "-c", "-", stack)
		cmd.Dir, cmd.Env = dir, env
		stdin, err := cmd.StdinPipe() // held open, never written
		if err != nil {
			t.Fatal(err)
		}
		defer stdin.Close()
		var errb bytes.Buffer
		cmd.Stderr = &errb
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second)
		cmd.Process.Signal(syscall.SIGTERM) // docker's process only
		waitOrKill(t, cmd, "the signal")
		if cmd.ProcessState.ExitCode() != 1 || !strings.Contains(errb.String(), "interrupted") {
			t.Errorf("exit %d, stderr %q; want 1 and \"interrupted\"", cmd.ProcessState.ExitCode(), errb.String())
		}
	})
}

// installPlugin copies the built binary into cfg/cli-plugins as make
// install-plugin does.
func installPlugin(t *testing.T, cfg string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(cfg, "cli-plugins"), 0o755); err != nil {
		t.Fatal(err)
	}
	bin, err := os.ReadFile(binary(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(cfg, "cli-plugins", "docker-stackctl"), bin, 0o755); err != nil {
		t.Fatal(err)
	}
}

// pluginVersion is the version the built binary reports.
func pluginVersion(t *testing.T) string {
	t.Helper()
	out, err := exec.Command(binary(t), pluginMetadataCmd).Output()
	if err != nil {
		t.Fatal(err)
	}
	_, v, _ := strings.Cut(string(out), `"Version": "`)
	v, _, _ = strings.Cut(v, `"`)
	return v
}
