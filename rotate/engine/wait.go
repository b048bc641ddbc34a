package engine

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
	"github.com/stackctl/stackctl/rotate/plan"
)

// WaitOptions bound how Wait polls.
type WaitOptions struct {
	Timeout  time.Duration
	Interval time.Duration
	// Settle is how long a service whose tasks all run may go without a
	// fresh update status before it counts as converged (an update that
	// swarm decides needs no new tasks never reports one).
	Settle time.Duration
	// Now is the clock that settling and durations are read from
	// (time.Now when nil); polls are paced by Interval.
	Now func() time.Time
}

func (o WaitOptions) now() time.Time {
	if o.Now != nil {
		return o.Now()
	}
	return time.Now()
}

// RolloutError is a service that did not converge.
type RolloutError struct {
	Service string
	State   string
	Message string
	// TaskError is the last error a task of the service reported.
	TaskError string
	// DownNodes are the unreachable nodes that hold tasks of the service
	// swarm is still waiting on.
	DownNodes []string
}

func (e *RolloutError) Error() string {
	msg := fmt.Sprintf("service %s: %s", e.Service, e.State)
	if e.Message != "" {
		msg += ": " + e.Message
	}
	if e.TaskError != "" {
		msg += " (task error: " + e.TaskError + ")"
	}
	if len(e.DownNodes) > 0 {
		which := "node " + e.DownNodes[0] + ", which is down: the update goes on once it is back"
		if len(e.DownNodes) > 1 {
			which = "nodes " + strings.Join(e.DownNodes, ", ") + ", which are down: the update goes on once they are back"
		}
		msg += "; swarm waits on tasks of " + which
	}
	return msg
}

// Outcome is how one service's rollout ended.
type Outcome struct {
	Service string  `json:"service"`
	Created bool    `json:"created"`
	Result  string  `json:"result"` // converged, or what went wrong
	Seconds float64 `json:"seconds"`
}

// rolloutWatcher reads how rollouts go.
type rolloutWatcher interface {
	ServiceList(ctx context.Context, options client.ServiceListOptions) (client.ServiceListResult, error)
	TaskList(ctx context.Context, options client.TaskListOptions) (client.TaskListResult, error)
	NodeList(ctx context.Context, options client.NodeListOptions) (client.NodeListResult, error)
}

// Wait polls every rollout until it has converged, failed, or the timeout
// passed. Unlike docker stack deploy, a paused or rolled back update is a
// failure. Each poll is two requests however many services roll out: one
// service list and one task list.
func Wait(ctx context.Context, eng rolloutWatcher, rollouts []Rollout, opts WaitOptions, report Reporter) ([]Outcome, error) {
	if opts.Interval == 0 {
		opts.Interval = 500 * time.Millisecond
	}
	if opts.Settle == 0 {
		opts.Settle = 3 * time.Second
	}
	if opts.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, opts.Timeout)
		defer cancel()
	}
	p := &poller{eng: eng, opts: opts, report: report}
	for _, r := range rollouts {
		p.pending = append(p.pending, &watch{Rollout: r})
	}
	tick := time.NewTicker(opts.Interval)
	defer tick.Stop()
	for p.poll(ctx); len(p.pending) > 0; p.poll(ctx) {
		select {
		case <-ctx.Done():
			for _, w := range p.pending {
				p.finish(w, w.timeout(ctx, eng, &p.down))
			}
			p.pending = nil
		case <-tick.C:
		}
	}
	sort.Slice(p.errs, func(i, j int) bool { return p.errs[i].Error() < p.errs[j].Error() })
	sort.Slice(p.outcomes, func(i, j int) bool { return p.outcomes[i].Service < p.outcomes[j].Service })
	return p.outcomes, errors.Join(p.errs...)
}

// poller is one Wait: the rollouts still pending and how the others ended.
type poller struct {
	eng      rolloutWatcher
	opts     WaitOptions
	report   Reporter
	pending  []*watch
	outcomes []Outcome
	errs     []error
	down     map[string]string // unreachable nodes, read on the first timeout
}

// poll reads every pending rollout once (two requests, however many
// services roll out) and finishes those that are over.
func (p *poller) poll(ctx context.Context) {
	if len(p.pending) == 0 {
		return
	}
	services, tasks, err := observeRollouts(ctx, p.eng, p.pending)
	var left []*watch
	for _, w := range p.pending {
		var done bool
		var werr error
		switch svc, ok := services[w.ID]; {
		case err != nil && ctx.Err() != nil:
			done, werr = true, w.timeout(ctx, p.eng, &p.down)
		case err != nil:
			done, werr = true, fmt.Errorf("service %s: %w", w.Name, err)
		case !ok:
			done, werr = true, &RolloutError{Service: w.Name, State: "removed", Message: "the service was removed while it rolled out"}
		default:
			w.tasks = tasks[w.ID]
			done, werr = w.step(evaluate(w.Rollout, svc, w.tasks), p.opts, p.report)
		}
		if done {
			p.finish(w, werr)
		} else {
			left = append(left, w)
		}
	}
	p.pending = left
}

func (p *poller) finish(w *watch, err error) {
	o := Outcome{Service: w.Name, Created: w.Created, Result: "converged", Seconds: p.opts.now().Sub(w.start).Seconds()}
	var re *RolloutError
	if errors.As(err, &re) {
		o.Result = re.State
	} else if err != nil {
		o.Result = "unknown: " + err.Error()
	}
	p.outcomes = append(p.outcomes, o)
	if err != nil {
		p.errs = append(p.errs, err)
	}
}

// watch is one rollout being waited for, with what the polls saw so far.
type watch struct {
	Rollout
	last         string // the last status line reported
	taskErr      string // the last task error seen
	tasks        []swarm.Task
	settledSince time.Time
}

// step takes one poll's state and says whether the rollout is over.
func (w *watch) step(st rolloutState, opts WaitOptions, report Reporter) (bool, error) {
	if st.taskErr != "" {
		w.taskErr = st.taskErr
	}
	if st.line != w.last {
		report.Status(w.Name, st.line)
		w.last = st.line
	}
	switch {
	case st.failed != "":
		return true, &RolloutError{Service: w.Name, State: st.failed, Message: st.message, TaskError: w.taskErr}
	case st.converged && st.failures == 0:
		return true, nil
	case st.tasksReady && (!st.fresh || st.converged):
		// No fresh status to go by, or tasks failed on the way: the
		// tasks must keep running for a while.
		if now := opts.now(); w.settledSince.IsZero() {
			w.settledSince = now
		} else if now.Sub(w.settledSince) >= opts.Settle {
			return true, nil
		}
	default:
		w.settledSince = time.Time{}
	}
	return false, nil
}

// observeRollouts reads the services being rolled out and their tasks, by
// service ID.
func observeRollouts(ctx context.Context, eng rolloutWatcher, ws []*watch) (map[string]swarm.Service, map[string][]swarm.Task, error) {
	ids := make(client.Filters)
	for _, w := range ws {
		ids.Add("id", w.ID)
	}
	list, err := eng.ServiceList(ctx, client.ServiceListOptions{Filters: ids})
	if err != nil {
		return nil, nil, err
	}
	services := map[string]swarm.Service{}
	byService := make(client.Filters)
	for _, svc := range list.Items {
		services[svc.ID] = svc
		byService.Add("service", svc.ID)
	}
	tasks := map[string][]swarm.Task{}
	if len(services) == 0 {
		return services, tasks, nil
	}
	all, err := eng.TaskList(ctx, client.TaskListOptions{Filters: byService})
	if err != nil {
		return nil, nil, err
	}
	for _, t := range all.Items {
		tasks[t.ServiceID] = append(tasks[t.ServiceID], t)
	}
	return services, tasks, nil
}

// timeout is the error of a rollout that ran out of time, naming the
// unreachable nodes holding tasks swarm still waits on. down caches the
// node list across the rollouts that time out together.
func (w *watch) timeout(ctx context.Context, eng rolloutWatcher, down *map[string]string) error {
	state := "did not converge"
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		state = "timed out"
	}
	e := &RolloutError{Service: w.Name, State: state, Message: "last seen: " + w.last, TaskError: w.taskErr}
	if *down == nil {
		*down = downNodes(ctx, eng)
	}
	for _, t := range w.tasks {
		name, ok := (*down)[t.NodeID]
		if ok && !terminal(t.Status.State) && !slices.Contains(e.DownNodes, name) {
			e.DownNodes = append(e.DownNodes, name)
		}
	}
	sort.Strings(e.DownNodes)
	return e
}

// downNodes maps the ID of every node that is not ready to its hostname.
// It is read after the wait ran out of time, so it has its own short one;
// when that fails too there is nothing more to say.
func downNodes(ctx context.Context, eng rolloutWatcher) map[string]string {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	out := map[string]string{}
	nodes, err := eng.NodeList(ctx, client.NodeListOptions{})
	if err != nil {
		return out
	}
	for _, n := range nodes.Items {
		if n.Status.State != swarm.NodeStateReady {
			out[n.ID] = n.Description.Hostname
		}
	}
	return out
}

// terminal says whether a task has stopped for good.
func terminal(s swarm.TaskState) bool {
	switch s {
	case swarm.TaskStateComplete, swarm.TaskStateShutdown, swarm.TaskStateFailed, swarm.TaskStateRejected, swarm.TaskStateRemove, swarm.TaskStateOrphaned:
		return true
	}
	return false
}

type rolloutState struct {
	line       string
	converged  bool
	tasksReady bool
	fresh      bool // the update status is from our update
	failures   int  // tasks failed since the deploy started
	failed     string
	message    string
	taskErr    string
}

// evaluate says where one rollout stands, from its service and tasks.
func evaluate(r Rollout, svc swarm.Service, tasks []swarm.Task) rolloutState {
	want, isJob := desiredTasks(svc.Spec)
	tc := countTasks(r, svc, tasks, isJob)
	st := rolloutState{failures: tc.failures, taskErr: tc.taskErr}
	st.tasksReady = tc.running == tc.desired && (want < 0 || tc.running >= want)
	st.line = fmt.Sprintf("%d/%s tasks running", tc.running, wantString(want, tc.desired))

	us := svc.UpdateStatus
	st.fresh = us != nil && (r.prev == nil || !orZero(us.StartedAt).Equal(*orZero(r.prev.StartedAt)))
	// Once swarm has stopped updating (a new service, failure_action
	// continue, or an update that needs no new task), new tasks that keep
	// failing will not get better by waiting for the timeout.
	updating := st.fresh && !r.Created && us.State != swarm.UpdateStateCompleted
	if !st.tasksReady && !updating && st.failures >= keepFailing(want) {
		st.failed = fmt.Sprintf("tasks keep failing (%d failed since the deploy)", st.failures)
		return st
	}
	if r.Created || us == nil || !st.fresh {
		st.converged = r.Created && st.tasksReady
		return st
	}
	st.line = fmt.Sprintf("update %s, %s", us.State, st.line)
	st.message = us.Message
	updateOutcome(&st, us)
	return st
}

// taskCount is what a poll's tasks say of a rollout.
type taskCount struct {
	running, desired int
	failures         int    // tasks failed since the rollout started
	taskErr          string // the newest task error since then
}

func countTasks(r Rollout, svc swarm.Service, tasks []swarm.Task, isJob bool) taskCount {
	var tc taskCount
	var newest time.Time
	for _, t := range tasks {
		if (t.Status.State == swarm.TaskStateFailed || t.Status.State == swarm.TaskStateRejected) && t.CreatedAt.After(r.start) {
			tc.failures++
		}
		if t.DesiredState == swarm.TaskStateRunning || (isJob && t.DesiredState == swarm.TaskStateComplete) {
			tc.desired++
			// A task counts once it runs the service's current container
			// spec: a stalled rollout leaves tasks on the old one.
			current := reflect.DeepEqual(t.Spec.ContainerSpec, svc.Spec.TaskTemplate.ContainerSpec)
			if current && (t.Status.State == swarm.TaskStateRunning || (isJob && t.Status.State == swarm.TaskStateComplete)) {
				tc.running++
			}
		}
		if t.Status.Err != "" && t.Status.Timestamp.After(newest) && t.Status.Timestamp.After(r.start.Add(-time.Second)) {
			newest, tc.taskErr = t.Status.Timestamp, t.Status.Err
		}
	}
	return tc
}

// updateOutcome reads swarm's status of an update of ours.
func updateOutcome(st *rolloutState, us *swarm.UpdateStatus) {
	switch us.State {
	case swarm.UpdateStateCompleted:
		st.converged = st.tasksReady
	case swarm.UpdateStatePaused:
		st.failed = "update paused"
	case swarm.UpdateStateRollbackStarted:
		st.line = "rolling back: " + strings.TrimSpace(us.Message)
	case swarm.UpdateStateRollbackCompleted:
		st.failed = "update rolled back"
	case swarm.UpdateStateRollbackPaused:
		st.failed = "rollback paused"
	}
}

func keepFailing(want int) int {
	return 3 * max(want, 1)
}

// desiredTasks is how many tasks should run: -1 when the engine decides (global).
func desiredTasks(spec swarm.ServiceSpec) (int, bool) {
	switch {
	case spec.Mode.Replicated != nil && spec.Mode.Replicated.Replicas != nil:
		return int(*spec.Mode.Replicated.Replicas), false
	case spec.Mode.ReplicatedJob != nil:
		if spec.Mode.ReplicatedJob.TotalCompletions != nil {
			return int(*spec.Mode.ReplicatedJob.TotalCompletions), true
		}
		return 1, true
	case spec.Mode.GlobalJob != nil:
		return -1, true
	}
	return -1, false
}

func wantString(want, desired int) string {
	if want < 0 {
		return fmt.Sprint(desired)
	}
	return fmt.Sprint(want)
}

func orZero(t *time.Time) *time.Time {
	if t == nil {
		return &time.Time{}
	}
	return t
}

// InProgress are the rollouts of unchanged services that an earlier deploy
// started and nobody saw finish (it was killed, or lost its connection).
func InProgress(p *plan.Plan) []Rollout {
	var out []Rollout
	for _, sc := range p.Services {
		if sc.InProgress {
			r := Rollout{Name: sc.Name, ID: sc.ID, spec: sc.Live.Spec, start: time.Now()}
			out = append(out, r)
		}
	}
	return out
}
