package rotate

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/api/types/system"
	"github.com/moby/moby/client"

	"github.com/stackctl/stackctl/compose"
)

const planCompose = `
services:
  web:
    image: example/web:1
    deploy: {replicas: 2, update_config: {monitor: 1s}}
    secrets: [pw]
  other:
    image: example/other:1
secrets:
  pw: {file: ./pw.txt}
`

func desiredFor(t *testing.T, files map[string]string) *Desired {
	t.Helper()
	return desiredForDir(t, scenario(t, files), []string{})
}

func desiredForDir(t *testing.T, dir string, env []string) *Desired {
	t.Helper()
	d, err := Prepare(context.Background(), compose.Options{Files: []string{filepath.Join(dir, "compose.yml")}, Stack: "shop", Env: env})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func emptyState() *State {
	return &State{Stack: "shop", Networks: map[string]network.Summary{}, Secrets: map[string]swarm.Secret{}, Configs: map[string]swarm.Config{}}
}

// applied returns the state an engine would hold after the plan ran.
func applied(t *testing.T, d *Desired) *State {
	t.Helper()
	s := emptyState()
	p, err := MakePlan(d, s, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range p.Networks {
		s.Networks[n.Name] = network.Summary{Network: network.Network{Name: n.Name, ID: "net-" + n.Name, Scope: "swarm", Labels: map[string]string{LabelNamespace: "shop"}}}
	}
	for _, v := range p.Versions {
		s.Secrets[v.Name] = swarm.Secret{ID: "id-" + v.Name, Spec: swarm.SecretSpec{Annotations: swarm.Annotations{Name: v.Name,
			Labels: map[string]string{LabelNamespace: "shop", LabelName: v.version.Source.Name}}}}
	}
	for _, sc := range p.Services {
		spec := sc.spec
		fillIDs(&spec, map[string]string{"secret/" + p.Versions[0].Name: "id-" + p.Versions[0].Name})
		s.Services = append(s.Services, swarm.Service{ID: "svc-" + sc.Name, Spec: normalize(spec, s)})
	}
	return s
}

func actions(p *Plan) string {
	var out []string
	for _, n := range p.Networks {
		out = append(out, fmt.Sprintf("network %s %s", n.Name, n.Action))
	}
	for _, v := range p.Versions {
		out = append(out, fmt.Sprintf("%s %s %s", v.Kind, v.Key, v.Action))
	}
	for _, s := range p.Services {
		out = append(out, fmt.Sprintf("service %s %s", s.Name, s.Action))
	}
	for _, v := range p.Prune {
		out = append(out, fmt.Sprintf("prune %s", v.Name))
	}
	return strings.Join(out, "; ")
}

func TestMakePlan(t *testing.T) {
	first := desiredFor(t, map[string]string{"compose.yml": planCompose, "pw.txt": "one"})
	live := applied(t, first)
	oldName := first.Versions[0].Name

	tests := []struct {
		name  string
		files map[string]string
		state *State
		want  string
	}{
		{"first deploy creates everything", map[string]string{"compose.yml": planCompose, "pw.txt": "one"}, emptyState(),
			"network shop_default create; secret pw create; service shop_other create; service shop_web create"},
		{"unchanged redeploy changes nothing", map[string]string{"compose.yml": planCompose, "pw.txt": "one"}, live,
			"network shop_default unchanged; secret pw unchanged; service shop_other unchanged; service shop_web unchanged"},
		{"a changed secret rolls only its service", map[string]string{"compose.yml": planCompose, "pw.txt": "two"}, live,
			"network shop_default unchanged; secret pw create; service shop_other unchanged; service shop_web update"},
		{"a changed image rolls only its service", map[string]string{"compose.yml": strings.Replace(planCompose, "other:1", "other:2", 1), "pw.txt": "one"}, live,
			"network shop_default unchanged; secret pw unchanged; service shop_other update; service shop_web unchanged"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := MakePlan(desiredFor(t, tt.files), tt.state, 0)
			if err != nil {
				t.Fatal(err)
			}
			if got := actions(p); got != tt.want {
				t.Errorf("plan:\n got %s\nwant %s", got, tt.want)
			}
		})
	}

	t.Run("the diff names the secret", func(t *testing.T) {
		p, _ := MakePlan(desiredFor(t, map[string]string{"compose.yml": planCompose, "pw.txt": "two"}), live, 0)
		found := false
		for _, d := range p.Services[1].Diff {
			if strings.HasSuffix(d.Path, "SecretName") && d.From == oldName {
				found = true
			}
		}
		if !found {
			t.Errorf("diff %v does not show the secret change from %s", p.Services[1].Diff, oldName)
		}
	})
}

func TestMakePlanErrors(t *testing.T) {
	tests := []struct {
		name, compose, want string
	}{
		{"missing external network", "services:\n  a:\n    image: x\n    networks: [ext]\nnetworks:\n  ext: {external: true}\n",
			`compose.yml: networks.ext: network "ext" is declared as external, but could not be found: create it with docker network create --driver overlay --attachable ext, or remove external: true`},
		{"missing external network by name", "services:\n  a:\n    image: x\n    networks: [ext]\nnetworks:\n  ext: {external: true, name: shared-net}\n",
			`compose.yml: networks.ext: network "shared-net" is declared as external`},
		{"external network not swarm-scoped", "services:\n  a:\n    image: x\n    networks: [ext]\nnetworks:\n  ext: {external: true, name: local-net}\n",
			`compose.yml: networks.ext: network "local-net" is declared as external, but its scope is "local", not "swarm"`},
		{"missing external secret", "services:\n  a:\n    image: x\n    secrets: [ext]\nsecrets:\n  ext: {external: true}\n", "external secret not found: ext"},
		{"port published by another stack", "services:\n  a:\n    image: x\n    ports: ['8080:80']\n",
			"compose.yml: services.a.ports: port 8080/tcp is already published by service blog_web: publish a different port, or free it (docker service update --publish-rm 8080 blog_web)"},
		{"port assigned to another service", "services:\n  a:\n    image: x\n    ports: ['30001:80/udp']\n",
			"compose.yml: services.a.ports: port 30001/udp is already published by service dyn"},
	}
	s := emptyState()
	s.Networks["local-net"] = network.Summary{Network: network.Network{Name: "local-net", ID: "n1", Scope: "local"}}
	s.Services = []swarm.Service{
		{ID: "s1", Spec: swarm.ServiceSpec{Annotations: swarm.Annotations{Name: "blog_web"}, EndpointSpec: &swarm.EndpointSpec{Ports: []swarm.PortConfig{{TargetPort: 80, PublishedPort: 8080}}}}},
		{ID: "s2", Spec: swarm.ServiceSpec{Annotations: swarm.Annotations{Name: "dyn"}}, Endpoint: swarm.Endpoint{Ports: []swarm.PortConfig{{Protocol: "udp", TargetPort: 53, PublishedPort: 30001}}}},
		{ID: "s3", Spec: swarm.ServiceSpec{Annotations: swarm.Annotations{Name: "hostmode"}, EndpointSpec: &swarm.EndpointSpec{Ports: []swarm.PortConfig{{TargetPort: 80, PublishedPort: 9090, PublishMode: swarm.PortConfigPublishModeHost}}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := MakePlan(desiredFor(t, map[string]string{"compose.yml": tt.compose}), s, 0)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestMakePlanKeepsOwnPorts(t *testing.T) {
	// The stack's own service keeps its port through an update, and a
	// host-mode port elsewhere does not hold the routing mesh's.
	s := emptyState()
	s.Services = []swarm.Service{
		{ID: "s1", Spec: swarm.ServiceSpec{Annotations: swarm.Annotations{Name: "shop_a", Labels: map[string]string{LabelNamespace: "shop"}}, EndpointSpec: &swarm.EndpointSpec{Ports: []swarm.PortConfig{{TargetPort: 80, PublishedPort: 8080}}}}},
		{ID: "s2", Spec: swarm.ServiceSpec{Annotations: swarm.Annotations{Name: "hostmode"}, EndpointSpec: &swarm.EndpointSpec{Ports: []swarm.PortConfig{{TargetPort: 80, PublishedPort: 9090, PublishMode: swarm.PortConfigPublishModeHost}}}}},
	}
	d := desiredFor(t, map[string]string{"compose.yml": "services:\n  a:\n    image: x\n    ports: ['8080:80', '9090:80']\n"})
	if _, err := MakePlan(d, s, 0); err != nil {
		t.Fatal(err)
	}
}

func secretObj(name, stack, logical string, created time.Time) swarm.Secret {
	labels := map[string]string{LabelNamespace: stack}
	if logical != "" {
		labels[LabelName] = logical
	}
	return swarm.Secret{ID: "id-" + name, Meta: swarm.Meta{CreatedAt: created}, Spec: swarm.SecretSpec{Annotations: swarm.Annotations{Name: name, Labels: labels}}}
}

func TestSelectPrune(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s := emptyState()
	for i, name := range []string{"shop_pw.a", "shop_pw.b", "shop_pw.c", "shop_pw.d"} {
		s.Secrets[name] = secretObj(name, "shop", "shop_pw", t0.Add(time.Duration(i)*time.Hour))
	}
	s.Secrets["blog_pw.a"] = secretObj("blog_pw.a", "blog", "blog_pw", t0)          // another stack
	s.Secrets["shop_manual"] = secretObj("shop_manual", "shop", "", t0)             // not stackctl's
	s.Secrets["shop_other.a"] = secretObj("shop_other.a", "shop", "shop_other", t0) // used by another stack's service
	used := map[string]bool{"secret/shop_pw.d": true, "secret/shop_pw.c": true, "secret/shop_other.a": true}

	for keep, want := range map[int]string{0: "shop_pw.a shop_pw.b", 1: "shop_pw.a", 2: "", 5: ""} {
		var got []string
		for _, v := range SelectPrune("shop", s, used, keep) {
			got = append(got, v.Name)
		}
		sort.Strings(got)
		if strings.Join(got, " ") != want {
			t.Errorf("keep %d: prune %v, want %q", keep, got, want)
		}
	}
}

func TestCheckManager(t *testing.T) {
	f := &fakeEngine{info: func() (system.Info, error) { return system.Info{}, nil }}
	err := CheckManager(context.Background(), f)
	if !errors.Is(err, ErrNotManager) || !strings.Contains(err.Error(), "docker swarm init") {
		t.Errorf("err = %v", err)
	}
}

func TestApplyFaults(t *testing.T) {
	d := desiredFor(t, map[string]string{"compose.yml": planCompose, "pw.txt": "two"})
	live := applied(t, desiredFor(t, map[string]string{"compose.yml": planCompose, "pw.txt": "one"}))

	t.Run("update out of sequence is retried with the new version", func(t *testing.T) {
		p, _ := MakePlan(d, live, 0)
		var versions []uint64
		f := &fakeEngine{
			serviceUpdate: func(_ string, v swarm.Version) error {
				versions = append(versions, v.Index)
				if len(versions) == 1 {
					return errors.New("rpc error: code = Unknown desc = update out of sequence")
				}
				return nil
			},
			inspect: func(id string) (swarm.Service, error) {
				for _, s := range live.Services {
					if s.ID == id {
						s.Version.Index = 42
						return s, nil
					}
				}
				return swarm.Service{}, errors.New("no such service")
			},
		}
		rolls, err := Apply(context.Background(), f, p, Quiet{})
		if err != nil {
			t.Fatal(err)
		}
		if len(rolls) != 1 || f.count("ServiceUpdate") != 2 || versions[1] != 42 {
			t.Errorf("rollouts %d, updates %d, versions %v", len(rolls), f.count("ServiceUpdate"), versions)
		}
		if f.count("SecretCreate") != 1 {
			t.Errorf("secret creates = %d, want 1", f.count("SecretCreate"))
		}
	})

	t.Run("a version another deploy created first is reused", func(t *testing.T) {
		p, _ := MakePlan(d, live, 0)
		name := p.Versions[0].Name
		f := &fakeEngine{
			secretCreate: func(swarm.SecretSpec) (swarm.SecretCreateResponse, error) {
				return swarm.SecretCreateResponse{}, errdefs.ErrConflict.WithMessage("secret " + name + " already exists")
			},
			secretList: func(client.SecretListOptions) ([]swarm.Secret, error) {
				// The API's name filter is a prefix match: the exact name must win.
				return []swarm.Secret{secretObj(name+"x", "shop", "", time.Time{}), secretObj(name, "shop", "", time.Time{})}, nil
			},
			serviceUpdate: func(string, swarm.Version) error { return nil },
		}
		if _, err := Apply(context.Background(), f, p, Quiet{}); err != nil {
			t.Fatal(err)
		}
		if id := p.Versions[0].ID; id != "id-"+name {
			t.Errorf("version ID = %q, want id-%s", id, name)
		}
	})

	t.Run("an engine refusal puts back what the deploy took", func(t *testing.T) {
		withExtra := desiredFor(t, map[string]string{"compose.yml": strings.Replace(planCompose, "services:\n", "services:\n  extra:\n    image: example/extra:1\n", 1), "pw.txt": "two"})
		p, err := MakePlan(withExtra, live, 0)
		if err != nil {
			t.Fatal(err)
		}
		f := &fakeEngine{
			serviceCreate: func(swarm.ServiceSpec) (swarm.ServiceCreateResponse, error) {
				return swarm.ServiceCreateResponse{}, errors.New("rpc error: code = InvalidArgument desc = refused")
			},
			serviceUpdate: func(string, swarm.Version) error { return nil },
			inspect: func(id string) (swarm.Service, error) {
				for _, s := range live.Services {
					if s.ID == id {
						return s, nil
					}
				}
				return swarm.Service{}, errors.New("no such service")
			},
		}
		rolls, err := Apply(context.Background(), f, p, Quiet{})
		if err == nil || !strings.Contains(err.Error(), "create service shop_extra") || !strings.Contains(err.Error(), "put back (shop_web)") {
			t.Fatalf("err = %v", err)
		}
		if len(rolls) != 0 {
			t.Errorf("rollouts %v after the undo", rolls)
		}
		if n := len(f.updateOpts); n != 2 || f.updateOpts[1].Rollback != "previous" {
			t.Errorf("updates %+v: want the update, then its rollback", f.updateOpts)
		}
	})

	t.Run("a failed update is reported with the service", func(t *testing.T) {
		p, _ := MakePlan(d, live, 0)
		f := &fakeEngine{serviceUpdate: func(string, swarm.Version) error { return errors.New("boom") }}
		_, err := Apply(context.Background(), f, p, Quiet{})
		if err == nil || !strings.Contains(err.Error(), "update service shop_web: boom") {
			t.Errorf("err = %v", err)
		}
	})
}

func TestWaitOutcomes(t *testing.T) {
	old := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ours := old.Add(time.Hour)
	one := uint64(1)
	spec := swarm.ServiceSpec{Mode: swarm.ServiceMode{Replicated: &swarm.ReplicatedService{Replicas: &one}}}
	running := []swarm.Task{{DesiredState: swarm.TaskStateRunning, Status: swarm.TaskStatus{State: swarm.TaskStateRunning}}}
	failing := []swarm.Task{{DesiredState: swarm.TaskStateRunning, Status: swarm.TaskStatus{State: swarm.TaskStateFailed, Err: "task: non-zero exit (3)", Timestamp: time.Now()}}}
	status := func(state swarm.UpdateState, started time.Time) *swarm.UpdateStatus {
		return &swarm.UpdateStatus{State: state, StartedAt: &started, Message: "update " + string(state)}
	}
	tests := []struct {
		name    string
		status  []*swarm.UpdateStatus // one per poll; the last repeats
		tasks   []swarm.Task
		wantErr string
	}{
		{"completed", []*swarm.UpdateStatus{status(swarm.UpdateStateUpdating, ours), status(swarm.UpdateStateCompleted, ours)}, running, ""},
		{"paused", []*swarm.UpdateStatus{status(swarm.UpdateStatePaused, ours)}, failing, "update paused"},
		{"rolled back", []*swarm.UpdateStatus{status(swarm.UpdateStateRollbackStarted, ours), status(swarm.UpdateStateRollbackCompleted, ours)}, failing, "update rolled back: update rollback_completed (task error: task: non-zero exit (3))"},
		{"stale status, tasks running: settles", []*swarm.UpdateStatus{status(swarm.UpdateStateCompleted, old)}, running, ""},
		{"never converges: times out", []*swarm.UpdateStatus{status(swarm.UpdateStateUpdating, ours)}, failing, "timed out"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			poll := 0
			f := &fakeEngine{
				inspect: func(string) (swarm.Service, error) {
					s := tt.status[min(poll, len(tt.status)-1)]
					poll++
					return swarm.Service{Spec: spec, UpdateStatus: s}, nil
				},
				tasks: func(string) ([]swarm.Task, error) { return tt.tasks, nil },
			}
			r := Rollout{Name: "shop_web", ID: "svc", prev: status(swarm.UpdateStateCompleted, old), spec: spec, start: old}
			_, err := Wait(context.Background(), f, []Rollout{r}, WaitOptions{Timeout: 300 * time.Millisecond, Interval: 5 * time.Millisecond, Settle: 20 * time.Millisecond}, Quiet{})
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), "shop_web") {
				t.Errorf("err = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

// TestWaitNamesDownNodes: a rollout that times out because swarm waits on
// tasks of an unreachable node says which node, and what unblocks it.
func TestWaitNamesDownNodes(t *testing.T) {
	started := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	three := uint64(3)
	spec := swarm.ServiceSpec{Mode: swarm.ServiceMode{Replicated: &swarm.ReplicatedService{Replicas: &three}}}
	task := func(node string, desired, state swarm.TaskState) swarm.Task {
		return swarm.Task{NodeID: node, DesiredState: desired, Status: swarm.TaskStatus{State: state}}
	}
	f := &fakeEngine{
		inspect: func(string) (swarm.Service, error) {
			return swarm.Service{Spec: spec, UpdateStatus: &swarm.UpdateStatus{State: swarm.UpdateStateUpdating, StartedAt: &started}}, nil
		},
		tasks: func(string) ([]swarm.Task, error) {
			return []swarm.Task{
				task("n1", swarm.TaskStateRunning, swarm.TaskStateRunning),
				task("n2", swarm.TaskStateShutdown, swarm.TaskStateRunning),
				task("n2", swarm.TaskStateShutdown, swarm.TaskStateAssigned),
				task("n3", swarm.TaskStateShutdown, swarm.TaskStateShutdown),
			}, nil
		},
		nodes: []swarm.Node{
			{ID: "n1", Description: swarm.NodeDescription{Hostname: "manager"}, Status: swarm.NodeStatus{State: swarm.NodeStateReady}},
			{ID: "n2", Description: swarm.NodeDescription{Hostname: "worker-a"}, Status: swarm.NodeStatus{State: swarm.NodeStateDown}},
			{ID: "n3", Description: swarm.NodeDescription{Hostname: "worker-b"}, Status: swarm.NodeStatus{State: swarm.NodeStateDown}},
		},
	}
	r := Rollout{Name: "shop_web", ID: "svc", spec: spec, start: started.Add(-time.Hour)}
	_, err := Wait(context.Background(), f, []Rollout{r}, WaitOptions{Timeout: 100 * time.Millisecond, Interval: 5 * time.Millisecond}, Quiet{})
	want := "service shop_web: timed out: last seen: update updating, 1/3 tasks running; swarm waits on tasks of node worker-a, which is down: the update goes on once it is back"
	if err == nil || err.Error() != want {
		t.Errorf("err = %v\nwant %s", err, want)
	}
	if n := f.count("NodeList"); n != 1 {
		t.Errorf("%d node lists, want 1, after the timeout", n)
	}
}

// TestWaitPollsAllAtOnce: however many services roll out, a poll is one
// service list and one task list.
func TestWaitPollsAllAtOnce(t *testing.T) {
	one := uint64(1)
	spec := swarm.ServiceSpec{Mode: swarm.ServiceMode{Replicated: &swarm.ReplicatedService{Replicas: &one}}}
	polls := map[string]int{}
	f := &fakeEngine{
		inspect: func(id string) (swarm.Service, error) {
			polls[id]++
			started := time.Now()
			state := swarm.UpdateStateUpdating
			if polls[id] > 2 {
				state = swarm.UpdateStateCompleted
			}
			return swarm.Service{Spec: spec, UpdateStatus: &swarm.UpdateStatus{State: state, StartedAt: &started}}, nil
		},
		tasks: func(string) ([]swarm.Task, error) {
			return []swarm.Task{{DesiredState: swarm.TaskStateRunning, Status: swarm.TaskStatus{State: swarm.TaskStateRunning}}}, nil
		},
	}
	var rollouts []Rollout
	for i := range 50 {
		rollouts = append(rollouts, Rollout{Name: fmt.Sprint("shop_", i), ID: fmt.Sprint("svc", i), spec: spec, start: time.Now()})
	}
	outcomes, err := Wait(context.Background(), f, rollouts, WaitOptions{Timeout: time.Second, Interval: time.Millisecond}, Quiet{})
	if err != nil || len(outcomes) != 50 {
		t.Fatalf("%d outcomes, err %v", len(outcomes), err)
	}
	if n, m := f.count("ServiceList"), f.count("TaskList"); n != 3 || m != 3 {
		t.Errorf("three polls of 50 services made %d service lists and %d task lists, want 3 and 3", n, m)
	}
}

// TestWaitSettlesByItsClock: a service whose update status is not ours
// converges once its tasks have run for Settle, read off the injected
// clock: an hour of settling passes in a few polls.
func TestWaitSettlesByItsClock(t *testing.T) {
	old := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	one := uint64(1)
	spec := swarm.ServiceSpec{Mode: swarm.ServiceMode{Replicated: &swarm.ReplicatedService{Replicas: &one}}}
	status := &swarm.UpdateStatus{State: swarm.UpdateStateCompleted, StartedAt: &old}
	f := &fakeEngine{
		inspect: func(string) (swarm.Service, error) { return swarm.Service{Spec: spec, UpdateStatus: status}, nil },
		tasks: func(string) ([]swarm.Task, error) {
			return []swarm.Task{{DesiredState: swarm.TaskStateRunning, Status: swarm.TaskStatus{State: swarm.TaskStateRunning}}}, nil
		},
	}
	clock := old
	now := func() time.Time { clock = clock.Add(20 * time.Minute); return clock }
	r := Rollout{Name: "shop_web", ID: "svc", prev: status, spec: spec, start: old}
	out, err := Wait(context.Background(), f, []Rollout{r}, WaitOptions{Timeout: 10 * time.Second, Interval: time.Millisecond, Settle: time.Hour, Now: now}, Quiet{})
	if err != nil {
		t.Fatal(err)
	}
	if polls := f.count("ServiceList"); polls < 3 || polls > 6 {
		t.Errorf("settled after %d polls, want an hour of 20-minute ticks (4)", polls)
	}
	if len(out) != 1 || out[0].Result != "converged" || out[0].Seconds < 3600 {
		t.Errorf("outcome %+v: want converged after more than an hour of the clock", out)
	}
}
