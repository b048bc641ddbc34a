//go:build e2e

package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"

	"github.com/stackctl/stackctl/rotate/plan"
)

// TestKilledAnywhereConverges SIGKILLs deploy and rotate just as they send
// their 1st, 2nd, ... write to the engine, until one runs to its end. After
// each kill, a re-run of deploy (with --force-unlock: the killed run held
// the lock) converges, every service reads the value in the file, and no
// unused version is left beyond --keep.
func TestKilledAnywhereConverges(t *testing.T) {
	api := realEngine(t)
	for _, command := range []string{"deploy", "rotate"} {
		t.Run(command, func(t *testing.T) {
			stack := newStack(t)
			dir := rotateDir(t)
			mustStackctl(t, dir, nil, "deploy", "-c", "compose.yml", stack)
			args := []string{"rotate", "db_password", "-c", "compose.yml", "--keep", "1", stack}
			for n := 1; ; n++ {
				if command == "deploy" {
					// A new value in the file for the deploy to roll out.
					mustStackctl(t, dir, nil, "rotate", "db_password", "--no-deploy", "-c", "compose.yml", stack)
					args = []string{"deploy", "-c", "compose.yml", "--keep", "1", stack}
				}
				killed := runKilledAtWrite(t, dir, n, args...)
				r := stackctl(t, dir, nil, "deploy", "-c", "compose.yml", "--keep", "1", "--force-unlock", "--timeout", "2m", stack)
				if r.code != 0 {
					t.Fatalf("%s killed at write %d; the re-run: exit %d\n%s", command, n, r.code, r.stderr)
				}
				value := decrypt(t, dir+"/app.enc.yaml", "db", "password")
				for _, svc := range []string{"api", "worker"} {
					for _, got := range readInContainers(t, api, stack+"_"+svc, map[string]string{"api": "/run/secrets/db_password", "worker": "/etc/db.pw"}[svc]) {
						if got != value {
							t.Errorf("%s killed at write %d: after the re-run %s does not read the value in the file", command, n, svc)
						}
					}
				}
				assertUnusedAtMost(t, api, stack, 1)
				if !killed {
					t.Logf("%s makes %d writes; killed at each of them", command, n-1)
					return
				}
				if n == 40 {
					t.Fatalf("%s still writing after 40 writes", command)
				}
			}
		})
	}
}

// runKilledAtWrite runs stackctl through an API proxy and SIGKILLs it as
// its n-th write reaches the engine. It reports whether it was killed (a
// run that makes fewer writes ends by itself).
func runKilledAtWrite(t *testing.T, dir string, n int, args ...string) bool {
	t.Helper()
	proxy := newAPIProxy(t, "")
	var (
		mu      sync.Mutex
		writes  int
		killed  bool
		running *running
	)
	proxy.OnRequest(func(method, path string) {
		if method == http.MethodGet || method == http.MethodHead {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if writes++; writes == n && running != nil {
			running.cmd.Process.Kill()
			killed = true
		}
	})
	mu.Lock()
	running = startStackctl(t, dir, []string{"DOCKER_HOST=" + proxy.Host()}, args...)
	mu.Unlock()
	r := running.wait(t)
	mu.Lock()
	defer mu.Unlock()
	if !killed && r.code != 0 {
		t.Fatalf("stackctl %s (not killed): exit %d\n%s", strings.Join(args, " "), r.code, r.stderr)
	}
	return killed
}

// assertUnusedAtMost checks that, of each name's stackctl versions, at
// most keep are used by no service's spec or previous spec.
func assertUnusedAtMost(t *testing.T, api *client.Client, stack string, keep int) {
	t.Helper()
	ctx := context.Background()
	f := make(client.Filters).Add("label", plan.LabelNamespace+"="+stack)
	services, err := api.ServiceList(ctx, client.ServiceListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	used := map[string]bool{}
	for _, s := range services.Items {
		for _, spec := range []*swarm.ServiceSpec{&s.Spec, s.PreviousSpec} {
			if spec == nil || spec.TaskTemplate.ContainerSpec == nil {
				continue
			}
			for _, r := range spec.TaskTemplate.ContainerSpec.Secrets {
				used[r.SecretName] = true
			}
			for _, r := range spec.TaskTemplate.ContainerSpec.Configs {
				used[r.ConfigName] = true
			}
		}
	}
	unused := map[string][]string{}
	secrets, _ := api.SecretList(ctx, client.SecretListOptions{Filters: f})
	for _, s := range secrets.Items {
		if name := s.Spec.Labels[plan.LabelName]; name != "" && !used[s.Spec.Name] {
			unused[name] = append(unused[name], s.Spec.Name)
		}
	}
	configs, _ := api.ConfigList(ctx, client.ConfigListOptions{Filters: f})
	for _, c := range configs.Items {
		if name := c.Spec.Labels[plan.LabelName]; name != "" && !used[c.Spec.Name] {
			unused[name] = append(unused[name], c.Spec.Name)
		}
	}
	for name, versions := range unused {
		if len(versions) > keep {
			t.Errorf("%s has %d unused versions, more than --keep %d: %s", name, len(versions), keep, fmt.Sprint(versions))
		}
	}
}
