package compose

import "github.com/compose-spec/compose-go/v2/types"

// UseVersions points the stack at versioned objects: each named secret or
// config becomes external under its version name, and every service
// reference to it gets an explicit target equal to the one docker stack
// deploy would have used, so the container still reads the same path.
func (p *Project) UseVersions(names map[Kind]map[string]string) {
	for key, name := range names[Secret] {
		p.Secrets[key] = types.SecretConfig{Name: name, External: true}
	}
	for key, name := range names[Config] {
		p.Configs[key] = types.ConfigObjConfig{Name: name, External: true}
	}
	for sname, svc := range p.Services {
		for i, ref := range svc.Secrets {
			if _, ok := names[Secret][ref.Source]; ok && ref.Target == "" {
				svc.Secrets[i].Target = ref.Source
			}
		}
		for i, ref := range svc.Configs {
			if _, ok := names[Config][ref.Source]; ok && ref.Target == "" {
				svc.Configs[i].Target = ref.Source
			}
		}
		p.Services[sname] = svc
	}
}
