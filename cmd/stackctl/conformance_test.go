//go:build e2e

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
	"gopkg.in/yaml.v3"

	"github.com/stackctl/stackctl/compose"
	"github.com/stackctl/stackctl/rotate"
	"github.com/stackctl/stackctl/rotate/plan"
)

// conformanceCase is one folder of testdata/conformance: a compose file we
// did not write (its SOURCE names where it comes from and its licence; a
// fourth line "env: K=V ..." sets what it needs to interpolate).
type conformanceCase struct {
	name, dir string
	env       []string
}

func conformanceCases(t *testing.T) []conformanceCase {
	t.Helper()
	root := testdataPath(t, "conformance")
	entries, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	var out []conformanceCase
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		dir := filepath.Join(root, e.Name())
		src, err := os.ReadFile(filepath.Join(dir, "SOURCE"))
		if err != nil {
			t.Fatalf("%s: %v: every case names its source", e.Name(), err)
		}
		c := conformanceCase{name: e.Name(), dir: dir, env: []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}}
		for _, line := range strings.Split(string(src), "\n") {
			if rest, ok := strings.CutPrefix(line, "env: "); ok {
				c.env = append(c.env, strings.Fields(rest)...)
			}
		}
		out = append(out, c)
	}
	if len(out) < 30 {
		t.Fatalf("testdata/conformance has %d cases, want at least 30", len(out))
	}
	return out
}

// supersetAccepted are the files docker rejects that stackctl reads, each
// for a key the compose specification defines and swarm can do.
var supersetAccepted = map[string]string{
	"composego-name":                        "top-level name: is the stack name",
	"awesome-compose-nginx-flask-mysql":     "long-form depends_on, ignored with a warning",
	"awesome-compose-nginx-golang-postgres": "long-form depends_on, ignored with a warning",
}

// supersetDeployed are the files docker stack deploy rejects that
// stackctl deploys (see supersetAccepted).
var supersetDeployed = []string{"composego-name", "awesome-compose-nginx-flask-mysql", "awesome-compose-nginx-golang-postgres"}

// dockerStackConfig runs `docker stack config`, the docker CLI's reading
// of compose files, in dir.
func dockerStackConfig(dir string, env []string, files ...string) ([]byte, error) {
	args := []string{"stack", "config"}
	for _, f := range files {
		args = append(args, "-c", f)
	}
	cmd := exec.Command("docker", args...)
	cmd.Dir, cmd.Env = dir, env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, &exec.ExitError{ProcessState: cmd.ProcessState, Stderr: stderr.Bytes()}
	}
	return out, nil
}

// TestConformanceRender runs every file of testdata/conformance through
// the docker CLI and through stackctl render: docker accepts it if and
// only if stackctl does (or it is in supersetAccepted), and docker's
// reading of stackctl's render is docker's reading of the file itself,
// with each secret and config stackctl versions renamed to its version.
func TestConformanceRender(t *testing.T) {
	if _, err := exec.LookPath("docker"); err != nil {
		t.Fatal("the docker CLI is the oracle of this test: install it (apt-get install docker.io)")
	}
	accepted := 0
	for _, c := range conformanceCases(t) {
		t.Run(c.name, func(t *testing.T) {
			theirs, dockerErr := dockerStackConfig(c.dir, c.env, "compose.yml")
			d, err := rotate.PrepareRender(context.Background(), compose.Options{
				Files: []string{filepath.Join(c.dir, "compose.yml")}, Env: c.env, Stack: "conf",
			})
			switch {
			case dockerErr != nil && err != nil:
				if !strings.Contains(err.Error(), "compose.yml") {
					t.Errorf("the error does not name the file: %v", err)
				}
				return
			case dockerErr == nil && err != nil:
				t.Fatalf("docker stack config accepts the file, stackctl render does not: %v", err)
			case dockerErr != nil && err == nil:
				if why, ok := supersetAccepted[c.name]; !ok {
					t.Fatalf("docker rejects the file (%s), stackctl accepts it", strings.TrimSpace(string(dockerErr.(*exec.ExitError).Stderr)))
				} else {
					t.Logf("docker rejects, stackctl reads: %s", why)
				}
				return
			}
			accepted++
			rendered, err := d.Project.Render()
			if err != nil {
				t.Fatal(err)
			}
			tmp := t.TempDir()
			if err := os.WriteFile(filepath.Join(tmp, "rendered.yml"), rendered, 0o600); err != nil {
				t.Fatal(err)
			}
			back, err := dockerStackConfig(tmp, c.env, "rendered.yml")
			if err != nil {
				t.Fatalf("docker stack config rejects stackctl's render: %s\n%s", err.(*exec.ExitError).Stderr, rendered)
			}
			want := renamedToVersions(t, theirs, d)
			got := parseYAML(t, back)
			// The version only says which schema reads the file; render
			// writes at least 3.5 (see compose.Render).
			delete(want, "version")
			delete(got, "version")
			if !reflect.DeepEqual(got, want) {
				var diffs []string
				diffTrees("", got, want, &diffs)
				t.Errorf("docker's reading of the render differs from its reading of the file:\n  %s", strings.Join(diffs, "\n  "))
			}
		})
	}
	t.Logf("%d files docker and stackctl both read identically", accepted)
}

func parseYAML(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := yaml.Unmarshal(b, &m); err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	return m
}

// renamedToVersions is docker's reading of a file as stackctl deploys it:
// each versioned secret and config is external under its version name,
// and each reference to it names its target (docker's default, the key).
func renamedToVersions(t *testing.T, dockerOut []byte, d *plan.Desired) map[string]any {
	t.Helper()
	m := parseYAML(t, dockerOut)
	// docker has read the env files into environment; render leaves env_file out.
	services, _ := m["services"].(map[string]any)
	for _, svc := range services {
		delete(svc.(map[string]any), "env_file")
	}
	for _, v := range d.Versions {
		if v.Source.Origin == compose.FromDriver {
			continue // created as docker creates it, not versioned
		}
		section := string(v.Source.Kind) + "s"
		objs, _ := m[section].(map[string]any)
		if objs == nil {
			t.Fatalf("docker's reading has no %s", section)
		}
		objs[v.Source.Key] = map[string]any{"name": v.Name, "external": true}
		for _, svc := range services {
			refs, _ := svc.(map[string]any)[section].([]any)
			for _, r := range refs {
				ref := r.(map[string]any)
				if ref["source"] == v.Source.Key && ref["target"] == nil {
					ref["target"] = v.Source.Key
				}
			}
		}
	}
	return m
}

// TestConformanceDeploy deploys every file of testdata/conformance that
// docker stack deploy takes, once with docker and once with stackctl, on
// the real engine, one after the other (their published ports would
// collide), and compares what the engine holds: every service spec, and
// the stack's networks, secrets and configs (version names aside). Right
// after stackctl's deploy, stackctl plan reports nothing to change.
func TestConformanceDeploy(t *testing.T) {
	api := realEngine(t)
	deployed := 0
	for _, c := range conformanceCases(t) {
		t.Run(c.name, func(t *testing.T) {
			file := filepath.Join(c.dir, "compose.yml")
			p, err := compose.Load(context.Background(), compose.Options{Files: []string{file}, Env: c.env, Stack: "conf"})
			if err != nil {
				return // docker stack config rejects it too (TestConformanceRender)
			}
			createExternals(t, api, p)
			env := append(os.Environ(), c.env...)

			theirs := newStack(t)
			docker := exec.Command("docker", "stack", "deploy", "--resolve-image", "never", "--detach=true", "-c", "compose.yml", theirs)
			docker.Dir, docker.Env = c.dir, env
			if out, err := docker.CombinedOutput(); err != nil {
				// docker rejects it: so does stackctl, before any write.
				ours := newStack(t)
				r := stackctl(t, c.dir, c.env, "deploy", "--detach", "-c", "compose.yml", ours)
				if r.code == 0 && !slices.Contains(supersetDeployed, c.name) {
					t.Errorf("docker stack deploy rejects it (%s), stackctl deploys it\n%s", strings.TrimSpace(string(out)), r.stderr)
				}
				if r.code != 0 {
					// docker may fail half way; stackctl fails first.
					if left := stackObjects(t, api, ours); len(left) > 0 {
						t.Errorf("stackctl failed (exit %d) but wrote %v", r.code, slices.Sorted(maps.Keys(left)))
					}
					t.Logf("both reject it: docker: %s; stackctl: %s", strings.TrimSpace(string(out)), strings.TrimSpace(r.stderr))
				}
				return
			}
			want := stackObjects(t, api, theirs)
			removeStack(t, api, theirs)

			ours := newStack(t)
			r := stackctl(t, c.dir, c.env, "deploy", "--detach", "-c", "compose.yml", ours)
			if r.code != 0 {
				t.Fatalf("docker stack deploy takes it, stackctl deploy does not: exit %d\n%s", r.code, r.stderr)
			}
			got := stackObjects(t, api, ours)
			if !reflect.DeepEqual(got, want) {
				var diffs []string
				diffTrees("", got, want, &diffs)
				t.Errorf("what stackctl deployed differs from docker stack deploy's:\n  %s", strings.Join(diffs, "\n  "))
			}
			r = stackctl(t, c.dir, c.env, "plan", "-c", "compose.yml", ours)
			if r.code != 0 || !strings.Contains(r.stdout, "no changes") {
				t.Errorf("plan right after the deploy is not empty: exit %d\n%s%s", r.code, r.stdout, r.stderr)
			}
			deployed++
		})
	}
	t.Logf("%d files deployed identically", deployed)
	if deployed < 30 {
		t.Errorf("only %d conformance files deployed: want at least 30", deployed)
	}
}

// createExternals creates the external networks, secrets and configs a
// file names, for the test, and removes them after it.
func createExternals(t *testing.T, api *client.Client, p *compose.Project) {
	t.Helper()
	ctx := context.Background()
	for key, n := range p.Config.Networks {
		name := n.Name
		if name == "" {
			name = key
		}
		if !n.External.External || !container.NetworkMode(name).IsUserDefined() {
			continue
		}
		if _, err := api.NetworkInspect(ctx, name, client.NetworkInspectOptions{Scope: "swarm"}); err == nil {
			continue
		}
		resp, err := api.NetworkCreate(ctx, name, client.NetworkCreateOptions{Driver: "overlay", Attachable: true})
		if err != nil {
			t.Fatalf("create external network %s: %v", name, err)
		}
		t.Cleanup(func() {
			removeEventually(func() error { _, err := api.NetworkRemove(ctx, resp.ID, client.NetworkRemoveOptions{}); return err })
			// The node keeps its own copy of a removed swarm network for a
			// while, and inspect finds it: the next file that names the
			// network would take the copy for the network and not create
			// it. Wait until the name is free.
			removeEventually(func() error {
				if _, err := api.NetworkInspect(ctx, name, client.NetworkInspectOptions{}); err == nil {
					return errors.New("still there")
				}
				return nil
			})
		})
	}
	for key, s := range p.Config.Secrets {
		if !s.External.External {
			continue
		}
		name := orDefault(s.Name, key)
		if _, err := api.SecretInspect(ctx, name, client.SecretInspectOptions{}); err == nil {
			continue
		}
		resp, err := api.SecretCreate(ctx, client.SecretCreateOptions{Spec: swarm.SecretSpec{Annotations: swarm.Annotations{Name: name}, Data: []byte("placeholder")}})
		if err != nil {
			t.Fatalf("create external secret %s: %v", name, err)
		}
		t.Cleanup(func() {
			removeEventually(func() error { _, err := api.SecretRemove(ctx, resp.ID, client.SecretRemoveOptions{}); return err })
		})
	}
	for key, c := range p.Config.Configs {
		if !c.External.External {
			continue
		}
		name := orDefault(c.Name, key)
		if _, err := api.ConfigInspect(ctx, name, client.ConfigInspectOptions{}); err == nil {
			continue
		}
		resp, err := api.ConfigCreate(ctx, client.ConfigCreateOptions{Spec: swarm.ConfigSpec{Annotations: swarm.Annotations{Name: name}, Data: []byte("placeholder")}})
		if err != nil {
			t.Fatalf("create external config %s: %v", name, err)
		}
		t.Cleanup(func() {
			removeEventually(func() error { _, err := api.ConfigRemove(ctx, resp.ID, client.ConfigRemoveOptions{}); return err })
		})
	}
}

// removeEventually retries a removal while tasks still hold the object.
func removeEventually(remove func() error) {
	// A network goes once the tasks of the stacks that used it are gone,
	// which under the race detector can take a minute.
	for i := 0; i < 240 && remove() != nil; i++ {
		time.Sleep(500 * time.Millisecond)
	}
}

func orDefault(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// stackObjects is what the engine holds for a stack, by name without the
// stack, with IDs, timestamps and version suffixes taken out: service
// specs, and the specs of its networks, secrets and configs (without
// stackctl's own labels and the values).
func stackObjects(t *testing.T, api *client.Client, stack string) map[string]any {
	t.Helper()
	ctx := context.Background()
	f := make(client.Filters).Add("label", "com.docker.stack.namespace="+stack)
	out := map[string]any{}
	services, err := api.ServiceList(ctx, client.ServiceListOptions{Filters: f})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range services.Items {
		out["service "+strings.TrimPrefix(s.Spec.Name, stack+"_")] = normalizedSpec(t, s.Spec.Name, stack)
	}
	nets, err := api.NetworkList(ctx, client.NetworkListOptions{Filters: f})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nets.Items {
		out["network "+strings.TrimPrefix(n.Name, stack+"_")] = scrubbed(t, stack, map[string]any{
			"Driver": n.Driver, "Attachable": n.Attachable, "Internal": n.Internal, "Labels": n.Labels,
			// Subnets the engine picks differ between two stacks; the
			// IPAM a file asks for is docker's converter's either way.
			"Options": withoutKey(n.Options, "com.docker.network.driver.overlay.vxlanid_list"), "IPAMDriver": n.IPAM.Driver, "EnableIPv6": n.EnableIPv6,
		})
	}
	secrets, err := api.SecretList(ctx, client.SecretListOptions{Filters: f})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range secrets.Items {
		out["secret "+versionSuffix.ReplaceAllString(strings.TrimPrefix(s.Spec.Name, stack+"_"), "")] = scrubbed(t, stack, map[string]any{
			"Labels": withoutStackctlLabels(s.Spec.Labels), "Driver": s.Spec.Driver, "Templating": s.Spec.Templating,
		})
	}
	configs, err := api.ConfigList(ctx, client.ConfigListOptions{Filters: f})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range configs.Items {
		out["config "+versionSuffix.ReplaceAllString(strings.TrimPrefix(c.Spec.Name, stack+"_"), "")] = scrubbed(t, stack, map[string]any{
			"Labels": withoutStackctlLabels(c.Spec.Labels), "Templating": c.Spec.Templating,
		})
	}
	return out
}

func scrubbed(t *testing.T, stack string, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	text := strings.ReplaceAll(string(b), `"`+stack+`"`, `"STACK"`)
	var out any
	if err := json.Unmarshal([]byte(text), &out); err != nil {
		t.Fatal(err)
	}
	return scrub(out)
}

func withoutKey(m map[string]string, key string) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		if k != key {
			out[k] = v
		}
	}
	return out
}

func withoutStackctlLabels(m map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		if !strings.HasPrefix(k, "io.stackctl.") {
			out[k] = v
		}
	}
	return out
}
