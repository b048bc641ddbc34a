package rotate

import (
	"regexp"
	"strings"
	"testing"

	"github.com/moby/moby/api/types/swarm"
)

func TestGenerate(t *testing.T) {
	tests := []struct {
		charset string
		length  int
		pattern string
	}{
		{CharsetAlnum, 32, `^[A-Za-z0-9]{32}$`},
		{CharsetBase64URL, 48, `^[A-Za-z0-9_-]{48}$`},
		{CharsetHex, 31, `^[0-9a-f]{31}$`},
		{CharsetAlnum, 1, `^[A-Za-z0-9]$`},
	}
	for _, tt := range tests {
		t.Run(tt.charset, func(t *testing.T) {
			a, err := Generate(tt.length, tt.charset)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := Generate(tt.length, tt.charset)
			if !regexp.MustCompile(tt.pattern).Match(a) {
				t.Errorf("%q does not match %s", a, tt.pattern)
			}
			if tt.length > 8 && string(a) == string(b) {
				t.Error("two generated values are equal")
			}
		})
	}
	for _, bad := range []struct {
		length  int
		charset string
	}{{0, CharsetAlnum}, {5000, CharsetHex}, {8, "emoji"}} {
		if _, err := Generate(bad.length, bad.charset); err == nil {
			t.Errorf("Generate(%d, %q) did not fail", bad.length, bad.charset)
		}
	}
}

func TestRotationTarget(t *testing.T) {
	withTestKey(t)
	files := map[string]string{
		"compose.yml": `
services:
  a:
    image: x
    secrets: [db, {source: db, target: /etc/db2}, plain, env, ext]
  b:
    image: x
    secrets: [{source: db, target: other}]
    configs: [conf]
secrets:
  db: {file: {{sops}}/app.enc.yaml, x-sops: {key: db.password}}
  unused: {file: {{sops}}/app.enc.yaml, x-sops: {key: api_key}}
  plain: {file: ./plain.txt}
  env: {environment: HOME}
  ext: {external: true}
configs:
  conf: {content: x}
`,
		"plain.txt": "p",
	}
	dir := scenario(t, files)
	d := desiredForDir(t, dir, []string{"HOME=/root"})
	v, services, err := RotationTarget(d, "db")
	if err != nil {
		t.Fatal(err)
	}
	if v.Source.Key != "db" || strings.Join(services, ",") != "a,b" {
		t.Errorf("target %s, services %v", v.Source.Key, services)
	}
	for secret, want := range map[string]string{
		"nope":   "no secret nope",
		"ext":    "is external",
		"conf":   "is a config",
		"plain":  "plain file",
		"env":    "comes from environment",
		"unused": "no service uses secret unused",
	} {
		if _, _, err := RotationTarget(d, secret); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err = %v, want %q", secret, err, want)
		}
	}
}

func TestRestrict(t *testing.T) {
	live := swarm.Service{Spec: swarm.ServiceSpec{TaskTemplate: swarm.TaskSpec{ContainerSpec: &swarm.ContainerSpec{
		Image:   "app:1",
		Secrets: []*swarm.SecretReference{{SecretName: "s_pw.0123456789ab", SecretID: "old"}, {SecretName: "other", SecretID: "o"}},
	}}}}
	p := &Plan{
		Services: []ServiceChange{
			{Name: "s_a", Action: Update, live: &live, Diff: []FieldDiff{{Path: "TaskTemplate.ContainerSpec.Image", From: "app:1", To: "app:2"}}},
			{Name: "s_b", Action: Update},
			{Name: "s_c", Action: Unchanged},
		},
		Versions: []VersionChange{{Kind: "secret", Name: "x.1", Action: Create}, {Kind: "secret", Name: "s_pw.ba9876543210", Action: Create}},
	}
	state := &State{Stack: "s", Secrets: map[string]swarm.Secret{
		"s_pw.0123456789ab": {Spec: swarm.SecretSpec{Annotations: swarm.Annotations{Name: "s_pw.0123456789ab", Labels: map[string]string{LabelNamespace: "s", LabelName: "s_pw"}}}},
		// An external secret whose name looks like a version of s_pw.
		"s_pw.fedcba987654": {Spec: swarm.SecretSpec{Annotations: swarm.Annotations{Name: "s_pw.fedcba987654"}}},
	}}
	live.Spec.TaskTemplate.ContainerSpec.Secrets = append(live.Spec.TaskTemplate.ContainerSpec.Secrets, &swarm.SecretReference{SecretName: "s_pw.fedcba987654", SecretID: "ext"})
	p = restrict(p, []string{"s_a"}, map[string]string{"s_pw": "s_pw.ba9876543210"}, state)
	if len(p.Services) != 1 || p.Services[0].Name != "s_a" {
		t.Fatalf("services %v", p.Services)
	}
	spec := p.Services[0].spec
	if spec.TaskTemplate.ContainerSpec.Image != "app:1" {
		t.Error("the rotation ships the image change too")
	}
	if r := spec.TaskTemplate.ContainerSpec.Secrets[0]; r.SecretName != "s_pw.ba9876543210" || r.SecretID != placeholder+"s_pw.ba9876543210" {
		t.Errorf("rotated reference %+v", r)
	}
	if r := spec.TaskTemplate.ContainerSpec.Secrets[1]; r.SecretName != "other" {
		t.Errorf("another reference changed: %+v", r)
	}
	if r := spec.TaskTemplate.ContainerSpec.Secrets[2]; r.SecretName != "s_pw.fedcba987654" {
		t.Errorf("an external secret that looks like a version was swapped: %+v", r)
	}
	if p.Versions[0].Action != Unchanged || p.Versions[1].Action != Create {
		t.Errorf("versions %+v: only the new version is created", p.Versions)
	}
	all := strings.Join(p.Warnings, "\n")
	if !strings.Contains(all, "s_b has other pending changes") || !strings.Contains(all, "s_a has other pending changes (TaskTemplate.ContainerSpec.Image)") {
		t.Errorf("warnings %v", p.Warnings)
	}
}
