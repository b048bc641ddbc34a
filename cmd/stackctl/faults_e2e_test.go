//go:build e2e

package main

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
)

// rollingCompose updates one task at a time, slowly enough that a fault
// lands in the middle of the rollout.
const rollingCompose = `
services:
  app:
    image: {{image}}
    command: ["serve", "-file", "/run/secrets/token"]
    healthcheck: {test: ["CMD", "/app", "check", "/run/secrets/token"], interval: 1s, start_period: 1s}
    deploy:
      replicas: 3
      endpoint_mode: dnsrr
      update_config: {parallelism: 1, monitor: 2s, order: stop-first}
      restart_policy: {delay: 1s}
    secrets: [token]
secrets:
  token:
    file: ./token.txt
`

// TestClusterWorkerDiesMidRollout kills a worker's dockerd while a deploy
// rolls a new secret out over three nodes. stackctl reports how the
// rollout ended; swarm moves the lost tasks; once the worker is back, a
// re-run of the same deploy converges, every task reading the new value.
func TestClusterWorkerDiesMidRollout(t *testing.T) {
	c := startCluster(t)
	env := []string{"DOCKER_HOST=" + c.Host}
	dir := writeDir(t, map[string]string{"compose.yml": rollingCompose, "token.txt": "one"})
	stack := "e2e" + randomHex(4)
	mustStackctl(t, dir, env, "deploy", "-c", "compose.yml", "--timeout", "2m", stack)

	writeInto(t, dir, map[string]string{"token.txt": "two"})
	deploy := startStackctl(t, dir, env, "deploy", "-c", "compose.yml", "--timeout", "90s", stack)
	waitForUpdate(t, c, stack+"_app")
	c.KillDaemon(t, "node2")
	r := deploy.wait(t)
	t.Logf("the deploy during which node2 died: exit %d\n%s\ntasks:\n%s", r.code, r.stderr, c.TaskTable(t, stack+"_app"))
	switch {
	case r.code == 0:
		// Swarm moved node2's task and the rollout completed.
	case r.code == 1 && strings.Contains(r.stderr, "error: service "+stack+"_app: timed out"):
		// Swarm waited on the lost node's tasks: the error says which node.
		if !strings.Contains(r.stderr, "tasks of node node2, which is down") {
			t.Errorf("the timeout does not name node2 as the node swarm waits on:\n%s", r.stderr)
		}
	case r.code == 1 && strings.Contains(r.stderr, "error: service "+stack+"_app: "):
		// Reported, naming the service and what went wrong.
	default:
		t.Errorf("deploy during a node loss: exit %d, want 0, or 1 naming the service", r.code)
	}

	// The operator re-runs once the worker is back: swarm sees it ready and
	// has heard what became of the tasks it held.
	c.StartDaemon(t, "node2")
	c.WaitSettled(t, stack+"_app", 5*time.Second)
	r = stackctl(t, dir, env, "deploy", "-c", "compose.yml", "--timeout", "2m", stack)
	if r.code != 0 {
		t.Fatalf("re-run after node2 came back: exit %d\n%s\ntasks:\n%s", r.code, r.stderr, c.TaskTable(t, stack+"_app"))
	}
	if r := stackctl(t, dir, env, "plan", "-q", "-c", "compose.yml", stack); !strings.Contains(r.stdout, "no changes") {
		t.Errorf("not converged:\n%s", r.stdout)
	}
	// A task swarm moved back to node2 may still be starting.
	c.WaitRunning(t, stack+"_app", 3, 2*time.Minute)
	got := c.ReadInTasks(t, stack+"_app", "/run/secrets/token")
	if len(got) != 3 {
		t.Errorf("%d tasks run, want 3", len(got))
	}
	for _, v := range got {
		if v != "two" {
			t.Errorf("a task reads %q, want the new value", v)
		}
	}
}

// waitForUpdate returns once swarm is updating the service.
func waitForUpdate(t testing.TB, c *cluster, service string) {
	t.Helper()
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		got, err := c.API.ServiceInspect(context.Background(), service, client.ServiceInspectOptions{})
		if svc := got.Service; err == nil && svc.UpdateStatus != nil && svc.UpdateStatus.State == swarm.UpdateStateUpdating {
			return
		}
	}
	t.Fatalf("swarm did not start updating %s within 60s", service)
}

// TestClusterManagerConnectionDrops cuts the connection to the manager as
// stackctl sends its first service update: a clear error, nothing pruned,
// and a re-run converges.
func TestClusterManagerConnectionDrops(t *testing.T) {
	c := startCluster(t)
	dir := writeDir(t, map[string]string{"compose.yml": rollingCompose, "token.txt": "one"})
	stack := "e2e" + randomHex(4)
	direct := []string{"DOCKER_HOST=" + c.Host}
	mustStackctl(t, dir, direct, "deploy", "-c", "compose.yml", "--timeout", "2m", stack)
	before := secretNames(t, c.API, stack)

	writeInto(t, dir, map[string]string{"token.txt": "two"})
	proxy := newAPIProxy(t, c.Host)
	proxy.OnRequest(func(method, path string) {
		if method == "POST" && strings.HasSuffix(path, "/update") && strings.Contains(path, "/services/") {
			go proxy.Kill()
		}
	})
	r := stackctl(t, dir, []string{"DOCKER_HOST=" + proxy.Host()}, "deploy", "-c", "compose.yml", "--timeout", "1m", stack)
	if r.code != 1 || strings.Count(r.stderr, "error: ") != 1 || !strings.Contains(r.stderr, "Docker engine") {
		t.Errorf("deploy whose connection drops: exit %d, want 1 and one error that says the engine could not be reached\n%s", r.code, r.stderr)
	}
	for _, name := range before {
		if !slices.Contains(secretNames(t, c.API, stack), name) {
			t.Errorf("version %s was pruned by a deploy that lost its connection", name)
		}
	}

	r = stackctl(t, dir, direct, "deploy", "-c", "compose.yml", "--timeout", "2m", "--force-unlock", stack)
	if r.code != 0 {
		t.Fatalf("re-run: exit %d\n%s", r.code, r.stderr)
	}
	if r := stackctl(t, dir, direct, "plan", "-q", "-c", "compose.yml", stack); !strings.Contains(r.stdout, "no changes") {
		t.Errorf("not converged:\n%s", r.stdout)
	}
	for _, v := range c.ReadInTasks(t, stack+"_app", "/run/secrets/token") {
		if v != "two" {
			t.Errorf("a task reads %q after the re-run, want the new value", v)
		}
	}
}
