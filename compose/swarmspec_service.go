package compose

import (
	"cmp"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	composetypes "github.com/docker/cli/cli/compose/types"
	"github.com/docker/cli/opts"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/api/types/swarm"
)

// service is one service's spec, as docker's convert.Service builds it.
// The steps that can fail run in docker's order, so that a service with
// several faults reports the one docker reports.
func (ns stackNS) service(svc composetypes.ServiceConfig, cfg *composetypes.Config) (swarm.ServiceSpec, error) {
	secrets, err := ns.secretRefs(svc.Secrets, cfg.Secrets)
	if err != nil {
		return swarm.ServiceSpec{}, err
	}
	configs, err := ns.configRefs(svc, cfg.Configs)
	if err != nil {
		return swarm.ServiceSpec{}, err
	}
	mode, err := serviceMode(svc.Deploy.Mode, svc.Deploy.Replicas)
	if err != nil {
		return swarm.ServiceSpec{}, err
	}
	task, err := ns.taskSpec(svc, cfg, secrets, configs)
	if err != nil {
		return swarm.ServiceSpec{}, err
	}
	labels := ns.labeled(svc.Deploy.Labels)
	labels[labelImage] = svc.Image // what the file asked for, before any digest is pinned
	return swarm.ServiceSpec{
		Annotations:    swarm.Annotations{Name: ns.scope(svc.Name), Labels: labels},
		TaskTemplate:   task,
		Mode:           mode,
		EndpointSpec:   endpointSpec(svc.Deploy.EndpointMode, svc.Ports),
		UpdateConfig:   updateConfig(svc.Deploy.UpdateConfig),
		RollbackConfig: updateConfig(svc.Deploy.RollbackConfig),
	}, nil
}

// taskSpec is what each task of the service runs, and where and how.
func (ns stackNS) taskSpec(svc composetypes.ServiceConfig, cfg *composetypes.Config, secrets []*swarm.SecretReference, configs []*swarm.ConfigReference) (swarm.TaskSpec, error) {
	mounts, err := ns.mounts(svc.Volumes, cfg.Volumes)
	if err != nil {
		return swarm.TaskSpec{}, err
	}
	res, err := resources(svc.Deploy.Resources)
	if err != nil {
		return swarm.TaskSpec{}, err
	}
	restart, err := restartPolicy(svc.Restart, svc.Deploy.RestartPolicy)
	if err != nil {
		return swarm.TaskSpec{}, err
	}
	health, err := healthConfig(svc.HealthCheck)
	if err != nil {
		return swarm.TaskSpec{}, err
	}
	nets, err := ns.attachments(svc.Name, svc.Networks, cfg.Networks)
	if err != nil {
		return swarm.TaskSpec{}, err
	}
	credSpec, err := ns.credentialSpec(svc.CredentialSpec, configs)
	if err != nil {
		return swarm.TaskSpec{}, err
	}
	c := ns.containerSpec(svc)
	c.Mounts, c.Healthcheck, c.Secrets, c.Configs = mounts, health, secrets, configs
	c.Privileges = &swarm.Privileges{CredentialSpec: credSpec}
	task := swarm.TaskSpec{
		ContainerSpec: c,
		Resources:     res,
		RestartPolicy: restart,
		Placement:     placement(svc.Deploy.Placement),
		Networks:      nets,
	}
	if svc.Logging != nil {
		task.LogDriver = &swarm.Driver{Name: svc.Logging.Driver, Options: svc.Logging.Options}
	}
	return task, nil
}

// containerSpec holds the fields that are the service's own keys, taken
// as they are or in docker's notation; taskSpec adds the rest.
func (ns stackNS) containerSpec(svc composetypes.ServiceConfig) *swarm.ContainerSpec {
	// docker/cli's opts: "ALL" wins, names are normalized to CAP_..., a drop
	// of what is added is dropped from the drops.
	capAdd, capDrop := opts.EffectiveCapAddCapDrop(svc.CapAdd, svc.CapDrop)
	return &swarm.ContainerSpec{
		Image:           svc.Image,
		Command:         svc.Entrypoint,
		Args:            svc.Command,
		Hostname:        svc.Hostname,
		Hosts:           hostsEntries(svc.ExtraHosts),
		DNSConfig:       dnsConfig(svc.DNS, svc.DNSSearch),
		Env:             envList(svc.Environment),
		Labels:          ns.labeled(svc.Labels),
		Dir:             svc.WorkingDir,
		User:            svc.User,
		StopGracePeriod: composetypes.ConvertDurationPtr(svc.StopGracePeriod),
		StopSignal:      svc.StopSignal,
		TTY:             svc.Tty,
		OpenStdin:       svc.StdinOpen,
		ReadOnly:        svc.ReadOnly,
		Isolation:       container.Isolation(svc.Isolation),
		Init:            svc.Init,
		Sysctls:         svc.Sysctls,
		CapabilityAdd:   capAdd,
		CapabilityDrop:  capDrop,
		Ulimits:         ulimits(svc.Ulimits),
		OomScoreAdj:     svc.OomScoreAdj,
	}
}

// serviceMode is deploy.mode with deploy.replicas (docker's
// convertDeployMode): a job's replicas are both its concurrency and its
// number of completions; the global modes take no replicas.
func serviceMode(mode string, replicas *uint64) (swarm.ServiceMode, error) {
	switch mode {
	case "replicated", "":
		return swarm.ServiceMode{Replicated: &swarm.ReplicatedService{Replicas: replicas}}, nil
	case "replicated-job":
		return swarm.ServiceMode{ReplicatedJob: &swarm.ReplicatedJob{MaxConcurrent: replicas, TotalCompletions: replicas}}, nil
	case "global", "global-job":
		if replicas != nil {
			return swarm.ServiceMode{}, errors.New("replicas can only be used with replicated or replicated-job mode")
		}
		if mode == "global" {
			return swarm.ServiceMode{Global: &swarm.GlobalService{}}, nil
		}
		return swarm.ServiceMode{GlobalJob: &swarm.GlobalJob{}}, nil
	}
	return swarm.ServiceMode{}, fmt.Errorf("unknown mode: %s", mode)
}

// endpointSpec is deploy.endpoint_mode, lowercased, with the ports in
// the engine's order (docker's convertEndpointSpec sorts them with
// swarm.PortConfig.Compare: published, target, protocol, mode). It is
// never nil, even with no ports.
func endpointSpec(mode string, ports []composetypes.ServicePortConfig) *swarm.EndpointSpec {
	out := make([]swarm.PortConfig, 0, len(ports))
	for _, p := range ports {
		out = append(out, swarm.PortConfig{
			Protocol:      network.IPProtocol(p.Protocol),
			TargetPort:    p.Target,
			PublishedPort: p.Published,
			PublishMode:   swarm.PortConfigPublishMode(p.Mode),
		})
	}
	slices.SortFunc(out, swarm.PortConfig.Compare)
	return &swarm.EndpointSpec{Mode: swarm.ResolutionMode(strings.ToLower(mode)), Ports: out}
}

// updateConfig is update_config or rollback_config (docker's
// convertUpdateConfig): parallelism defaults to 1, not to swarm's 0 (all
// at once).
func updateConfig(c *composetypes.UpdateConfig) *swarm.UpdateConfig {
	if c == nil {
		return nil
	}
	parallelism := uint64(1)
	if c.Parallelism != nil {
		parallelism = *c.Parallelism
	}
	return &swarm.UpdateConfig{
		Parallelism:     parallelism,
		Delay:           time.Duration(c.Delay),
		FailureAction:   swarm.FailureAction(c.FailureAction),
		Monitor:         time.Duration(c.Monitor),
		MaxFailureRatio: c.MaxFailureRatio,
		Order:           swarm.UpdateOrder(c.Order),
	}
}

// resources are deploy.resources (docker's convertResources); cpus is
// parsed as docker's --cpus is. Never nil, even when empty.
func resources(r composetypes.Resources) (*swarm.ResourceRequirements, error) {
	out := &swarm.ResourceRequirements{}
	if l := r.Limits; l != nil {
		cpus, err := nanoCPUs(l.NanoCPUs)
		if err != nil {
			return nil, err
		}
		out.Limits = &swarm.Limit{NanoCPUs: cpus, MemoryBytes: int64(l.MemoryBytes), Pids: l.Pids}
	}
	if rs := r.Reservations; rs != nil {
		cpus, err := nanoCPUs(rs.NanoCPUs)
		if err != nil {
			return nil, err
		}
		var generic []swarm.GenericResource
		for _, g := range rs.GenericResources {
			var res swarm.GenericResource // docker keeps an entry without a discrete spec, empty
			if d := g.DiscreteResourceSpec; d != nil {
				res.DiscreteResourceSpec = &swarm.DiscreteGenericResource{Kind: d.Kind, Value: d.Value}
			}
			generic = append(generic, res)
		}
		out.Reservations = &swarm.Resources{NanoCPUs: cpus, MemoryBytes: int64(rs.MemoryBytes), GenericResources: generic}
	}
	return out, nil
}

func nanoCPUs(v string) (int64, error) {
	if v == "" {
		return 0, nil
	}
	return opts.ParseCPUs(v)
}

// restartPolicy is deploy.restart_policy when set, else the service's
// restart: read as docker run's --restart (docker's convertRestartPolicy):
// "no" is no policy, always and unless-stopped restart on any exit.
func restartPolicy(restart string, p *composetypes.RestartPolicy) (*swarm.RestartPolicy, error) {
	if p != nil {
		return &swarm.RestartPolicy{
			Condition:   swarm.RestartPolicyCondition(p.Condition),
			Delay:       composetypes.ConvertDurationPtr(p.Delay),
			MaxAttempts: p.MaxAttempts,
			Window:      composetypes.ConvertDurationPtr(p.Window),
		}, nil
	}
	if restart == "" {
		return nil, nil
	}
	policy, err := opts.ParseRestartPolicy(restart)
	if err != nil {
		return nil, err
	}
	if policy.MaximumRetryCount < 0 {
		return nil, errors.New("invalid restart policy: maximum retry count cannot be negative")
	}
	var attempts *uint64 // on-failure:N; 0 means no limit
	if policy.MaximumRetryCount > 0 {
		attempts = new(uint64(policy.MaximumRetryCount))
	}
	switch policy.Name {
	case container.RestartPolicyDisabled, "":
		return nil, nil
	case container.RestartPolicyAlways, container.RestartPolicyUnlessStopped:
		return &swarm.RestartPolicy{Condition: swarm.RestartPolicyConditionAny, MaxAttempts: attempts}, nil
	case container.RestartPolicyOnFailure:
		return &swarm.RestartPolicy{Condition: swarm.RestartPolicyConditionOnFailure, MaxAttempts: attempts}, nil
	}
	return nil, fmt.Errorf("invalid restart policy: unknown policy '%s' (must be one of '%s', '%s', '%s', or '%s')",
		policy.Name, container.RestartPolicyDisabled, container.RestartPolicyAlways, container.RestartPolicyOnFailure, container.RestartPolicyUnlessStopped)
}

// healthConfig is the healthcheck (docker's convertHealthcheck): disable
// is the test NONE; an unset duration or retries is zero (the image's).
func healthConfig(h *composetypes.HealthCheckConfig) (*container.HealthConfig, error) {
	if h == nil {
		return nil, nil
	}
	if h.Disable {
		if len(h.Test) != 0 {
			return nil, errors.New("test and disable can't be set at the same time")
		}
		return &container.HealthConfig{Test: []string{"NONE"}}, nil
	}
	out := &container.HealthConfig{
		Test:          h.Test,
		Timeout:       orZero(h.Timeout),
		Interval:      orZero(h.Interval),
		StartPeriod:   orZero(h.StartPeriod),
		StartInterval: orZero(h.StartInterval),
	}
	if h.Retries != nil {
		out.Retries = int(*h.Retries)
	}
	return out, nil
}

func orZero(d *composetypes.Duration) time.Duration {
	if d == nil {
		return 0
	}
	return time.Duration(*d)
}

// placement is deploy.placement (docker's getPlacementPreference for the
// preferences, nil when there are none). Never nil.
func placement(p composetypes.Placement) *swarm.Placement {
	out := &swarm.Placement{Constraints: p.Constraints, MaxReplicas: p.MaxReplicas}
	for _, pref := range p.Preferences {
		out.Preferences = append(out.Preferences, swarm.PlacementPreference{Spread: &swarm.SpreadOver{SpreadDescriptor: pref.Spread}})
	}
	return out
}

// hostsEntries are extra_hosts as the engine takes them, "IP hostname",
// in the file's order (docker's convertExtraHosts): the loader gives
// "host:ip", cut at the first colon, so an IPv6 address stays whole; an
// entry without a colon is left out.
func hostsEntries(extra composetypes.HostsList) []string {
	out := make([]string, 0, len(extra))
	for _, e := range extra {
		if host, ip, ok := strings.Cut(e, ":"); ok {
			out = append(out, ip+" "+host)
		}
	}
	return out
}

// dnsConfig is dns and dns_search (docker's convertDNSConfig), nil when
// both are empty. docker drops a nameserver that is not an IP address,
// and does not convert dns_opt.
func dnsConfig(servers, search []string) *swarm.DNSConfig {
	if len(servers) == 0 && len(search) == 0 {
		return nil
	}
	var addrs []netip.Addr
	if len(servers) > 0 {
		addrs = make([]netip.Addr, 0, len(servers))
	}
	for _, s := range servers {
		if a, err := netip.ParseAddr(s); err == nil {
			addrs = append(addrs, a)
		}
	}
	return &swarm.DNSConfig{Nameservers: addrs, Search: search}
}

// envList is the environment as KEY=VALUE, or KEY alone for a variable
// without a value, sorted (docker's convertEnvironment).
func envList(env composetypes.MappingWithEquals) []string {
	out := make([]string, 0, len(env))
	for k, v := range env {
		if v == nil {
			out = append(out, k)
		} else {
			out = append(out, k+"="+*v)
		}
	}
	slices.Sort(out)
	return out
}

// ulimits by name (docker's convertUlimits): a single value is both the
// soft and the hard limit.
func ulimits(in map[string]*composetypes.UlimitsConfig) []*container.Ulimit {
	out := make([]*container.Ulimit, 0, len(in))
	for name, u := range in {
		l := &container.Ulimit{Name: name, Soft: int64(u.Soft), Hard: int64(u.Hard)}
		if u.Single != 0 {
			l.Soft, l.Hard = int64(u.Single), int64(u.Single)
		}
		out = append(out, l)
	}
	slices.SortFunc(out, func(a, b *container.Ulimit) int { return cmp.Compare(a.Name, b.Name) })
	return out
}

// credentialSpec is credential_spec (docker's convertCredentialSpec): at
// most one of config, file and registry; a config is given by the ID of
// the service's reference to it, found by the key as a name, then by the
// scoped key.
func (ns stackNS) credentialSpec(spec composetypes.CredentialSpecConfig, refs []*swarm.ConfigReference) (*swarm.CredentialSpec, error) {
	var set []string
	for _, f := range []struct{ name, value string }{{`"Config"`, spec.Config}, {`"File"`, spec.File}, {`"Registry"`, spec.Registry}} {
		if f.value != "" {
			set = append(set, f.name)
		}
	}
	switch len(set) {
	case 0:
		return nil, nil
	case 1:
	case 2:
		return nil, fmt.Errorf("invalid credential spec: cannot specify both %s and %s", set[0], set[1])
	default:
		return nil, fmt.Errorf("invalid credential spec: cannot specify both %s, and %s", strings.Join(set[:len(set)-1], ", "), set[len(set)-1])
	}
	out := &swarm.CredentialSpec{Config: spec.Config, File: spec.File, Registry: spec.Registry}
	if spec.Config == "" {
		return out, nil
	}
	for _, name := range []string{spec.Config, ns.scope(spec.Config)} {
		for _, r := range refs {
			if r.ConfigName == name {
				out.Config = r.ConfigID
				return out, nil
			}
		}
	}
	return nil, fmt.Errorf("invalid credential spec: spec specifies config %v, but no such config can be found", spec.Config)
}
