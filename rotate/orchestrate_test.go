package rotate

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/stackctl/stackctl/rotate/engine"
	"github.com/stackctl/stackctl/rotate/engine/enginetest"
	"github.com/stackctl/stackctl/rotate/plan"
	"github.com/stackctl/stackctl/rotate/plan/plantest"
)

// The orchestrators (Deploy, Rotate, PruneStack) end to end against the
// shared in-memory engine: what the README promises of a deploy, in
// milliseconds. The real engine proves the same in cmd/stackctl's e2e tier.

var _ engine.Engine = enginetest.New()

var fastWait = engine.WaitOptions{Interval: time.Millisecond, Settle: time.Millisecond, Timeout: 10 * time.Second}

func deployOnce(t *testing.T, eng engine.Engine, dir string, opts DeployOptions) *Result {
	t.Helper()
	opts.Wait = fastWait
	opts.Lock.Holder = "test"
	res, err := Deploy(context.Background(), eng, desiredForDir(t, dir, nil), opts, &enginetest.Log{})
	if err != nil {
		t.Fatalf("deploy: %v", err)
	}
	return res
}

func stackSecrets(t *testing.T, eng engine.Engine, prefix string) []string {
	t.Helper()
	list, err := eng.SecretList(context.Background(), client.SecretListOptions{Filters: make(client.Filters).Add("label", plan.LabelNamespace+"=shop")})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range list.Items {
		if strings.HasPrefix(s.Spec.Name, prefix) {
			names = append(names, s.Spec.Name)
		}
	}
	return names
}

func TestDeployConverges(t *testing.T) {
	eng := enginetest.New()
	dir := scenario(t, map[string]string{"compose.yml": plantest.Compose, "pw.txt": "one"})

	first := deployOnce(t, eng, dir, DeployOptions{Keep: 1})
	if got := eng.Count("ServiceCreate"); got != 2 {
		t.Errorf("first deploy created %d services, want 2", got)
	}
	if got := len(first.Outcomes); got != 2 {
		t.Errorf("first deploy waited for %d services, want 2: %+v", got, first.Outcomes)
	}
	if b, _ := json.Marshal(first); !strings.HasPrefix(string(b), `{"format_version":"`+FormatVersion+`"`) {
		t.Errorf("the JSON of a deploy does not open with its format version: %.80s", b)
	}
	v1 := stackSecrets(t, eng, "shop_pw.")
	if len(v1) != 1 {
		t.Fatalf("versions after the first deploy: %v", v1)
	}
	if data, _ := eng.Secret(v1[0]); string(data) != "one" {
		t.Errorf("the version holds %q", data)
	}

	t.Run("unchanged: nothing written", func(t *testing.T) {
		before := len(eng.Calls())
		res := deployOnce(t, eng, dir, DeployOptions{Keep: 1})
		if res.Plan.Changes() {
			t.Errorf("second deploy of the same files planned changes: %+v", res.Plan)
		}
		for _, c := range eng.Calls()[before:] {
			if strings.HasSuffix(c, "plan.Create") && c != "ConfigCreate" || c == "ServiceUpdate" || c == "SecretRemove" {
				t.Errorf("an unchanged deploy called %s", c)
			}
		}
	})

	t.Run("changed value: one update of the one service that reads it", func(t *testing.T) {
		os.WriteFile(filepath.Join(dir, "pw.txt"), []byte("two"), 0o600)
		updates := eng.Count("ServiceUpdate")
		res := deployOnce(t, eng, dir, DeployOptions{Keep: 1})
		if got := eng.Count("ServiceUpdate") - updates; got != 1 {
			t.Errorf("%d service updates, want 1 (web)", got)
		}
		if !slices.Equal(res.Rolled, []string{"shop_web"}) {
			t.Errorf("rolled %v, want [shop_web]", res.Rolled)
		}
		if got := stackSecrets(t, eng, "shop_pw."); len(got) != 2 || !slices.Contains(got, v1[0]) {
			t.Errorf("versions %v: want the new one and the previous (a rollback needs it)", got)
		}
	})

	t.Run("third value: the unused first version is pruned", func(t *testing.T) {
		os.WriteFile(filepath.Join(dir, "pw.txt"), []byte("three"), 0o600)
		res := deployOnce(t, eng, dir, DeployOptions{Keep: 0})
		got := stackSecrets(t, eng, "shop_pw.")
		if slices.Contains(got, v1[0]) || len(got) != 2 {
			t.Errorf("versions %v, pruned %+v: want the first one gone, the current and previous kept", got, res.Pruned)
		}
	})
}

func TestDeployEngineRefusalPutsBack(t *testing.T) {
	eng := enginetest.New()
	dir := scenario(t, map[string]string{"compose.yml": plantest.Compose, "pw.txt": "one"})
	deployOnce(t, eng, dir, DeployOptions{})
	before := stackSecrets(t, eng, "shop_pw.")

	os.WriteFile(filepath.Join(dir, "pw.txt"), []byte("two"), 0o600)
	other, err := eng.ServiceInspect(context.Background(), "shop_other", client.ServiceInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// The engine refuses the update of other, once; web's goes through.
	refused := false
	eng.Fail = func(method, name string) error {
		if method == "ServiceUpdate" && name == other.Service.ID && !refused {
			refused = true
			return errors.New("rpc error: refused")
		}
		return nil
	}
	// Two services change: a new image for other, a new value for web.
	os.WriteFile(filepath.Join(dir, "compose.yml"), []byte(strings.Replace(plantest.Compose, "example/other:1", "example/other:2", 1)), 0o600)
	_, err = Deploy(context.Background(), eng, desiredForDir(t, dir, nil), DeployOptions{Wait: fastWait, Lock: engine.LockOptions{Holder: "t"}}, &enginetest.Log{})
	if err == nil || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("err = %v, want the engine's refusal", err)
	}
	// Whatever was updated was rolled back to its previous spec.
	eng.Fail = nil
	plan, err := planAgainst(t, eng, scenario(t, map[string]string{"compose.yml": plantest.Compose, "pw.txt": "one"}))
	if err != nil {
		t.Fatal(err)
	}
	if plan.Changes() {
		t.Errorf("after the refusal the stack is not as before the deploy: %+v", plan)
	}
	if got := stackSecrets(t, eng, "shop_pw."); !slices.Contains(got, before[0]) {
		t.Errorf("the version in use before was removed: %v", got)
	}
}

func planAgainst(t *testing.T, eng engine.Engine, dir string) (*plan.Plan, error) {
	t.Helper()
	res, err := Deploy(context.Background(), eng, desiredForDir(t, dir, nil), DeployOptions{DryRun: true}, &enginetest.Log{})
	if err != nil {
		return nil, err
	}
	return res.Plan, nil
}

func TestRotateWritesFileThenRollsOut(t *testing.T) {
	withTestKey(t)
	eng := enginetest.New()
	src, err := os.ReadFile(filepath.Join(testdataDir(t), "sops", "app.enc.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	dir := scenario(t, map[string]string{
		"app.enc.yaml": string(src),
		"compose.yml": `
services:
  api:
    image: example/api:1
    secrets: [db_password]
  bystander:
    image: example/other:1
secrets:
  db_password:
    file: ./app.enc.yaml
    x-sops: {key: db.password}
`})
	deployOnce(t, eng, dir, DeployOptions{})
	updates := eng.Count("ServiceUpdate")

	const canary = "CANARY-rotated-orchestrator-3f1d"
	d := desiredForDir(t, dir, nil)
	res, err := Rotate(context.Background(), eng, d, RotateOptions{Values: map[string][]byte{"db_password": []byte(canary)},
		Deploy: DeployOptions{Wait: fastWait, Lock: engine.LockOptions{Holder: "t"}}}, &enginetest.Log{})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Written || !slices.Equal(res.Services, []string{"shop_api"}) {
		t.Errorf("result %+v: want the file written and shop_api rolled", res)
	}
	if got := eng.Count("ServiceUpdate") - updates; got != 1 {
		t.Errorf("%d service updates, want 1", got)
	}
	if data, ok := eng.Secret(res.Rotated[0].Version); !ok || string(data) != canary {
		t.Errorf("version %s holds %q", res.Rotated[0].Version, data)
	}
	// The file is the source of truth: it now decrypts to the new value.
	again := desiredForDir(t, dir, nil)
	if v := again.Versions[0]; string(v.Data) != canary || v.Name != res.Rotated[0].Version {
		t.Errorf("the file reads back as version %s, want %s", v.Name, res.Rotated[0].Version)
	}
	if raw, _ := os.ReadFile(filepath.Join(dir, "app.enc.yaml")); strings.Contains(string(raw), canary) {
		t.Error("the new value is in the file in clear")
	}
	// A deploy now changes nothing.
	if plan, err := planAgainst(t, eng, dir); err != nil || plan.Changes() {
		t.Errorf("plan after rotate: %v %+v", err, plan)
	}
}

func TestPruneStackRemovesOnlyUnused(t *testing.T) {
	eng := enginetest.New()
	dir := scenario(t, map[string]string{"compose.yml": plantest.Compose, "pw.txt": "one"})
	deployOnce(t, eng, dir, DeployOptions{NoPrune: true})
	for _, v := range []string{"two", "three"} {
		os.WriteFile(filepath.Join(dir, "pw.txt"), []byte(v), 0o600)
		deployOnce(t, eng, dir, DeployOptions{NoPrune: true})
	}
	if got := stackSecrets(t, eng, "shop_pw."); len(got) != 3 {
		t.Fatalf("versions before prune: %v", got)
	}
	ctx := context.Background()
	dry, err := PruneStack(ctx, eng, "shop", engine.PruneOptions{DryRun: true}, engine.LockOptions{}, &enginetest.Log{})
	if err != nil || len(dry) != 1 || len(stackSecrets(t, eng, "shop_pw.")) != 3 {
		t.Fatalf("dry run: %v %+v", err, dry)
	}
	removed, err := PruneStack(ctx, eng, "shop", engine.PruneOptions{}, engine.LockOptions{Holder: "t"}, &enginetest.Log{})
	if err != nil || len(removed) != 1 || removed[0].Name != dry[0].Name {
		t.Fatalf("prune: %v %+v, want what the dry run named", err, removed)
	}
	if got := stackSecrets(t, eng, "shop_pw."); len(got) != 2 {
		t.Errorf("versions after prune: %v", got)
	}
	if _, err := PruneStack(ctx, eng, "nosuch", engine.PruneOptions{}, engine.LockOptions{Holder: "t"}, &enginetest.Log{}); !errors.Is(err, engine.ErrNoStack) {
		t.Errorf("prune of a stack that is not there: %v", err)
	}
}

// TestDeployRefusesAnotherStacksNetwork: a network the stack would create
// under a name (name: proxy) that a network outside the stack has is
// refused before anything is written, as docker stack deploy fails on it.
func TestDeployRefusesAnotherStacksNetwork(t *testing.T) {
	eng := enginetest.New()
	if _, err := eng.NetworkCreate(context.Background(), "proxy", client.NetworkCreateOptions{Driver: "overlay"}); err != nil {
		t.Fatal(err)
	}
	dir := scenario(t, map[string]string{"compose.yml": "services:\n  web:\n    image: x\n    networks: [p]\nnetworks:\n  p:\n    name: proxy\n"})
	before := len(eng.Calls())
	_, err := Deploy(context.Background(), eng, desiredForDir(t, dir, nil), DeployOptions{Wait: fastWait, Lock: engine.LockOptions{Holder: "t"}}, &enginetest.Log{})
	if err == nil || !strings.Contains(err.Error(), `networks.p: network "proxy" already exists and belongs to no stack`) {
		t.Fatalf("err = %v", err)
	}
	for _, c := range eng.Calls()[before:] {
		if strings.HasSuffix(c, "plan.Create") || strings.HasSuffix(c, "plan.Update") {
			t.Errorf("wrote %s before refusing", c)
		}
	}
}
