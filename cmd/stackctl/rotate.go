package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/stackctl/stackctl/compose"
	"github.com/stackctl/stackctl/rotate"
	"github.com/stackctl/stackctl/rotate/engine"
	"github.com/stackctl/stackctl/rotate/plan"
)

type rotateOptions struct {
	load compose.Options
	// secret is the one named; due and all choose by policy instead.
	secret   string
	due, all bool
	length   int
	charset  string
	// generatorSet: --length or --charset was given, and overrides x-rotate's.
	lengthSet, charsetSet bool
	fromFile              string
	stdin                 bool
	rotate                rotate.RotateOptions
	output                outputFlags
	git                   gitFlags
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
		Use:     "rotate {SECRET | --due | --all} [-c FILE]... [STACK]",
		Short:   "Give secrets new values, write them into their SOPS files, and roll them out",
		Long:    rotateLong,
		Example: rotateExample,
		Args: func(cmd *cobra.Command, args []string) error {
			if opts.due || opts.all {
				return cobra.MaximumNArgs(1)(cmd, args)
			}
			return cobra.RangeArgs(1, 2)(cmd, args)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := opts.complete(cmd, args, d, lf, lk); err != nil {
				return err
			}
			return runF(cmd.Context(), opts)
		},
	}
	lf.register(cmd)
	lk.register(cmd)
	opts.register(cmd.Flags(), &generate)
	return cmd
}

const rotateLong = `Rotate makes a new value for a secret (random by default), writes it into the
secret's SOPS file with the file's own data key (every other value keeps its
ciphertext, so git shows a small diff), and rolls it out: one update for every
service of the stack that uses the secret, all at once, then wait and prune.
The new value is never printed, logged or passed as an argument.

--due rotates every secret whose x-rotate policy says it is due (by the
engine's clock), --all every secret that has a policy (the day a key leaks):
in one lock and one rollout. A generated value takes the policy's length and
charset unless --length or --charset is given.

A SOPS file in a git work tree must be tracked by git (checked before the
write) and is left staged; --commit commits and pushes it before anything
rolls out (a failed push rolls nothing out); --pull-request commits it to a
new branch, pushes that, opens a GitHub pull request and rolls nothing out.`

const rotateExample = `  stackctl rotate db_password -c docker-compose.yml shop
  stackctl rotate api_token --length 48 --charset base64url shop
  vault read -field=password secret/db | stackctl rotate db_password --stdin shop
  stackctl rotate db_password --no-deploy    # commit the new ciphertext, deploy from CI
  stackctl rotate db_password --commit       # commit and push it, then roll it out
  stackctl rotate db_password --pull-request # commit it to a new branch and open a pull request
  stackctl rotate --due shop                 # what x-rotate says is due; nothing due: nothing written`

func (opts *rotateOptions) register(f *pflag.FlagSet, generate *bool) {
	f.BoolVar(&opts.due, "due", false, "rotate every secret whose x-rotate policy says it is due")
	f.BoolVar(&opts.all, "all", false, "rotate every secret that has an x-rotate policy")
	f.BoolVar(generate, "generate", true, "generate a random value (the default)")
	f.IntVar(&opts.length, "length", 32, "length of a generated value")
	f.StringVar(&opts.charset, "charset", rotate.CharsetAlnum, "characters of a generated value: alnum, base64url or hex")
	f.StringVar(&opts.fromFile, "from-file", "", "read the new value from this file (one trailing newline is dropped)")
	f.BoolVar(&opts.stdin, "stdin", false, "read the new value from standard input (one trailing newline is dropped)")
	f.BoolVar(&opts.rotate.NoDeploy, "no-deploy", false, "write the new ciphertext only")
	f.BoolVar(&opts.rotate.DryRun, "dry-run", false, "show what would be written and rolled; write nothing")
	f.DurationVar(&opts.rotate.Deploy.Wait.Timeout, "timeout", 10*time.Minute, "how long to wait for the rollout")
	opts.output.register(f, "print no progress", keepUsage)
	opts.git.register(f)
}

// complete checks the flags and fills in what they imply.
func (opts *rotateOptions) complete(cmd *cobra.Command, args []string, d *deps, lf loadFlags, lk lockFlags) error {
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
	if err := checkChoice(*opts); err != nil {
		return err
	}
	opts.lengthSet, opts.charsetSet = cmd.Flags().Changed("length"), cmd.Flags().Changed("charset")
	opts.rotate.Deploy.Keep = opts.output.keep
	if !opts.due && !opts.all {
		opts.secret, args = args[0], args[1:]
	}
	opts.load = lf.options(d, args)
	opts.rotate.Deploy.Lock = lk.options(d, "rotate")
	return nil
}

// checkChoice: one way to choose the secrets, and a given value for one
// secret only.
func checkChoice(opts rotateOptions) error {
	if opts.due && opts.all {
		return usageError{errors.New("choose one of --due and --all")}
	}
	if (opts.due || opts.all) && (opts.stdin || opts.fromFile != "") {
		return usageError{errors.New("--stdin and --from-file give one secret its value: name the secret instead of --due or --all")}
	}
	return nil
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
	var eng engine.Engine
	if !opts.rotate.NoDeploy || opts.due {
		if eng, err = d.engine(ctx); err != nil {
			return err
		}
	}
	secrets, err := chooseSecrets(ctx, d, eng, desired, opts)
	if err != nil || len(secrets) == 0 {
		if err == nil {
			err = printRotated(d, &rotate.RotateResult{FormatVersion: rotate.FormatVersion, Rotated: []rotate.Rotation{}, Services: []string{}}, opts)
		}
		return err
	}
	// Check every target, and that git can record it, before asking for
	// a value or writing anything.
	files, err := rotationFiles(desired, secrets)
	if err != nil {
		return err
	}
	if len(files) > 0 { // a store keeps its own history
		if opts.rotate.Record, err = opts.git.record(ctx, d, secrets, files, opts.output.quiet); err != nil {
			return err
		}
	}
	if opts.rotate.Values, err = newValues(ctx, d, desired, secrets, opts); err != nil {
		return err
	}
	res, err := rotate.Rotate(ctx, eng, desired, opts.rotate, reporter(d, opts.output.quiet))
	err = asUsage(err)
	if res != nil {
		gh.rotated, gh.result = res, res.Deploy
		if perr := printRotated(d, res, opts); perr != nil && err == nil {
			err = perr
		}
	}
	return err
}

// chooseSecrets are the secrets to rotate: the one named, those whose
// policy says they are due, or all that have a policy.
func chooseSecrets(ctx context.Context, d *deps, eng engine.Engine, desired *plan.Desired, opts rotateOptions) ([]string, error) {
	switch {
	case opts.due:
		due, err := rotate.Due(ctx, eng, desired)
		if err == nil && len(due) == 0 {
			reporter(d, opts.output.quiet).Printf("nothing is due: no secret's x-rotate policy says so; nothing was written")
		}
		return due, err
	case opts.all:
		all := rotate.WithPolicy(desired)
		if len(all) == 0 {
			return nil, usageError{fmt.Errorf("no secret in %s has an x-rotate policy, which --all rotates: name the secret to rotate", strings.Join(desired.Project.Files, ", "))}
		}
		return all, nil
	}
	return []string{opts.secret}, nil
}

// rotationFiles checks each secret can be rotated, and returns the files
// the rotation writes, each once.
func rotationFiles(desired *plan.Desired, secrets []string) ([]string, error) {
	var files []string
	for _, secret := range secrets {
		cur, _, err := rotate.RotationTarget(desired, secret)
		if err != nil {
			return nil, usageError{err}
		}
		if cur.Source.File != "" && !slices.Contains(files, cur.Source.File) {
			files = append(files, cur.Source.File)
		}
	}
	return files, nil
}

// newValues reads or generates each secret's new value, with its
// policy's generator settings. They stay in memory.
func newValues(ctx context.Context, d *deps, desired *plan.Desired, secrets []string, opts rotateOptions) (map[string][]byte, error) {
	values := map[string][]byte{}
	for _, secret := range secrets {
		cur, _, err := rotate.RotationTarget(desired, secret)
		if err != nil {
			return nil, usageError{err}
		}
		gen := opts
		if p := cur.Source.Rotate; p != nil {
			if p.Length > 0 && !opts.lengthSet {
				gen.length = p.Length
			}
			if p.Charset != "" && !opts.charsetSet {
				gen.charset = p.Charset
			}
		}
		if values[secret], err = newValue(ctx, d, gen); err != nil {
			return nil, err
		}
	}
	return values, nil
}

// printRotated writes the result as JSON or text.
func printRotated(d *deps, res *rotate.RotateResult, opts rotateOptions) error {
	if opts.output.format == "json" {
		return writeJSON(d.stdout, res)
	}
	printRotation(d.stdout, res, opts.rotate)
	return nil
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
	if len(r.Rotated) == 0 {
		fmt.Fprintln(w, "nothing rotated")
		return
	}
	for _, x := range r.Rotated {
		fmt.Fprintf(w, "%s a new value for %s at %s, version %s\n", verb, x.Secret, x.Where(), x.Version)
	}
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
