package rotate

import (
	"context"
	"errors"
	"fmt"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/client"

	"github.com/stackctl/stackctl/compose"
)

// PruneOptions say what pruning keeps.
type PruneOptions struct {
	// Keep is how many unused versions of each name to keep, newest first.
	Keep int
	// Desired are versions the compose files define: kept even if unused.
	Desired []Version
	DryRun  bool
}

// PruneResult is what the prune command removed (or would, on a dry run).
type PruneResult struct {
	FormatVersion string          `json:"format_version"`
	Stack         string          `json:"stack"`
	DryRun        bool            `json:"dry_run"`
	Pruned        []VersionChange `json:"pruned"`
}

// PruneStack is the prune command: on a swarm manager that holds the
// stack, and under the stack's lock unless it is a dry run, it prunes.
func PruneStack(ctx context.Context, eng Engine, stack string, opts PruneOptions, lock LockOptions, report Reporter) (_ []VersionChange, err error) {
	if err := CheckManager(ctx, eng); err != nil {
		return nil, err
	}
	if err := CheckStack(ctx, eng, stack); err != nil {
		return nil, err
	}
	if !opts.DryRun {
		var l *Lock
		if l, err = AcquireLock(ctx, eng, stack, lock, report); err != nil {
			return nil, err
		}
		defer l.ReleaseInto(ctx, &err) // err: the function's, so a failed release is reported
	}
	return Prune(ctx, eng, stack, opts, report)
}

// versionRemover removes versions nothing needs, once it has read the swarm.
type versionRemover interface {
	observer
	SecretRemove(ctx context.Context, id string, options client.SecretRemoveOptions) (client.SecretRemoveResult, error)
	ConfigRemove(ctx context.Context, id string, options client.ConfigRemoveOptions) (client.ConfigRemoveResult, error)
}

// Prune removes the stack's stackctl versions that no service in the swarm
// refers to in its spec or previous spec, beyond opts.Keep per name. It
// reads the engine afresh, so it sees what the rollout left.
func Prune(ctx context.Context, eng versionRemover, stack string, opts PruneOptions, report Reporter) ([]VersionChange, error) {
	s, err := Observe(ctx, eng, stack)
	if err != nil {
		return nil, err
	}
	used := map[string]bool{}
	for i := range s.Services {
		usedRefs(&s.Services[i].Spec, used)
		usedRefs(s.Services[i].PreviousSpec, used)
	}
	for _, v := range opts.Desired {
		used[string(v.Source.Kind)+"/"+v.Name] = true
	}
	victims := SelectPrune(stack, s, used, opts.Keep)
	if opts.DryRun {
		return victims, nil
	}
	var errs []error
	var done []VersionChange
	for _, v := range victims {
		report.Printf("removing %s %s", v.Kind, v.Name)
		var err error
		if v.Kind == compose.Secret {
			_, err = eng.SecretRemove(ctx, v.ID, client.SecretRemoveOptions{})
		} else {
			_, err = eng.ConfigRemove(ctx, v.ID, client.ConfigRemoveOptions{})
		}
		if err != nil && !errdefs.IsNotFound(err) {
			// In use by a service created since we looked: leave it for next time.
			errs = append(errs, fmt.Errorf("remove %s %s: %w", v.Kind, v.Name, err))
			continue
		}
		done = append(done, v)
	}
	return done, errors.Join(errs...)
}
