package rotate

import (
	"context"
	"sync"

	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/swarm"
	"github.com/docker/docker/api/types/system"
)

// fakeEngine records calls and answers from func fields; any method it
// does not override panics through the nil embedded Engine.
type fakeEngine struct {
	Engine
	mu    sync.Mutex
	calls []string

	info          func() (system.Info, error)
	secretCreate  func(swarm.SecretSpec) (swarm.SecretCreateResponse, error)
	secretList    func(swarm.SecretListOptions) ([]swarm.Secret, error)
	serviceUpdate func(id string, v swarm.Version) error
	updateOpts    []swarm.ServiceUpdateOptions
	serviceCreate func(swarm.ServiceSpec) (swarm.ServiceCreateResponse, error)
	inspect       func(id string) (swarm.Service, error)
	tasks         func(id string) ([]swarm.Task, error)
	nodes         []swarm.Node
}

func (f *fakeEngine) NodeList(context.Context, swarm.NodeListOptions) ([]swarm.Node, error) {
	f.record("NodeList")
	return f.nodes, nil
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

func (f *fakeEngine) Info(context.Context) (system.Info, error) {
	f.record("Info")
	return f.info()
}

func (f *fakeEngine) NetworkCreate(_ context.Context, name string, _ network.CreateOptions) (network.CreateResponse, error) {
	f.record("NetworkCreate")
	return network.CreateResponse{ID: "net-" + name}, nil
}

func (f *fakeEngine) SecretCreate(_ context.Context, s swarm.SecretSpec) (swarm.SecretCreateResponse, error) {
	f.record("SecretCreate")
	if f.secretCreate != nil {
		return f.secretCreate(s)
	}
	return swarm.SecretCreateResponse{ID: "id-" + s.Name}, nil
}

func (f *fakeEngine) SecretList(_ context.Context, o swarm.SecretListOptions) ([]swarm.Secret, error) {
	f.record("SecretList")
	return f.secretList(o)
}

func (f *fakeEngine) ConfigCreate(_ context.Context, s swarm.ConfigSpec) (swarm.ConfigCreateResponse, error) {
	f.record("ConfigCreate")
	return swarm.ConfigCreateResponse{ID: "id-" + s.Name}, nil
}

func (f *fakeEngine) ServiceCreate(_ context.Context, s swarm.ServiceSpec, _ swarm.ServiceCreateOptions) (swarm.ServiceCreateResponse, error) {
	f.record("ServiceCreate")
	if f.serviceCreate != nil {
		return f.serviceCreate(s)
	}
	return swarm.ServiceCreateResponse{ID: "svc-" + s.Name}, nil
}

func (f *fakeEngine) ServiceUpdate(_ context.Context, id string, v swarm.Version, _ swarm.ServiceSpec, o swarm.ServiceUpdateOptions) (swarm.ServiceUpdateResponse, error) {
	f.record("ServiceUpdate")
	f.mu.Lock()
	f.updateOpts = append(f.updateOpts, o)
	f.mu.Unlock()
	return swarm.ServiceUpdateResponse{}, f.serviceUpdate(id, v)
}

func (f *fakeEngine) ServiceRemove(_ context.Context, id string) error {
	f.record("ServiceRemove")
	return nil
}

func (f *fakeEngine) ServiceInspectWithRaw(_ context.Context, id string, _ swarm.ServiceInspectOptions) (swarm.Service, []byte, error) {
	f.record("ServiceInspect")
	s, err := f.inspect(id)
	return s, nil, err
}

func (f *fakeEngine) TaskList(_ context.Context, o swarm.TaskListOptions) ([]swarm.Task, error) {
	f.record("TaskList")
	var out []swarm.Task
	for _, id := range o.Filters.Get("service") {
		tasks, err := f.tasks(id)
		if err != nil {
			return nil, err
		}
		for _, t := range tasks {
			t.ServiceID = id
			out = append(out, t)
		}
	}
	return out, nil
}

// ServiceList answers the list of services by ID that Wait polls with.
func (f *fakeEngine) ServiceList(_ context.Context, o swarm.ServiceListOptions) ([]swarm.Service, error) {
	f.record("ServiceList")
	var out []swarm.Service
	for _, id := range o.Filters.Get("id") {
		svc, err := f.inspect(id)
		if err != nil {
			return nil, err
		}
		svc.ID = id
		out = append(out, svc)
	}
	return out, nil
}
