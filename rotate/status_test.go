package rotate

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stackctl/stackctl/rotate/engine"
	"github.com/stackctl/stackctl/rotate/engine/enginetest"
)

// policyStack has three secrets from one SOPS file: one due every 2s, one
// every 90 days, one without a policy; api mounts the first and the
// third, worker the second.
const policyStack = `
services:
  api:
    image: example/api:1
    secrets: [short, {source: none, target: /etc/none}]
  worker:
    image: example/worker:1
    secrets: [long]
secrets:
  short: {file: ./app.enc.yaml, x-sops: {key: db.password}, x-rotate: {every: 2s}}
  long: {file: ./app.enc.yaml, x-sops: {key: api_key}, x-rotate: {every: 90d, length: 40, charset: hex}}
  none: {file: ./app.enc.yaml, x-sops: {key: db.user}}
`

func TestStatusAndRotateDue(t *testing.T) {
	withTestKey(t)
	eng := enginetest.New()
	src, err := os.ReadFile(filepath.Join(testdataDir(t), "sops", "app.enc.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	dir := scenario(t, map[string]string{"app.enc.yaml": string(src), "compose.yml": policyStack})
	deployOnce(t, eng, dir, DeployOptions{})
	ctx := context.Background()

	st, err := Status(ctx, eng, desiredForDir(t, dir, nil))
	if err != nil {
		t.Fatal(err)
	}
	if !st.Healthy() || len(st.Due()) != 0 {
		t.Fatalf("just deployed, yet due %v: %+v", st.Due(), st.Objects)
	}
	byKey := map[string]int{}
	for i, o := range st.Objects {
		byKey[o.Key] = i
	}
	long := st.Objects[byKey["long"]]
	if long.Policy == nil || long.Policy.Due == nil || long.Policy.Due.Sub(*long.CreatedAt) != 90*24*time.Hour {
		t.Errorf("long's policy %+v", long.Policy)
	}
	if none := st.Objects[byKey["none"]]; none.Policy != nil || len(none.Users) != 1 || none.Users[0].Target != "/etc/none" || none.Users[0].TasksOnCurrent != 1 {
		t.Errorf("none: %+v", none)
	}

	eng.Advance(3 * time.Second)
	d := desiredForDir(t, dir, nil)
	st, err = Status(ctx, eng, d)
	if err != nil {
		t.Fatal(err)
	}
	if due := st.Due(); !slices.Equal(due, []string{"short"}) || st.Healthy() {
		t.Fatalf("due %v, healthy %t: want only short", due, st.Healthy())
	}
	for _, o := range st.Objects {
		if (len(o.Problems) > 0) != (o.Key == "short") {
			t.Errorf("%s: problems %v", o.Key, o.Problems)
		}
	}

	updates := eng.Count("ServiceUpdate")
	const canary = "CANARY-due-value-77c1"
	res, err := Rotate(ctx, eng, d, RotateOptions{Values: map[string][]byte{"short": []byte(canary)},
		Deploy: DeployOptions{Wait: fastWait, Lock: engine.LockOptions{Holder: "t"}}}, &enginetest.Log{})
	if err != nil {
		t.Fatal(err)
	}
	if got := eng.Count("ServiceUpdate") - updates; got != 1 || !slices.Equal(res.Services, []string{"shop_api"}) {
		t.Errorf("%d updates of %v, want one of shop_api", got, res.Services)
	}

	st, err = Status(ctx, eng, desiredForDir(t, dir, nil))
	if err != nil {
		t.Fatal(err)
	}
	if !st.Healthy() {
		t.Errorf("after the rotation: %+v", st.Objects)
	}
	short := st.Objects[byKey["short"]]
	if len(short.Versions) != 2 || short.Versions[1].State != "rollback" || short.Versions[0].Name != res.Rotated[0].Version {
		t.Errorf("short's versions %+v: want the new one current and the old kept for a rollback", short.Versions)
	}
	b, _ := json.Marshal(st)
	for _, value := range []string{canary, "CANARY-api-key-52ab"} {
		if strings.Contains(string(b), value) {
			t.Errorf("the status holds a value: %s", b)
		}
	}
}

func TestWithPolicy(t *testing.T) {
	withTestKey(t)
	src, err := os.ReadFile(filepath.Join(testdataDir(t), "sops", "app.enc.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	dir := scenario(t, map[string]string{"app.enc.yaml": string(src), "compose.yml": policyStack})
	if got := WithPolicy(desiredForDir(t, dir, nil)); !slices.Equal(got, []string{"long", "short"}) {
		t.Errorf("with a policy: %v", got)
	}
}
