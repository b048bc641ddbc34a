package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// pluginDeps are the deps of stackctl started by the docker CLI as
// ~/.docker/cli-plugins/docker-stackctl.
func pluginDeps(stdin string, env map[string]string) (*deps, *bytes.Buffer, *bytes.Buffer) {
	d, out, errb := testDeps(stdin)
	d.exe = "/root/.docker/cli-plugins/docker-stackctl"
	all := map[string]string{envPluginOriginalCLI: "docker"}
	for k, v := range env {
		all[k] = v
	}
	d.getenv = func(k string) string { return all[k] }
	return d, out, errb
}

func TestPluginMode(t *testing.T) {
	docker := func(k string) string { return map[string]string{envPluginOriginalCLI: "/usr/bin/docker"}[k] }
	none := func(string) string { return "" }
	tests := []struct {
		name   string
		exe    string
		args   []string
		getenv func(string) string
		want   bool
	}{
		{"run by docker", "/home/u/.docker/cli-plugins/docker-stackctl", []string{"stackctl", "plan"}, docker, true},
		{"run by docker, .exe", "/c/cli-plugins/docker-stackctl.exe", []string{"stackctl"}, docker, true},
		{"metadata handshake", "/home/u/.docker/cli-plugins/docker-stackctl", []string{pluginMetadataCmd}, none, true},
		{"metadata handshake, any name", "/usr/local/bin/stackctl", []string{pluginMetadataCmd}, none, true},
		{"docker-stackctl run by hand", "./docker-stackctl", []string{"plan"}, none, false},
		{"stackctl that inherited docker's variable", "/usr/local/bin/stackctl", []string{"plan"}, docker, false},
		{"stackctl", "stackctl", []string{"version"}, none, false},
		{"metadata with more arguments", "stackctl", []string{pluginMetadataCmd, "x"}, none, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := pluginMode(tt.exe, tt.args, tt.getenv); got != tt.want {
				t.Errorf("pluginMode = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestPluginMetadata: the handshake prints what docker's plugin manager
// requires (SchemaVersion 0.1.0, a Vendor), and connects to nothing.
func TestPluginMetadata(t *testing.T) {
	d, out, errb := pluginDeps("", nil)
	if code := run([]string{pluginMetadataCmd}, d); code != exitOK {
		t.Fatalf("exit %d: %s", code, errb)
	}
	var m map[string]any
	if err := json.Unmarshal(out.Bytes(), &m); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	want := map[string]any{"SchemaVersion": "0.1.0", "Vendor": "stackctl", "Version": thisVersion().Version,
		"ShortDescription": "Deploy Docker Swarm stacks whose secrets and configs change", "URL": "https://github.com/stackctl/stackctl"}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("%s = %v, want %v", k, m[k], v)
		}
	}
	if len(m) != len(want) {
		t.Errorf("metadata %v", m)
	}
}

// TestPluginGlobalFlags: docker's global flags, given before "stackctl",
// choose the engine; docker's -c is --context before "stackctl", and
// stackctl's -c is --compose-file after it.
func TestPluginGlobalFlags(t *testing.T) {
	compose := filepath.Join(t.TempDir(), "compose.yml")
	os.WriteFile(compose, []byte("services:\n  web: {image: nginx}\n"), 0o600)
	tests := []struct {
		name string
		args []string
		want engineFlags
	}{
		{"none", nil, engineFlags{}},
		{"--context", []string{"--context", "prod"}, engineFlags{contextName: "prod"}},
		{"-c", []string{"-c", "prod"}, engineFlags{contextName: "prod"}},
		{"-H", []string{"-H", "unix:///run/user.sock"}, engineFlags{host: "unix:///run/user.sock"}},
		{"--host=", []string{"--host=tcp://m:2376"}, engineFlags{host: "tcp://m:2376"}},
		{"--config", []string{"--config", "/etc/docker-cli"}, engineFlags{configDir: "/etc/docker-cli"}},
		{"TLS flags", []string{"--tlsverify", "--tlscacert", "/c/ca.pem", "--tlscert=/c/cert.pem", "--tlskey", "/c/key.pem", "-H", "tcp://m:2376"},
			engineFlags{host: "tcp://m:2376", tlsVerify: optionalBool{true, true}, tlsCA: "/c/ca.pem", tlsCert: "/c/cert.pem", tlsKey: "/c/key.pem"}},
		{"--tls --tlsverify=false", []string{"--tls", "--tlsverify=false"}, engineFlags{tls: optionalBool{true, true}, tlsVerify: optionalBool{false, true}}},
		{"logging flags taken", []string{"-D", "-l", "warn", "--log-level=error", "--debug"}, engineFlags{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, out, errb := pluginDeps("", nil)
			var ef engineFlags
			top := newPluginCmd(newRootCmdWith(d, &ef), &ef)
			top.SetArgs(append(tt.args, "stackctl", "render", "-c", compose, "shop"))
			if err := top.Execute(); err != nil {
				t.Fatalf("%v\n%s", err, errb)
			}
			if ef != tt.want {
				t.Errorf("engine flags %+v, want %+v", ef, tt.want)
			}
			if !strings.Contains(out.String(), "image: nginx") {
				t.Errorf("render did not read %s:\n%s", compose, out)
			}
		})
	}
}

// TestPluginCommandLine: help, usage errors and exit codes as
// `docker stackctl` shows them.
func TestPluginCommandLine(t *testing.T) {
	tests := []struct {
		name      string
		args      []string
		code      int
		out, err  string
		notInHelp string
	}{
		{"--help", []string{"stackctl", "--help"}, exitOK, "docker stackctl [command]", "", ""},
		{"no command", []string{"stackctl"}, exitOK, "Available Commands:", "", ""},
		{"docker help stackctl", []string{"help", "stackctl"}, exitOK, "docker stackctl [command]", "", ""},
		{"examples as typed there", []string{"stackctl", "deploy", "--help"}, exitOK, "\n  DOCKER_HOST=ssh://deploy@manager docker stackctl deploy --dry-run", "", "\n  stackctl deploy"},
		{"unknown command", []string{"stackctl", "plna"}, exitUsage, "", `unknown command "plna" for "docker stackctl": did you mean plan?`, ""},
		{"unknown flag", []string{"stackctl", "plan", "--bogus"}, exitUsage, "", "unknown flag: --bogus", ""},
		{"too many arguments", []string{"stackctl", "plan", "a", "b"}, exitUsage, "", "see docker stackctl plan --help", ""},
		{"version", []string{"-H", "unix:///x.sock", "stackctl", "version"}, exitOK, "stackctl " + version, "", ""},
		{"completion through docker", []string{"__complete", "stackctl", "pl"}, exitOK, "plan\t", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, out, errb := pluginDeps("", nil)
			code := run(tt.args, d)
			if code != tt.code || !strings.Contains(out.String(), tt.out) || !strings.Contains(errb.String(), tt.err) {
				t.Errorf("exit %d, want %d\nstdout (want %q):\n%s\nstderr (want %q):\n%s", code, tt.code, tt.out, out, tt.err, errb)
			}
			if tt.notInHelp != "" && strings.Contains(out.String(), tt.notInHelp) {
				t.Errorf("help has %q:\n%s", tt.notInHelp, out)
			}
		})
	}
}

// TestPluginSocketStops: when the docker CLI closes the socket it named
// in DOCKER_CLI_PLUGIN_SOCKET (it got SIGINT or SIGTERM), stackctl stops
// as it does on a signal.
func TestPluginSocketStops(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "docker_cli.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		time.Sleep(300 * time.Millisecond)
		c.Close()
	}()
	r, w := io.Pipe() // standard input that never ends
	defer w.Close()
	d, _, errb := pluginDeps("", map[string]string{envPluginSocket: sock})
	d.stdin = r
	done := make(chan int, 1)
	go func() { done <- run([]string{"stackctl", "render", "-c", "-", "shop"}, d) }()
	select {
	case code := <-done:
		if code != exitFailure || !strings.Contains(errb.String(), "interrupted") {
			t.Errorf("exit %d, stderr %q; want 1 and \"interrupted\"", code, errb)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("still running 10s after docker closed the socket")
	}
}
