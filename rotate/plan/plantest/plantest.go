// Package plantest builds, for tests, the desired stack of a few compose
// files and the state an engine would hold once it is deployed, without
// SOPS and without an engine: values are read as plain files.
package plantest

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/api/types/swarm"

	"github.com/stackctl/stackctl/compose"
	"github.com/stackctl/stackctl/rotate/plan"
	"github.com/stackctl/stackctl/sopsbridge"
)

// Compose is a stack of two services, one of which mounts secret pw
// from pw.txt.
const Compose = `
services:
  web:
    image: example/web:1
    deploy: {replicas: 2, update_config: {monitor: 1s}}
    secrets: [pw]
  other:
    image: example/other:1
secrets:
  pw: {file: ./pw.txt}
`

// Stack is the stack every desired stack here is deployed as.
const Stack = "shop"

// Scenario writes files (name -> content) into a new temporary folder.
func Scenario(t testing.TB, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// Desired is the desired stack of files, whose compose file is compose.yml.
func Desired(t testing.TB, files map[string]string) *plan.Desired {
	t.Helper()
	return DesiredIn(t, Scenario(t, files), nil)
}

// DesiredIn loads dir/compose.yml with env and names its versions as
// Prepare does for unencrypted values.
func DesiredIn(t testing.TB, dir string, env []string) *plan.Desired {
	t.Helper()
	ctx := context.Background()
	p, err := compose.Load(ctx, compose.Options{Files: []string{filepath.Join(dir, "compose.yml")}, Stack: Stack, Env: env})
	if err != nil {
		t.Fatal(err)
	}
	srcs, _, err := p.Sources(false)
	if err != nil {
		t.Fatal(err)
	}
	d := &plan.Desired{Project: p}
	names := map[compose.Kind]map[string]string{compose.Secret: {}, compose.Config: {}}
	for _, src := range srcs {
		data := src.Inline
		if src.Origin == compose.FromFile {
			if data, err = os.ReadFile(src.File); err != nil {
				t.Fatal(err)
			}
		}
		v := plan.NameVersion(Stack, src, sopsbridge.Value{Data: data})
		d.Versions = append(d.Versions, v)
		names[src.Kind][src.Key] = v.Name
	}
	p.UseVersions(names)
	if d.Specs, err = p.Convert(ctx); err != nil {
		t.Fatal(err)
	}
	return d
}

// EmptyState is a swarm that holds nothing.
func EmptyState() *plan.State {
	return &plan.State{Stack: Stack, Networks: map[string]network.Summary{}, Secrets: map[string]swarm.Secret{}, Configs: map[string]swarm.Config{}}
}

// Applied is the state an engine would hold once d is deployed on an
// empty swarm: IDs are "net-", "id-" and "svc-" and the name.
func Applied(t testing.TB, d *plan.Desired) *plan.State {
	t.Helper()
	return AppliedTo(t, d, EmptyState())
}

// AppliedTo is s once d is deployed on it (s is changed).
func AppliedTo(t testing.TB, d *plan.Desired, s *plan.State) *plan.State {
	t.Helper()
	p, err := plan.MakePlan(d, s, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range p.Networks {
		s.Networks[n.Name] = network.Summary{Network: network.Network{Name: n.Name, ID: "net-" + n.Name, Scope: "swarm", Labels: map[string]string{plan.LabelNamespace: Stack}}}
	}
	for _, v := range p.Versions {
		labels := map[string]string{plan.LabelNamespace: Stack, plan.LabelName: v.Version.Source.Name}
		s.Secrets[v.Name] = swarm.Secret{ID: "id-" + v.Name, Spec: swarm.SecretSpec{Annotations: swarm.Annotations{Name: v.Name, Labels: labels}}}
	}
	for _, sc := range p.Services {
		spec := plan.CopySpec(sc.Spec)
		if cs := spec.TaskTemplate.ContainerSpec; cs != nil {
			for _, r := range cs.Secrets {
				if name, ok := strings.CutPrefix(r.SecretID, compose.PendingID); ok {
					r.SecretID = "id-" + name
				}
			}
		}
		s.Services = append(s.Services, swarm.Service{ID: "svc-" + sc.Name, Spec: plan.Normalize(spec, s)})
	}
	return s
}
