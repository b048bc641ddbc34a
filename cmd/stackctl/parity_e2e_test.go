//go:build e2e

package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// TestParityWithDockerStackDeploy deploys testdata/parity/compose.yml, which
// uses every field docker stack deploy maps, once with docker stack deploy
// and once with stackctl, and compares the service specs the engine holds.
func TestParityWithDockerStackDeploy(t *testing.T) {
	realEngine(t)
	ours, theirs := newStack(t), newStack(t)
	dir := testdataPath(t, "parity")
	env := append(os.Environ(), "IMAGE="+testImage(t))

	docker := exec.Command("docker", "stack", "deploy", "--resolve-image", "never", "--detach=true", "-c", "compose.yml", theirs)
	docker.Dir, docker.Env = dir, env
	if out, err := docker.CombinedOutput(); err != nil {
		t.Fatalf("docker stack deploy: %v\n%s", err, out)
	}
	r := stackctl(t, dir, []string{"IMAGE=" + testImage(t)}, "deploy", "--detach", "-c", "compose.yml", ours)
	if r.code != 0 {
		t.Fatalf("stackctl deploy: exit %d\n%s", r.code, r.stderr)
	}
	// docker stack deploy warns about the option swarm ignores; so do we.
	if !strings.Contains(r.stderr, "domainname") {
		t.Errorf("no warning about domainname:\n%s", r.stderr)
	}

	for _, svc := range []string{"full", "global", "job"} {
		a := normalizedSpec(t, ours+"_"+svc, ours)
		b := normalizedSpec(t, theirs+"_"+svc, theirs)
		if !reflect.DeepEqual(a, b) {
			var diffs []string
			diffTrees("", a, b, &diffs)
			t.Errorf("service %s differs from docker stack deploy's:\n  %s", svc, strings.Join(diffs, "\n  "))
		}
	}

	// What stackctl deployed, it recognises as unchanged.
	r = stackctl(t, dir, []string{"IMAGE=" + testImage(t)}, "plan", "-c", "compose.yml", ours)
	if r.code != 0 || !strings.Contains(r.stdout, "no changes") {
		t.Errorf("plan after deploy is not empty: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

var versionSuffix = regexp.MustCompile(`\.[0-9a-f]{12}$`)

// normalizedSpec is a service's spec as JSON, with the stack name, object
// IDs and version suffixes taken out.
func normalizedSpec(t *testing.T, service, stack string) any {
	t.Helper()
	out, err := exec.Command("docker", "service", "inspect", "--format", "{{json .Spec}}", service).Output()
	if err != nil {
		t.Fatalf("docker service inspect %s: %v", service, err)
	}
	text := strings.ReplaceAll(string(out), stack+"_", "STACK_")
	text = strings.ReplaceAll(text, `"`+stack+`"`, `"STACK"`)
	var v any
	if err := json.Unmarshal([]byte(text), &v); err != nil {
		t.Fatal(err)
	}
	return scrub(v)
}

func scrub(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			// IDs differ between two stacks; a mount's Target is a path and stays.
			if k == "SecretID" || k == "ConfigID" || (k == "Target" && isID(e)) {
				delete(v, k)
				continue
			}
			v[k] = scrub(e)
		}
	case []any:
		for i := range v {
			v[i] = scrub(v[i])
		}
	case string:
		return versionSuffix.ReplaceAllString(v, "")
	}
	return v
}

var idPattern = regexp.MustCompile(`^[0-9a-z]{25}$`)

func isID(v any) bool {
	s, ok := v.(string)
	return ok && idPattern.MatchString(s)
}

func diffTrees(path string, a, b any, out *[]string) {
	am, aok := a.(map[string]any)
	bm, bok := b.(map[string]any)
	if aok && bok {
		keys := map[string]bool{}
		for k := range am {
			keys[k] = true
		}
		for k := range bm {
			keys[k] = true
		}
		var sorted []string
		for k := range keys {
			sorted = append(sorted, k)
		}
		sort.Strings(sorted)
		for _, k := range sorted {
			diffTrees(path+"."+k, am[k], bm[k], out)
		}
		return
	}
	if !reflect.DeepEqual(a, b) {
		*out = append(*out, fmt.Sprintf("%s: stackctl %v, docker %v", path, a, b))
	}
}
