package compose

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sort"

	"github.com/docker/cli/cli/compose/convert"

	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
)

// Specs are the engine objects a stack needs, converted exactly as
// `docker stack deploy` converts them.
type Specs struct {
	// Networks to create when missing, by full name.
	Networks map[string]NetworkOptions
	// ExternalNetworks must exist before the deploy.
	ExternalNetworks []string
	// Services by full name (<stack>_<service>).
	Services map[string]swarm.ServiceSpec
}

// NetworkOptions are how docker's converter says to create a network
// (the engine client's create options, named here so that a package that
// plans with them needs no engine client).
type NetworkOptions = client.NetworkCreateOptions

// PendingID stands, in a converted spec, for the ID of a secret or config
// by name: converting reads no engine, so the plan puts in the real IDs
// (or, for versions it creates, apply does).
const PendingID = "stackctl-new:"

// Convert turns the project into engine specs with docker's own
// converter, so that every field maps the way docker stack deploy maps it.
// It is pure: secret and config IDs are PendingID+name.
func (p *Project) Convert(ctx context.Context) (*Specs, error) {
	cfg := p.Config
	specs := &Specs{}
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

	byShort, err := convert.Services(ctx, ns, cfg, pendingClient{})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p.where(), explainConvert(err))
	}
	specs.Services = make(map[string]swarm.ServiceSpec, len(byShort))
	for short, spec := range byShort {
		specs.Services[ns.Scope(short)] = spec
	}
	return specs, nil
}

// explainConvert says what to do about what docker's converter rejects.
func explainConvert(err error) error {
	msg := err.Error()
	if m := undefinedRef.FindStringSubmatch(msg); m != nil {
		return fmt.Errorf("services.%s: refers to undefined %s %s: define %s under the top-level %ss:, or fix the reference", m[1], m[2], m[3], m[3], m[2])
	}
	return errors.New(oneLine(msg))
}

// docker's converter: `service web: undefined secret "api_token"`
var undefinedRef = regexp.MustCompile(`^service ([^:]*): undefined (secret|config|network) "([^"]*)"$`)

// pendingClient answers the calls docker's converter makes for secret
// and config IDs with PendingID+name, so that converting needs no engine.
type pendingClient struct {
	client.APIClient // nil: any other call panics, which a test would catch
}

func (pendingClient) SecretList(_ context.Context, opts client.SecretListOptions) (client.SecretListResult, error) {
	var out client.SecretListResult
	for name := range opts.Filters["name"] {
		out.Items = append(out.Items, swarm.Secret{ID: PendingID + name, Spec: swarm.SecretSpec{Annotations: swarm.Annotations{Name: name}}})
	}
	return out, nil
}

func (pendingClient) ConfigList(_ context.Context, opts client.ConfigListOptions) (client.ConfigListResult, error) {
	var out client.ConfigListResult
	for name := range opts.Filters["name"] {
		out.Items = append(out.Items, swarm.Config{ID: PendingID + name, Spec: swarm.ConfigSpec{Annotations: swarm.Annotations{Name: name}}})
	}
	return out, nil
}
