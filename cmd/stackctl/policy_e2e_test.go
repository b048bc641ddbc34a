//go:build e2e

package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
)

// policyCompose has three secrets of one SOPS file: short is due after
// 15 s, long after 90 days, none has no policy.
const policyCompose = `
services:
  api:
    image: {{image}}
    deploy: {replicas: 2, endpoint_mode: dnsrr, update_config: {parallelism: 2, monitor: 1s}}
    secrets: [short, {source: none, target: /etc/none.txt}]
  worker:
    image: {{image}}
    deploy: {endpoint_mode: dnsrr, update_config: {monitor: 1s}}
    secrets: [long]
secrets:
  short: {file: ./app.enc.yaml, x-sops: {key: db.password}, x-rotate: {every: 15s, length: 24}}
  long: {file: ./app.enc.yaml, x-sops: {key: api_key}, x-rotate: {every: 90d}}
  none: {file: ./app.enc.yaml, x-sops: {key: db.user}}
`

// githubEnv is what a GitHub Actions runner sets (GitHub's output files
// left unset: the command still runs as on a runner).
var githubEnv = []string{"GITHUB_ACTIONS=true", "GITHUB_REPOSITORY=acme/shop", "GITHUB_RUN_ID=4242", "GITHUB_RUN_ATTEMPT=1",
	"GITHUB_SHA=0123456789abcdef0123456789abcdef01234567", "GITHUB_WORKFLOW=rotate", "GITHUB_ACTOR=octocat", "GITHUB_SERVER_URL=https://github.example"}

type statusJSON struct {
	FormatVersion string `json:"format_version"`
	Objects       []struct {
		Key, Current string
		AgeSeconds   float64 `json:"age_seconds"`
		CreatedBy    string  `json:"created_by"`
		Policy       *struct {
			Every   string
			Due     *time.Time
			Overdue bool
		}
		Users []struct {
			Service, Target string
			TasksOnCurrent  int `json:"tasks_on_current"`
		}
		Problems []string
	}
	Orphans []struct {
		Name     string
		Stackctl bool `json:"made_by_stackctl"`
	}
}

// TestPolicyEndToEnd: status --check is 0, then 1 naming only the secret
// whose policy expired; rotate --due rotates only it, in one rollout of
// the one service that mounts it; status --check is 0 again. Labels name
// who made each version; no value, nor a plain hash of one, shows
// anywhere.
func TestPolicyEndToEnd(t *testing.T) {
	api := realEngine(t)
	stack := newStack(t)
	enc, err := os.ReadFile(testdataPath(t, "sops", "app.enc.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	dir := writeDir(t, map[string]string{"compose.yml": policyCompose, "app.enc.yaml": string(enc)})
	file := filepath.Join(dir, "app.enc.yaml")
	rec := &recorder{dir: dir, stack: stack}
	run := func(env []string, args ...string) result { t.Helper(); return rec.run(t, env, args...) }
	if r := run(githubEnv, "deploy"); r.code != 0 {
		t.Fatalf("deploy: %d\n%s", r.code, r.stderr)
	}
	if r := run(nil, "status", "--check"); r.code != 0 {
		t.Fatalf("status --check right after the deploy: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	// Wait for short's policy to expire, by status --check alone.
	var r result
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(time.Second) {
		if r = run(nil, "status", "--check"); r.code != 0 || time.Now().After(deadline) {
			break
		}
	}
	if r.code != 1 || !strings.Contains(r.stderr, "secret short: overdue") || strings.Contains(r.stderr, "secret long") || strings.Contains(r.stderr, "secret none") {
		t.Fatalf("status --check once short expired: exit %d, want 1 naming only short\n%s", r.code, r.stderr)
	}

	oldShort := inspectSecretRef(t, api, stack+"_api", "short")
	workerBefore := serviceIndex(t, api, stack+"_worker")
	r = run(nil, "rotate", "--due", "-o", "json")
	if r.code != 0 {
		t.Fatalf("rotate --due: exit %d\n%s", r.code, r.stderr)
	}
	var rotated struct {
		Rotated []struct{ Secret, Version string }
		Deploy  struct{ Rolled []string }
	}
	if err := json.Unmarshal([]byte(r.stdout), &rotated); err != nil {
		t.Fatalf("%v\n%s", err, r.stdout)
	}
	if len(rotated.Rotated) != 1 || rotated.Rotated[0].Secret != "short" || !slices.Equal(rotated.Deploy.Rolled, []string{stack + "_api"}) {
		t.Fatalf("rotate --due: %+v, want short rotated and %s_api rolled", rotated, stack)
	}
	// One update: the previous spec is the one before the rotation.
	if got, err := api.ServiceInspect(context.Background(), stack+"_api", client.ServiceInspectOptions{}); err != nil || got.Service.PreviousSpec == nil ||
		!mountsSecret(got.Service.PreviousSpec.TaskTemplate.ContainerSpec.Secrets, oldShort) || !mountsSecret(got.Service.Spec.TaskTemplate.ContainerSpec.Secrets, rotated.Rotated[0].Version) {
		t.Errorf("%s_api: want its spec on the new version and its previous spec on %s (%v)", stack, oldShort, err)
	}
	if after := serviceIndex(t, api, stack+"_worker"); after != workerBefore {
		t.Errorf("%s_worker was updated", stack)
	}
	if len(decrypt(t, file, "db", "password")) != 24 {
		t.Error("the new value does not have the policy's length")
	}

	// A secret of the stack made by hand: listed as an orphan, never removed.
	manual := stack + "_by_hand"
	if _, err := api.SecretCreate(context.Background(), client.SecretCreateOptions{Spec: swarm.SecretSpec{
		Annotations: swarm.Annotations{Name: manual, Labels: map[string]string{"com.docker.stack.namespace": stack}}, Data: []byte("x")}}); err != nil {
		t.Fatal(err)
	}
	r = run(nil, "status", "--check", "-o", "json")
	if r.code != 0 {
		t.Fatalf("status --check after rotate --due: exit %d\n%s", r.code, r.stderr)
	}
	var st statusJSON
	if err := json.Unmarshal([]byte(r.stdout), &st); err != nil {
		t.Fatalf("%v\n%s", err, r.stdout)
	}
	checkStatusJSON(t, st, stack, rotated.Rotated[0].Version)
	if len(st.Orphans) != 1 || st.Orphans[0].Name != manual || st.Orphans[0].Stackctl {
		t.Errorf("orphans %+v: want %s, not made by stackctl", st.Orphans, manual)
	}
	if r := run(nil, "prune", "--keep", "0"); r.code != 0 {
		t.Fatalf("prune: %d\n%s", r.code, r.stderr)
	}
	if _, ok := secretLabels(t, api, stack)[manual]; !ok {
		t.Error("prune removed a secret stackctl did not make")
	}

	labels := secretLabels(t, api, stack)
	if l := labels[rotated.Rotated[0].Version]; l["io.stackctl.created-by"] == "" || !strings.Contains(l["io.stackctl.source"], "app.enc.yaml#db.password") || l["io.stackctl.rotate.every"] != "15s" {
		t.Errorf("labels of the rotated version: %v", l)
	}
	for name, l := range labels {
		if strings.HasPrefix(name, stack+"_long.") && (l["io.stackctl.created-by"] != "github:acme/shop" ||
			l["io.stackctl.ci.run"] != "https://github.example/acme/shop/actions/runs/4242/attempts/1" || l["io.stackctl.ci.commit"] != "0123456789abcdef0123456789abcdef01234567") {
			t.Errorf("labels of %s, made under GitHub Actions: %v", name, l)
		}
	}
	// none (db.user) is "app", which the file name holds: the canaries are the others, and short's value before and after.
	values := []string{decrypt(t, file, "db", "password"), decrypt(t, file, "api_key"), "CANARY-db-password-7c1e"}
	b, _ := json.Marshal(labels)
	for _, v := range values {
		sum := sha256.Sum256([]byte(v))
		for _, shown := range append(rec.outputs, string(b)) {
			if strings.Contains(shown, v) || strings.Contains(shown, hex.EncodeToString(sum[:])[:12]) {
				t.Errorf("a value, or a plain hash of it, shows in %.300q", shown)
			}
		}
	}
}

func checkStatusJSON(t *testing.T, st statusJSON, stack, rotatedVersion string) {
	t.Helper()
	if st.FormatVersion != "2.0" || len(st.Objects) != 3 {
		t.Fatalf("status: %+v", st)
	}
	for _, o := range st.Objects {
		if o.AgeSeconds <= 0 || o.CreatedBy == "" || len(o.Users) != 1 || o.Users[0].TasksOnCurrent == 0 || len(o.Problems) > 0 {
			t.Errorf("%s: %+v", o.Key, o)
		}
		switch o.Key {
		case "short":
			if o.Current != rotatedVersion || o.Policy == nil || o.Policy.Due == nil || o.Policy.Overdue {
				t.Errorf("short: %+v", o)
			}
		case "long":
			if o.Policy == nil || o.Policy.Every != "90d" || o.Users[0].Service != stack+"_worker" {
				t.Errorf("long: %+v", o)
			}
		case "none":
			if o.Policy != nil || o.Users[0].Target != "/etc/none.txt" {
				t.Errorf("none: %+v", o)
			}
		}
	}
}

func mountsSecret(refs []*swarm.SecretReference, name string) bool {
	return slices.ContainsFunc(refs, func(r *swarm.SecretReference) bool { return r.SecretName == name })
}

func serviceIndex(t *testing.T, api *client.Client, name string) uint64 {
	t.Helper()
	got, err := api.ServiceInspect(context.Background(), name, client.ServiceInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return got.Service.Version.Index
}

func secretLabels(t *testing.T, api *client.Client, stack string) map[string]map[string]string {
	t.Helper()
	list, err := api.SecretList(context.Background(), client.SecretListOptions{Filters: make(client.Filters).Add("label", "com.docker.stack.namespace="+stack)})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string]string{}
	for _, s := range list.Items {
		out[s.Spec.Name] = s.Spec.Labels
	}
	return out
}

// recorder runs stackctl against one stack's compose.yml in dir and keeps
// everything it printed, for the canary checks.
type recorder struct {
	dir, stack string
	outputs    []string
}

func (r *recorder) run(t *testing.T, env []string, args ...string) result {
	t.Helper()
	res := stackctl(t, r.dir, env, append(args, "-c", "compose.yml", r.stack)...)
	r.outputs = append(r.outputs, res.stdout, res.stderr)
	return res
}
