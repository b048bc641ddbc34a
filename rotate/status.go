package rotate

import (
	"context"

	"github.com/stackctl/stackctl/rotate/engine"
	"github.com/stackctl/stackctl/rotate/plan"
)

// StatusResult is what the status command prints.
type StatusResult struct {
	FormatVersion string `json:"format_version"`
	*plan.Status
}

// Status reads the inventory of d's stack from the engine: every version,
// its age and policy, who uses it and whether the running tasks read it.
// Times are the engine's. It writes nothing.
func Status(ctx context.Context, eng engine.Engine, d *plan.Desired) (*StatusResult, error) {
	if err := engine.CheckManager(ctx, eng); err != nil {
		return nil, err
	}
	s, err := engine.Observe(ctx, eng, d.Project.Stack)
	if err != nil {
		return nil, err
	}
	tasks, err := engine.RunningTasks(ctx, eng)
	if err != nil {
		return nil, err
	}
	return &StatusResult{FormatVersion: FormatVersion, Status: plan.Inventory(d, s, tasks, engine.Now(ctx, eng))}, nil
}

// Due are the secrets of d whose x-rotate policy says they are due now,
// by the engine's clock.
func Due(ctx context.Context, eng engine.Engine, d *plan.Desired) ([]string, error) {
	st, err := Status(ctx, eng, d)
	if err != nil {
		return nil, err
	}
	return st.Due(), nil
}

// WithPolicy are the secrets of d that have an x-rotate policy: what
// `rotate --all` rotates when a key leaks.
func WithPolicy(d *plan.Desired) []string {
	var out []string
	for _, v := range d.Versions {
		if v.Source.Rotate != nil {
			out = append(out, v.Source.Key)
		}
	}
	return out
}
