package compose

import composetypes "github.com/docker/cli/cli/compose/types"

// UseVersions points the stack at versioned objects: each named secret or
// config becomes external under its version name, and every service
// reference to it gets an explicit target equal to the one docker stack
// deploy would have used (the source's key), so the container still reads
// the same path.
func (p *Project) UseVersions(names map[Kind]map[string]string) {
	cfg := p.Config
	for key, name := range names[Secret] {
		cfg.Secrets[key] = composetypes.SecretConfig{Name: name, External: composetypes.External{External: true}}
	}
	for key, name := range names[Config] {
		cfg.Configs[key] = composetypes.ConfigObjConfig{Name: name, External: composetypes.External{External: true}}
	}
	for i := range cfg.Services {
		svc := &cfg.Services[i]
		for j, ref := range svc.Secrets {
			if _, ok := names[Secret][ref.Source]; ok && ref.Target == "" {
				svc.Secrets[j].Target = ref.Source
			}
		}
		for j, ref := range svc.Configs {
			if _, ok := names[Config][ref.Source]; ok && ref.Target == "" {
				svc.Configs[j].Target = ref.Source
			}
		}
	}
}
