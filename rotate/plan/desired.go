package plan

import "github.com/stackctl/stackctl/compose"

// Desired is what a stack should look like: the rewritten project and the
// versions its services now refer to. Nothing in it has touched an engine.
type Desired struct {
	Project  *compose.Project
	Versions []Version
	// Specs are the engine specs, converted once from Project; secret and
	// config IDs in them are compose.PendingID+name until a plan fills them.
	Specs *compose.Specs
	// Warnings are for stderr; they never hold a value.
	Warnings []string
	// Provenance names who makes the deploy (LabelCreatedBy, LabelCI*):
	// labels on every version it creates.
	Provenance map[string]string
}

// UseVersion points every reference to one secret or config at another
// version (a rotation's new one), in the project and in the specs.
func (d *Desired) UseVersion(kind compose.Kind, key, from, to string) {
	d.Project.UseVersions(map[compose.Kind]map[string]string{kind: {key: to}})
	for name, spec := range d.Specs.Services {
		cs := spec.TaskTemplate.ContainerSpec
		if cs == nil {
			continue
		}
		for _, r := range cs.Secrets {
			if kind == compose.Secret && r.SecretName == from {
				r.SecretName, r.SecretID = to, compose.PendingID+to
			}
		}
		for _, r := range cs.Configs {
			if kind == compose.Config && r.ConfigName == from {
				r.ConfigName, r.ConfigID = to, compose.PendingID+to
			}
		}
		d.Specs.Services[name] = spec
	}
}
