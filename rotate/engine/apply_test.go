package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/api/types/system"
	"github.com/moby/moby/client"
	"github.com/stackctl/stackctl/rotate/plan"
	"github.com/stackctl/stackctl/rotate/plan/plantest"
)

func secretObj(name, stack, logical string, created time.Time) swarm.Secret {
	labels := map[string]string{plan.LabelNamespace: stack}
	if logical != "" {
		labels[plan.LabelName] = logical
	}
	return swarm.Secret{ID: "id-" + name, Meta: swarm.Meta{CreatedAt: created}, Spec: swarm.SecretSpec{Annotations: swarm.Annotations{Name: name, Labels: labels}}}
}

func TestCheckManager(t *testing.T) {
	f := &fakeEngine{info: func() (system.Info, error) { return system.Info{}, nil }}
	err := CheckManager(context.Background(), f)
	if !errors.Is(err, ErrNotManager) || !strings.Contains(err.Error(), "docker swarm init") {
		t.Errorf("err = %v", err)
	}
}

func TestApplyFaults(t *testing.T) {
	d := plantest.Desired(t, map[string]string{"compose.yml": plantest.Compose, "pw.txt": "two"})
	live := plantest.Applied(t, plantest.Desired(t, map[string]string{"compose.yml": plantest.Compose, "pw.txt": "one"}))

	t.Run("update out of sequence is retried with the new version", func(t *testing.T) {
		p, _ := plan.MakePlan(d, live, 0)
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
		applied, err := Apply(context.Background(), f, p, Quiet{})
		rolls := applied.Rollouts
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
		p, _ := plan.MakePlan(d, live, 0)
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
		applied, err := Apply(context.Background(), f, p, Quiet{})
		if err != nil {
			t.Fatal(err)
		}
		if id := applied.IDs["secret/"+name]; id != "id-"+name || p.Versions[0].ID != "" {
			t.Errorf("version ID = %q, want id-%s, and the plan as it was (%q)", id, name, p.Versions[0].ID)
		}
	})

	t.Run("an engine refusal puts back what the deploy took", func(t *testing.T) {
		withExtra := plantest.Desired(t, map[string]string{"compose.yml": strings.Replace(plantest.Compose, "services:\n", "services:\n  extra:\n    image: example/extra:1\n", 1), "pw.txt": "two"})
		p, err := plan.MakePlan(withExtra, live, 0)
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
		applied, err := Apply(context.Background(), f, p, Quiet{})
		rolls := applied.Rollouts
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

	t.Run("a rollback out of sequence is tried again", func(t *testing.T) {
		withExtra := plantest.Desired(t, map[string]string{"compose.yml": strings.Replace(plantest.Compose, "services:\n", "services:\n  extra:\n    image: example/extra:1\n", 1), "pw.txt": "two"})
		p, err := plan.MakePlan(withExtra, live, 0)
		if err != nil {
			t.Fatal(err)
		}
		updates := 0
		f := &fakeEngine{
			serviceCreate: func(swarm.ServiceSpec) (swarm.ServiceCreateResponse, error) {
				return swarm.ServiceCreateResponse{}, errors.New("rpc error: code = InvalidArgument desc = refused")
			},
			serviceUpdate: func(string, swarm.Version) error {
				if updates++; updates == 2 { // the rollback's first try
					return errors.New("rpc error: code = Unknown desc = update out of sequence")
				}
				return nil
			},
			inspect: func(id string) (swarm.Service, error) {
				for _, s := range live.Services {
					if s.ID == id {
						return s, nil
					}
				}
				return swarm.Service{}, errors.New("no such service")
			},
		}
		_, err = Apply(context.Background(), f, p, Quiet{})
		if err == nil || !strings.Contains(err.Error(), "were put back (shop_web)") {
			t.Fatalf("err = %v", err)
		}
		if n := len(f.updateOpts); n != 3 || f.updateOpts[2].Rollback != "previous" {
			t.Errorf("updates %+v: want the update, then the rollback twice", f.updateOpts)
		}
	})

	t.Run("a failed update is reported with the service", func(t *testing.T) {
		p, _ := plan.MakePlan(d, live, 0)
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
