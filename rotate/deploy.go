// Package rotate holds the use cases: prepare a stack (load, decrypt, name
// its versions), deploy it, rotate a secret and prune; each reads like the
// README and leaves planning to rotate/plan and engine calls to
// rotate/engine.
package rotate

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/moby/moby/client"

	"github.com/stackctl/stackctl/rotate/engine"
	"github.com/stackctl/stackctl/rotate/plan"
)

// DeployOptions control a deploy after the plan is made.
type DeployOptions struct {
	// Keep is how many unused versions of each name pruning keeps.
	Keep    int
	NoPrune bool
	// Detach returns once every change is sent, without waiting or pruning.
	Detach bool
	// DryRun makes the plan and stops.
	DryRun bool
	Wait   engine.WaitOptions
	// Lock says who takes the stack's lock before writing, and how long
	// they wait for another holder.
	Lock engine.LockOptions
	// Reload reads the compose files and values again. A deploy that
	// waited for the lock calls it once it holds the lock, so that it
	// never writes what another writer changed meanwhile (a rotation's
	// new value, above all) back to what it read before.
	Reload func(context.Context) (*plan.Desired, error)

	// lock is the stack's lock while apply runs: checked after the wait,
	// so that a deploy whose lock was taken reports it and prunes nothing.
	lock *engine.Lock
}

// FormatVersion is the version of the JSON that --output json prints
// (deploy, plan, rotate, prune): a new field keeps it, a field removed or
// changed in meaning raises it. 2.0: rotate lists its secrets under
// rotated[] (it rotates several at once); status is new.
const FormatVersion = "2.0"

// Result is what a deploy did, for text and JSON output.
type Result struct {
	FormatVersion string               `json:"format_version"`
	Plan          *plan.Plan           `json:"plan"`
	Applied       bool                 `json:"applied"`
	Pruned        []plan.VersionChange `json:"pruned"`
	Rolled        []string             `json:"rolled"`
	Outcomes      []engine.Outcome     `json:"outcomes"`
	Duration      time.Duration        `json:"duration_ns"`
}

func newResult(p *plan.Plan) *Result {
	return &Result{FormatVersion: FormatVersion, Plan: p, Pruned: []plan.VersionChange{}, Rolled: []string{}, Outcomes: []engine.Outcome{}}
}

// Created are the versions the deploy created (or would create).
func (r *Result) Created() []string {
	var out []string
	if r.Plan != nil {
		for _, v := range r.Plan.Versions {
			if v.Action == plan.Create {
				out = append(out, v.Name)
			}
		}
	}
	return out
}

// Services are the services the deploy rolled out or, if it applied
// nothing, would change.
func (r *Result) Services() []string {
	if r.Applied {
		return r.Rolled
	}
	var out []string
	if r.Plan != nil {
		for _, s := range r.Plan.Services {
			if s.Action != plan.Unchanged {
				out = append(out, s.Name)
			}
		}
	}
	return out
}

// PrunedNames are the versions pruned or, if nothing was applied, that
// pruning would remove.
func (r *Result) PrunedNames() []string {
	pruned := r.Pruned
	if len(pruned) == 0 && !r.Applied && r.Plan != nil {
		pruned = r.Plan.Prune
	}
	var out []string
	for _, v := range pruned {
		out = append(out, v.Name)
	}
	return out
}

// Deploy makes the stack in the engine look like d: it checks the engine,
// plans, creates what is missing, updates each changed service once, waits
// for the rollout and then prunes versions nothing needs. Every input was
// read and validated by Prepare before this writes anything.
func Deploy(ctx context.Context, eng engine.Engine, d *plan.Desired, opts DeployOptions, report engine.Reporter) (_ *Result, err error) {
	start := time.Now()
	res := newResult(nil)
	if err := engine.CheckManager(ctx, eng); err != nil {
		return res, err
	}
	if res.Plan, err = MakePlanFor(ctx, eng, d, opts.Keep); err != nil {
		return res, err
	}
	// --force-unlock removes a dead holder's lock even when there is
	// nothing else to write.
	if opts.DryRun || (!writes(res.Plan, opts) && !opts.Lock.Force) {
		err = writeNothing(ctx, eng, res, opts, report)
		res.Duration = time.Since(start)
		return res, err
	}

	// Something to write: take the stack's lock, and plan again under it,
	// since whoever held it may have changed the stack meanwhile.
	lock, err := engine.AcquireLock(ctx, eng, d.Project.Stack, opts.Lock, report)
	if err != nil {
		return res, err
	}
	defer lock.ReleaseInto(ctx, &err)
	if d, err = reloadIfWaited(ctx, d, lock, opts, report); err != nil {
		return res, err
	}
	if res.Plan, err = MakePlanFor(ctx, eng, d, opts.Keep); err != nil {
		return res, err
	}
	for _, w := range res.Plan.Warnings {
		report.Printf("warning: %s", w)
	}
	opts.lock = lock
	applied, err := apply(ctx, eng, d, res.Plan, opts, report)
	applied.Duration = time.Since(start)
	return applied, err
}

// writeNothing ends a dry run, or a deploy with nothing to write: it
// reports the plan and, unless detached, waits for rollouts in progress.
func writeNothing(ctx context.Context, eng engine.Engine, res *Result, opts DeployOptions, report engine.Reporter) (err error) {
	for _, w := range res.Plan.Warnings {
		report.Printf("warning: %s", w)
	}
	if !opts.NoPrune {
		res.Pruned = res.Plan.Prune
	}
	if !opts.DryRun && !opts.Detach {
		res.Outcomes, err = engine.Wait(ctx, eng, engine.InProgress(res.Plan), opts.Wait, report)
	}
	res.Applied = !opts.DryRun
	return err
}

// reloadIfWaited reads the compose files and values again when another
// writer held the lock first: what it wrote (a rotation's new value above
// all) must not be written back to what this deploy read before.
func reloadIfWaited(ctx context.Context, d *plan.Desired, lock *engine.Lock, opts DeployOptions, report engine.Reporter) (*plan.Desired, error) {
	if !lock.Waited || opts.Reload == nil {
		return d, nil
	}
	report.Printf("another writer held the lock of %s: reading the compose files and values again", d.Project.Stack)
	again, err := opts.Reload(ctx)
	if err != nil {
		return d, err
	}
	if again.Project.Stack != lock.Stack {
		return d, fmt.Errorf("the compose files now name stack %s, not %s, which this deploy locked: nothing was written: run it again", again.Project.Stack, lock.Stack)
	}
	return again, nil
}

// MakePlanFor reads the engine and plans the deploy of d. It writes nothing.
func MakePlanFor(ctx context.Context, eng engine.Engine, d *plan.Desired, keep int) (*plan.Plan, error) {
	p, _, err := planAndState(ctx, eng, d, keep)
	return p, err
}

func planAndState(ctx context.Context, eng engine.Engine, d *plan.Desired, keep int) (*plan.Plan, *plan.State, error) {
	state, err := engine.Observe(ctx, eng, d.Project.Stack)
	if err != nil {
		return nil, nil, err
	}
	if err := checkDrivers(ctx, eng, d, state); err != nil {
		return nil, nil, err
	}
	p, err := plan.MakePlan(d, state, keep)
	return p, state, err
}

// checkDrivers fails, before any write, when a secret the plan would
// create names a secret-driver plugin the engine does not have enabled:
// the engine would refuse the secret after the networks were made.
func checkDrivers(ctx context.Context, eng engine.Engine, d *plan.Desired, s *plan.State) error {
	var missing []plan.Version
	for _, v := range d.Versions {
		if v.Source.Driver == "" {
			continue
		}
		if _, ok := s.VersionID(v.Source.Kind, v.Name); !ok {
			missing = append(missing, v)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	plugins, err := eng.PluginList(ctx, client.PluginListOptions{Filters: make(client.Filters).Add("capability", "secretprovider").Add("enabled", "true")})
	if err != nil {
		return fmt.Errorf("list secret-driver plugins: %w", err)
	}
	have := map[string]bool{}
	for _, p := range plugins.Items {
		have[p.Name] = true
		have[strings.TrimSuffix(p.Name, ":latest")] = true
	}
	for _, v := range missing {
		if !have[v.Source.Driver] {
			return fmt.Errorf("%s: %ss.%s: driver %q: the engine has no enabled secret-driver plugin of that name: install and enable it (docker plugin install), or give the secret a file:", strings.Join(d.Project.Files, ", "), v.Source.Kind, v.Source.Key, v.Source.Driver)
		}
	}
	return nil
}

// writes reports whether carrying out p changes anything in the engine.
// An unchanged redeploy writes nothing, the lock included.
func writes(p *plan.Plan, opts DeployOptions) bool {
	return p.Changes() || (!opts.NoPrune && !opts.Detach && len(p.Prune) > 0)
}

// apply carries out a plan, waits for the rollout and prunes.
func apply(ctx context.Context, eng engine.Engine, d *plan.Desired, p *plan.Plan, opts DeployOptions, report engine.Reporter) (*Result, error) {
	applied, err := engine.Apply(ctx, eng, p, report)
	res := newResult(p.WithIDs(applied.IDs))
	res.Applied = true
	rollouts := applied.Rollouts
	for _, r := range rollouts {
		res.Rolled = append(res.Rolled, r.Name)
	}
	sort.Strings(res.Rolled)
	if err != nil || opts.Detach {
		return res, err
	}
	res.Outcomes, err = engine.Wait(ctx, eng, append(rollouts, engine.InProgress(p)...), opts.Wait, report)
	if lerr := opts.lock.Check(ctx); lerr != nil {
		return res, lerr // what converged may be another writer's spec
	}
	if err != nil {
		return res, err
	}
	if opts.NoPrune {
		return res, nil
	}
	res.Pruned, err = engine.Prune(ctx, eng, d.Project.Stack, engine.PruneOptions{Keep: opts.Keep, Desired: d.Versions}, report)
	return res, err
}
