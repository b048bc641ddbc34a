package plan

import (
	"fmt"
	"slices"
	"strings"

	"github.com/moby/moby/api/types/swarm"
)

// Restrict narrows a plan to the given services, and to the versions
// they need: a rotation rolls only what uses the rotated secrets, and
// changes nothing else in them. Each service's update is its live spec
// with the references to the rotated secrets (swarm name -> new version)
// swapped; whatever else the compose files would change in it is named
// in a warning and left for `stackctl deploy`.
func Restrict(planned *Plan, services []string, rotated map[string]string, s *State) *Plan {
	p := *planned // a new plan: the deploy's stays as it was
	p.Warnings = slices.Clone(planned.Warnings)
	p.Networks = slices.Clone(planned.Networks)
	p.Versions = slices.Clone(planned.Versions)
	var kept []ServiceChange
	need := map[string]bool{}
	for _, sc := range p.Services {
		if !slices.Contains(services, sc.Name) {
			if sc.Action != Unchanged {
				p.Warnings = append(p.Warnings, fmt.Sprintf("service %s has other pending changes: left for `stackctl deploy`", sc.Name))
			}
			continue
		}
		if sc.Live == nil {
			p.Warnings = append(p.Warnings, fmt.Sprintf("service %s is not deployed: left for `stackctl deploy`, which creates it", sc.Name))
			continue
		}
		spec, swapped := swapSecrets(sc.Live.Spec, rotated, s)
		var others []string
		for _, d := range sc.Diff {
			if !strings.HasPrefix(d.Path, "TaskTemplate.ContainerSpec.Secrets") {
				others = append(others, d.Path)
			}
		}
		if len(others) > 0 {
			p.Warnings = append(p.Warnings, fmt.Sprintf("service %s has other pending changes (%s): only the secret rolls out; `stackctl deploy` ships the rest", sc.Name, strings.Join(others, ", ")))
		}
		sc.Spec, sc.Action, sc.Diff = spec, Unchanged, nil
		if swapped {
			sc.Action = Update
			sc.Diff = DiffSpecs(sc.Live.Spec, spec)
		} else {
			p.Warnings = append(p.Warnings, fmt.Sprintf("service %s does not mount a version of the rotated secret yet: left for `stackctl deploy`", sc.Name))
		}
		usedRefs(&sc.Spec, need)
		kept = append(kept, sc)
	}
	p.Services = kept
	for i := range p.Networks {
		p.Networks[i].Action = Unchanged // a rotation swaps secrets, nothing else
	}
	for i, v := range p.Versions {
		if v.Action == Create && !need[string(v.Kind)+"/"+v.Name] {
			p.Versions[i].Action = Unchanged
		}
	}
	return &p
}

// swapSecrets copies a live spec with every reference to a version of a
// rotated secret pointing at its new version. A version is a secret of
// the stack that stackctl made for that swarm name (its labels say so),
// never merely one whose name looks like <name>.<hash>: an external
// secret named db.rootpassword is not a version of db.
func swapSecrets(live swarm.ServiceSpec, rotated map[string]string, s *State) (swarm.ServiceSpec, bool) {
	spec := CopySpec(live)
	cs := spec.TaskTemplate.ContainerSpec
	if cs == nil {
		return spec, false
	}
	swapped := false
	for _, r := range cs.Secrets {
		x, ok := s.Secrets[r.SecretName]
		if !ok || x.Spec.Labels[LabelNamespace] != s.Stack {
			continue
		}
		if to, ok := rotated[x.Spec.Labels[LabelName]]; ok && r.SecretName != to {
			r.SecretName, r.SecretID = to, placeholder+to
			swapped = true
		}
	}
	return spec, swapped
}
