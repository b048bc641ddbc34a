//go:build e2e

package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"

	"github.com/stackctl/stackctl/rotate/engine"
)

// readsAgainCompose has a secret from a file and a config from a variable:
// the deploy under test changes the config, another writer the secret.
const readsAgainCompose = `
services:
  app:
    image: {{image}}
    command: [sleep]
    deploy: {endpoint_mode: dnsrr, update_config: {monitor: 1s}}
    secrets: [s]
    configs: [c]
secrets:
  s: {file: ./s.txt}
configs:
  c: {environment: CONF}
`

// TestDeployThatWaitedReadsAgain: a deploy that waited for the lock reads
// its files again once it holds it, and says so: what another writer
// wrote meanwhile (here a new secret value) is deployed, never undone.
func TestDeployThatWaitedReadsAgain(t *testing.T) {
	api := realEngine(t)
	stack := newStack(t)
	ctx := context.Background()
	dir := writeDir(t, map[string]string{"compose.yml": readsAgainCompose, "s.txt": "one"})
	mustStackctl(t, dir, []string{"CONF=a"}, "deploy", "-c", "compose.yml", "--timeout", "2m", stack)

	// Another writer holds the lock.
	held, err := api.ConfigCreate(ctx, client.ConfigCreateOptions{Spec: swarm.ConfigSpec{Annotations: swarm.Annotations{
		Name:   engine.LockName(stack),
		Labels: map[string]string{engine.LabelLock: stack, engine.LabelHolder: "another writer"},
	}, Data: []byte("{}")}})
	if err != nil {
		t.Fatal(err)
	}
	waiting := startStackctl(t, dir, []string{"CONF=b"}, "deploy", "-c", "compose.yml", "--timeout", "2m", "--lock-wait", "2m", stack)
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(waiting.errb.String(), "waiting for the lock") {
		if time.Now().After(deadline) {
			t.Fatalf("the deploy does not wait for the lock:\n%s", waiting.errb.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The other writer rotates the secret, then lets go.
	writeInto(t, dir, map[string]string{"s.txt": "two"})
	if _, err := api.ConfigRemove(ctx, held.ID, client.ConfigRemoveOptions{}); err != nil {
		t.Fatal(err)
	}
	r := waiting.wait(t)
	if r.code != 0 || !strings.Contains(r.stderr, "reading the compose files and values again") {
		t.Fatalf("exit %d, want 0 and a word about reading again:\n%s", r.code, r.stderr)
	}
	for _, got := range readInContainers(t, api, stack+"_app", "/run/secrets/s") {
		if got != "two" {
			t.Errorf("the container reads %q: the deploy undid the other writer's value", got)
		}
	}
	for _, got := range readInContainers(t, api, stack+"_app", "/c") {
		if got != "b" {
			t.Errorf("the config reads %q, want the waiting deploy's own change", got)
		}
	}
}

// TestLongStackNameDeploys: a stack name that docker stack deploy takes
// (here 55 characters) deploys, lock and all.
func TestLongStackNameDeploys(t *testing.T) {
	api := realEngine(t)
	stack := "e2e" + randomHex(4) + strings.Repeat("x", 44)
	t.Cleanup(func() { removeStack(t, api, stack) })
	dir := writeDir(t, map[string]string{"compose.yml": "services:\n  a:\n    image: {{image}}\n    command: [sleep]\n    deploy: {endpoint_mode: dnsrr}\n"})
	r := stackctl(t, dir, nil, "deploy", "-c", "compose.yml", "--timeout", "2m", stack)
	if r.code != 0 {
		t.Fatalf("deploy of a %d-character stack: exit %d\n%s", len(stack), r.code, r.stderr)
	}
}

// sameValueCompose: two secrets read the same value; service a has a
// pending change of its own (MODE).
const sameValueCompose = `
services:
  a:
    image: {{image}}
    command: [sleep]
    environment: {MODE: "${MODE}"}
    deploy: {endpoint_mode: dnsrr, update_config: {monitor: 1s}}
    secrets: [pw]
  b:
    image: {{image}}
    command: [sleep]
    deploy: {endpoint_mode: dnsrr, update_config: {monitor: 1s}}
    secrets: [pw_copy]
secrets:
  pw: {file: ./app.enc.yaml, x-sops: {key: db.password}}
  pw_copy: {file: ./app.enc.yaml, x-sops: {key: db.password}}
`

// TestRotateRollsEverySecretOfTheValueAndNothingElse: rotating one secret
// rolls every secret that reads the same value, and ships no other change.
func TestRotateRollsEverySecretOfTheValueAndNothingElse(t *testing.T) {
	api := realEngine(t)
	stack := newStack(t)
	enc, err := os.ReadFile(testdataPath(t, "sops", "app.enc.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	dir := writeDir(t, map[string]string{"compose.yml": sameValueCompose, "app.enc.yaml": string(enc), "new.txt": "rotated-3f9a"})
	mustStackctl(t, dir, []string{"MODE=one"}, "deploy", "-c", "compose.yml", "--timeout", "2m", stack)

	r := stackctl(t, dir, []string{"MODE=two"}, "rotate", "pw", "--from-file", "new.txt", "-c", "compose.yml", "--timeout", "2m", stack)
	if r.code != 0 {
		t.Fatalf("rotate: exit %d\n%s", r.code, r.stderr)
	}
	if !strings.Contains(r.stderr, "secret pw_copy reads the same value") || !strings.Contains(r.stderr, "has other pending changes") {
		t.Errorf("rotate does not say what it rolls and what it leaves:\n%s", r.stderr)
	}
	for _, svc := range []string{"a", "b"} {
		for _, got := range readInContainers(t, api, stack+"_"+svc, "/run/secrets/"+map[string]string{"a": "pw", "b": "pw_copy"}[svc]) {
			if got != "rotated-3f9a" {
				t.Errorf("service %s reads the old value after the rotation", svc)
			}
		}
	}
	env := inspectService(t, api, stack+"_a").Spec.TaskTemplate.ContainerSpec.Env
	if !slices.Contains(env, "MODE=one") {
		t.Errorf("the rotation shipped an unrelated change: env %v", env)
	}
}

// TestClearValueRefused: a file made by the sops CLI with
// --encrypted-regex keeps other keys in clear; x-sops naming one of them
// is refused, naming the setting, and nothing is written.
func TestClearValueRefused(t *testing.T) {
	api := realEngine(t)
	stack := newStack(t)
	dir := writeDir(t, map[string]string{
		"compose.yml": "services:\n  a:\n    image: {{image}}\n    deploy: {endpoint_mode: dnsrr}\n    secrets: [user]\nsecrets:\n  user: {file: ./db.enc.yaml, x-sops: {key: user}}\n",
		"db.yaml":     "password: CANARY-regex-1\nuser: CANARY-regex-2\n",
	})
	cmd := exec.Command(sopsCLI(t), "encrypt", "--encrypted-regex", "^password$", "--age", "age1s9rz5u5xectjd6rcuenvpums0249rskn36hedwzrsfw5d9gugclqmxkyxw", "--output", filepath.Join(dir, "db.enc.yaml"), filepath.Join(dir, "db.yaml"))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("sops encrypt: %v\n%s", err, out)
	}
	os.Remove(filepath.Join(dir, "db.yaml"))
	r := stackctl(t, dir, nil, "deploy", "-c", "compose.yml", stack)
	if r.code != 2 || !strings.Contains(r.stderr, "stored in clear") || !strings.Contains(r.stderr, `encrypted_regex "^password$"`) {
		t.Fatalf("exit %d, want 2 naming encrypted_regex:\n%s", r.code, r.stderr)
	}
	if strings.Contains(r.stderr, "CANARY") {
		t.Error("the error quotes the value")
	}
	if left := stackObjects(t, api, stack); len(left) > 0 {
		t.Errorf("a refused deploy wrote %v", left)
	}
}

// TestLockTakenMidRollout: a deploy whose lock another deploy takes with
// --force-unlock while it waits for its rollout says so, exits 1 and
// prunes nothing, instead of reporting the other's rollout as its own.
func TestLockTakenMidRollout(t *testing.T) {
	api := realEngine(t)
	stack := newStack(t)
	dir := writeDir(t, map[string]string{"compose.yml": slowStack, "s.txt": "one"})
	mustStackctl(t, dir, nil, "deploy", "-c", "compose.yml", stack)
	writeInto(t, dir, map[string]string{"s.txt": "two"})
	first := startStackctl(t, dir, nil, "deploy", "-c", "compose.yml", "--timeout", "2m", stack)
	waitForLock(t, api, stack)
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(first.errb.String(), "rolling") && !strings.Contains(first.errb.String(), "updat") {
		if time.Now().After(deadline) {
			t.Fatalf("the first deploy never started its rollout:\n%s", first.errb.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	writeInto(t, dir, map[string]string{"s.txt": "three"})
	second := stackctl(t, dir, nil, "deploy", "-c", "compose.yml", "--force-unlock", "--timeout", "2m", stack)
	if second.code != 0 {
		t.Fatalf("deploy --force-unlock: exit %d\n%s", second.code, second.stderr)
	}
	r := first.wait(t)
	if r.code != 1 || !strings.Contains(r.stderr, "the lock was taken from this command") {
		t.Errorf("the deploy that lost its lock: exit %d, want 1 saying so:\n%s", r.code, r.stderr)
	}
	if strings.Contains(r.stderr, "pruned") && !strings.Contains(r.stderr, "nothing was pruned") {
		t.Errorf("the deploy that lost its lock pruned:\n%s", r.stderr)
	}
}

// TestEngineRefusalPutsBack: when the engine refuses one service of a
// deploy after others were changed (here a port another service took in
// the meantime), the services the deploy changed are put back: no stack
// is left half on the old spec, half on the new.
func TestEngineRefusalPutsBack(t *testing.T) {
	api := realEngine(t)
	stack := newStack(t)
	ctx := context.Background()
	base := "services:\n  web:\n    image: {{image}}\n    command: [sleep]\n    deploy: {endpoint_mode: dnsrr, update_config: {monitor: 1s}}\n    secrets: [s]\n"
	secrets := "secrets:\n  s: {file: ./s.txt}\n"
	dir := writeDir(t, map[string]string{"compose.yml": base + secrets, "s.txt": "one"})
	mustStackctl(t, dir, nil, "deploy", "-c", "compose.yml", "--timeout", "2m", stack)
	before := inspectService(t, api, stack+"_web").Spec.TaskTemplate.ContainerSpec.Secrets[0].SecretName

	// The new service publishes a port that another service takes just
	// before the new one is created.
	writeInto(t, dir, map[string]string{"s.txt": "two", "compose.yml": base + "  new:\n    image: {{image}}\n    command: [sleep]\n    ports: ['18557:80']\n" + secrets})
	blocker := "e2e-blocker-" + randomHex(4)
	var once sync.Once
	proxy := newAPIProxy(t, "")
	proxy.OnRequest(func(method, path string) {
		if method == "POST" && normalizeAPIPath(path) == "/services/create" {
			once.Do(func() {
				spec := swarm.ServiceSpec{Annotations: swarm.Annotations{Name: blocker},
					TaskTemplate: swarm.TaskSpec{ContainerSpec: &swarm.ContainerSpec{Image: testImage(t), Command: []string{"/app", "sleep"}}},
					EndpointSpec: &swarm.EndpointSpec{Ports: []swarm.PortConfig{{TargetPort: 80, PublishedPort: 18557}}}}
				if _, err := api.ServiceCreate(ctx, client.ServiceCreateOptions{Spec: spec}); err != nil {
					t.Errorf("create the blocker: %v", err)
				}
			})
		}
	})
	t.Cleanup(func() { api.ServiceRemove(ctx, blocker, client.ServiceRemoveOptions{}) })
	r := stackctl(t, dir, []string{"DOCKER_HOST=" + proxy.Host()}, "deploy", "-c", "compose.yml", "--timeout", "2m", stack)
	if r.code != 1 || !strings.Contains(r.stderr, "put back (") {
		t.Fatalf("exit %d, want 1 saying what was put back:\n%s", r.code, r.stderr)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		web := inspectService(t, api, stack+"_web")
		if got := web.Spec.TaskTemplate.ContainerSpec.Secrets[0].SecretName; got == before {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("service web refers to %s after the refusal, want %s as before the deploy", got, before)
		}
		time.Sleep(500 * time.Millisecond)
	}
	if _, err := api.ServiceInspect(ctx, stack+"_new", client.ServiceInspectOptions{}); err == nil {
		t.Error("the refused service exists")
	}
}
