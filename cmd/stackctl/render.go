package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/stackctl/stackctl/compose"
	"github.com/stackctl/stackctl/rotate"
)

// loadFlags are the compose-loading flags shared by render, plan and deploy.
type loadFlags struct {
	files    []string
	envFiles []string
	profiles []string
}

func (f *loadFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringArrayVarP(&f.files, "compose-file", "c", nil, "compose file, merged in order; - reads stdin (default: compose.yaml, docker-compose.yml, ...)")
	cmd.Flags().StringArrayVar(&f.envFiles, "env-file", nil, "env file for interpolation (default: .env next to the first compose file)")
	cmd.Flags().StringArrayVar(&f.profiles, "profile", nil, "compose profile to activate (also COMPOSE_PROFILES); services of inactive profiles are not deployed")
}

func (f *loadFlags) options(d *deps, args []string) compose.Options {
	o := compose.Options{Files: f.files, EnvFiles: f.envFiles, Profiles: f.profiles, Stdin: d.stdin}
	if len(args) > 0 {
		o.Stack = args[0]
	}
	return o
}

type renderOptions struct {
	load compose.Options
}

// newRenderCmd parses flags into renderOptions and hands them to runF
// (runRender unless a test passes its own).
func newRenderCmd(d *deps, runF func(context.Context, renderOptions) error) *cobra.Command {
	if runF == nil {
		runF = func(ctx context.Context, o renderOptions) error { return runRender(ctx, d, o) }
	}
	var lf loadFlags
	cmd := &cobra.Command{
		Use:   "render [-c FILE]... [STACK]",
		Short: "Print the compose file stackctl would deploy",
		Long: `Render loads and merges the compose files, decrypts SOPS sources in memory,
and prints the compose file that stackctl would deploy: every secret and config
becomes external under its version name <name>.<hash>, and every service
reference names its target explicitly. No value is printed.`,
		Example: `  stackctl render -c docker-compose.yml shop
  stackctl render -c base.yml -c prod.yml --env-file prod.env shop | docker stack config -c -`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runF(cmd.Context(), renderOptions{load: lf.options(d, args)})
		},
	}
	lf.register(cmd)
	return cmd
}

func runRender(ctx context.Context, d *deps, opts renderOptions) error {
	desired, err := rotate.PrepareRender(ctx, opts.load)
	if err != nil {
		return inputError(err)
	}
	for _, w := range desired.Warnings {
		fmt.Fprintln(d.stderr, "warning:", w)
	}
	out, err := desired.Project.Render()
	if err != nil {
		return err
	}
	_, err = d.stdout.Write(out)
	return err
}
