package plan

import (
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/swarm"
)

func secretObj(name, stack, logical string, created time.Time) swarm.Secret {
	labels := map[string]string{LabelNamespace: stack}
	if logical != "" {
		labels[LabelName] = logical
	}
	return swarm.Secret{ID: "id-" + name, Meta: swarm.Meta{CreatedAt: created}, Spec: swarm.SecretSpec{Annotations: swarm.Annotations{Name: name, Labels: labels}}}
}

func TestSelectPrune(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s := &State{Stack: "shop", Secrets: map[string]swarm.Secret{}}
	for i, name := range []string{"shop_pw.a", "shop_pw.b", "shop_pw.c", "shop_pw.d"} {
		s.Secrets[name] = secretObj(name, "shop", "shop_pw", t0.Add(time.Duration(i)*time.Hour))
	}
	s.Secrets["blog_pw.a"] = secretObj("blog_pw.a", "blog", "blog_pw", t0)          // another stack
	s.Secrets["shop_manual"] = secretObj("shop_manual", "shop", "", t0)             // not stackctl's
	s.Secrets["shop_other.a"] = secretObj("shop_other.a", "shop", "shop_other", t0) // used by another stack's service
	used := map[string]bool{"secret/shop_pw.d": true, "secret/shop_pw.c": true, "secret/shop_other.a": true}

	for keep, want := range map[int]string{0: "shop_pw.a shop_pw.b", 1: "shop_pw.a", 2: "", 5: ""} {
		var got []string
		for _, v := range selectPrune("shop", s, used, keep) {
			got = append(got, v.Name)
		}
		sort.Strings(got)
		if strings.Join(got, " ") != want {
			t.Errorf("keep %d: prune %v, want %q", keep, got, want)
		}
	}
}
