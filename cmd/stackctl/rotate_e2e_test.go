//go:build e2e

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/stackctl/stackctl/compose"
	"github.com/stackctl/stackctl/sopsbridge"
)

// rotateCompose has a SOPS secret used by two services under two targets.
const rotateCompose = `
services:
  api:
    image: {{image}}
    deploy: {replicas: 2, endpoint_mode: dnsrr, update_config: {parallelism: 2, monitor: 1s}}
    secrets: [db_password]
  worker:
    image: {{image}}
    deploy: {endpoint_mode: dnsrr, update_config: {monitor: 1s}}
    secrets: [{source: db_password, target: /etc/db.pw}]
  bystander:
    image: {{image}}
    deploy: {endpoint_mode: dnsrr}
    secrets: [api_key]
secrets:
  db_password: {file: ./app.enc.yaml, x-sops: {key: db.password}}
  api_key: {file: ./app.enc.yaml, x-sops: {key: api_key}}
  unused: {file: ./app.enc.yaml, x-sops: {key: port}}
  plain: {file: ./plain.txt}
`

func rotateDir(t *testing.T) string {
	t.Helper()
	enc, err := os.ReadFile(testdataPath(t, "sops", "app.enc.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return writeDir(t, map[string]string{"compose.yml": rotateCompose, "app.enc.yaml": string(enc), "plain.txt": "plain"})
}

// decrypt reads one value of a SOPS file with the library.
func decrypt(t *testing.T, file string, path ...string) string {
	t.Helper()
	t.Setenv("SOPS_AGE_KEY_FILE", testdataPath(t, "age", "test-key.txt"))
	v, err := sopsbridge.NewReader().Read(context.Background(), sopsbridge.Source{Ref: "secret k", Kind: "secret", MaxSize: compose.Secret.MaxSize(), File: file, SOPS: &sopsbridge.SOPSRef{Path: path}})
	if err != nil {
		t.Fatal(err)
	}
	return string(v.Data)
}

// sopsCLI builds the sops command line tool from the module stackctl uses.
func sopsCLI(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(filepath.Dir(binary(t)), "sops")
	if _, err := os.Stat(bin); err == nil {
		return bin
	}
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/getsops/sops/v3/cmd/sops").CombinedOutput(); err != nil {
		t.Fatalf("build the sops CLI: %v\n%s", err, out)
	}
	return bin
}

func TestRotateEndToEnd(t *testing.T) {
	api := realEngine(t)
	stack := newStack(t)
	dir := rotateDir(t)
	file := filepath.Join(dir, "app.enc.yaml")
	mustStackctl(t, dir, nil, "deploy", "-c", "compose.yml", stack)
	before, _ := os.ReadFile(file)
	oldVersion := inspectSecretRef(t, api, stack+"_api", "db_password")

	const canary = "CANARY-rotated-91c7"
	tmp, home := t.TempDir(), t.TempDir()
	r := stackctlIn(t, dir, canary+"\n", []string{"TMPDIR=" + tmp, "HOME=" + home}, "rotate", "db_password", "--stdin", "--keep", "0", "-o", "json", "-c", "compose.yml", stack)
	if r.code != 0 {
		t.Fatalf("rotate: exit %d\n%s", r.code, r.stderr)
	}
	if strings.Contains(r.stdout+r.stderr, canary) {
		t.Error("the new value is in the output")
	}
	var res struct {
		FormatVersion string `json:"format_version"`
		Rotated       []struct{ Secret, Version string }
		Services      []string
		Deploy        struct{ Rolled []string }
	}
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
		t.Fatalf("%v\n%s", err, r.stdout)
	}
	if res.FormatVersion != "2.0" || len(res.Rotated) != 1 || res.Rotated[0].Secret != "db_password" || !strings.HasPrefix(res.Rotated[0].Version, stack+"_db_password.") {
		t.Errorf("result %+v", res)
	}
	if want := []string{stack + "_api", stack + "_worker"}; !slices.Equal(res.Deploy.Rolled, want) {
		t.Errorf("rolled %v, want %v", res.Deploy.Rolled, want)
	}

	// The file: new value, everything else (and its ciphertext) unchanged.
	after, _ := os.ReadFile(file)
	if got := decrypt(t, file, "db", "password"); got != canary {
		t.Error("the file does not decrypt to the new value")
	}
	if got := decrypt(t, file, "api_key"); got != "CANARY-api-key-52ab" {
		t.Error("another value changed")
	}
	for _, l := range changedLines(before, after) {
		if !strings.HasPrefix(l, "password: ENC[") && !strings.HasPrefix(l, "lastmodified:") && !strings.HasPrefix(l, "mac: ENC[") && l != "" {
			t.Errorf("unexpected change in the SOPS file: %q", l)
		}
	}
	if bytes.Contains(after, []byte(canary)) {
		t.Error("the new value is in the file in clear")
	}
	for path, content := range snapshot(t, dir, tmp, home) {
		if strings.Contains(content, canary) {
			t.Errorf("the new value was written to %s", path)
		}
	}
	sops := exec.Command(sopsCLI(t), "decrypt", "--extract", `["db"]["password"]`, file)
	sops.Env = append(os.Environ(), "SOPS_AGE_KEY_FILE="+testdataPath(t, "age", "test-key.txt"), "SOPS_DISABLE_VERSION_CHECK=1")
	if out, err := sops.Output(); err != nil || string(out) != canary {
		t.Errorf("sops decrypt: %v (%d bytes)", err, len(out))
	}

	// Both services rolled exactly once, read the new value; the bystander did not move.
	for svc, want := range map[string]int{"api": 4, "worker": 2, "bystander": 1} {
		if n := len(serviceTasks(t, api, stack+"_"+svc)); n != want {
			t.Errorf("%s has %d tasks, want %d", svc, n, want)
		}
	}
	for svc, path := range map[string]string{"api": "/run/secrets/db_password", "worker": "/etc/db.pw"} {
		for _, got := range readInContainers(t, api, stack+"_"+svc, path) {
			if got != canary {
				t.Errorf("%s does not read the new value at %s", svc, path)
			}
		}
	}
	// No label, name or spec holds the value.
	assertNotInEngine(t, api, stack, canary)
	// The old version stays for a rollback (previous spec); a deploy now is a no-op.
	if !slices.Contains(secretNames(t, api, stack), oldVersion) {
		t.Errorf("old version %s pruned while a rollback needs it", oldVersion)
	}
	if r := stackctl(t, dir, nil, "plan", "-q", "-c", "compose.yml", stack); !strings.Contains(r.stdout, "no changes") {
		t.Errorf("plan after rotate is not empty:\n%s", r.stdout)
	}

	// Rotate again, generated: a different value and version; the first version goes (keep 0).
	second := decrypt(t, file, "db", "password")
	mustStackctl(t, dir, nil, "rotate", "db_password", "--keep", "0", "-c", "compose.yml", stack)
	third := decrypt(t, file, "db", "password")
	if third == second || len(third) != 32 {
		t.Errorf("second rotation gave no new 32-character value")
	}
	names := secretNames(t, api, stack)
	if slices.Contains(names, oldVersion) || countPrefix(names, stack+"_db_password.") != 2 {
		t.Errorf("after two rotations with --keep 0: %v", names)
	}
}

// TestRotateRefusesBadInput: each case fails clearly, and neither the file
// nor the engine changes.
func TestRotateRefusesBadInput(t *testing.T) {
	api := realEngine(t)
	stack := newStack(t)
	dir := rotateDir(t)
	mustStackctl(t, dir, nil, "deploy", "-c", "compose.yml", stack)
	foreign, _ := os.ReadFile(testdataPath(t, "sops", "foreign.enc.yaml"))
	tampered, _ := os.ReadFile(testdataPath(t, "sops", "tampered.enc.yaml"))
	tests := []struct {
		name   string
		setup  map[string]string
		secret string
		want   string
		code   int
	}{
		{"unknown secret", nil, "nope", "no secret nope", exitUsage},
		{"unused secret", nil, "unused", "no service uses secret unused", exitUsage},
		{"plain source", nil, "plain", "must be a SOPS-encrypted file", exitUsage},
		{"wrong key", map[string]string{"app.enc.yaml": string(foreign)}, "db_password", "no usable key", exitUsage},
		{"tampered", map[string]string{"app.enc.yaml": string(tampered)}, "db_password", "MAC mismatch", exitUsage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			writeInto(t, dir, tt.setup)
			before, _ := os.ReadFile(filepath.Join(dir, "app.enc.yaml"))
			engineBefore := engineSnapshot(t, api, stack)
			r := stackctl(t, dir, nil, "rotate", tt.secret, "-c", "compose.yml", stack)
			if r.code != tt.code || !strings.Contains(r.stderr, tt.want) {
				t.Errorf("exit %d, stderr:\n%s\nwant exit %d and %q", r.code, r.stderr, tt.code, tt.want)
			}
			after, _ := os.ReadFile(filepath.Join(dir, "app.enc.yaml"))
			if !bytes.Equal(before, after) {
				t.Error("the SOPS file changed")
			}
			if got := engineSnapshot(t, api, stack); got != engineBefore {
				t.Errorf("the engine changed:\n%s\n->\n%s", engineBefore, got)
			}
		})
	}
}

// TestRotateInterrupted: a rotation killed after the write-back leaves a
// file that the next deploy rolls out.
func TestRotateInterrupted(t *testing.T) {
	api := realEngine(t)
	stack := newStack(t)
	dir := rotateDir(t)
	file := filepath.Join(dir, "app.enc.yaml")
	mustStackctl(t, dir, nil, "deploy", "-c", "compose.yml", stack)
	before, _ := os.ReadFile(file)
	cmd := exec.Command(binary(t), "rotate", "db_password", "-c", "compose.yml", stack)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "SOPS_AGE_KEY_FILE="+testdataPath(t, "age", "test-key.txt"))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		now, _ := os.ReadFile(file)
		if !bytes.Equal(now, before) || time.Now().After(deadline) {
			break
		}
		time.Sleep(2 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()

	value := decrypt(t, file, "db", "password")
	// The killed rotation left its lock: only --force-unlock (or 2 minutes) gets past it.
	mustStackctl(t, dir, nil, "deploy", "-c", "compose.yml", "--force-unlock", stack)
	for _, got := range readInContainers(t, api, stack+"_worker", "/etc/db.pw") {
		if got != value {
			t.Error("after the deploy, worker does not read the value in the file")
		}
	}
	if r := stackctl(t, dir, nil, "plan", "-q", "-c", "compose.yml", stack); !strings.Contains(r.stdout, "no changes") {
		t.Errorf("not converged:\n%s", r.stdout)
	}
}

// engineSnapshot describes a stack's services, secrets, configs and networks with their versions.
func engineSnapshot(t *testing.T, api *client.Client, stack string) string {
	t.Helper()
	ctx := context.Background()
	f := make(client.Filters).Add("label", "com.docker.stack.namespace="+stack)
	var lines []string
	svcs, _ := api.ServiceList(ctx, client.ServiceListOptions{Filters: f})
	for _, s := range svcs.Items {
		lines = append(lines, "service "+s.Spec.Name+" "+s.UpdatedAt.String())
	}
	secrets, _ := api.SecretList(ctx, client.SecretListOptions{Filters: f})
	for _, s := range secrets.Items {
		lines = append(lines, "secret "+s.Spec.Name)
	}
	configs, _ := api.ConfigList(ctx, client.ConfigListOptions{Filters: f})
	for _, c := range configs.Items {
		lines = append(lines, "config "+c.Spec.Name)
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}

// assertNotInEngine checks that value is in no inspect of the stack's objects.
func assertNotInEngine(t *testing.T, api *client.Client, stack, value string) {
	t.Helper()
	ctx := context.Background()
	f := make(client.Filters).Add("label", "com.docker.stack.namespace="+stack)
	var all []any
	svcs, _ := api.ServiceList(ctx, client.ServiceListOptions{Filters: f})
	secrets, _ := api.SecretList(ctx, client.SecretListOptions{Filters: f})
	configs, _ := api.ConfigList(ctx, client.ConfigListOptions{Filters: f})
	all = append(all, svcs, secrets, configs)
	b, _ := json.Marshal(all)
	if bytes.Contains(b, []byte(value)) {
		t.Errorf("the value is visible in an inspect of stack %s", stack)
	}
}

// changedLines lists the trimmed lines of b that are not in a.
func changedLines(a, b []byte) []string {
	have := map[string]bool{}
	for _, l := range strings.Split(string(a), "\n") {
		have[l] = true
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if !have[l] {
			out = append(out, strings.TrimSpace(l))
		}
	}
	return out
}
