package compose

// This file and swarmspec_*.go turn a loaded project into the specs
// `docker stack deploy` sends to the engine. They follow docker/cli v29's
// converter (cli/compose/convert: compose.go, service.go, volume.go, and
// the two lookups it borrows from cli/command/service/parse.go) rule for
// rule, so that a stack deployed by stackctl is the stack docker would
// deploy; each rule names the docker function it comes from. stackctl has
// its own because docker's converter imports docker/cli's command
// packages, and with them half of docker's command line, for those two
// lookups. swarmspec_oracle_test.go converts every compose file of
// testdata/ and examples/ with both and requires equal results.

import (
	"cmp"
	"fmt"
	"maps"
	"net/netip"
	"os"
	"slices"

	composetypes "github.com/docker/cli/cli/compose/types"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/api/types/swarm"
)

// The labels docker stack deploy puts on what it creates (docker's
// convert.LabelNamespace and convert.LabelImage).
const (
	labelNamespace = "com.docker.stack.namespace"
	labelImage     = "com.docker.stack.image"
)

// defaultNetwork is the network a service without networks: joins.
const defaultNetwork = "default"

// stackNS names a stack's objects as docker's convert.Namespace does.
type stackNS string

// scope is the engine name of the stack's object key: "<stack>_<key>".
func (ns stackNS) scope(key string) string { return string(ns) + "_" + key }

// named is an object's engine name: its name: when set, else the scoped key.
func (ns stackNS) named(key, name string) string {
	if name != "" {
		return name
	}
	return ns.scope(key)
}

// labeled is labels plus the stack's label (docker's addStackLabel).
// docker writes the label into the compose file's own map; a new map
// gives the same result and leaves the project as it was loaded.
func (ns stackNS) labeled(labels map[string]string) map[string]string {
	out := make(map[string]string, len(labels)+1)
	maps.Copy(out, labels)
	out[labelNamespace] = string(ns)
	return out
}

// networks are the networks the services use, as docker's
// convert.Networks makes them: create options by engine name for the
// stack's own, and the engine names of the external ones, unsorted.
// A used key the file does not define (only "default" gets this far)
// is created with no options.
func (ns stackNS) networks(defined map[string]composetypes.NetworkConfig, used map[string]struct{}) (map[string]NetworkOptions, []string) {
	created := map[string]NetworkOptions{}
	external := []string{}
	for key := range used {
		nw := defined[key]
		if nw.External.External {
			external = append(external, nw.Name)
			continue
		}
		created[ns.named(key, nw.Name)] = NetworkOptions{
			Labels:     ns.labeled(nw.Labels),
			Driver:     nw.Driver,
			Options:    nw.DriverOpts,
			Internal:   nw.Internal,
			Attachable: nw.Attachable,
			IPAM:       networkIPAM(nw.Ipam),
		}
	}
	return created, external
}

// networkIPAM is a network's ipam:, nil when it sets nothing. docker
// keeps only each pool's subnet, and a subnet that does not parse as the
// zero prefix (convert.Networks ignores the parse error; the loader's
// schema has checked the format).
func networkIPAM(c composetypes.IPAMConfig) *network.IPAM {
	if c.Driver == "" && len(c.Config) == 0 {
		return nil
	}
	ipam := &network.IPAM{Driver: c.Driver}
	for _, pool := range c.Config {
		subnet, _ := netip.ParsePrefix(pool.Subnet)
		ipam.Config = append(ipam.Config, network.IPAMConfig{Subnet: subnet})
	}
	return ipam
}

// services converts every service, by engine name, as docker's
// convert.Services does: in the file's order, stopping at the first
// service that does not convert.
func (ns stackNS) services(cfg *composetypes.Config) (map[string]swarm.ServiceSpec, error) {
	out := make(map[string]swarm.ServiceSpec, len(cfg.Services))
	for _, svc := range cfg.Services {
		spec, err := ns.service(svc, cfg)
		if err != nil {
			return nil, &serviceError{service: svc.Name, err: err}
		}
		out[ns.scope(svc.Name)] = spec
	}
	return out, nil
}

// attachments are the service's networks (docker's convertServiceNetworks):
// "default" when it lists none, each by engine name, with the service's
// name added to the aliases of every user-defined network, sorted by name.
func (ns stackNS) attachments(service string, joined map[string]*composetypes.ServiceNetworkConfig, defined map[string]composetypes.NetworkConfig) ([]swarm.NetworkAttachmentConfig, error) {
	if len(joined) == 0 {
		joined = map[string]*composetypes.ServiceNetworkConfig{defaultNetwork: nil}
	}
	type keyed struct {
		key string
		swarm.NetworkAttachmentConfig
	}
	all := make([]keyed, 0, len(joined))
	for key, opts := range joined {
		nw, ok := defined[key]
		if !ok && key != defaultNetwork {
			return nil, &undefinedError{kind: "network", name: key}
		}
		a := swarm.NetworkAttachmentConfig{Target: ns.named(key, nw.Name)}
		if opts != nil {
			a.Aliases, a.DriverOpts = opts.Aliases, opts.DriverOpts
		}
		// Only user-defined networks take aliases (host, bridge, none do not).
		if container.NetworkMode(a.Target).IsUserDefined() {
			a.Aliases = append(a.Aliases, service)
		}
		all = append(all, keyed{key, a})
	}
	// docker sorts by target alone; two keys naming one network keep key order here.
	slices.SortFunc(all, func(a, b keyed) int { return cmp.Or(cmp.Compare(a.Target, b.Target), cmp.Compare(a.key, b.key)) })
	out := make([]swarm.NetworkAttachmentConfig, len(all))
	for i, a := range all {
		out[i] = a.NetworkAttachmentConfig
	}
	return out, nil
}

// fileTarget is where a service reads a secret or config, with docker's
// defaults (convertFileObject): the key as file name, root's uid and gid,
// mode 0444.
func fileTarget(ref composetypes.FileReferenceConfig) swarm.SecretReferenceFileTarget {
	t := swarm.SecretReferenceFileTarget{Name: ref.Target, UID: ref.UID, GID: ref.GID, Mode: 0o444}
	if t.Name == "" {
		t.Name = ref.Source
	}
	if t.UID == "" {
		t.UID = "0"
	}
	if t.GID == "" {
		t.GID = "0"
	}
	if ref.Mode != nil {
		t.Mode = os.FileMode(*ref.Mode)
	}
	return t
}

// secretRefs are the service's secrets (docker's convertServiceSecrets,
// then ParseSecrets): every key defined, no two at one target, each with
// the ID PendingID+name, sorted by name (then target: docker leaves a
// secret read at two targets in map order).
func (ns stackNS) secretRefs(refs []composetypes.ServiceSecretConfig, defined map[string]composetypes.SecretConfig) ([]*swarm.SecretReference, error) {
	out := make([]*swarm.SecretReference, 0, len(refs))
	for _, ref := range refs {
		obj, ok := defined[ref.Source]
		if !ok {
			return nil, &undefinedError{kind: "secret", name: ref.Source}
		}
		file := fileTarget(composetypes.FileReferenceConfig(ref))
		out = append(out, &swarm.SecretReference{File: &file, SecretName: ns.named(ref.Source, obj.Name)})
	}
	seen := map[string]bool{}
	for _, r := range out {
		if seen[r.File.Name] {
			return nil, fmt.Errorf("duplicate secret target for %s not allowed", r.SecretName)
		}
		seen[r.File.Name] = true
		r.SecretID = PendingID + r.SecretName
	}
	slices.SortFunc(out, func(a, b *swarm.SecretReference) int {
		return cmp.Or(cmp.Compare(a.SecretName, b.SecretName), cmp.Compare(a.File.Name, b.File.Name))
	})
	return out, nil
}

// configRefs are the service's configs (docker's convertServiceConfigObjs,
// then ParseConfigs): the file ones as secrets are, plus, when the
// credential_spec names a config, that config as a runtime reference
// (no file, not checked against the file targets). Sorted by name; for
// one name, file references by target before the runtime one.
func (ns stackNS) configRefs(svc composetypes.ServiceConfig, defined map[string]composetypes.ConfigObjConfig) ([]*swarm.ConfigReference, error) {
	out := make([]*swarm.ConfigReference, 0, len(svc.Configs)+1)
	for _, ref := range svc.Configs {
		obj, ok := defined[ref.Source]
		if !ok {
			return nil, &undefinedError{kind: "config", name: ref.Source}
		}
		file := swarm.ConfigReferenceFileTarget(fileTarget(composetypes.FileReferenceConfig(ref)))
		out = append(out, &swarm.ConfigReference{File: &file, ConfigName: ns.named(ref.Source, obj.Name)})
	}
	if key := svc.CredentialSpec.Config; key != "" {
		obj, ok := defined[key]
		if !ok {
			return nil, &undefinedError{kind: "config", name: key}
		}
		out = append(out, &swarm.ConfigReference{Runtime: &swarm.ConfigReferenceRuntimeTarget{}, ConfigName: ns.named(key, obj.Name)})
	}
	seen := map[string]bool{}
	for _, r := range out {
		if r.File != nil && seen[r.File.Name] {
			return nil, fmt.Errorf("duplicate config target for %s not allowed", r.ConfigName)
		}
		if r.File != nil {
			seen[r.File.Name] = true
		}
		r.ConfigID = PendingID + r.ConfigName
	}
	slices.SortFunc(out, func(a, b *swarm.ConfigReference) int {
		return cmp.Or(cmp.Compare(a.ConfigName, b.ConfigName), cmp.Compare(btoi(a.File == nil), btoi(b.File == nil)), cmp.Compare(configTarget(a), configTarget(b)))
	})
	return out, nil
}

func configTarget(r *swarm.ConfigReference) string {
	if r.File == nil {
		return ""
	}
	return r.File.Name
}

// undefinedError is a service's reference to a secret, config, network
// or volume the files do not define, in docker's converter's words.
type undefinedError struct{ kind, name string }

func (e *undefinedError) Error() string { return fmt.Sprintf("undefined %s %q", e.kind, e.name) }

// serviceError is why a service does not convert, named as docker's
// converter names it.
type serviceError struct {
	service string
	err     error
}

func (e *serviceError) Error() string { return "service " + e.service + ": " + e.err.Error() }
func (e *serviceError) Unwrap() error { return e.err }
