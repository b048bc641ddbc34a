//go:build e2e

package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"

	"github.com/stackctl/stackctl/rotate/engine"
)

// slowStack rolls out in no less than its monitor period, so that a second
// deploy can be started while the first one holds the lock.
const slowStack = `
services:
  app:
    image: {{image}}
    command: ["serve", "-file", "/run/secrets/s"]
    healthcheck: {test: ["CMD", "/app", "check", "/run/secrets/s"], interval: 1s, start_period: 1s}
    deploy:
      endpoint_mode: dnsrr
      update_config: {monitor: 4s, order: stop-first}
    secrets: [s]
secrets:
  s: {file: ./s.txt}
`

// TestConcurrentDeploys starts a deploy, then two more of the same stack
// while it runs: one that will not wait fails naming the holder, one that
// waits goes after it. The engine's event stream shows that the writes of
// the two deploys never interleave.
func TestConcurrentDeploys(t *testing.T) {
	api := realEngine(t)
	stack := newStack(t)
	dir := writeDir(t, map[string]string{"compose.yml": slowStack, "s.txt": "one"})
	mustStackctl(t, dir, nil, "deploy", "-c", "compose.yml", stack)
	stop := recordStackWrites(t, api, stack, 2)

	// The first deploy's service update waits at a proxy until the deploy
	// that waits for the lock says so: the lock is held all along.
	gate := make(chan struct{})
	open := sync.OnceFunc(func() { close(gate) })
	proxy := newAPIProxy(t, "")
	t.Cleanup(open) // before the proxy closes: cleanups run last first
	proxy.OnRequest(func(method, path string) {
		if method == "POST" && normalizeAPIPath(path) == "/services/{id}/update" {
			<-gate
		}
	})

	writeInto(t, dir, map[string]string{"s.txt": "two"})
	first := startStackctl(t, dir, []string{"DOCKER_HOST=" + proxy.Host()}, "deploy", "-c", "compose.yml", stack)
	lock := waitForLock(t, api, stack)
	pid := fmt.Sprintf("pid %d", first.cmd.Process.Pid)
	if h := lock.Spec.Labels[engine.LabelHolder]; !strings.HasPrefix(h, "stackctl deploy by ") || !strings.HasSuffix(h, pid) {
		t.Errorf("lock holder %q, want stackctl deploy by user@host %s", h, pid)
	}

	writeInto(t, dir, map[string]string{"s.txt": "three"})
	r := stackctl(t, dir, nil, "deploy", "-c", "compose.yml", "--lock-wait", "0", stack)
	if r.code != 1 || !strings.Contains(r.stderr, "stack "+stack+" is locked by \"stackctl deploy by") || !strings.Contains(r.stderr, pid) || !strings.Contains(r.stderr, "--force-unlock") {
		t.Errorf("a deploy that does not wait: exit %d, want 1 and an error naming the holder (%s):\n%s", r.code, pid, r.stderr)
	}
	waiting := "waiting for the lock of " + stack + ", held by \"stackctl deploy by"
	bg := startStackctl(t, dir, nil, "deploy", "-c", "compose.yml", stack)
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(bg.errb.String(), waiting) && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
	open()
	if second := bg.wait(t); second.code != 0 || !strings.Contains(second.stderr, waiting) {
		t.Errorf("a deploy that waits: exit %d, want 0 after waiting:\n%s", second.code, second.stderr)
	}
	if r := first.wait(t); r.code != 0 {
		t.Errorf("the deploy that held the lock: exit %d\n%s", r.code, r.stderr)
	}

	for _, got := range readInContainers(t, api, stack+"_app", "/run/secrets/s") {
		if got != "three" {
			t.Errorf("the app reads %q, want the last deploy's value", got)
		}
	}
	if l, found := findLock(t, api, stack); found {
		t.Errorf("lock %s left behind", l.Spec.Name)
	}
	assertWritesNeverInterleave(t, stop(), stack, 2)
}

// TestForceUnlock: a lock left by a killed holder blocks others, who are
// told how to remove it, until --force-unlock does.
func TestForceUnlock(t *testing.T) {
	api := realEngine(t)
	stack := newStack(t)
	dir := writeDir(t, map[string]string{"compose.yml": slowStack, "s.txt": "one"})
	mustStackctl(t, dir, nil, "deploy", "-c", "compose.yml", stack)
	writeInto(t, dir, map[string]string{"s.txt": "two"})
	killed := startStackctl(t, dir, nil, "deploy", "-c", "compose.yml", stack)
	waitForLock(t, api, stack)
	killed.cmd.Process.Kill()
	killed.wait(t)

	// The killed deploy may have updated the service before it died; a new
	// value makes sure the next deploy has writes to do, so needs the lock.
	writeInto(t, dir, map[string]string{"s.txt": "three"})
	r := stackctl(t, dir, nil, "deploy", "-c", "compose.yml", "--lock-wait", "1s", stack)
	if r.code != 1 || !strings.Contains(r.stderr, "is locked by") || !regexp.MustCompile(`\(waited [1-9][0-9]*s\)`).MatchString(r.stderr) {
		t.Errorf("deploy while a dead holder's lock is fresh: exit %d, want 1 naming the holder\n%s", r.code, r.stderr)
	}
	r = stackctl(t, dir, nil, "deploy", "-c", "compose.yml", "--force-unlock", stack)
	if r.code != 0 || !strings.Contains(r.stderr, "(--force-unlock)") {
		t.Fatalf("deploy --force-unlock: exit %d\n%s", r.code, r.stderr)
	}
	if _, found := findLock(t, api, stack); found {
		t.Error("lock left behind")
	}
	if r := stackctl(t, dir, nil, "plan", "-q", "-c", "compose.yml", stack); !strings.Contains(r.stdout, "no changes") {
		t.Errorf("not converged after --force-unlock:\n%s", r.stdout)
	}
}

// running is a stackctl started in the background.
type running struct {
	cmd       *exec.Cmd
	out, errb syncBuffer
}

// syncBuffer is a bytes.Buffer that a test may read while a process writes it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func startStackctl(t testing.TB, dir string, env []string, args ...string) *running {
	t.Helper()
	r := &running{cmd: exec.Command(binary(t), args...)}
	r.cmd.Dir = dir
	r.cmd.Env = append(append(os.Environ(), "SOPS_AGE_KEY_FILE="+testdataPath(t, "age", "test-key.txt")), env...)
	r.cmd.Stdout, r.cmd.Stderr = &r.out, &r.errb
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.cmd.Process.Kill(); r.cmd.Wait() })
	return r
}

func (r *running) wait(t testing.TB) result {
	t.Helper()
	r.cmd.Wait()
	return result{r.out.String(), r.errb.String(), r.cmd.ProcessState.ExitCode()}
}

func findLock(t testing.TB, api *client.Client, stack string) (swarm.Config, bool) {
	t.Helper()
	list, err := api.ConfigList(context.Background(), client.ConfigListOptions{Filters: make(client.Filters).Add("label", engine.LabelLock+"="+stack)})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Items) == 0 {
		return swarm.Config{}, false
	}
	return list.Items[0], true
}

func waitForLock(t testing.TB, api *client.Client, stack string) swarm.Config {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if l, found := findLock(t, api, stack); found {
			return l
		}
	}
	t.Fatalf("no deploy took the lock of %s within 30s", stack)
	return swarm.Config{}
}

// recordStackWrites follows the engine's events for secrets, configs and
// services live from now on, until the returned stop is called. (A replay
// with Since reads the engine's buffer of its last 256 events, which
// healthchecks alone can overrun.) stop waits, up to 10s, until wantLocks
// removals of the stack's lock have come in.
func recordStackWrites(t *testing.T, api *client.Client, stack string, wantLocks int) (stop func() []events.Message) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	stream := api.Events(ctx, client.EventsListOptions{
		Filters: make(client.Filters).Add("scope", "swarm").Add("type", "secret", "config", "service"),
	})
	msgs, errs := stream.Messages, stream.Err
	var (
		mu        sync.Mutex
		got       []events.Message
		removed   int
		streamErr error
		done      = make(chan struct{})
	)
	go func() {
		defer close(done)
		for {
			select {
			case m := <-msgs:
				mu.Lock()
				got = append(got, m)
				if m.Actor.Attributes["name"] == engine.LockName(stack) && m.Action == "remove" {
					removed++
				}
				mu.Unlock()
			case err := <-errs:
				if err != nil && !errors.Is(err, context.Canceled) {
					mu.Lock()
					streamErr = err
					mu.Unlock()
				}
				return
			}
		}
	}()
	return func() []events.Message {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			mu.Lock()
			n := removed
			mu.Unlock()
			if n >= wantLocks {
				break
			}
		}
		cancel()
		<-done
		if streamErr != nil {
			t.Fatalf("engine events: %v", streamErr)
		}
		return got
	}
}

// assertWritesNeverInterleave checks recorded engine events: every write to
// the stack (a secret, config or service spec change) falls between a
// creation of the stack's lock and its removal, and the lock was taken
// wantLocks times.
func assertWritesNeverInterleave(t *testing.T, recorded []events.Message, stack string, wantLocks int) {
	t.Helper()
	var (
		held  bool
		locks int
		log   []string
	)
	for _, m := range recorded {
		name := m.Actor.Attributes["name"]
		if !strings.Contains(name, stack) || m.Actor.Attributes["updatestate.new"] != "" {
			continue // another stack's, or swarm reporting a rollout's progress
		}
		log = append(log, fmt.Sprintf("%s %s %s", m.Type, m.Action, name))
		switch {
		case name == engine.LockName(stack) && m.Action == "create":
			if held {
				t.Errorf("the lock was created while held:\n%s", strings.Join(log, "\n"))
			}
			held = true
			locks++
		case name == engine.LockName(stack) && m.Action == "remove":
			held = false
		case name == engine.LockName(stack):
			// a refresh
		case !held:
			t.Errorf("%s %s %s while nobody held the lock:\n%s", m.Type, m.Action, name, strings.Join(log, "\n"))
		}
	}
	if locks != wantLocks {
		t.Errorf("the lock was taken %d times, want %d (one per deploy that wrote)\n%s", locks, wantLocks, strings.Join(log, "\n"))
	}
}
