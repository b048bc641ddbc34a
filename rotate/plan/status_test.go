package plan_test

import (
	"testing"
	"time"

	"github.com/moby/moby/api/types/swarm"

	"github.com/stackctl/stackctl/rotate/plan"
	"github.com/stackctl/stackctl/rotate/plan/plantest"
)

func TestInventoryOrphansAndExternals(t *testing.T) {
	const files = `
services:
  web:
    image: example/web:1
    secrets: [pw, ext]
secrets:
  pw: {file: ./pw.txt}
  ext: {external: true, name: shared_cert}
`
	d := plantest.Desired(t, map[string]string{"compose.yml": files, "pw.txt": "one"})
	s := plantest.EmptyState()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	add := func(name string, labels map[string]string) {
		s.Secrets[name] = swarm.Secret{ID: "id-" + name, Meta: swarm.Meta{CreatedAt: t0}, Spec: swarm.SecretSpec{Annotations: swarm.Annotations{Name: name, Labels: labels}}}
	}
	add("shared_cert", nil)
	s = plantest.AppliedTo(t, d, s)
	add("shop_gone.0123456789ab", map[string]string{plan.LabelNamespace: "shop", plan.LabelName: "shop_gone"}) // a removed secret's version
	add("shop_manual", map[string]string{plan.LabelNamespace: "shop"})                                         // made by hand
	add("blog_pw.0123456789ab", map[string]string{plan.LabelNamespace: "blog", plan.LabelName: "blog_pw"})     // another stack's
	add("shop_pw.0123456789ab", map[string]string{plan.LabelNamespace: "shop", plan.LabelName: "shop_pw"})     // an older version of pw

	st := plan.Inventory(d, s, nil, t0.Add(time.Hour))
	got := map[string]bool{}
	for _, o := range st.Orphans {
		got[o.Name] = o.Stackctl
	}
	if len(got) != 2 || !got["shop_gone.0123456789ab"] || got["shop_manual"] {
		t.Errorf("orphans %+v: want shop_gone's version (stackctl's) and shop_manual (not)", st.Orphans)
	}
	var ext, pw *plan.ObjectStatus
	for i := range st.Objects {
		switch st.Objects[i].Key {
		case "ext":
			ext = &st.Objects[i]
		case "pw":
			pw = &st.Objects[i]
		}
	}
	if ext == nil || ext.Source != "external" || ext.Current != "shared_cert" || !ext.Deployed || len(ext.Users) != 1 {
		t.Errorf("external: %+v", ext)
	}
	states := map[string]string{}
	for _, v := range pw.Versions {
		states[v.Name] = v.State
	}
	if len(pw.Versions) != 2 || states["shop_pw.0123456789ab"] != plan.StateUnused || states[pw.Current] != plan.StateCurrent {
		t.Errorf("pw: %+v", pw)
	}
}
