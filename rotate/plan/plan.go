package plan

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/api/types/swarm"

	"github.com/stackctl/stackctl/compose"
)

// Action is what a plan does to one object.
type Action string

const (
	Create    Action = "create"
	Update    Action = "update"
	Unchanged Action = "unchanged"
	Remove    Action = "remove"
)

// Plan is everything a deploy would change, computed without writing.
// `plan`, `deploy --dry-run`, JSON output and tests all read it.
type Plan struct {
	Stack    string          `json:"stack"`
	Networks []NetworkChange `json:"networks"`
	Versions []VersionChange `json:"versions"`
	Services []ServiceChange `json:"services"`
	// Prune is what pruning would remove once the rollout has converged.
	Prune    []VersionChange `json:"prune"`
	Warnings []string        `json:"warnings,omitempty"`
}

// NetworkChange creates a network the stack needs.
type NetworkChange struct {
	Name   string `json:"name"`
	Action Action `json:"action"`
	// Options are docker's converter's create options.
	Options compose.NetworkOptions `json:"-"`
}

// VersionChange creates or removes one secret or config version.
type VersionChange struct {
	Kind   compose.Kind `json:"kind"`
	Key    string       `json:"key,omitempty"`
	Name   string       `json:"name"`
	Action Action       `json:"action"`
	ID     string       `json:"id,omitempty"`
	// Labels are the labels a created version gets.
	Labels map[string]string `json:"labels,omitempty"`
	// Version holds the value; it never reaches JSON.
	Version *Version `json:"-"`
}

// ServiceChange creates or updates one service, once.
type ServiceChange struct {
	Name   string      `json:"name"`
	Action Action      `json:"action"`
	ID     string      `json:"id,omitempty"`
	Diff   []FieldDiff `json:"diff,omitempty"`
	// InProgress: unchanged, but an earlier rollout is still going on;
	// the deploy waits for it.
	InProgress bool `json:"in_progress,omitempty"`
	// Spec is what the service becomes; Live what it is (nil when it is
	// created). They stay out of JSON: an environment may hold anything.
	Spec swarm.ServiceSpec `json:"-"`
	Live *swarm.Service    `json:"-"`
}

// Changes reports whether applying the plan writes anything.
func (p *Plan) Changes() bool {
	for _, n := range p.Networks {
		if n.Action != Unchanged {
			return true
		}
	}
	for _, v := range p.Versions {
		if v.Action != Unchanged {
			return true
		}
	}
	for _, s := range p.Services {
		if s.Action != Unchanged {
			return true
		}
	}
	return false
}

// WithIDs is the plan with the IDs of the versions it creates filled in
// from ids (kind/name -> ID, as apply found them): what a result reports.
func (p *Plan) WithIDs(ids map[string]string) *Plan {
	out := *p
	out.Versions = slices.Clone(p.Versions)
	for i, v := range out.Versions {
		if id, ok := ids[string(v.Kind)+"/"+v.Name]; ok && v.ID == "" {
			out.Versions[i].ID = id
		}
	}
	return &out
}

// placeholder stands for the ID of a version that does not exist yet.
const placeholder = compose.PendingID

// MakePlan compares the desired stack with the engine's state. It is pure:
// it reads only its arguments.
func MakePlan(d *Desired, s *State, keep int) (*Plan, error) {
	p := &Plan{Stack: d.Project.Stack, Warnings: append([]string{}, d.Warnings...)}
	var wanted map[string]*Version
	p.Versions, wanted = planVersions(d, s)
	specs, err := resolveIDs(d, s, wanted)
	if err != nil {
		return nil, err
	}
	if err := checkExternalNetworks(d.Project, specs.ExternalNetworks, s); err != nil {
		return nil, err
	}
	if err := checkPublishedPorts(d.Project, specs.Services, s); err != nil {
		return nil, err
	}
	if err := checkNetworkNames(d.Project, specs.Networks, s); err != nil {
		return nil, err
	}
	for _, name := range compose.SortedKeys(specs.Networks) {
		nc := NetworkChange{Name: name, Action: Create, Options: specs.Networks[name]}
		if _, ok := s.Networks[name]; ok {
			nc.Action = Unchanged
		}
		p.Networks = append(p.Networks, nc)
	}
	live := s.StackServices()
	for _, name := range compose.SortedKeys(specs.Services) {
		p.Services = append(p.Services, planService(name, specs.Services[name], live, s))
	}
	for _, name := range compose.SortedKeys(live) {
		if _, ok := specs.Services[name]; !ok {
			p.Warnings = append(p.Warnings, fmt.Sprintf("service %s is in stack %s but not in the compose files: left as it is (docker service rm %s removes it)", name, p.Stack, name))
		}
	}
	p.Prune = selectPrune(p.Stack, s, plannedRefs(p, s), keep)
	return p, nil
}

// planVersions creates each version the swarm does not hold yet.
func planVersions(d *Desired, s *State) ([]VersionChange, map[string]*Version) {
	var out []VersionChange
	wanted := map[string]*Version{}
	for i := range d.Versions {
		v := &d.Versions[i]
		wanted[v.Name] = v
		vc := VersionChange{Kind: v.Source.Kind, Key: v.Source.Key, Name: v.Name, Action: Unchanged, Version: v}
		var ok bool
		if vc.ID, ok = s.VersionID(v.Source.Kind, v.Name); !ok {
			vc.Action, vc.Labels = Create, VersionLabels(d.Project.Stack, v, d.Project.WorkingDir, d.Provenance)
		}
		out = append(out, vc)
	}
	return out, wanted
}

// planService compares one service's converted spec with its live one.
func planService(name string, spec swarm.ServiceSpec, live map[string]swarm.Service, s *State) ServiceChange {
	sc := ServiceChange{Name: name, Action: Create, Spec: spec}
	svc, ok := live[name]
	if !ok {
		return sc
	}
	sc.ID, sc.Live = svc.ID, &svc
	// As docker stack deploy does: keep ForceUpdate, and keep the digest
	// the engine pinned when the image name is unchanged.
	sc.Spec.TaskTemplate.ForceUpdate = svc.Spec.TaskTemplate.ForceUpdate
	if spec.TaskTemplate.ContainerSpec != nil && svc.Spec.TaskTemplate.ContainerSpec != nil &&
		spec.TaskTemplate.ContainerSpec.Image == svc.Spec.Labels[LabelImage] {
		sc.Spec.TaskTemplate.ContainerSpec.Image = svc.Spec.TaskTemplate.ContainerSpec.Image
	}
	sc.Diff = DiffSpecs(svc.Spec, Normalize(sc.Spec, s))
	for i, d := range sc.Diff {
		if to, ok := d.To.(string); ok && strings.HasPrefix(to, placeholder) {
			sc.Diff[i].To = "(new)"
		}
	}
	sc.Action = Unchanged
	switch us := svc.UpdateStatus; {
	case len(sc.Diff) > 0:
		sc.Action = Update
	case us == nil:
	case us.State == swarm.UpdateStatePaused:
		// A rollout that stopped half way, some tasks still on the old
		// spec: sending the spec again resumes it.
		sc.Action = Update
		sc.Diff = []FieldDiff{{Path: "UpdateStatus.State", From: string(us.State), To: "resumed"}}
	case us.State == swarm.UpdateStateUpdating, us.State == swarm.UpdateStateRollbackStarted:
		sc.InProgress = true
	}
	return sc
}

// resolveIDs copies the desired specs with the IDs of the secrets and
// configs they refer to as the engine has them; a version the plan creates
// keeps its placeholder until apply has its ID. An external object the
// engine lacks is an error, as docker stack deploy's.
func resolveIDs(d *Desired, s *State, wanted map[string]*Version) (*compose.Specs, error) {
	out := *d.Specs
	out.Services = make(map[string]swarm.ServiceSpec, len(d.Specs.Services))
	missing := map[compose.Kind]map[string]bool{compose.Secret: {}, compose.Config: {}}
	resolve := func(kind compose.Kind, name string) string {
		if id, ok := s.VersionID(kind, name); ok {
			return id
		}
		if v, ok := wanted[name]; !ok || v.Source.Kind != kind {
			missing[kind][name] = true
		}
		return placeholder + name
	}
	for name, spec := range d.Specs.Services {
		spec = CopySpec(spec)
		if cs := spec.TaskTemplate.ContainerSpec; cs != nil {
			for _, r := range cs.Secrets {
				r.SecretID = resolve(compose.Secret, r.SecretName)
			}
			for _, r := range cs.Configs {
				r.ConfigID = resolve(compose.Config, r.ConfigName)
			}
		}
		out.Services[name] = spec
	}
	var errs []string
	for _, kind := range []compose.Kind{compose.Secret, compose.Config} {
		if names := compose.SortedKeys(missing[kind]); len(names) > 0 {
			errs = append(errs, fmt.Sprintf("external %s not found: %s: create it with docker %s create, or define it in the compose file", kind, strings.Join(names, ", "), kind))
		}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("%s: %s", strings.Join(d.Project.Files, ", "), strings.Join(errs, "; "))
	}
	return &out, nil
}

// versionID finds a secret or config by exact name.
// VersionID is the ID of the secret or config of that name, if the swarm holds it.
func (s *State) VersionID(kind compose.Kind, name string) (string, bool) {
	if kind == compose.Secret {
		x, ok := s.Secrets[name]
		return x.ID, ok
	}
	x, ok := s.Configs[name]
	return x.ID, ok
}

// checkNetworkNames refuses a network the stack would create under a name
// that a network outside the stack already has (a name: of its own, most
// likely): docker stack deploy fails on it half way ("network with name
// ... already exists"), and taking over another's network is not a deploy.
func checkNetworkNames(p *compose.Project, nets map[string]compose.NetworkOptions, s *State) error {
	var errs []string
	for _, name := range compose.SortedKeys(nets) {
		n, ok := s.Networks[name]
		if !ok || n.Labels[LabelNamespace] == s.Stack {
			continue
		}
		owner := "no stack"
		if o := n.Labels[LabelNamespace]; o != "" {
			owner = "stack " + o
		}
		errs = append(errs, fmt.Sprintf("%s: %s: network %q already exists and belongs to %s, not %s: declare it external: true to use it, or give the stack's network another name", strings.Join(p.Files, ", "), networkKey(p, name), name, owner, s.Stack))
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "\n  "))
	}
	return nil
}

// networkKey is the compose key of the network the engine knows as name.
func networkKey(p *compose.Project, name string) string {
	for key, n := range p.Config.Networks {
		if n.Name == name || (n.Name == "" && p.Stack+"_"+key == name) {
			return "networks." + key
		}
	}
	return "networks"
}

func checkExternalNetworks(p *compose.Project, names []string, s *State) error {
	where := strings.Join(p.Files, ", ")
	keys := map[string]string{} // engine name -> key in the compose files
	for key, n := range p.Config.Networks {
		if n.External.External {
			name := n.Name
			if name == "" {
				name = key
			}
			keys[name] = "networks." + key
		}
	}
	var errs []string
	for _, name := range names {
		if !container.NetworkMode(name).IsUserDefined() {
			continue
		}
		key := keys[name]
		if key == "" {
			key = "networks"
		}
		n, ok := s.Networks[name]
		switch {
		case !ok:
			errs = append(errs, fmt.Sprintf("%s: %s: network %q is declared as external, but could not be found: create it with docker network create --driver overlay --attachable %s, or remove external: true so that the stack creates it", where, key, name, name))
		case n.Scope != "swarm":
			errs = append(errs, fmt.Sprintf("%s: %s: network %q is declared as external, but its scope is %q, not \"swarm\": use an overlay network (docker network create --driver overlay --attachable NAME)", where, key, name, n.Scope))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "\n  "))
	}
	return nil
}

// checkPublishedPorts rejects a port the stack would publish through the
// routing mesh that a service outside it already publishes: the engine
// would reject the service after the networks and versions were written.
// Load has checked the stack's own services against one another.
func checkPublishedPorts(p *compose.Project, specs map[string]swarm.ServiceSpec, s *State) error {
	type port struct {
		n     uint32
		proto network.IPProtocol
	}
	taken := map[port]string{}
	for _, svc := range s.Services {
		if _, ours := specs[svc.Spec.Name]; ours {
			continue // its ports are replaced by the update
		}
		var ports []swarm.PortConfig
		if svc.Spec.EndpointSpec != nil {
			ports = append(ports, svc.Spec.EndpointSpec.Ports...)
		}
		ports = append(ports, svc.Endpoint.Ports...)
		for _, pc := range ports {
			if pc.PublishedPort != 0 && pc.PublishMode != swarm.PortConfigPublishModeHost {
				taken[port{pc.PublishedPort, protocolOf(pc)}] = svc.Spec.Name
			}
		}
	}
	if len(taken) == 0 {
		return nil
	}
	for _, name := range compose.SortedKeys(specs) {
		spec := specs[name]
		if spec.EndpointSpec == nil {
			continue
		}
		for _, pc := range spec.EndpointSpec.Ports {
			if pc.PublishedPort == 0 || pc.PublishMode == swarm.PortConfigPublishModeHost {
				continue
			}
			pp := port{pc.PublishedPort, protocolOf(pc)}
			if other, ok := taken[pp]; ok {
				return fmt.Errorf("%s: services.%s.ports: port %d/%s is already published by service %s: publish a different port, or free it (docker service update --publish-rm %d %s)",
					strings.Join(p.Files, ", "), strings.TrimPrefix(name, p.Stack+"_"), pp.n, pp.proto, other, pp.n, other)
			}
		}
	}
	return nil
}

func protocolOf(pc swarm.PortConfig) network.IPProtocol {
	if pc.Protocol == "" {
		return network.TCP
	}
	return network.IPProtocol(strings.ToLower(string(pc.Protocol)))
}

// Normalize fills in what the engine adds to a spec it stores, so that an
// unchanged service compares equal to its live spec.
func Normalize(spec swarm.ServiceSpec, s *State) swarm.ServiceSpec {
	spec = CopySpec(spec)
	normalizeMode(&spec.Mode)
	for _, uc := range []*swarm.UpdateConfig{spec.UpdateConfig, spec.RollbackConfig} {
		if uc != nil && uc.FailureAction == "" {
			uc.FailureAction = swarm.UpdateFailureActionPause
		}
		if uc != nil && uc.Order == "" {
			uc.Order = swarm.UpdateOrderStopFirst
		}
	}
	if e := spec.EndpointSpec; e != nil {
		normalizeEndpoint(e)
	}
	normalizeTask(&spec.TaskTemplate, s)
	return spec
}

// normalizeMode: a service of no mode is replicated, with one replica.
func normalizeMode(m *swarm.ServiceMode) {
	if m.Replicated == nil && m.Global == nil && m.ReplicatedJob == nil && m.GlobalJob == nil {
		m.Replicated = &swarm.ReplicatedService{}
	}
	if r := m.Replicated; r != nil && r.Replicas == nil {
		one := uint64(1)
		r.Replicas = &one
	}
}

// normalizeEndpoint: VIP, and the engine's defaults for a long-syntax
// port without protocol or mode.
func normalizeEndpoint(e *swarm.EndpointSpec) {
	if e.Mode == "" {
		e.Mode = swarm.ResolutionModeVIP
	}
	for i := range e.Ports {
		if e.Ports[i].Protocol == "" {
			e.Ports[i].Protocol = network.TCP
		}
		if e.Ports[i].PublishMode == "" {
			e.Ports[i].PublishMode = swarm.PortConfigPublishModeIngress
		}
	}
}

// normalizeTask: restart on any condition, the default isolation and the
// container runtime, networks by ID.
func normalizeTask(t *swarm.TaskSpec, s *State) {
	if t.RestartPolicy != nil && t.RestartPolicy.Condition == "" {
		t.RestartPolicy.Condition = swarm.RestartPolicyConditionAny
	}
	if t.ContainerSpec != nil && t.ContainerSpec.Isolation == "" {
		t.ContainerSpec.Isolation = container.IsolationDefault
	}
	if t.Runtime == "" && t.ContainerSpec != nil {
		t.Runtime = swarm.RuntimeContainer
	}
	for i := range t.Networks {
		if id, ok := s.SwarmIDs[t.Networks[i].Target]; ok {
			t.Networks[i].Target = id
		} else if n, ok := s.Networks[t.Networks[i].Target]; ok {
			t.Networks[i].Target = n.ID
		}
	}
}

// usedRefs are the names of versions a service refers to.
func usedRefs(spec *swarm.ServiceSpec, into map[string]bool) {
	if spec == nil || spec.TaskTemplate.ContainerSpec == nil {
		return
	}
	for _, r := range spec.TaskTemplate.ContainerSpec.Secrets {
		into["secret/"+r.SecretName] = true
	}
	for _, r := range spec.TaskTemplate.ContainerSpec.Configs {
		into["config/"+r.ConfigName] = true
	}
}

// plannedRefs are the references that will hold once the plan is applied:
// an updated service's live spec becomes its previous spec.
func plannedRefs(p *Plan, s *State) map[string]bool {
	changed := map[string]*ServiceChange{}
	for i := range p.Services {
		changed[p.Services[i].Name] = &p.Services[i]
	}
	used := map[string]bool{}
	for _, svc := range s.Services {
		sc, ok := changed[svc.Spec.Name]
		if ok && sc.Action == Update {
			usedRefs(&sc.Spec, used)
			usedRefs(&svc.Spec, used)
			continue
		}
		usedRefs(&svc.Spec, used)
		usedRefs(svc.PreviousSpec, used)
	}
	for i := range p.Services {
		if p.Services[i].Action == Create {
			usedRefs(&p.Services[i].Spec, used)
		}
	}
	// A version the compose files define stays, even if no service uses it.
	for _, v := range p.Versions {
		used[string(v.Kind)+"/"+v.Name] = true
	}
	return used
}

// Unused is what pruning the observed swarm removes: the stack's versions
// that no service refers to in its spec or previous spec and the compose
// files do not define (desired), beyond keep per name.
func Unused(s *State, desired []Version, keep int) []VersionChange {
	used := map[string]bool{}
	for i := range s.Services {
		usedRefs(&s.Services[i].Spec, used)
		usedRefs(s.Services[i].PreviousSpec, used)
	}
	for _, v := range desired {
		used[string(v.Source.Kind)+"/"+v.Name] = true
	}
	return selectPrune(s.Stack, s, used, keep)
}

// selectPrune picks the stack's stackctl versions that no service refers
// to in its spec or previous spec (a rollback needs the previous one),
// keeping the newest keep unused versions of each name.
func selectPrune(stack string, s *State, used map[string]bool, keep int) []VersionChange {
	type candidate struct {
		vc      VersionChange
		logical string
		created int64
	}
	var cands []candidate
	for _, x := range s.Secrets {
		if x.Spec.Labels[LabelNamespace] == stack && x.Spec.Labels[LabelName] != "" && !used["secret/"+x.Spec.Name] {
			cands = append(cands, candidate{VersionChange{Kind: compose.Secret, Name: x.Spec.Name, Action: Remove, ID: x.ID}, x.Spec.Labels[LabelName], x.CreatedAt.UnixNano()})
		}
	}
	for _, x := range s.Configs {
		if x.Spec.Labels[LabelNamespace] == stack && x.Spec.Labels[LabelName] != "" && !used["config/"+x.Spec.Name] {
			cands = append(cands, candidate{VersionChange{Kind: compose.Config, Name: x.Spec.Name, Action: Remove, ID: x.ID}, x.Spec.Labels[LabelName], x.CreatedAt.UnixNano()})
		}
	}
	sort.Slice(cands, func(i, j int) bool {
		a, b := cands[i], cands[j]
		if a.vc.Kind != b.vc.Kind || a.logical != b.logical {
			return string(a.vc.Kind)+"/"+a.logical < string(b.vc.Kind)+"/"+b.logical
		}
		if a.created != b.created {
			return a.created > b.created // newest first
		}
		return a.vc.Name < b.vc.Name
	})
	var out []VersionChange
	kept := map[string]int{}
	for _, c := range cands {
		group := string(c.vc.Kind) + "/" + c.logical
		if kept[group] < keep {
			kept[group]++
			continue
		}
		out = append(out, c.vc)
	}
	return out
}
