package plan_test

import (
	"strings"
	"testing"

	"github.com/moby/moby/api/types/swarm"
	"github.com/stackctl/stackctl/compose"
	"github.com/stackctl/stackctl/rotate/plan"
)

func TestRestrict(t *testing.T) {
	live := swarm.Service{Spec: swarm.ServiceSpec{TaskTemplate: swarm.TaskSpec{ContainerSpec: &swarm.ContainerSpec{
		Image:   "app:1",
		Secrets: []*swarm.SecretReference{{SecretName: "s_pw.0123456789ab", SecretID: "old"}, {SecretName: "other", SecretID: "o"}},
	}}}}
	p := &plan.Plan{
		Services: []plan.ServiceChange{
			{Name: "s_a", Action: plan.Update, Live: &live, Diff: []plan.FieldDiff{{Path: "TaskTemplate.ContainerSpec.Image", From: "app:1", To: "app:2"}}},
			{Name: "s_b", Action: plan.Update},
			{Name: "s_c", Action: plan.Unchanged},
		},
		Versions: []plan.VersionChange{{Kind: "secret", Name: "x.1", Action: plan.Create}, {Kind: "secret", Name: "s_pw.ba9876543210", Action: plan.Create}},
	}
	state := &plan.State{Stack: "s", Secrets: map[string]swarm.Secret{
		"s_pw.0123456789ab": {Spec: swarm.SecretSpec{Annotations: swarm.Annotations{Name: "s_pw.0123456789ab", Labels: map[string]string{plan.LabelNamespace: "s", plan.LabelName: "s_pw"}}}},
		// An external secret whose name looks like a version of s_pw.
		"s_pw.fedcba987654": {Spec: swarm.SecretSpec{Annotations: swarm.Annotations{Name: "s_pw.fedcba987654"}}},
	}}
	live.Spec.TaskTemplate.ContainerSpec.Secrets = append(live.Spec.TaskTemplate.ContainerSpec.Secrets, &swarm.SecretReference{SecretName: "s_pw.fedcba987654", SecretID: "ext"})
	p = plan.Restrict(p, []string{"s_a"}, map[string]string{"s_pw": "s_pw.ba9876543210"}, state)
	if len(p.Services) != 1 || p.Services[0].Name != "s_a" {
		t.Fatalf("services %v", p.Services)
	}
	spec := p.Services[0].Spec
	if spec.TaskTemplate.ContainerSpec.Image != "app:1" {
		t.Error("the rotation ships the image change too")
	}
	if r := spec.TaskTemplate.ContainerSpec.Secrets[0]; r.SecretName != "s_pw.ba9876543210" || r.SecretID != compose.PendingID+"s_pw.ba9876543210" {
		t.Errorf("rotated reference %+v", r)
	}
	if r := spec.TaskTemplate.ContainerSpec.Secrets[1]; r.SecretName != "other" {
		t.Errorf("another reference changed: %+v", r)
	}
	if r := spec.TaskTemplate.ContainerSpec.Secrets[2]; r.SecretName != "s_pw.fedcba987654" {
		t.Errorf("an external secret that looks like a version was swapped: %+v", r)
	}
	if p.Versions[0].Action != plan.Unchanged || p.Versions[1].Action != plan.Create {
		t.Errorf("versions %+v: only the new version is created", p.Versions)
	}
	all := strings.Join(p.Warnings, "\n")
	if !strings.Contains(all, "s_b has other pending changes") || !strings.Contains(all, "s_a has other pending changes (TaskTemplate.ContainerSpec.Image)") {
		t.Errorf("warnings %v", p.Warnings)
	}
}
