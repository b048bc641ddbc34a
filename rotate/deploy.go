package rotate

import (
	"context"
	"sort"
	"time"
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
	Wait   WaitOptions
}

// Result is what a deploy did, for text and JSON output.
type Result struct {
	Plan     *Plan           `json:"plan"`
	Applied  bool            `json:"applied"`
	Pruned   []VersionChange `json:"pruned"`
	Rolled   []string        `json:"rolled"`
	Outcomes []Outcome       `json:"outcomes"`
	Duration time.Duration   `json:"duration_ns"`
}

// Deploy makes the stack in the engine look like d: it checks the engine,
// plans, creates what is missing, updates each changed service once, waits
// for the rollout and then prunes versions nothing needs. Every input was
// read and validated by Prepare before this writes anything.
func Deploy(ctx context.Context, eng Engine, d *Desired, opts DeployOptions, report Reporter) (*Result, error) {
	start := time.Now()
	res := &Result{Pruned: []VersionChange{}, Rolled: []string{}, Outcomes: []Outcome{}}
	if err := CheckManager(ctx, eng); err != nil {
		return res, err
	}
	state, err := Observe(ctx, eng, d.Project.Stack)
	if err != nil {
		return res, err
	}
	res.Plan, err = MakePlan(ctx, d, state, eng.ClientVersion(), opts.Keep)
	if err != nil {
		return res, err
	}
	for _, w := range res.Plan.Warnings {
		report.Printf("warning: %s", w)
	}
	if opts.DryRun {
		if !opts.NoPrune {
			res.Pruned = res.Plan.Prune
		}
		return res, nil
	}
	applied, err := apply(ctx, eng, d, res.Plan, opts, report)
	applied.Duration = time.Since(start)
	return applied, err
}

// apply carries out a plan, waits for the rollout and prunes.
func apply(ctx context.Context, eng Engine, d *Desired, p *Plan, opts DeployOptions, report Reporter) (*Result, error) {
	res := &Result{Plan: p, Pruned: []VersionChange{}, Rolled: []string{}, Outcomes: []Outcome{}}
	rollouts, err := Apply(ctx, eng, p, report)
	res.Applied = true
	for _, r := range rollouts {
		res.Rolled = append(res.Rolled, r.Name)
	}
	sort.Strings(res.Rolled)
	if err != nil || opts.Detach {
		return res, err
	}
	res.Outcomes, err = Wait(ctx, eng, rollouts, opts.Wait, report)
	if err != nil {
		return res, err
	}
	if opts.NoPrune {
		return res, nil
	}
	res.Pruned, err = Prune(ctx, eng, d.Project.Stack, PruneOptions{Keep: opts.Keep, Desired: d.Versions}, report)
	return res, err
}
