package rotate

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/swarm"
)

// WaitOptions bound how Wait polls.
type WaitOptions struct {
	Timeout  time.Duration
	Interval time.Duration
	// Settle is how long a service whose tasks all run may go without a
	// fresh update status before it counts as converged (an update that
	// swarm decides needs no new tasks never reports one).
	Settle time.Duration
}

// RolloutError is a service that did not converge.
type RolloutError struct {
	Service string
	State   string
	Message string
	// TaskError is the last error a task of the service reported.
	TaskError string
}

func (e *RolloutError) Error() string {
	msg := fmt.Sprintf("service %s: %s", e.Service, e.State)
	if e.Message != "" {
		msg += ": " + e.Message
	}
	if e.TaskError != "" {
		msg += " (task error: " + e.TaskError + ")"
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

// Wait polls every rollout until it has converged, failed, or the timeout
// passed. Unlike docker stack deploy, a paused or rolled back update is a
// failure.
func Wait(ctx context.Context, eng Engine, rollouts []Rollout, opts WaitOptions, report Reporter) ([]Outcome, error) {
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
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		errs     []error
		outcomes []Outcome
	)
	for _, r := range rollouts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := waitOne(ctx, eng, r, opts, report)
			o := Outcome{Service: r.Name, Created: r.Created, Result: "converged", Seconds: time.Since(r.start).Seconds()}
			var re *RolloutError
			if errors.As(err, &re) {
				o.Result = re.State
			} else if err != nil {
				o.Result = "unknown: " + err.Error()
			}
			mu.Lock()
			defer mu.Unlock()
			outcomes = append(outcomes, o)
			if err != nil {
				errs = append(errs, err)
			}
		}()
	}
	wg.Wait()
	sort.Slice(errs, func(i, j int) bool { return errs[i].Error() < errs[j].Error() })
	sort.Slice(outcomes, func(i, j int) bool { return outcomes[i].Service < outcomes[j].Service })
	return outcomes, errors.Join(errs...)
}

func waitOne(ctx context.Context, eng Engine, r Rollout, opts WaitOptions, report Reporter) error {
	last := ""
	var lastTaskErr string
	settledSince := time.Time{}
	tick := time.NewTicker(opts.Interval)
	defer tick.Stop()
	for {
		st, err := observeRollout(ctx, eng, r)
		if err != nil {
			if ctx.Err() != nil {
				return timeoutError(r, last, lastTaskErr, ctx.Err())
			}
			return fmt.Errorf("service %s: %w", r.Name, err)
		}
		if st.taskErr != "" {
			lastTaskErr = st.taskErr
		}
		if st.line != last {
			report.Status(r.Name, st.line)
			last = st.line
		}
		switch {
		case st.failed != "":
			return &RolloutError{Service: r.Name, State: st.failed, Message: st.message, TaskError: lastTaskErr}
		case st.converged:
			return nil
		case st.tasksReady && !st.fresh:
			if settledSince.IsZero() {
				settledSince = time.Now()
			} else if time.Since(settledSince) >= opts.Settle {
				return nil
			}
		default:
			settledSince = time.Time{}
		}
		select {
		case <-ctx.Done():
			return timeoutError(r, last, lastTaskErr, ctx.Err())
		case <-tick.C:
		}
	}
}

func timeoutError(r Rollout, last, taskErr string, err error) error {
	state := "did not converge"
	if errors.Is(err, context.DeadlineExceeded) {
		state = "timed out"
	}
	return &RolloutError{Service: r.Name, State: state, Message: "last seen: " + last, TaskError: taskErr}
}

type rolloutState struct {
	line       string
	converged  bool
	tasksReady bool
	fresh      bool // the update status is from our update
	failed     string
	message    string
	taskErr    string
}

func observeRollout(ctx context.Context, eng Engine, r Rollout) (rolloutState, error) {
	var st rolloutState
	svc, _, err := eng.ServiceInspectWithRaw(ctx, r.ID, swarm.ServiceInspectOptions{})
	if err != nil {
		return st, err
	}
	tasks, err := eng.TaskList(ctx, swarm.TaskListOptions{Filters: filters.NewArgs(filters.Arg("service", r.ID))})
	if err != nil {
		return st, err
	}
	want, isJob := desiredTasks(svc.Spec)
	running, desired := 0, 0
	var newest time.Time
	for _, t := range tasks {
		if t.DesiredState == swarm.TaskStateRunning || (isJob && t.DesiredState == swarm.TaskStateComplete) {
			desired++
			if t.Status.State == swarm.TaskStateRunning || (isJob && t.Status.State == swarm.TaskStateComplete) {
				running++
			}
		}
		if t.Status.Err != "" && t.Status.Timestamp.After(newest) && t.Status.Timestamp.After(r.start.Add(-time.Second)) {
			newest, st.taskErr = t.Status.Timestamp, t.Status.Err
		}
	}
	st.tasksReady = running == desired && (want < 0 || running >= want)
	st.line = fmt.Sprintf("%d/%s tasks running", running, wantString(want, desired))

	us := svc.UpdateStatus
	st.fresh = us != nil && (r.prev == nil || !orZero(us.StartedAt).Equal(*orZero(r.prev.StartedAt)))
	if r.Created || us == nil || !st.fresh {
		st.converged = r.Created && st.tasksReady
		return st, nil
	}
	st.line = fmt.Sprintf("update %s, %s", us.State, st.line)
	st.message = us.Message
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
	return st, nil
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
