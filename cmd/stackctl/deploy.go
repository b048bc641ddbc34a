package main

import (
	"bytes"
	"context"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/stackctl/stackctl/compose"
	"github.com/stackctl/stackctl/rotate"
	"github.com/stackctl/stackctl/rotate/plan"
)

type deployOptions struct {
	load    compose.Options
	deploy  rotate.DeployOptions
	output  outputFlags
	command string // "deploy", or "plan" when plan runs it
}

func newDeployCmd(d *deps, runF func(context.Context, deployOptions) error) *cobra.Command {
	if runF == nil {
		runF = func(ctx context.Context, o deployOptions) error { return runDeploy(ctx, d, o) }
	}
	var (
		lf   loadFlags
		lk   lockFlags
		opts deployOptions
	)
	cmd := &cobra.Command{
		Use:   "deploy [-c FILE]... [STACK]",
		Short: "Deploy a stack: new secret and config versions, one rolling update per changed service",
		Long: `Deploy loads and decrypts everything first, then, through the Engine API and in
docker stack deploy's order, creates missing networks and secret and config
versions, updates each changed service once (unchanged services are not
touched), waits for the rollout, and prunes versions nothing needs.`,
		Example: `  stackctl deploy -c docker-compose.yml shop
  stackctl deploy -c base.yml -c prod.yml --env-file prod.env --timeout 5m shop
  DOCKER_HOST=ssh://deploy@manager stackctl deploy --dry-run --output json shop`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := opts.output.validate(); err != nil {
				return err
			}
			opts.deploy.Keep = opts.output.keep
			opts.load = lf.options(d, args)
			opts.deploy.Lock = lk.options(d, "deploy")
			return runF(cmd.Context(), opts)
		},
	}
	lf.register(cmd)
	lk.register(cmd)
	f := cmd.Flags()
	f.BoolVar(&opts.deploy.DryRun, "dry-run", false, "print the plan and change nothing")
	f.BoolVarP(&opts.deploy.Detach, "detach", "d", false, "return once the changes are sent: no wait, no prune")
	f.DurationVar(&opts.deploy.Wait.Timeout, "timeout", 10*time.Minute, "how long to wait for the rollout")
	f.BoolVar(&opts.deploy.NoPrune, "no-prune", false, "keep every unused version")
	opts.output.register(f, "print no progress", keepUsage)
	return cmd
}

func runDeploy(ctx context.Context, d *deps, opts deployOptions) (err error) {
	if opts.command == "" {
		opts.command = "deploy"
	}
	gh := report{command: opts.command, stack: opts.load.Stack, dryRun: opts.deploy.DryRun, files: opts.load.Files}
	defer reportTo(d, opts.output.format, &gh, &err)
	// What -c - reads is kept, for a deploy that reads its inputs again.
	var stdin bytes.Buffer
	if opts.load.Stdin != nil {
		opts.load.Stdin = io.TeeReader(opts.load.Stdin, &stdin)
	}
	desired, err := prepare(ctx, d, opts.load, opts.output.quiet)
	if err != nil {
		return err
	}
	gh.stack, gh.files = desired.Project.Stack, desired.Project.Files
	eng, err := d.engine(ctx)
	if err != nil {
		return err
	}
	opts.deploy.Reload = func(ctx context.Context) (*plan.Desired, error) {
		load := opts.load
		load.Stdin = bytes.NewReader(stdin.Bytes()) // -c - is what it was
		again, err := rotate.Prepare(ctx, load)
		if err != nil {
			return nil, inputError(err)
		}
		again.Provenance = desired.Provenance
		return again, nil
	}
	res, err := rotate.Deploy(ctx, eng, desired, opts.deploy, reporter(d, opts.output.quiet))
	gh.result = res
	if res.Plan != nil {
		switch {
		case opts.output.format == "json":
			if jerr := writeJSON(d.stdout, res); jerr != nil && err == nil {
				err = jerr
			}
		case opts.deploy.DryRun:
			printPlan(d.stdout, res.Plan)
		case err == nil:
			printResult(d.stdout, res)
		}
	}
	return err
}

// prepare reads and validates every input before any engine is contacted.
func prepare(ctx context.Context, d *deps, opts compose.Options, quiet bool) (*plan.Desired, error) {
	desired, err := rotate.Prepare(ctx, opts)
	if err != nil {
		return nil, inputError(err)
	}
	report := reporter(d, quiet)
	for _, w := range desired.Warnings {
		report.Printf("warning: %s", w)
	}
	desired.Warnings = nil
	desired.Provenance = provenance(d.getenv)
	return desired, nil
}
