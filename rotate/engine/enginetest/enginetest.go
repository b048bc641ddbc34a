// Package enginetest is an in-memory Docker Engine for tests: a single
// swarm manager that keeps networks, secrets, configs and services the
// way swarm does (unique names, versions, secrets in use cannot be
// removed, only labels of a config change) and whose tasks converge at
// once. Fault injection is a func field. The real engine proves the real
// thing; this one lets the orchestrators be tested in milliseconds.
package enginetest

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/api/types/system"
	"github.com/moby/moby/client"
)

// Engine is a fake swarm manager. The zero value is not usable: call New.
type Engine struct {
	// Fail, when set, is asked before each call (by method name, like
	// "ServiceUpdate", and the object's name or ID) and its error returned.
	Fail func(method, name string) error

	mu       sync.Mutex
	now      time.Time
	next     int
	calls    []string
	networks map[string]network.Summary
	secrets  map[string]swarm.Secret
	configs  map[string]swarm.Config
	services map[string]swarm.Service
}

// New returns an empty swarm whose clock starts at a fixed time.
func New() *Engine {
	return &Engine{
		now:      time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC),
		networks: map[string]network.Summary{},
		secrets:  map[string]swarm.Secret{},
		configs:  map[string]swarm.Config{},
		services: map[string]swarm.Service{},
	}
}

// Calls are the methods called so far, in order.
func (e *Engine) Calls() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.calls...)
}

// Count is how many times method was called.
func (e *Engine) Count(method string) int {
	n := 0
	for _, c := range e.Calls() {
		if c == method {
			n++
		}
	}
	return n
}

// Advance moves the engine's clock.
func (e *Engine) Advance(d time.Duration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.now = e.now.Add(d)
}

// call records a call and asks Fail; it holds the lock on success.
func (e *Engine) call(method, name string) error {
	e.mu.Lock()
	e.calls = append(e.calls, method)
	e.now = e.now.Add(time.Millisecond) // every write has its own time
	if e.Fail != nil {
		if err := e.Fail(method, name); err != nil {
			e.mu.Unlock()
			return err
		}
	}
	return nil
}

func (e *Engine) id(prefix string) string {
	e.next++
	return fmt.Sprintf("%s%025d", prefix, e.next)
}

func (e *Engine) meta() swarm.Meta {
	e.next++
	return swarm.Meta{Version: swarm.Version{Index: uint64(e.next)}, CreatedAt: e.now, UpdatedAt: e.now}
}

// match applies the list filters swarm applies: name (prefix), id
// (prefix), label (key or key=value).
func match(f client.Filters, id string, ann swarm.Annotations) bool {
	if vs := f["name"]; len(vs) > 0 && !anyOf(vs, func(v string) bool { return strings.HasPrefix(ann.Name, v) }) {
		return false
	}
	if vs := f["id"]; len(vs) > 0 && !anyOf(vs, func(v string) bool { return strings.HasPrefix(id, v) }) {
		return false
	}
	for v := range f["label"] {
		k, want, hasValue := strings.Cut(v, "=")
		got, ok := ann.Labels[k]
		if !ok || (hasValue && got != want) {
			return false
		}
	}
	return true
}

func anyOf(vs map[string]bool, ok func(string) bool) bool {
	for v := range vs {
		if ok(v) {
			return true
		}
	}
	return false
}

func sorted[T any](m map[string]T) []T {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]T, 0, len(m))
	for _, k := range keys {
		out = append(out, m[k])
	}
	return out
}

func (e *Engine) Info(context.Context, client.InfoOptions) (client.SystemInfoResult, error) {
	if err := e.call("Info", ""); err != nil {
		return client.SystemInfoResult{}, err
	}
	defer e.mu.Unlock()
	return client.SystemInfoResult{Info: system.Info{
		Swarm:      swarm.Info{LocalNodeState: swarm.LocalNodeStateActive, ControlAvailable: true},
		SystemTime: e.now.Format(time.RFC3339Nano),
	}}, nil
}

func (e *Engine) ClientVersion() string { return "1.41" }

func (e *Engine) NetworkList(_ context.Context, o client.NetworkListOptions) (client.NetworkListResult, error) {
	if err := e.call("NetworkList", ""); err != nil {
		return client.NetworkListResult{}, err
	}
	defer e.mu.Unlock()
	var out client.NetworkListResult
	for _, n := range sorted(e.networks) {
		if match(o.Filters, n.ID, swarm.Annotations{Name: n.Name, Labels: n.Labels}) {
			out.Items = append(out.Items, n)
		}
	}
	return out, nil
}

func (e *Engine) NetworkInspect(_ context.Context, id string, _ client.NetworkInspectOptions) (client.NetworkInspectResult, error) {
	if err := e.call("NetworkInspect", id); err != nil {
		return client.NetworkInspectResult{}, err
	}
	defer e.mu.Unlock()
	for _, n := range e.networks {
		if n.ID == id || n.Name == id {
			return client.NetworkInspectResult{Network: network.Inspect{Network: n.Network}}, nil
		}
	}
	return client.NetworkInspectResult{}, cerrdefs.ErrNotFound.WithMessage("network " + id + " not found")
}

func (e *Engine) NetworkCreate(_ context.Context, name string, o client.NetworkCreateOptions) (client.NetworkCreateResult, error) {
	if err := e.call("NetworkCreate", name); err != nil {
		return client.NetworkCreateResult{}, err
	}
	defer e.mu.Unlock()
	for _, n := range e.networks {
		if n.Name == name {
			return client.NetworkCreateResult{}, cerrdefs.ErrConflict.WithMessage("network with name " + name + " already exists")
		}
	}
	id := e.id("net")
	e.networks[id] = network.Summary{Network: network.Network{Name: name, ID: id, Driver: o.Driver, Scope: "swarm",
		Attachable: o.Attachable, Internal: o.Internal, Labels: o.Labels, Created: e.now}}
	return client.NetworkCreateResult{ID: id}, nil
}

func (e *Engine) PluginList(context.Context, client.PluginListOptions) (client.PluginListResult, error) {
	if err := e.call("PluginList", ""); err != nil {
		return client.PluginListResult{}, err
	}
	defer e.mu.Unlock()
	return client.PluginListResult{}, nil
}

func (e *Engine) SecretList(_ context.Context, o client.SecretListOptions) (client.SecretListResult, error) {
	if err := e.call("SecretList", ""); err != nil {
		return client.SecretListResult{}, err
	}
	defer e.mu.Unlock()
	var out client.SecretListResult
	for _, s := range sorted(e.secrets) {
		if match(o.Filters, s.ID, s.Spec.Annotations) {
			s.Spec.Data = nil // the engine never returns a secret's data
			out.Items = append(out.Items, s)
		}
	}
	return out, nil
}

// Secret returns a secret's data by name, which the real engine keeps to
// itself: tests read what was written.
func (e *Engine) Secret(name string) ([]byte, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, s := range e.secrets {
		if s.Spec.Name == name {
			return s.Spec.Data, true
		}
	}
	return nil, false
}

func (e *Engine) SecretCreate(_ context.Context, o client.SecretCreateOptions) (client.SecretCreateResult, error) {
	if err := e.call("SecretCreate", o.Spec.Name); err != nil {
		return client.SecretCreateResult{}, err
	}
	defer e.mu.Unlock()
	for _, s := range e.secrets {
		if s.Spec.Name == o.Spec.Name {
			return client.SecretCreateResult{}, cerrdefs.ErrConflict.WithMessage("secret " + o.Spec.Name + " already exists")
		}
	}
	id := e.id("sec")
	e.secrets[id] = swarm.Secret{ID: id, Meta: e.meta(), Spec: o.Spec}
	return client.SecretCreateResult{ID: id}, nil
}

func (e *Engine) SecretRemove(_ context.Context, id string, _ client.SecretRemoveOptions) (client.SecretRemoveResult, error) {
	if err := e.call("SecretRemove", id); err != nil {
		return client.SecretRemoveResult{}, err
	}
	defer e.mu.Unlock()
	if _, ok := e.secrets[id]; !ok {
		return client.SecretRemoveResult{}, cerrdefs.ErrNotFound.WithMessage("secret " + id + " not found")
	}
	if users := e.usersOf(id, true); len(users) > 0 {
		return client.SecretRemoveResult{}, cerrdefs.ErrInvalidArgument.WithMessage("secret is in use by the following services: " + strings.Join(users, ", "))
	}
	delete(e.secrets, id)
	return client.SecretRemoveResult{}, nil
}

// usersOf names the services whose spec or previous spec refers to a
// secret (or config) by ID, as swarm refuses to remove those.
func (e *Engine) usersOf(id string, secret bool) []string {
	var out []string
	for _, s := range sorted(e.services) {
		for _, spec := range []*swarm.ServiceSpec{&s.Spec, s.PreviousSpec} {
			if spec != nil && refersTo(spec, id, secret) {
				out = append(out, s.Spec.Name)
				break
			}
		}
	}
	return out
}

func refersTo(spec *swarm.ServiceSpec, id string, secret bool) bool {
	c := spec.TaskTemplate.ContainerSpec
	if c == nil {
		return false
	}
	if secret {
		for _, r := range c.Secrets {
			if r.SecretID == id {
				return true
			}
		}
		return false
	}
	for _, r := range c.Configs {
		if r.ConfigID == id {
			return true
		}
	}
	return false
}

func (e *Engine) ConfigList(_ context.Context, o client.ConfigListOptions) (client.ConfigListResult, error) {
	if err := e.call("ConfigList", ""); err != nil {
		return client.ConfigListResult{}, err
	}
	defer e.mu.Unlock()
	var out client.ConfigListResult
	for _, c := range sorted(e.configs) {
		if match(o.Filters, c.ID, c.Spec.Annotations) {
			out.Items = append(out.Items, c)
		}
	}
	return out, nil
}

func (e *Engine) ConfigCreate(_ context.Context, o client.ConfigCreateOptions) (client.ConfigCreateResult, error) {
	if err := e.call("ConfigCreate", o.Spec.Name); err != nil {
		return client.ConfigCreateResult{}, err
	}
	defer e.mu.Unlock()
	for _, c := range e.configs {
		if c.Spec.Name == o.Spec.Name {
			return client.ConfigCreateResult{}, cerrdefs.ErrConflict.WithMessage("config " + o.Spec.Name + " already exists")
		}
	}
	id := e.id("cfg")
	e.configs[id] = swarm.Config{ID: id, Meta: e.meta(), Spec: o.Spec}
	return client.ConfigCreateResult{ID: id}, nil
}

func (e *Engine) ConfigRemove(_ context.Context, id string, _ client.ConfigRemoveOptions) (client.ConfigRemoveResult, error) {
	if err := e.call("ConfigRemove", id); err != nil {
		return client.ConfigRemoveResult{}, err
	}
	defer e.mu.Unlock()
	if _, ok := e.configs[id]; !ok {
		return client.ConfigRemoveResult{}, cerrdefs.ErrNotFound.WithMessage("config " + id + " not found")
	}
	if users := e.usersOf(id, false); len(users) > 0 {
		return client.ConfigRemoveResult{}, cerrdefs.ErrInvalidArgument.WithMessage("config is in use by the following services: " + strings.Join(users, ", "))
	}
	delete(e.configs, id)
	return client.ConfigRemoveResult{}, nil
}

// ConfigUpdate changes labels only, as swarm allows.
func (e *Engine) ConfigUpdate(_ context.Context, id string, o client.ConfigUpdateOptions) (client.ConfigUpdateResult, error) {
	if err := e.call("ConfigUpdate", id); err != nil {
		return client.ConfigUpdateResult{}, err
	}
	defer e.mu.Unlock()
	c, ok := e.configs[id]
	if !ok {
		return client.ConfigUpdateResult{}, cerrdefs.ErrNotFound.WithMessage("config " + id + " not found")
	}
	if c.Version != o.Version {
		return client.ConfigUpdateResult{}, cerrdefs.ErrInvalidArgument.WithMessage("update out of sequence")
	}
	c.Spec.Labels = o.Spec.Labels
	m := e.meta()
	c.Version, c.UpdatedAt = m.Version, m.UpdatedAt
	e.configs[id] = c
	return client.ConfigUpdateResult{}, nil
}

func (e *Engine) ServiceList(_ context.Context, o client.ServiceListOptions) (client.ServiceListResult, error) {
	if err := e.call("ServiceList", ""); err != nil {
		return client.ServiceListResult{}, err
	}
	defer e.mu.Unlock()
	var out client.ServiceListResult
	for _, s := range sorted(e.services) {
		if match(o.Filters, s.ID, s.Spec.Annotations) {
			out.Items = append(out.Items, s)
		}
	}
	return out, nil
}

func (e *Engine) service(id string) (swarm.Service, bool) {
	if s, ok := e.services[id]; ok {
		return s, true
	}
	for _, s := range e.services {
		if s.Spec.Name == id {
			return s, true
		}
	}
	return swarm.Service{}, false
}

func (e *Engine) ServiceInspect(_ context.Context, id string, _ client.ServiceInspectOptions) (client.ServiceInspectResult, error) {
	if err := e.call("ServiceInspect", id); err != nil {
		return client.ServiceInspectResult{}, err
	}
	defer e.mu.Unlock()
	s, ok := e.service(id)
	if !ok {
		return client.ServiceInspectResult{}, cerrdefs.ErrNotFound.WithMessage("service " + id + " not found")
	}
	return client.ServiceInspectResult{Service: s}, nil
}

// checkRefs refuses a spec that refers to a secret or config that does
// not exist by that ID and name, as swarm does.
func (e *Engine) checkRefs(spec swarm.ServiceSpec) error {
	c := spec.TaskTemplate.ContainerSpec
	if c == nil {
		return nil
	}
	for _, r := range c.Secrets {
		if s, ok := e.secrets[r.SecretID]; !ok || s.Spec.Name != r.SecretName {
			return cerrdefs.ErrInvalidArgument.WithMessage("secret not found: " + r.SecretName)
		}
	}
	for _, r := range c.Configs {
		if x, ok := e.configs[r.ConfigID]; !ok || x.Spec.Name != r.ConfigName {
			return cerrdefs.ErrInvalidArgument.WithMessage("config not found: " + r.ConfigName)
		}
	}
	return nil
}

func (e *Engine) ServiceCreate(_ context.Context, o client.ServiceCreateOptions) (client.ServiceCreateResult, error) {
	if err := e.call("ServiceCreate", o.Spec.Name); err != nil {
		return client.ServiceCreateResult{}, err
	}
	defer e.mu.Unlock()
	if _, ok := e.service(o.Spec.Name); ok {
		return client.ServiceCreateResult{}, cerrdefs.ErrConflict.WithMessage("service " + o.Spec.Name + " already exists")
	}
	if err := e.checkRefs(o.Spec); err != nil {
		return client.ServiceCreateResult{}, err
	}
	id := e.id("svc")
	e.services[id] = swarm.Service{ID: id, Meta: e.meta(), Spec: e.stored(o.Spec)}
	return client.ServiceCreateResult{ID: id}, nil
}

// ServiceUpdate keeps the previous spec, as swarm does, for a rollback;
// the update completes at once.
func (e *Engine) ServiceUpdate(_ context.Context, id string, o client.ServiceUpdateOptions) (client.ServiceUpdateResult, error) {
	if err := e.call("ServiceUpdate", id); err != nil {
		return client.ServiceUpdateResult{}, err
	}
	defer e.mu.Unlock()
	s, ok := e.service(id)
	if !ok {
		return client.ServiceUpdateResult{}, cerrdefs.ErrNotFound.WithMessage("service " + id + " not found")
	}
	if s.Version != o.Version {
		return client.ServiceUpdateResult{}, cerrdefs.ErrInvalidArgument.WithMessage("update out of sequence")
	}
	spec := o.Spec
	if o.Rollback == "previous" {
		if s.PreviousSpec == nil {
			return client.ServiceUpdateResult{}, cerrdefs.ErrFailedPrecondition.WithMessage("service " + id + " has no previous spec")
		}
		spec = *s.PreviousSpec
	}
	if err := e.checkRefs(spec); err != nil {
		return client.ServiceUpdateResult{}, err
	}
	spec = e.stored(spec)
	prev := s.Spec
	m := e.meta()
	s.PreviousSpec, s.Spec, s.Version, s.UpdatedAt = &prev, spec, m.Version, m.UpdatedAt
	started := e.now
	s.UpdateStatus = &swarm.UpdateStatus{State: swarm.UpdateStateCompleted, StartedAt: &started, CompletedAt: &started, Message: "update completed"}
	e.services[s.ID] = s
	return client.ServiceUpdateResult{}, nil
}

// stored is a spec as the engine keeps it: with the defaults the daemon
// and swarmkit fill in (a replicated service of one task, VIP endpoints,
// TCP ports published through the ingress, the default isolation and the
// container runtime, failure action pause and stop-first order, restart
// on any condition) and networks referred to by ID. (Read off specs
// inspected on a Docker 20.10 engine.)
func (e *Engine) stored(spec swarm.ServiceSpec) swarm.ServiceSpec {
	b, _ := json.Marshal(spec) // a deep copy: the caller keeps its own
	spec = swarm.ServiceSpec{}
	_ = json.Unmarshal(b, &spec)
	m := &spec.Mode
	if m.Replicated == nil && m.Global == nil && m.ReplicatedJob == nil && m.GlobalJob == nil {
		m.Replicated = &swarm.ReplicatedService{}
	}
	if m.Replicated != nil && m.Replicated.Replicas == nil {
		one := uint64(1)
		m.Replicated.Replicas = &one
	}
	if spec.EndpointSpec == nil {
		spec.EndpointSpec = &swarm.EndpointSpec{}
	}
	storedEndpoint(spec.EndpointSpec)
	for _, uc := range []*swarm.UpdateConfig{spec.UpdateConfig, spec.RollbackConfig} {
		if uc != nil && uc.FailureAction == "" {
			uc.FailureAction = swarm.UpdateFailureActionPause
		}
		if uc != nil && uc.Order == "" {
			uc.Order = swarm.UpdateOrderStopFirst
		}
	}
	e.storedTask(&spec.TaskTemplate)
	return spec
}

func storedEndpoint(ep *swarm.EndpointSpec) {
	if ep.Mode == "" {
		ep.Mode = swarm.ResolutionModeVIP
	}
	for i := range ep.Ports {
		p := &ep.Ports[i]
		if p.Protocol == "" {
			p.Protocol = network.TCP
		}
		if p.PublishMode == "" {
			p.PublishMode = swarm.PortConfigPublishModeIngress
		}
	}
}

func (e *Engine) storedTask(t *swarm.TaskSpec) {
	if t.ContainerSpec != nil {
		if t.ContainerSpec.Isolation == "" {
			t.ContainerSpec.Isolation = container.IsolationDefault
		}
		if t.Runtime == "" {
			t.Runtime = swarm.RuntimeContainer
		}
	}
	if t.RestartPolicy != nil && t.RestartPolicy.Condition == "" {
		t.RestartPolicy.Condition = swarm.RestartPolicyConditionAny
	}
	for i := range t.Networks {
		for _, n := range e.networks {
			if n.Name == t.Networks[i].Target {
				t.Networks[i].Target = n.ID
			}
		}
	}
}

func (e *Engine) ServiceRemove(_ context.Context, id string, _ client.ServiceRemoveOptions) (client.ServiceRemoveResult, error) {
	if err := e.call("ServiceRemove", id); err != nil {
		return client.ServiceRemoveResult{}, err
	}
	defer e.mu.Unlock()
	s, ok := e.service(id)
	if !ok {
		return client.ServiceRemoveResult{}, cerrdefs.ErrNotFound.WithMessage("service " + id + " not found")
	}
	delete(e.services, s.ID)
	return client.ServiceRemoveResult{}, nil
}

// TaskList answers with each service's tasks running its current spec:
// a replica per task (one for a global service or a job).
func (e *Engine) TaskList(_ context.Context, o client.TaskListOptions) (client.TaskListResult, error) {
	if err := e.call("TaskList", ""); err != nil {
		return client.TaskListResult{}, err
	}
	defer e.mu.Unlock()
	var out client.TaskListResult
	for _, s := range sorted(e.services) {
		if vs := o.Filters["service"]; len(vs) > 0 && !vs[s.ID] && !vs[s.Spec.Name] {
			continue
		}
		n := uint64(1)
		if r := s.Spec.Mode.Replicated; r != nil && r.Replicas != nil {
			n = *r.Replicas
		}
		for i := range n {
			out.Items = append(out.Items, swarm.Task{
				ID: fmt.Sprintf("%s.%d", s.ID, i+1), ServiceID: s.ID, Slot: int(i + 1), Meta: swarm.Meta{CreatedAt: s.UpdatedAt},
				Spec: s.Spec.TaskTemplate, DesiredState: swarm.TaskStateRunning,
				Status: swarm.TaskStatus{State: swarm.TaskStateRunning, Timestamp: s.UpdatedAt},
			})
		}
	}
	return out, nil
}

func (e *Engine) NodeList(context.Context, client.NodeListOptions) (client.NodeListResult, error) {
	if err := e.call("NodeList", ""); err != nil {
		return client.NodeListResult{}, err
	}
	defer e.mu.Unlock()
	return client.NodeListResult{Items: []swarm.Node{{ID: "node1", Status: swarm.NodeStatus{State: swarm.NodeStateReady},
		Description: swarm.NodeDescription{Hostname: "manager"}, Spec: swarm.NodeSpec{Role: swarm.NodeRoleManager}}}}, nil
}

// Log records what a command reports (engine.Reporter): Lines are its
// progress lines, Statuses its live-status lines.
type Log struct {
	mu       sync.Mutex
	Lines    []string
	Statuses []string
}

func (l *Log) Printf(format string, a ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.Lines = append(l.Lines, fmt.Sprintf(format, a...))
}

func (l *Log) Status(service, line string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.Statuses = append(l.Statuses, service+": "+line)
}

// Text is every progress line so far, one per line.
func (l *Log) Text() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.Lines, "\n")
}
