//go:build e2e

package main

import (
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestConnection reaches the engine every way the docker CLI does (unix
// socket, tcp with TLS, ssh://, contexts with their TLS material,
// config.json's currentContext), fails clearly when it cannot, and agrees
// with the docker CLI here on whether the engine is reachable with the
// same flags and environment.
func TestConnection(t *testing.T) {
	realEngine(t)
	stack := newStack(t)
	dir := writeDir(t, map[string]string{"compose.yml": "services:\n  app:\n    image: {{image}}\n    deploy: {endpoint_mode: dnsrr}\n"})

	// The engine over TCP with TLS: a TLS front end on 127.0.0.1 that asks
	// for a client certificate from the test CA and forwards to the engine
	// through a counting proxy.
	certs := t.TempDir()
	tlsHost, px := tlsEngine(t, writeTestCerts(t, certs))
	otherCA := t.TempDir()
	writeTestCerts(t, otherCA)
	clientOnly := t.TempDir() // cert.pem and key.pem, no ca.pem
	wrongCA := t.TempDir()    // the client's cert.pem and key.pem, another CA's ca.pem
	for _, f := range []string{"cert.pem", "key.pem"} {
		writeFile(t, filepath.Join(clientOnly, f), readFile(t, certs, f))
		writeFile(t, filepath.Join(wrongCA, f), readFile(t, certs, f))
	}
	writeFile(t, filepath.Join(wrongCA, "ca.pem"), readFile(t, otherCA, "ca.pem"))

	// The engine over ssh://, through a throwaway sshd; ssh on PATH is a
	// wrapper that gives the client key and known_hosts to the real one.
	port, clientKey, knownHosts := sshServer(t)
	sshHost := fmt.Sprintf("ssh://root@127.0.0.1:%d", port)
	sshPath := sshWrapper(t, clientKey, knownHosts) + string(os.PathListSeparator) + os.Getenv("PATH")

	// Contexts in a DOCKER_CONFIG of the test's own, made by the docker CLI.
	cfg := t.TempDir()
	dockerIn := func(args ...string) {
		t.Helper()
		cmd := exec.Command("docker", args...)
		cmd.Env = append(os.Environ(), "DOCKER_CONFIG="+cfg, "PATH="+sshPath)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("docker %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	dockerIn("context", "create", "local", "--docker", "host=unix:///var/run/docker.sock")
	dockerIn("context", "create", "secure", "--docker", fmt.Sprintf("host=%s,ca=%s,cert=%s,key=%s", tlsHost,
		filepath.Join(certs, "ca.pem"), filepath.Join(certs, "cert.pem"), filepath.Join(certs, "key.pem")))
	dockerIn("context", "create", "remote", "--docker", "host="+sshHost)
	dockerIn("context", "create", "down", "--docker", "host=unix:///nonexistent/docker.sock")
	current := t.TempDir()
	os.Symlink(filepath.Join(cfg, "contexts"), filepath.Join(current, "contexts"))
	writeFile(t, filepath.Join(current, "config.json"), []byte(`{"currentContext": "secure"}`))
	currentDown := t.TempDir()
	os.Symlink(filepath.Join(cfg, "contexts"), filepath.Join(currentDown, "contexts"))
	writeFile(t, filepath.Join(currentDown, "config.json"), []byte(`{"currentContext": "down"}`))

	tlsEnv := func(more ...string) []string {
		return append([]string{"DOCKER_HOST=" + tlsHost, "DOCKER_CERT_PATH=" + certs}, more...)
	}
	const created = "create    service"
	tests := []struct {
		name      string
		env       []string
		args      []string
		code      int
		want      string
		throughPx bool // the requests went through the TLS front end
	}{
		{name: "DOCKER_HOST unix", env: []string{"DOCKER_HOST=unix:///var/run/docker.sock"}, want: created + " " + stack + "_app"},
		{name: "--host", args: []string{"--host", "unix:///var/run/docker.sock"}, want: created},
		{name: "--context", args: []string{"--context", "local"}, want: created},
		{name: "DOCKER_CONTEXT", env: []string{"DOCKER_CONTEXT=local"}, want: created},
		{name: "--context over DOCKER_HOST", env: []string{"DOCKER_HOST=tcp://127.0.0.1:1"}, args: []string{"--context", "local"}, want: created},
		{name: "DOCKER_HOST over DOCKER_CONTEXT", env: []string{"DOCKER_HOST=unix:///var/run/docker.sock", "DOCKER_CONTEXT=down"}, want: created},
		{name: "DOCKER_API_VERSION the engine speaks", env: []string{"DOCKER_API_VERSION=1.41"}, want: created},

		{name: "tcp, DOCKER_TLS_VERIFY", env: tlsEnv("DOCKER_TLS_VERIFY=1"), want: created, throughPx: true},
		{name: "tcp, DOCKER_TLS: TLS without verifying the engine", env: tlsEnv("DOCKER_TLS=1", "DOCKER_CERT_PATH="+wrongCA), want: created, throughPx: true},
		{name: "tcp, certificates in DOCKER_CONFIG", env: []string{"DOCKER_HOST=" + tlsHost, "DOCKER_TLS_VERIFY=1", "DOCKER_CONFIG=" + certs}, want: created, throughPx: true},
		{name: "tcp, context with TLS material", args: []string{"--context", "secure"}, want: created, throughPx: true},
		{name: "currentContext in config.json", env: []string{"DOCKER_CONFIG=" + current}, want: created, throughPx: true},
		{name: "ssh:// DOCKER_HOST", env: []string{"DOCKER_HOST=" + sshHost}, want: created},
		{name: "ssh:// context", args: []string{"--context", "remote"}, want: created},

		{name: "--host and --context", args: []string{"--host", "unix:///var/run/docker.sock", "--context", "local"}, code: 2, want: "conflicting options: cannot specify both --host and --context"},
		{name: "unknown context", args: []string{"--context", "no-such-context"}, code: 1, want: `docker context "no-such-context" (from --context) does not exist`},
		{name: "unknown DOCKER_CONTEXT", env: []string{"DOCKER_CONTEXT=no-such-context"}, code: 1, want: "(from DOCKER_CONTEXT) does not exist"},
		{name: "currentContext names an engine that is down", env: []string{"DOCKER_CONFIG=" + currentDown}, code: 1, want: "cannot reach the Docker engine"},
		{name: "nothing listens", env: []string{"DOCKER_HOST=tcp://127.0.0.1:1"}, code: 1, want: "cannot reach the Docker engine"},
		{name: "tcp+TLS engine without TLS", env: tlsEnv(), code: 1, want: "cannot reach the Docker engine"},
		{name: "tcp+TLS, engine certificate from another CA", env: tlsEnv("DOCKER_TLS_VERIFY=1", "DOCKER_CERT_PATH="+wrongCA), code: 1, want: "certificate signed by unknown authority"},
		{name: "tcp+TLS, client certificate from another CA", env: tlsEnv("DOCKER_TLS_VERIFY=1", "DOCKER_CERT_PATH="+otherCA), code: 1, want: "cannot reach the Docker engine"},
		{name: "DOCKER_TLS_VERIFY without ca.pem", env: tlsEnv("DOCKER_TLS_VERIFY=1", "DOCKER_CERT_PATH="+clientOnly), code: 1, want: filepath.Join(clientOnly, "ca.pem")},
		{name: "DOCKER_API_VERSION the engine does not speak", env: []string{"DOCKER_API_VERSION=1.99"}, code: 1, want: "1.99"},
		{name: "ssh:// no sshd", env: []string{"DOCKER_HOST=ssh://root@127.0.0.1:1"}, code: 1, want: "cannot reach the Docker engine"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// What the machine's environment sets is cleared; then the case's.
			env := append([]string{"DOCKER_HOST=", "DOCKER_CONTEXT=", "DOCKER_TLS=", "DOCKER_TLS_VERIFY=", "DOCKER_CERT_PATH=", "DOCKER_API_VERSION=",
				"DOCKER_CONFIG=" + cfg, "PATH=" + sshPath}, tt.env...)
			px.Reset()
			start := time.Now()
			args := append(append([]string{"plan"}, tt.args...), "-c", "compose.yml", stack)
			r := stackctl(t, dir, env, args...)
			if r.code != tt.code || !strings.Contains(r.stdout+r.stderr, tt.want) {
				t.Errorf("exit %d, want %d with %q:\n%s%s", r.code, tt.code, tt.want, r.stdout, r.stderr)
			}
			if tt.throughPx && px.Total() == 0 {
				t.Error("no request went through the TLS front end")
			}
			if time.Since(start) > 30*time.Second {
				t.Error("took more than 30s")
			}
			// The docker CLI, given the same, reaches the engine or not alike.
			dargs := append(append([]string{}, tt.args...), "version", "--format", "{{.Server.APIVersion}}")
			cmd := exec.Command("docker", dargs...)
			cmd.Env = append(os.Environ(), env...)
			out, err := cmd.CombinedOutput()
			if (err == nil) != (r.code == 0) {
				t.Errorf("docker %s: %v\n%s\nbut stackctl exits %d", strings.Join(dargs, " "), err, out, r.code)
			}
		})
	}
}

// tlsEngine serves the engine over TCP with TLS on 127.0.0.1: a TLS front
// end with cfg that forwards each connection to a counting API proxy. It
// returns the DOCKER_HOST value and that proxy.
func tlsEngine(t *testing.T, cfg *tls.Config) (string, *apiProxy) {
	t.Helper()
	px := newAPIProxy(t, "")
	l, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			down, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer down.Close()
				up, err := net.Dial("unix", strings.TrimPrefix(px.Host(), "unix://"))
				if err != nil {
					return
				}
				defer up.Close()
				go func() { io.Copy(up, down); closeWrite(up) }()
				io.Copy(down, up)
			}()
		}
	}()
	return "tcp://" + l.Addr().String(), px
}

// sshWrapper writes an ssh on a PATH of its own that runs the real ssh
// with the test's client key and known_hosts, so that neither the user's
// ~/.ssh nor an agent is needed; it returns that folder.
func sshWrapper(t *testing.T, clientKey, knownHosts string) string {
	t.Helper()
	dir := t.TempDir()
	real, err := exec.LookPath("ssh")
	if err != nil {
		t.Fatal("the ssh:// tests need ssh: apt-get install openssh-client (make test does)")
	}
	writeFile(t, filepath.Join(dir, "key"), []byte(clientKey))
	writeFile(t, filepath.Join(dir, "known_hosts"), []byte(knownHosts+"\n"))
	script := fmt.Sprintf("#!/bin/sh\nexec %s -F none -i %s/key -o IdentitiesOnly=yes -o UserKnownHostsFile=%s/known_hosts -o StrictHostKeyChecking=yes -o BatchMode=yes \"$@\"\n", real, dir, dir)
	bin := filepath.Join(dir, "bin")
	os.Mkdir(bin, 0o755)
	if err := os.WriteFile(filepath.Join(bin, "ssh"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return bin
}
