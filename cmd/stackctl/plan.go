package main

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/stackctl/stackctl/compose"
	"github.com/stackctl/stackctl/rotate"
)

type planOptions struct {
	load   compose.Options
	keep   int
	output outputFlags
}

func newPlanCmd(d *deps, runF func(context.Context, planOptions) error) *cobra.Command {
	if runF == nil {
		runF = func(ctx context.Context, o planOptions) error { return runPlan(ctx, d, o) }
	}
	var (
		lf   loadFlags
		opts planOptions
	)
	cmd := &cobra.Command{
		Use:   "plan [-c FILE]... [STACK]",
		Short: "Show what deploy would change; reads the engine, writes nothing",
		Example: `  stackctl plan -c docker-compose.yml shop
  stackctl plan --output json shop | jq '.plan.services[] | select(.action != "unchanged")'`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := opts.output.validate(); err != nil {
				return err
			}
			opts.keep = opts.output.keep
			opts.load = lf.options(d, args)
			return runF(cmd.Context(), opts)
		},
	}
	lf.register(cmd)
	opts.output.register(cmd.Flags(), "print no warnings", "unused versions of each secret and config that prune would keep")
	return cmd
}

func runPlan(ctx context.Context, d *deps, opts planOptions) error {
	return runDeploy(ctx, d, deployOptions{
		load:    opts.load,
		deploy:  rotate.DeployOptions{DryRun: true, Keep: opts.keep},
		output:  opts.output,
		command: "plan",
	})
}
