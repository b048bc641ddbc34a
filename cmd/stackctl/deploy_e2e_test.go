//go:build e2e

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"
)

const sharedSecretCompose = `
services:
  api:
    image: {{image}}
    deploy: {replicas: 2, endpoint_mode: dnsrr, update_config: {parallelism: 2, monitor: 1s}}
    secrets: [db_password, {source: token, target: /etc/token}]
    configs: [{source: app_conf, target: /etc/app.conf}]
  worker:
    image: {{image}}
    deploy: {replicas: 1, endpoint_mode: dnsrr, update_config: {monitor: 1s}}
    secrets: [db_password]
  bystander:
    image: {{image}}
    deploy: {replicas: 1, endpoint_mode: dnsrr}
secrets:
  db_password:
    file: ./db_password.txt
  token:
    file: {{sops}}/app.enc.yaml
    x-sops: {key: api_key}
configs:
  app_conf:
    content: "level=info"
`

// TestDeployEndToEnd deploys a stack, checks what the containers read,
// redeploys it unchanged, then changes a secret shared by two services.
func TestDeployEndToEnd(t *testing.T) {
	api := realEngine(t)
	stack := newStack(t)
	dir := writeDir(t, map[string]string{"compose.yml": sharedSecretCompose, "db_password.txt": "CANARY-plain-8d21"})

	r := stackctl(t, dir, nil, "deploy", "-c", "compose.yml", "--timeout", "2m", stack)
	if r.code != 0 {
		t.Fatalf("deploy: exit %d\n%s", r.code, r.stderr)
	}
	assertNoCanary(t, r)
	for _, svc := range []string{"api", "worker"} {
		for _, got := range readInContainers(t, api, stack+"_"+svc, "/run/secrets/db_password") {
			if got != "CANARY-plain-8d21" {
				t.Errorf("%s reads a wrong db_password (%d bytes)", svc, len(got))
			}
		}
	}
	for _, got := range readInContainers(t, api, stack+"_api", "/etc/token") {
		if got != "CANARY-api-key-52ab" {
			t.Errorf("api reads a wrong SOPS token (%d bytes)", len(got))
		}
	}
	if got := readInContainers(t, api, stack+"_api", "/etc/app.conf"); len(got) != 2 || got[0] != "level=info" {
		t.Errorf("api reads config %q", got)
	}
	// docker's own stack commands see a stackctl stack as theirs.
	out, err := execOut("docker", "stack", "services", "--format", "{{.Name}}", stack)
	if err != nil || !strings.Contains(out, stack+"_api") || !strings.Contains(out, stack+"_bystander") {
		t.Errorf("docker stack services: %v\n%s", err, out)
	}

	// An unchanged redeploy writes nothing.
	before := versionIndexes(t, api, stack)
	secretsBefore := secretNames(t, api, stack)
	r = stackctl(t, dir, nil, "deploy", "-c", "compose.yml", "--output", "json", stack)
	if r.code != 0 {
		t.Fatalf("redeploy: exit %d\n%s", r.code, r.stderr)
	}
	var res struct {
		Rolled []string
		Plan   struct{ Versions, Services []struct{ Action string } }
	}
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
		t.Fatalf("deploy --output json: %v\n%s", err, r.stdout)
	}
	if len(res.Rolled) != 0 {
		t.Errorf("unchanged redeploy rolled %v", res.Rolled)
	}
	for _, v := range append(res.Plan.Versions, res.Plan.Services...) {
		if v.Action != "unchanged" {
			t.Errorf("unchanged redeploy plans %s", v.Action)
		}
	}
	if after := versionIndexes(t, api, stack); !mapsEqual(before, after) {
		t.Errorf("unchanged redeploy wrote to services: %v -> %v", before, after)
	}
	if after := secretNames(t, api, stack); len(after) != len(secretsBefore) {
		t.Errorf("unchanged redeploy changed secrets: %v -> %v", secretsBefore, after)
	}

	// Change the shared secret: api and worker roll once, bystander not at all.
	oldName := inspectSecretRef(t, api, stack+"_worker", "db_password")
	writeInto(t, dir, map[string]string{"db_password.txt": "CANARY-env-40aa"})
	r = stackctl(t, dir, nil, "deploy", "-c", "compose.yml", "--keep", "0", stack)
	if r.code != 0 {
		t.Fatalf("deploy after change: exit %d\n%s", r.code, r.stderr)
	}
	assertNoCanary(t, r)
	for svc, replicas := range map[string]int{"api": 2, "worker": 1, "bystander": 1} {
		tasks := serviceTasks(t, api, stack+"_"+svc)
		want := 2 * replicas // one replacement per replica
		if svc == "bystander" {
			want = replicas
		}
		if len(tasks) != want {
			t.Errorf("%s has %d tasks, want %d (exactly one replacement per replica)", svc, len(tasks), want)
		}
	}
	for _, svc := range []string{"api", "worker"} {
		for _, got := range readInContainers(t, api, stack+"_"+svc, "/run/secrets/db_password") {
			if got != "CANARY-env-40aa" {
				t.Errorf("%s does not read the new value", svc)
			}
		}
	}
	// The old version stays: the services' previous specs (rollback) need it.
	if !slices.Contains(secretNames(t, api, stack), oldName) {
		t.Errorf("old version %s was pruned while a rollback needs it", oldName)
	}

	// Change it again: now the first version is used by nothing and goes (keep 0).
	writeInto(t, dir, map[string]string{"db_password.txt": "CANARY-content-6c3e"})
	r = stackctl(t, dir, nil, "deploy", "-c", "compose.yml", "--keep", "0", stack)
	if r.code != 0 {
		t.Fatalf("second change: exit %d\n%s", r.code, r.stderr)
	}
	names := secretNames(t, api, stack)
	if slices.Contains(names, oldName) {
		t.Errorf("first version %s not pruned with --keep 0: %v", oldName, names)
	}
	if n := countPrefix(names, stack+"_db_password."); n != 2 {
		t.Errorf("%d db_password versions left, want 2 (current and previous): %v", n, names)
	}

	// docker stack rm removes a stackctl stack, versions included. It may
	// fail to remove the network while swarm still shuts the tasks down
	// ("network ... is in use by task"), as with any stack: then run it
	// again, as an operator would.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(300 * time.Millisecond) {
		out, err := execOut("docker", "stack", "rm", stack)
		left := engineSnapshot(t, api, stack)
		if left == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("docker stack rm left:\n%s\nits last run: %v\n%s", left, err, out)
		}
	}
}

// TestPruneKeep checks that --keep keeps unused versions, newest first.
func TestPruneKeep(t *testing.T) {
	api := realEngine(t)
	stack := newStack(t)
	dir := writeDir(t, map[string]string{"compose.yml": `
services:
  app:
    image: {{image}}
    deploy: {endpoint_mode: dnsrr, update_config: {monitor: 1s}}
    secrets: [s]
secrets:
  s: {file: ./s.txt}
`})
	var versions []string
	for i, v := range []string{"one", "two", "three", "four"} {
		writeInto(t, dir, map[string]string{"s.txt": v})
		r := stackctl(t, dir, nil, "deploy", "-c", "compose.yml", "--keep", "1", stack)
		if r.code != 0 {
			t.Fatalf("deploy %d: exit %d\n%s", i, r.code, r.stderr)
		}
		versions = append(versions, inspectSecretRef(t, api, stack+"_app", "s"))
	}
	// versions[3] is in use, [2] in the previous spec, [1] the newest unused (kept), [0] gone.
	names := secretNames(t, api, stack)
	for i, want := range []bool{false, true, true, true} {
		if slices.Contains(names, versions[i]) != want {
			t.Errorf("version %d (%s) present = %v, want %v; have %v", i, versions[i], !want, want, names)
		}
	}
	r := stackctl(t, dir, nil, "prune", stack, "--keep", "0", "--dry-run")
	if r.code != 0 || !strings.Contains(r.stdout, "would remove secret "+versions[1]) {
		t.Errorf("prune --dry-run: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if !slices.Contains(secretNames(t, api, stack), versions[1]) {
		t.Error("prune --dry-run removed a version")
	}
	r = stackctl(t, dir, nil, "prune", stack, "--keep", "0")
	if r.code != 0 || slices.Contains(secretNames(t, api, stack), versions[1]) {
		t.Errorf("prune --keep 0 left %s: exit %d\n%s", versions[1], r.code, r.stderr)
	}
}

// TestFailureActions changes a secret and the command so that the new
// task fails, under each update_config.failure_action: stackctl exits 1
// naming the service and what swarm did, prunes nothing, and both the new
// version and the one a rollback needs exist.
func TestFailureActions(t *testing.T) {
	api := realEngine(t)
	base := `
services:
  app:
    image: {{image}}
    command: %s
    deploy:
      endpoint_mode: dnsrr
      update_config: {failure_action: %s, monitor: 2s, max_failure_ratio: 0}
      restart_policy: {condition: on-failure, delay: 1s}
    secrets: [s]
secrets:
  s: {file: ./s.txt}
`
	tests := []struct {
		action string
		want   string
		// rolledBack: the service refers to the old version again.
		rolledBack bool
	}{
		{"rollback", "update rolled back", true},
		{"pause", "update paused", false},
		{"continue", "tasks keep failing", false},
	}
	for _, tc := range tests {
		t.Run(tc.action, func(t *testing.T) {
			t.Parallel()
			stack := newStack(t)
			compose := func(cmd string) string { return fmt.Sprintf(base, cmd, tc.action) }
			dir := writeDir(t, map[string]string{"compose.yml": compose(`["sleep"]`), "s.txt": "first"})
			mustStackctl(t, dir, nil, "deploy", "-c", "compose.yml", stack)
			good := inspectSecretRef(t, api, stack+"_app", "s")
			writeInto(t, dir, map[string]string{"compose.yml": compose(`["exit", "3"]`), "s.txt": "second"})
			r := stackctl(t, dir, nil, "deploy", "-c", "compose.yml", "--keep", "0", "--timeout", "3m", stack)
			if r.code != 1 || !strings.Contains(r.stderr, "service "+stack+"_app: "+tc.want) {
				t.Fatalf("deploy of a failing task: exit %d, want 1 and %q\n%s", r.code, tc.want, r.stderr)
			}
			if !strings.Contains(r.stderr, "non-zero exit (3)") {
				t.Errorf("the error does not give the task's error:\n%s", r.stderr)
			}
			now := inspectSecretRef(t, api, stack+"_app", "s")
			if (now == good) != tc.rolledBack {
				t.Errorf("after the failure the service refers to %s (the old version is %s), rolled back: want %v", now, good, tc.rolledBack)
			}
			names := secretNames(t, api, stack)
			if !slices.Contains(names, good) || len(names) != 2 {
				t.Errorf("secrets %v: want the old version %s, which a rollback needs, and the new one", names, good)
			}
		})
	}
}

// TestMissingImageFailsFast: tasks that cannot start at all fail the
// deploy well before its timeout, with the engine's reason.
func TestMissingImageFailsFast(t *testing.T) {
	realEngine(t)
	stack := newStack(t)
	dir := writeDir(t, map[string]string{"compose.yml": `
services:
  app:
    image: stackctl-test:no-such-image
    deploy:
      endpoint_mode: dnsrr
      restart_policy: {delay: 1s}
`})
	r := stackctl(t, dir, nil, "deploy", "-c", "compose.yml", "--timeout", "10m", stack)
	if r.code != 1 || !strings.Contains(r.stderr, "tasks keep failing") || !strings.Contains(r.stderr, "No such image") || strings.Contains(r.stderr, "timed out") {
		t.Errorf("deploy of a missing image: exit %d, want 1 with the engine's reason and no timeout\n%s", r.code, r.stderr)
	}
}

func assertNoCanary(t *testing.T, r result) {
	t.Helper()
	for _, c := range canaries {
		if strings.Contains(r.stdout, c) || strings.Contains(r.stderr, c) {
			t.Errorf("canary %s in output", c)
		}
	}
}

// versionIndexes are the stack's services' spec versions: any write bumps them.
func versionIndexes(t testing.TB, api *client.Client, stack string) map[string]uint64 {
	t.Helper()
	list, err := api.ServiceList(context.Background(), client.ServiceListOptions{Filters: make(client.Filters).Add("label", "com.docker.stack.namespace="+stack)})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]uint64{}
	for _, s := range list.Items {
		out[s.Spec.Name] = s.Version.Index
	}
	return out
}

func mapsEqual(a, b map[string]uint64) bool { return maps.Equal(a, b) }

func countPrefix(names []string, prefix string) int {
	n := 0
	for _, s := range names {
		if strings.HasPrefix(s, prefix) {
			n++
		}
	}
	return n
}

// inspectSecretRef returns the secret a service mounts under target (or key).
func inspectSecretRef(t *testing.T, api *client.Client, service, target string) string {
	t.Helper()
	for _, r := range inspectService(t, api, service).Spec.TaskTemplate.ContainerSpec.Secrets {
		if r.File != nil && r.File.Name == target {
			return r.SecretName
		}
	}
	t.Fatalf("service %s mounts no secret at %s", service, target)
	return ""
}

func execOut(name string, args ...string) (string, error) {
	out, err := exec.Command(name, args...).CombinedOutput()
	return string(out), err
}
