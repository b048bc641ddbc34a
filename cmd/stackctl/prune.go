package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/stackctl/stackctl/compose"
	"github.com/stackctl/stackctl/rotate"
	"github.com/stackctl/stackctl/rotate/engine"
)

type pruneOptions struct {
	stack  string
	load   *compose.Options // set when the stack comes from compose files
	keep   int
	dryRun bool
	lock   engine.LockOptions
	output outputFlags
}

func newPruneCmd(d *deps, runF func(context.Context, pruneOptions) error) *cobra.Command {
	if runF == nil {
		runF = func(ctx context.Context, o pruneOptions) error { return runPrune(ctx, d, o) }
	}
	var (
		lf   loadFlags
		lk   lockFlags
		opts pruneOptions
	)
	cmd := &cobra.Command{
		Use:   "prune [-c FILE]... [STACK]",
		Short: "Remove a stack's secret and config versions that no service needs",
		Long: `Prune removes the stack's stackctl-made versions that no service refers to in
its spec or its previous spec (a rollback needs that one), keeping the newest
--keep unused versions of each name. With -c, versions the compose files
define are kept too. Objects that stackctl did not make are never touched.`,
		Example: `  stackctl prune shop --keep 1
  stackctl prune -c docker-compose.yml --dry-run`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := opts.output.validate(); err != nil {
				return err
			}
			opts.keep = opts.output.keep
			if len(args) == 1 && len(lf.files) == 0 {
				opts.stack = args[0]
			} else {
				o := lf.options(d, args)
				opts.load = &o
			}
			opts.lock = lk.options(d, "prune")
			return runF(cmd.Context(), opts)
		},
	}
	lf.register(cmd)
	lk.register(cmd)
	cmd.Flags().BoolVar(&opts.dryRun, "dry-run", false, "print what would be removed and remove nothing")
	opts.output.register(cmd.Flags(), "print no progress", keepUsage)
	return cmd
}

func runPrune(ctx context.Context, d *deps, opts pruneOptions) error {
	popts := engine.PruneOptions{Keep: opts.keep, DryRun: opts.dryRun}
	stack := opts.stack
	if opts.load != nil {
		desired, err := prepare(ctx, d, *opts.load, opts.output.quiet)
		if err != nil {
			return err
		}
		stack, popts.Desired = desired.Project.Stack, desired.Versions
	}
	if err := compose.ValidateStackName(stack); err != nil {
		return usageError{err}
	}
	eng, err := d.engine(ctx)
	if err != nil {
		return err
	}
	removed, err := rotate.PruneStack(ctx, eng, stack, popts, opts.lock, reporter(d, opts.output.quiet))
	err = asUsage(err)
	if opts.output.format == "json" {
		if jerr := writeJSON(d.stdout, rotate.PruneResult{FormatVersion: rotate.FormatVersion, Stack: stack, DryRun: opts.dryRun, Pruned: orEmpty(removed)}); jerr != nil && err == nil {
			err = jerr
		}
		return err
	}
	verb := "removed"
	if opts.dryRun {
		verb = "would remove"
	}
	for _, v := range removed {
		fmt.Fprintf(d.stdout, "%s %s %s\n", verb, v.Kind, v.Name)
	}
	if len(removed) == 0 {
		fmt.Fprintf(d.stdout, "stack %s: nothing to prune\n", stack)
	}
	return err
}

func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
