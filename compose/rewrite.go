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

// Mount is one service's reference to a secret or config.
type Mount struct {
	// Service is the compose service's name (without the stack prefix).
	Service string
	// Target is where the container reads it: the reference's target:,
	// or docker's default (the key under /run/secrets/ for a secret,
	// /<key> for a config).
	Target string
}

// Mounts are the services' references to the secret or config key.
func (p *Project) Mounts(kind Kind, key string) []Mount {
	var out []Mount
	for _, svc := range p.Config.Services {
		var refs []composetypes.FileReferenceConfig
		if kind == Secret {
			for _, r := range svc.Secrets {
				refs = append(refs, composetypes.FileReferenceConfig(r))
			}
		} else {
			for _, r := range svc.Configs {
				refs = append(refs, composetypes.FileReferenceConfig(r))
			}
		}
		for _, r := range refs {
			if r.Source != key {
				continue
			}
			m := Mount{Service: svc.Name, Target: r.Target}
			if m.Target == "" && kind == Config {
				m.Target = "/" + key
			} else if m.Target == "" {
				m.Target = key
			}
			out = append(out, m)
		}
	}
	return out
}

// ObjectNames are the stack's secrets or configs, key -> swarm name (a
// versioned one's is its version's, once UseVersions ran).
func (p *Project) ObjectNames(kind Kind) map[string]string {
	out := map[string]string{}
	if kind == Secret {
		for key, obj := range p.Config.Secrets {
			out[key] = orKey(obj.Name, key)
		}
	} else {
		for key, obj := range p.Config.Configs {
			out[key] = orKey(obj.Name, key)
		}
	}
	return out
}

func orKey(name, key string) string {
	if name == "" {
		return key
	}
	return name
}
