package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/stackctl/stackctl/rotate/engine"

	"github.com/spf13/cobra"

	"github.com/stackctl/stackctl/compose"
	"github.com/stackctl/stackctl/rotate"
)

type rotateOptions struct {
	load     compose.Options
	secret   string
	length   int
	charset  string
	fromFile string
	stdin    bool
	rotate   rotate.RotateOptions
	output   outputFlags
	git      gitFlags
}

func newRotateCmd(d *deps, runF func(context.Context, rotateOptions) error) *cobra.Command {
	if runF == nil {
		runF = func(ctx context.Context, o rotateOptions) error { return runRotate(ctx, d, o) }
	}
	var (
		lf       loadFlags
		lk       lockFlags
		opts     rotateOptions
		generate bool
	)
	cmd := &cobra.Command{
		Use:   "rotate SECRET [-c FILE]... [STACK]",
		Short: "Give a secret a new value, write it into its SOPS file, and roll it out",
		Long: `Rotate makes a new value for a secret (random by default), writes it into the
secret's SOPS file with the file's own data key (every other value keeps its
ciphertext, so git shows a small diff), and rolls it out: one update for every
service of the stack that uses the secret, all at once, then wait and prune.
The new value is never printed, logged or passed as an argument.

A SOPS file in a git work tree must be tracked by git (checked before the
write) and is left staged; --commit commits and pushes it before anything
rolls out (a failed push rolls nothing out); --pull-request commits it to a
new branch, pushes that, opens a GitHub pull request and rolls nothing out.`,
		Example: `  stackctl rotate db_password -c docker-compose.yml shop
  stackctl rotate api_token --length 48 --charset base64url shop
  vault read -field=password secret/db | stackctl rotate db_password --stdin shop
  stackctl rotate db_password --no-deploy    # commit the new ciphertext, deploy from CI
  stackctl rotate db_password --commit       # commit and push it, then roll it out
  stackctl rotate db_password --pull-request # commit it to a new branch and open a pull request`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := opts.output.validate(); err != nil {
				return err
			}
			if err := opts.git.validate(); err != nil {
				return err
			}
			// A pull request's value is not on the deployed branch yet.
			opts.rotate.NoDeploy = opts.rotate.NoDeploy || opts.git.pullRequest
			sources := 0
			for _, set := range []bool{cmd.Flags().Changed("generate"), opts.fromFile != "", opts.stdin} {
				if set {
					sources++
				}
			}
			if sources > 1 {
				return usageError{errors.New("choose one of --generate, --from-file and --stdin")}
			}
			if opts.stdin && containsStdin(lf.files) {
				return usageError{errors.New("--stdin and -c - both want standard input")}
			}
			opts.rotate.Deploy.Keep = opts.output.keep
			opts.secret = args[0]
			opts.load = lf.options(d, args[1:])
			opts.rotate.Deploy.Lock = lk.options(d, "rotate")
			return runF(cmd.Context(), opts)
		},
	}
	lf.register(cmd)
	lk.register(cmd)
	f := cmd.Flags()
	f.BoolVar(&generate, "generate", true, "generate a random value (the default)")
	f.IntVar(&opts.length, "length", 32, "length of a generated value")
	f.StringVar(&opts.charset, "charset", rotate.CharsetAlnum, "characters of a generated value: alnum, base64url or hex")
	f.StringVar(&opts.fromFile, "from-file", "", "read the new value from this file (one trailing newline is dropped)")
	f.BoolVar(&opts.stdin, "stdin", false, "read the new value from standard input (one trailing newline is dropped)")
	f.BoolVar(&opts.rotate.NoDeploy, "no-deploy", false, "write the new ciphertext only")
	f.BoolVar(&opts.rotate.DryRun, "dry-run", false, "show what would be written and rolled; write nothing")
	f.DurationVar(&opts.rotate.Deploy.Wait.Timeout, "timeout", 10*time.Minute, "how long to wait for the rollout")
	opts.output.register(f, "print no progress", keepUsage)
	opts.git.register(f)
	return cmd
}

func containsStdin(files []string) bool {
	for _, f := range files {
		if f == "-" {
			return true
		}
	}
	return false
}

func runRotate(ctx context.Context, d *deps, opts rotateOptions) (err error) {
	gh := report{command: "rotate", stack: opts.load.Stack, dryRun: opts.rotate.DryRun, files: opts.load.Files}
	defer reportTo(d, opts.output.format, &gh, &err)
	desired, err := prepare(ctx, d, opts.load, opts.output.quiet)
	if err != nil {
		return err
	}
	gh.stack, gh.files = desired.Project.Stack, desired.Project.Files
	// Check the target, and that git can record it, before asking for a
	// value or touching the engine.
	cur, _, err := rotate.RotationTarget(desired, opts.secret)
	if err != nil {
		return usageError{err}
	}
	if opts.rotate.Record, err = opts.git.record(ctx, d, []string{opts.secret}, []string{cur.Source.File}, opts.output.quiet); err != nil {
		return err
	}
	value, err := newValue(ctx, d, opts)
	if err != nil {
		return err
	}
	opts.rotate.Secret, opts.rotate.Value = opts.secret, value
	var eng engine.Engine
	if !opts.rotate.NoDeploy {
		if eng, err = d.engine(ctx); err != nil {
			return err
		}
	}
	res, err := rotate.Rotate(ctx, eng, desired, opts.rotate, reporter(d, opts.output.quiet))
	err = asUsage(err)
	if res != nil {
		gh.rotated, gh.result = res, res.Deploy
		if opts.output.format == "json" {
			if jerr := writeJSON(d.stdout, res); jerr != nil && err == nil {
				err = jerr
			}
		} else if err == nil {
			printRotation(d.stdout, res, opts.rotate)
		}
	}
	return err
}

// newValue reads or generates the new value. It stays in memory.
func newValue(ctx context.Context, d *deps, opts rotateOptions) ([]byte, error) {
	var (
		v   []byte
		err error
	)
	// A value, its line ending, and one byte more to tell "too long".
	limit := compose.Secret.MaxSize() + 2
	switch {
	case opts.fromFile != "":
		if v, err = compose.ReadInput(ctx, func() (io.ReadCloser, error) { return os.Open(opts.fromFile) }, limit); err != nil {
			return nil, valueInputError("--from-file "+opts.fromFile, err)
		}
	case opts.stdin:
		if v, err = compose.ReadInput(ctx, func() (io.ReadCloser, error) { return io.NopCloser(d.stdin), nil }, limit); err != nil {
			return nil, valueInputError("--stdin", err)
		}
	default:
		v, err = rotate.Generate(opts.length, opts.charset)
		if err != nil {
			return nil, usageError{err}
		}
		return v, nil
	}
	v = bytes.TrimSuffix(v, []byte("\n"))
	v = bytes.TrimSuffix(v, []byte("\r"))
	if len(v) == 0 {
		return nil, usageError{errors.New("the new value is empty")}
	}
	if len(v) >= compose.Secret.MaxSize() {
		return nil, usageError{fmt.Errorf("the new value has %d bytes; swarm takes a secret of 1 to %d bytes", len(v), compose.Secret.MaxSize()-1)}
	}
	return v, nil
}

// valueInputError says what failed to read the new value; too much input, or
// none that can be read, is a usage error; an interruption is not.
func valueInputError(what string, err error) error {
	if errors.Is(err, context.Canceled) {
		return fmt.Errorf("%s: %w: nothing was written", what, err)
	}
	if errors.Is(err, compose.ErrTooLarge) {
		err = fmt.Errorf("%w: swarm takes a secret of at most %d bytes", err, compose.Secret.MaxSize()-1)
	}
	return usageError{fmt.Errorf("%s: %w", what, err)}
}

func printRotation(w io.Writer, r *rotate.RotateResult, opts rotate.RotateOptions) {
	verb := "wrote"
	if opts.DryRun {
		verb = "would write"
	}
	fmt.Fprintf(w, "%s a new value for %s into %s (%s), version %s\n", verb, r.Secret, r.File, orWhole(r.Key), r.Version)
	if r.Deploy == nil {
		fmt.Fprintln(w, "not deployed: run stackctl deploy to roll it out")
		return
	}
	if opts.DryRun {
		printPlan(w, r.Deploy.Plan)
		return
	}
	fmt.Fprintf(w, "rolled %d services, pruned %d versions\n", len(r.Deploy.Rolled), len(r.Deploy.Pruned))
}

func orWhole(key string) string {
	if key == "" {
		return "the whole file"
	}
	return "key " + key
}
