package engine

import (
	"context"
	"maps"
	"slices"
	"sync"

	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/api/types/system"
	"github.com/moby/moby/client"
)

// fakeEngine records calls and answers from func fields; any method it
// does not override panics through the nil embedded Engine.
type fakeEngine struct {
	Engine
	mu    sync.Mutex
	calls []string

	info          func() (system.Info, error)
	secretCreate  func(swarm.SecretSpec) (swarm.SecretCreateResponse, error)
	secretList    func(client.SecretListOptions) ([]swarm.Secret, error)
	serviceUpdate func(id string, v swarm.Version) error
	updateOpts    []client.ServiceUpdateOptions
	serviceCreate func(swarm.ServiceSpec) (swarm.ServiceCreateResponse, error)
	inspect       func(id string) (swarm.Service, error)
	tasks         func(id string) ([]swarm.Task, error)
	nodes         []swarm.Node
}

func (f *fakeEngine) NodeList(context.Context, client.NodeListOptions) (client.NodeListResult, error) {
	f.record("NodeList")
	return client.NodeListResult{Items: f.nodes}, nil
}

func (f *fakeEngine) record(c string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, c)
}

func (f *fakeEngine) count(c string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, x := range f.calls {
		if x == c {
			n++
		}
	}
	return n
}

func (f *fakeEngine) ClientVersion() string { return "1.41" }

func (f *fakeEngine) Info(context.Context, client.InfoOptions) (client.SystemInfoResult, error) {
	f.record("Info")
	info, err := f.info()
	return client.SystemInfoResult{Info: info}, err
}

func (f *fakeEngine) NetworkCreate(_ context.Context, name string, _ client.NetworkCreateOptions) (client.NetworkCreateResult, error) {
	f.record("NetworkCreate")
	return client.NetworkCreateResult{ID: "net-" + name}, nil
}

func (f *fakeEngine) SecretCreate(_ context.Context, o client.SecretCreateOptions) (client.SecretCreateResult, error) {
	f.record("SecretCreate")
	if f.secretCreate != nil {
		resp, err := f.secretCreate(o.Spec)
		return client.SecretCreateResult{ID: resp.ID}, err
	}
	return client.SecretCreateResult{ID: "id-" + o.Spec.Name}, nil
}

func (f *fakeEngine) SecretList(_ context.Context, o client.SecretListOptions) (client.SecretListResult, error) {
	f.record("SecretList")
	list, err := f.secretList(o)
	return client.SecretListResult{Items: list}, err
}

func (f *fakeEngine) ConfigCreate(_ context.Context, o client.ConfigCreateOptions) (client.ConfigCreateResult, error) {
	f.record("ConfigCreate")
	return client.ConfigCreateResult{ID: "id-" + o.Spec.Name}, nil
}

func (f *fakeEngine) ServiceCreate(_ context.Context, o client.ServiceCreateOptions) (client.ServiceCreateResult, error) {
	f.record("ServiceCreate")
	if f.serviceCreate != nil {
		resp, err := f.serviceCreate(o.Spec)
		return client.ServiceCreateResult{ID: resp.ID, Warnings: resp.Warnings}, err
	}
	return client.ServiceCreateResult{ID: "svc-" + o.Spec.Name}, nil
}

func (f *fakeEngine) ServiceUpdate(_ context.Context, id string, o client.ServiceUpdateOptions) (client.ServiceUpdateResult, error) {
	f.record("ServiceUpdate")
	f.mu.Lock()
	f.updateOpts = append(f.updateOpts, o)
	f.mu.Unlock()
	return client.ServiceUpdateResult{}, f.serviceUpdate(id, o.Version)
}

func (f *fakeEngine) ServiceRemove(context.Context, string, client.ServiceRemoveOptions) (client.ServiceRemoveResult, error) {
	f.record("ServiceRemove")
	return client.ServiceRemoveResult{}, nil
}

func (f *fakeEngine) ServiceInspect(_ context.Context, id string, _ client.ServiceInspectOptions) (client.ServiceInspectResult, error) {
	f.record("ServiceInspect")
	s, err := f.inspect(id)
	return client.ServiceInspectResult{Service: s}, err
}

func (f *fakeEngine) TaskList(_ context.Context, o client.TaskListOptions) (client.TaskListResult, error) {
	f.record("TaskList")
	var out client.TaskListResult
	for _, id := range sortedTerm(o.Filters, "service") {
		tasks, err := f.tasks(id)
		if err != nil {
			return client.TaskListResult{}, err
		}
		for _, t := range tasks {
			t.ServiceID = id
			out.Items = append(out.Items, t)
		}
	}
	return out, nil
}

// ServiceList answers the list of services by ID that Wait polls with.
func (f *fakeEngine) ServiceList(_ context.Context, o client.ServiceListOptions) (client.ServiceListResult, error) {
	f.record("ServiceList")
	var out client.ServiceListResult
	for _, id := range sortedTerm(o.Filters, "id") {
		svc, err := f.inspect(id)
		if err != nil {
			return client.ServiceListResult{}, err
		}
		svc.ID = id
		out.Items = append(out.Items, svc)
	}
	return out, nil
}

// sortedTerm is the values of one filter term, in order.
func sortedTerm(f client.Filters, term string) []string {
	return slices.Sorted(maps.Keys(f[term]))
}
