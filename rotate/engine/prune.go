package engine

import (
	"context"
	"errors"
	"fmt"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/client"

	"github.com/stackctl/stackctl/compose"
	"github.com/stackctl/stackctl/rotate/plan"
)

// PruneOptions say what pruning keeps.
type PruneOptions struct {
	// Keep is how many unused versions of each name to keep, newest first.
	Keep int
	// Desired are versions the compose files define: kept even if unused.
	Desired []plan.Version
	DryRun  bool
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
func Prune(ctx context.Context, eng versionRemover, stack string, opts PruneOptions, report Reporter) ([]plan.VersionChange, error) {
	s, err := Observe(ctx, eng, stack)
	if err != nil {
		return nil, err
	}
	victims := plan.Unused(s, opts.Desired, opts.Keep)
	if opts.DryRun {
		return victims, nil
	}
	var errs []error
	var done []plan.VersionChange
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
