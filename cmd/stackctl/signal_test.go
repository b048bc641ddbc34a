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

// TestInterruptWhileReading: SIGINT or SIGTERM stops stackctl while it
// waits for input that never comes (a pipe, a FIFO), with exit 1 and a
// message, and nothing written.
func TestInterruptWhileReading(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "compose.fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	compose := filepath.Join(dir, "compose.yml")
	if err := os.WriteFile(compose, []byte("services:\n  web: {image: x, secrets: [pw]}\nsecrets:\n  pw: {file: "+testdataPath(t, "sops", "app.enc.yaml")+", x-sops: {key: db.password}}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		sig  syscall.Signal
		args []string
	}{
		{"render -c - (SIGINT)", syscall.SIGINT, []string{"render", "-c", "-", "st"}},
		{"render -c FIFO (SIGTERM)", syscall.SIGTERM, []string{"render", "-c", fifo, "st"}},
		{"rotate --stdin (SIGINT)", syscall.SIGINT, []string{"rotate", "pw", "--stdin", "--no-deploy", "-c", compose, "st"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.Command(binary(t), tt.args...)
			cmd.Env = append(os.Environ(), "SOPS_AGE_KEY_FILE="+testdataPath(t, "age", "test-key.txt"))
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
			time.Sleep(500 * time.Millisecond)
			cmd.Process.Signal(tt.sig)
			waitOrKill(t, cmd, "the signal")
			if cmd.ProcessState.ExitCode() != 1 || !strings.Contains(errb.String(), "interrupted") {
				t.Errorf("exit %d, stderr %q; want 1 and \"interrupted\"", cmd.ProcessState.ExitCode(), errb.String())
			}
		})
	}
}

// TestSecondSignalStopsAtOnce: where stackctl is blocked in what no
// context reaches (docker's loader reading an env_file that is a FIFO),
// the second signal ends it.
func TestSecondSignalStopsAtOnce(t *testing.T) {
	dir := t.TempDir()
	if err := syscall.Mkfifo(filepath.Join(dir, "app.env"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "compose.yml"), []byte("services:\n  web: {image: x, env_file: ./app.env}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(binary(t), "render", "-c", filepath.Join(dir, "compose.yml"), "st")
	var errb bytes.Buffer
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	cmd.Process.Signal(syscall.SIGINT)
	time.Sleep(200 * time.Millisecond)
	cmd.Process.Signal(syscall.SIGINT)
	waitOrKill(t, cmd, "two signals")
	if cmd.ProcessState.ExitCode() != 1 || !strings.Contains(errb.String(), "interrupted twice") {
		t.Errorf("exit %d, stderr %q", cmd.ProcessState.ExitCode(), errb.String())
	}
}

// waitOrKill waits up to 10s for a started command to end after what
// should end it, and kills it and fails the test if it does not.
func waitOrKill(t *testing.T, cmd *exec.Cmd, after string) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("still running 10s after %s", after)
	}
}
