//go:build e2e

package main

// A three-node swarm on this one machine for end-to-end fault tests:
// .ci/cluster puts one dockerd in each of three network namespaces. node1
// is the manager, node2 and node3 are workers. Run with make e2e-cluster.

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
)

// cluster is a running three-node swarm.
type cluster struct {
	Host    string         // the manager's DOCKER_HOST
	API     *client.Client // a client for the manager
	dir     string
	clients map[string]*client.Client
}

// startCluster starts a three-node swarm with the test image on every node
// and tears it down when the test ends. Without one the test fails in CI
// and is skipped elsewhere.
func startCluster(t testing.TB) *cluster {
	t.Helper()
	image := testImage(t)
	// Unix socket paths must stay under 108 bytes: t.TempDir is too long.
	dir, err := os.MkdirTemp("", "sc")
	if err != nil {
		t.Fatal(err)
	}
	c := &cluster{dir: dir, clients: map[string]*client.Client{}}
	t.Cleanup(func() { c.down(t) })
	if out, err := c.script("up"); err != nil {
		t.Fatalf("the cluster tests need .ci/cluster up to work (root, ip, nsenter: make test installs them): %v\n%s", err, out)
	}
	if out, err := c.script("load", image); err != nil {
		t.Fatalf(".ci/cluster load: %v\n%s", err, out)
	}
	c.Host = c.env(t)["MANAGER"]
	c.API = c.Client(t, "node1")
	return c
}

// script runs .ci/cluster with the cluster's folder.
func (c *cluster) script(cmd string, args ...string) ([]byte, error) {
	path, err := filepath.Abs(filepath.Join("..", "..", ".ci", "cluster"))
	if err != nil {
		return nil, err
	}
	return exec.Command(path, append([]string{cmd, c.dir}, args...)...).CombinedOutput()
}

func (c *cluster) down(t testing.TB) {
	for _, api := range c.clients {
		api.Close()
	}
	if t.Failed() {
		for _, node := range []string{"node1", "node2", "node3"} {
			if b, err := exec.Command("tail", "-n", "20", filepath.Join(c.dir, node+".log")).Output(); err == nil {
				t.Logf("last lines of %s's dockerd log:\n%s", node, b)
			}
		}
	}
	if out, err := c.script("down"); err != nil {
		t.Errorf(".ci/cluster down: %v\n%s", err, out)
	}
}

// env reads the cluster.env that .ci/cluster writes.
func (c *cluster) env(t testing.TB) map[string]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(c.dir, "cluster.env"))
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok {
			env[k] = v
		}
	}
	return env
}

// sock is the DOCKER_HOST of a node: node1, node2 or node3.
func (c *cluster) sock(node string) string {
	return "unix://" + filepath.Join(c.dir, node+".sock")
}

// Client returns a client for a node: node1, node2 or node3.
func (c *cluster) Client(t testing.TB, node string) *client.Client {
	t.Helper()
	if api, ok := c.clients[node]; ok {
		return api
	}
	api, err := client.NewClientWithOpts(client.WithHost(c.sock(node)))
	if err != nil {
		t.Fatal(err)
	}
	c.clients[node] = api
	return api
}

// KillDaemon kills a node's dockerd with SIGKILL, which takes its
// containerd with it; the node's containers go on running.
func (c *cluster) KillDaemon(t testing.TB, node string) {
	t.Helper()
	if out, err := c.script("kill", strings.TrimPrefix(node, "node")); err != nil {
		t.Fatalf(".ci/cluster kill %s: %v\n%s", node, err, out)
	}
}

// StartDaemon starts a killed node's dockerd again and returns once its API
// answers; the manager may take some more seconds to see the node Ready.
func (c *cluster) StartDaemon(t testing.TB, node string) {
	t.Helper()
	if out, err := c.script("start", strings.TrimPrefix(node, "node")); err != nil {
		t.Fatalf(".ci/cluster start %s: %v\n%s", node, err, out)
	}
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		nodes, err := c.API.NodeList(context.Background(), client.NodeListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range nodes.Items {
			if n.Description.Hostname == node && n.Status.State == swarm.NodeStateReady {
				return
			}
		}
	}
	t.Fatalf("swarm does not see %s ready 60s after its dockerd answers", node)
}

// WaitSettled returns once no task of the service has changed state for
// quiet: a node that rejoins reports what became of its tasks while it was
// away, and swarm reacts to that.
func (c *cluster) WaitSettled(t testing.TB, service string, quiet time.Duration) {
	t.Helper()
	last, since := "", time.Now()
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(250 * time.Millisecond) {
		now := c.TaskTable(t, service)
		if now != last {
			last, since = now, time.Now()
		} else if time.Since(since) >= quiet {
			return
		}
	}
	t.Fatalf("the tasks of %s still change after 2 minutes:\n%s", service, last)
}

// WaitRunning waits until n tasks of the service that should run do run.
func (c *cluster) WaitRunning(t testing.TB, service string, n int, limit time.Duration) {
	t.Helper()
	for deadline := time.Now().Add(limit); time.Now().Before(deadline); time.Sleep(250 * time.Millisecond) {
		running := 0
		for _, task := range serviceTasks(t, c.API, service) {
			if task.DesiredState == swarm.TaskStateRunning && task.Status.State == swarm.TaskStateRunning {
				running++
			}
		}
		if running == n {
			return
		}
	}
	t.Fatalf("%s does not run %d tasks after %s:\n%s", service, n, limit, c.TaskTable(t, service))
}

// TaskTable lists a service's tasks, one per line: slot, node, desired
// and current state, and the task's error, for failure messages.
func (c *cluster) TaskTable(t testing.TB, service string) string {
	t.Helper()
	hostnames := map[string]string{}
	nodes, err := c.API.NodeList(context.Background(), client.NodeListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes.Items {
		hostnames[n.ID] = n.Description.Hostname
	}
	tasks := serviceTasks(t, c.API, service)
	sort.Slice(tasks, func(i, j int) bool { return tasks[i].ID < tasks[j].ID })
	var b strings.Builder
	for _, task := range tasks {
		fmt.Fprintf(&b, "%s slot %d on %s: desired %s, %s %s\n", task.ID, task.Slot, hostnames[task.NodeID], task.DesiredState, task.Status.State, task.Status.Err)
	}
	return b.String()
}

// TaskNodes maps each task of a service that should be running to the
// hostname of its node (node1, node2 or node3; "" while unassigned).
func (c *cluster) TaskNodes(t testing.TB, service string) map[string]string {
	t.Helper()
	nodes, err := c.API.NodeList(context.Background(), client.NodeListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	hostnames := map[string]string{}
	for _, n := range nodes.Items {
		hostnames[n.ID] = n.Description.Hostname
	}
	out := map[string]string{}
	for _, task := range serviceTasks(t, c.API, service) {
		if task.DesiredState == swarm.TaskStateRunning {
			out[task.ID] = hostnames[task.NodeID]
		}
	}
	return out
}

// ReadInTasks returns what each running task of a service reads at path,
// on whichever node it runs.
func (c *cluster) ReadInTasks(t testing.TB, service, path string) []string {
	t.Helper()
	nodes := c.TaskNodes(t, service)
	var out []string
	for _, task := range serviceTasks(t, c.API, service) {
		if task.DesiredState != swarm.TaskStateRunning || task.Status.ContainerStatus == nil {
			continue
		}
		node := nodes[task.ID]
		b, err := exec.Command("docker", "-H", c.sock(node), "exec", task.Status.ContainerStatus.ContainerID, "/app", "cat", path).Output()
		if err != nil {
			t.Fatalf("docker exec %s on %s: cat %s: %v", service, node, path, err)
		}
		out = append(out, string(b))
	}
	return out
}

const spreadCompose = `
services:
  app:
    image: {{image}}
    deploy:
      replicas: 3
      endpoint_mode: dnsrr
      placement: {max_replicas_per_node: 1}
    secrets: [token]
secrets:
  token:
    file: ./token.txt
`

// TestClusterSpreadsTasks deploys a service with one replica per node and
// checks that each of the three nodes runs one and reads the secret.
func TestClusterSpreadsTasks(t *testing.T) {
	c := startCluster(t)
	dir := writeDir(t, map[string]string{"compose.yml": spreadCompose, "token.txt": "CANARY-plain-8d21"})
	stack := "e2e" + randomHex(4)

	r := stackctl(t, dir, []string{"DOCKER_HOST=" + c.Host}, "deploy", "-c", "compose.yml", "--timeout", "2m", stack)
	if r.code != 0 {
		t.Fatalf("deploy: exit %d\n%s", r.code, r.stderr)
	}
	assertNoCanary(t, r)

	nodes := c.TaskNodes(t, stack+"_app")
	distinct := map[string]bool{}
	for _, node := range nodes {
		distinct[node] = true
	}
	if len(nodes) != 3 || len(distinct) != 3 {
		t.Errorf("tasks run on %v, want one on each of node1, node2 and node3", nodes)
	}
	got := c.ReadInTasks(t, stack+"_app", "/run/secrets/token")
	if len(got) != 3 {
		t.Errorf("%d tasks read the secret, want 3", len(got))
	}
	for _, s := range got {
		if s != "CANARY-plain-8d21" {
			t.Errorf("a task reads a wrong token (%d bytes)", len(s))
		}
	}

	// A worker is not a manager: the same deploy there changes nothing.
	before := engineSnapshot(t, c.API, stack)
	writeInto(t, dir, map[string]string{"token.txt": "two"})
	for _, cmd := range [][]string{{"deploy", "-c", "compose.yml", stack}, {"plan", "-c", "compose.yml", stack}, {"prune", stack}} {
		r = stackctl(t, dir, []string{"DOCKER_HOST=" + c.sock("node2")}, cmd...)
		if r.code != 1 || !strings.Contains(r.stderr, "error: this node is not a swarm manager") || strings.Count(r.stderr, "error:") != 1 {
			t.Errorf("stackctl %s on a worker: exit %d, want 1 and one error saying it is not a manager\n%s", cmd[0], r.code, r.stderr)
		}
	}
	if after := engineSnapshot(t, c.API, stack); after != before {
		t.Errorf("commands run on a worker changed the swarm:\n%s\nwas\n%s", after, before)
	}
}
