package compose

import (
	"context"
	"errors"
	"fmt"
	"sort"

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

// Convert turns the project into engine specs field for field as docker
// stack deploy does (swarmspec.go says how). It is pure: secret and
// config IDs are PendingID+name, and the project is left as it was.
func (p *Project) Convert(_ context.Context) (*Specs, error) {
	cfg := p.Config
	ns := stackNS(p.Stack)
	serviceNetworks := map[string]struct{}{}
	for _, svc := range cfg.Services {
		if len(svc.Networks) == 0 {
			serviceNetworks[defaultNetwork] = struct{}{}
		}
		for n := range svc.Networks {
			serviceNetworks[n] = struct{}{}
		}
	}
	specs := &Specs{}
	specs.Networks, specs.ExternalNetworks = ns.networks(cfg.Networks, serviceNetworks)
	for name, opts := range specs.Networks {
		if opts.Driver == "" {
			opts.Driver = "overlay" // as docker stack deploy does
			specs.Networks[name] = opts
		}
	}
	sort.Strings(specs.ExternalNetworks)

	services, err := ns.services(cfg)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p.where(), explainConvert(err))
	}
	specs.Services = services
	return specs, nil
}

// explainConvert says what to do about a service that does not convert.
func explainConvert(err error) error {
	var svc *serviceError
	var undef *undefinedError
	if errors.As(err, &svc) && errors.As(err, &undef) && undef.kind != "volume" {
		return fmt.Errorf("services.%s: refers to undefined %s %s: define %s under the top-level %ss:, or fix the reference", svc.service, undef.kind, undef.name, undef.name, undef.kind)
	}
	return errors.New(oneLine(err.Error()))
}
