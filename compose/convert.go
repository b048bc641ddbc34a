package compose

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/docker/cli/cli/compose/convert"
	dockerloader "github.com/docker/cli/cli/compose/loader"
	composetypes "github.com/docker/cli/cli/compose/types"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/swarm"
	"github.com/docker/docker/client"
)

// Specs are the engine objects a stack needs, converted exactly as
// `docker stack deploy` converts them.
type Specs struct {
	// Networks to create when missing, by full name.
	Networks map[string]network.CreateOptions
	// ExternalNetworks must exist before the deploy.
	ExternalNetworks []string
	// Services by full name (<stack>_<service>).
	Services map[string]swarm.ServiceSpec
	// Warnings are what docker stack deploy would print about ignored options.
	Warnings []string
}

// IDs resolves a secret or config name to its ID. A version that does not
// exist yet may resolve to a placeholder that the caller replaces later.
type IDs func(kind Kind, name string) (id string, ok bool)

// Convert turns the project, as rendered, into engine specs with docker's
// own loader and converter, so that every field maps the way docker stack
// deploy maps it, and what docker rejects is rejected the same way.
func (p *Project) Convert(ctx context.Context, apiVersion string, ids IDs) (*Specs, error) {
	rendered, err := p.Render()
	if err != nil {
		return nil, err
	}
	dict, err := dockerloader.ParseYAML(rendered)
	if err != nil {
		return nil, fmt.Errorf("convert: %w", err)
	}
	cfg, err := dockerloader.Load(composetypes.ConfigDetails{
		WorkingDir:  p.WorkingDir,
		ConfigFiles: []composetypes.ConfigFile{{Filename: strings.Join(p.Files, ", "), Config: dict}},
		Environment: map[string]string{},
	}, func(o *dockerloader.Options) { o.SkipInterpolation = true })
	if err != nil {
		var fpe *dockerloader.ForbiddenPropertiesError
		if errors.As(err, &fpe) {
			return nil, fmt.Errorf("%s: compose file contains options docker stack deploy does not support: %s", strings.Join(p.Files, ", "), describeProperties(fpe.Properties))
		}
		return nil, fmt.Errorf("%s: docker stack deploy would reject this file: %w", strings.Join(p.Files, ", "), err)
	}
	specs := &Specs{}
	if u := dockerloader.GetUnsupportedProperties(dict); len(u) > 0 {
		specs.Warnings = append(specs.Warnings, "ignoring options swarm does not support: "+strings.Join(u, ", "))
	}
	if d := dockerloader.GetDeprecatedProperties(dict); len(d) > 0 {
		specs.Warnings = append(specs.Warnings, "ignoring deprecated options: "+describeProperties(d))
	}
	for _, svc := range cfg.Services {
		if svc.Image == "" {
			return nil, fmt.Errorf("%s: services.%s: no image: set image: (swarm cannot build images)", strings.Join(p.Files, ", "), svc.Name)
		}
		// Load has checked the image references.
	}

	ns := convert.NewNamespace(p.Stack)
	serviceNetworks := map[string]struct{}{}
	for _, svc := range cfg.Services {
		if len(svc.Networks) == 0 {
			serviceNetworks["default"] = struct{}{}
		}
		for n := range svc.Networks {
			serviceNetworks[n] = struct{}{}
		}
	}
	specs.Networks, specs.ExternalNetworks = convert.Networks(ns, cfg.Networks, serviceNetworks)
	for name, opts := range specs.Networks {
		if opts.Driver == "" {
			opts.Driver = "overlay" // as docker stack deploy does
			specs.Networks[name] = opts
		}
	}
	sort.Strings(specs.ExternalNetworks)

	byShort, err := convert.Services(ctx, ns, cfg, lookupClient{ids: ids, version: apiVersion})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", strings.Join(p.Files, ", "), err)
	}
	specs.Services = make(map[string]swarm.ServiceSpec, len(byShort))
	for short, spec := range byShort {
		specs.Services[ns.Scope(short)] = spec
	}
	return specs, nil
}

func describeProperties(props map[string]string) string {
	var out []string
	for _, k := range SortedKeys(props) {
		out = append(out, k+" ("+props[k]+")")
	}
	return strings.Join(out, "; ")
}

// lookupClient answers the few calls docker's converter makes, from IDs
// known in advance, so that converting needs no engine.
type lookupClient struct {
	client.APIClient // nil: any other call panics, which a test would catch
	ids              IDs
	version          string
}

func (c lookupClient) ClientVersion() string { return c.version }

func (c lookupClient) SecretList(_ context.Context, opts swarm.SecretListOptions) ([]swarm.Secret, error) {
	var out []swarm.Secret
	var missing []string
	for _, name := range opts.Filters.Get("name") {
		id, ok := c.ids(Secret, name)
		if !ok {
			missing = append(missing, name)
			continue
		}
		out = append(out, swarm.Secret{ID: id, Spec: swarm.SecretSpec{Annotations: swarm.Annotations{Name: name}}})
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return nil, fmt.Errorf("external secret not found: %s: create it with docker secret create, or define it in the compose file", strings.Join(missing, ", "))
	}
	return out, nil
}

func (c lookupClient) ConfigList(_ context.Context, opts swarm.ConfigListOptions) ([]swarm.Config, error) {
	var out []swarm.Config
	var missing []string
	for _, name := range opts.Filters.Get("name") {
		id, ok := c.ids(Config, name)
		if !ok {
			missing = append(missing, name)
			continue
		}
		out = append(out, swarm.Config{ID: id, Spec: swarm.ConfigSpec{Annotations: swarm.Annotations{Name: name}}})
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return nil, fmt.Errorf("external config not found: %s: create it with docker config create, or define it in the compose file", strings.Join(missing, ", "))
	}
	return out, nil
}
