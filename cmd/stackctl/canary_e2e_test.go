//go:build e2e

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/client"
)

// rotatedCanary is the value the cycle below rotates db_password to.
const rotatedCanary = "CANARY-rotated-91fe"

// TestNoPlaintextAnywhere runs a whole cycle (plan, deploy, rotate, a
// deploy of a changed plain secret, prune, render) as a GitHub Actions
// step would, at the default, most verbose output level, in both output
// formats, and looks for the canary values everywhere they must not be:
// every file written under TMPDIR, HOME or the project folder (SOPS
// ciphertext aside), every output, every inspect and label of the stack's
// services, tasks, secrets, networks and configs (a config's own data is
// not secret), and the command line of every process, sampled while the
// cycle runs.
func TestNoPlaintextAnywhere(t *testing.T) {
	api := realEngine(t)
	stack := newStack(t)
	work, tmp, home := t.TempDir(), t.TempDir(), t.TempDir()
	enc, err := os.ReadFile(testdataPath(t, "sops", "app.enc.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	writeInto(t, work, map[string]string{
		"app.enc.yaml": string(enc),
		"plain.txt":    "CANARY-plain-8d21",
		"compose.yml": `
services:
  app:
    image: {{image}}
    deploy: {endpoint_mode: dnsrr, update_config: {monitor: 1s}}
    secrets: [db_password, api_key, plain, env]
    configs: [settings]
secrets:
  db_password: {file: ./app.enc.yaml, x-sops: {key: db.password}}
  api_key: {file: ./app.enc.yaml, x-sops: {key: api_key}}
  plain: {file: ./plain.txt}
  env: {environment: CANARY_ENV}
configs:
  settings: {content: "level=info"}
`})
	all := append(append([]string{}, canaries...), rotatedCanary)
	before := snapshot(t, work, tmp, home)

	stop := sampleCommandLines(t, all)
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, "TMPDIR=" + tmp,
		"SOPS_AGE_KEY_FILE=" + testdataPath(t, "age", "test-key.txt"), "CANARY_ENV=CANARY-env-40aa",
		"GITHUB_ACTIONS=true", "GITHUB_STEP_SUMMARY=" + filepath.Join(tmp, "summary.md"), "GITHUB_OUTPUT=" + filepath.Join(tmp, "output.txt")}
	if dh := os.Getenv("DOCKER_HOST"); dh != "" {
		env = append(env, "DOCKER_HOST="+dh)
	}
	run := func(stdin string, args ...string) {
		t.Helper()
		cmd := exec.Command(binary(t), args...)
		cmd.Dir, cmd.Env, cmd.Stdin = work, env, strings.NewReader(stdin)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Run(); err != nil {
			t.Fatalf("stackctl %s: %v\n%s", strings.Join(args, " "), err, errb.String())
		}
		for _, c := range all {
			if strings.Contains(out.String()+errb.String(), c) {
				t.Errorf("canary %s in the output of stackctl %s", c, strings.Join(args, " "))
			}
		}
	}
	run("", "plan", "-c", "compose.yml", stack)
	run("", "deploy", "-c", "compose.yml", stack)
	run("", "plan", "-o", "json", "-c", "compose.yml", stack)
	run(rotatedCanary+"\n", "rotate", "db_password", "--stdin", "-c", "compose.yml", stack)
	writeInto(t, work, map[string]string{"plain.txt": "CANARY-plain-8d21-two"})
	run("", "deploy", "-o", "json", "-c", "compose.yml", stack)
	run("", "prune", "--keep", "0", stack)
	run("", "render", "-c", "compose.yml", stack)
	stop()

	for path, content := range snapshot(t, work, tmp, home) {
		if before[path] == content || path == filepath.Join(work, "plain.txt") {
			continue // unchanged, or written by this test
		}
		for _, c := range all {
			if strings.Contains(content, c) {
				t.Errorf("canary %s written to %s", c, path)
			}
		}
	}
	if got := decrypt(t, filepath.Join(work, "app.enc.yaml"), "db", "password"); got != rotatedCanary {
		t.Fatal("the rotation did not write the new value into the SOPS file")
	}
	for _, got := range readInContainers(t, api, stack+"_app", "/run/secrets/db_password") {
		if got != rotatedCanary {
			t.Error("the app does not read the rotated value: the cycle did not run as it should")
		}
	}

	// Everything the engine shows of the stack, configs' data aside.
	ctx := context.Background()
	f := make(client.Filters).Add("label", "com.docker.stack.namespace="+stack)
	var shown []any
	services, _ := api.ServiceList(ctx, client.ServiceListOptions{Filters: f})
	tasks, _ := api.TaskList(ctx, client.TaskListOptions{Filters: make(client.Filters).Add("service", stack+"_app")})
	secrets, _ := api.SecretList(ctx, client.SecretListOptions{Filters: f})
	nets, _ := api.NetworkList(ctx, client.NetworkListOptions{Filters: f})
	configs, _ := api.ConfigList(ctx, client.ConfigListOptions{Filters: f})
	for i := range configs.Items {
		configs.Items[i].Spec.Data = nil
	}
	shown = append(shown, services, tasks, secrets, nets, configs)
	if len(services.Items) == 0 || len(secrets.Items) == 0 || len(tasks.Items) == 0 {
		t.Fatal("the stack is not in the engine")
	}
	b, _ := json.Marshal(shown)
	for _, c := range all {
		if bytes.Contains(b, []byte(c)) {
			t.Errorf("canary %s in an inspect or label of the stack's objects", c)
		}
	}
}

// sampleCommandLines reads the command line of every process every few
// milliseconds until stop is called, and fails the test if one holds a
// canary.
func sampleCommandLines(t *testing.T, canaries []string) (stop func()) {
	t.Helper()
	done := make(chan struct{})
	var wg sync.WaitGroup
	samples, sawControl := 0, false
	// A control: a process whose command line the sampler must see.
	control := "control-" + randomHex(4)
	ctl := exec.Command("sh", "-c", "sleep 60", control)
	if err := ctl.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ctl.Process.Kill(); ctl.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-done:
				return
			case <-time.After(5 * time.Millisecond):
			}
			paths, _ := filepath.Glob("/proc/[0-9]*/cmdline")
			for _, p := range paths {
				b, err := os.ReadFile(p)
				if err != nil {
					continue
				}
				sawControl = sawControl || bytes.Contains(b, []byte(control))
				for _, c := range canaries {
					if bytes.Contains(b, []byte(c)) {
						t.Errorf("canary %s in a process's command line: %q", c, bytes.ReplaceAll(b, []byte{0}, []byte{' '}))
					}
				}
			}
			samples++
		}
	}()
	return func() {
		close(done)
		wg.Wait()
		if samples < 10 || !sawControl {
			t.Errorf("%d samples of the process table, control process seen: %v", samples, sawControl)
		}
		t.Logf("%d samples of every process's command line", samples)
	}
}
