package rotate

import (
	"context"

	"github.com/stackctl/stackctl/rotate/engine"
	"github.com/stackctl/stackctl/rotate/plan"
)

// PruneResult is what the prune command removed (or would, on a dry run).
type PruneResult struct {
	FormatVersion string               `json:"format_version"`
	Stack         string               `json:"stack"`
	DryRun        bool                 `json:"dry_run"`
	Pruned        []plan.VersionChange `json:"pruned"`
}

// PruneStack is the prune command: on a swarm manager that holds the
// stack, and under the stack's lock unless it is a dry run, it prunes.
func PruneStack(ctx context.Context, eng engine.Engine, stack string, opts engine.PruneOptions, lock engine.LockOptions, report engine.Reporter) (_ []plan.VersionChange, err error) {
	if err := engine.CheckManager(ctx, eng); err != nil {
		return nil, err
	}
	if err := engine.CheckStack(ctx, eng, stack); err != nil {
		return nil, err
	}
	if !opts.DryRun {
		var l *engine.Lock
		if l, err = engine.AcquireLock(ctx, eng, stack, lock, report); err != nil {
			return nil, err
		}
		defer l.ReleaseInto(ctx, &err) // err: the function's, so a failed release is reported
	}
	return engine.Prune(ctx, eng, stack, opts, report)
}
