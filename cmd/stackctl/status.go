package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/stackctl/stackctl/compose"
	"github.com/stackctl/stackctl/rotate"
	"github.com/stackctl/stackctl/rotate/plan"
)

type statusOptions struct {
	load   compose.Options
	check  bool
	output outputFlags
}

func newStatusCmd(d *deps, runF func(context.Context, statusOptions) error) *cobra.Command {
	if runF == nil {
		runF = func(ctx context.Context, o statusOptions) error { return runStatus(ctx, d, o) }
	}
	var (
		lf   loadFlags
		opts statusOptions
	)
	cmd := &cobra.Command{
		Use:   "status [-c FILE]... [STACK] [--check]",
		Short: "List every secret and config version: age, policy, due date, users; writes nothing",
		Long: `Status reads the compose files and the engine and prints, for each secret and
config: the version the files call for, its age, its x-rotate policy and when
it is due, which services mount it under which target and whether their
running tasks read it yet, and the older versions the engine keeps (for a
rollback, or unused). It also lists the stack's secrets and configs that no
compose file defines and no service uses. Ages and due dates are by the
engine's clock. --check exits 1 when anything is overdue or a service does
not run its current version: a cron job or a monitoring probe can run it.`,
		Example: `  stackctl status -c docker-compose.yml shop
  stackctl status --check -o json shop | jq '.objects[] | select(.problems)'`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := opts.output.validate(); err != nil {
				return err
			}
			opts.load = lf.options(d, args)
			return runF(cmd.Context(), opts)
		},
	}
	lf.register(cmd)
	f := cmd.Flags()
	f.StringVarP(&opts.output.format, "output", "o", "text", "text or json")
	f.BoolVarP(&opts.output.quiet, "quiet", "q", false, "print no warnings")
	f.BoolVar(&opts.check, "check", false, "exit 1 when a secret is overdue or a service does not run its current version")
	return cmd
}

// errCheckFailed: status --check found something to do.
var errCheckFailed = errors.New("status --check")

func runStatus(ctx context.Context, d *deps, opts statusOptions) error {
	desired, err := prepare(ctx, d, opts.load, opts.output.quiet)
	if err != nil {
		return err
	}
	eng, err := d.engine(ctx)
	if err != nil {
		return err
	}
	res, err := rotate.Status(ctx, eng, desired)
	if err != nil {
		return err
	}
	if opts.output.format == "json" {
		err = writeJSON(d.stdout, res)
	} else {
		printStatus(d.stdout, res.Status)
	}
	if err != nil || !opts.check || res.Healthy() {
		return err
	}
	var problems []string
	for _, o := range res.Objects {
		for _, p := range o.Problems {
			problems = append(problems, fmt.Sprintf("%s %s: %s", o.Kind, o.Key, p))
		}
	}
	return fmt.Errorf("%w: %d to do:\n  %s", errCheckFailed, len(problems), strings.Join(problems, "\n  "))
}

// printStatus is the text view: a table of the objects, then the other
// versions, the orphans and the problems.
func printStatus(w io.Writer, s *plan.Status) {
	fmt.Fprintf(w, "stack %s, by the engine's clock %s\n\n", s.Stack, s.CheckedAt.UTC().Format(time.RFC3339))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KIND\tKEY\tSOURCE\tVERSION\tAGE\tPOLICY\tDUE\tUSED BY")
	for _, o := range s.Objects {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", o.Kind, o.Key, source(o), o.Current, age(o), policy(o), due(o, s.CheckedAt), usedBy(o))
	}
	tw.Flush()
	var kept []string
	for _, o := range s.Objects {
		for _, v := range o.Versions {
			if v.State != plan.StateCurrent {
				kept = append(kept, fmt.Sprintf("  %s %s: %s, made %s", o.Kind, v.Name, v.State, v.CreatedAt.UTC().Format(time.RFC3339)))
			}
		}
	}
	section(w, "older versions the engine keeps (prune removes the unused ones)", kept)
	var orphans []string
	for _, o := range s.Orphans {
		who := "not made by stackctl: listed, never removed"
		if o.Stackctl {
			who = "made by stackctl: prune removes it"
		}
		orphans = append(orphans, fmt.Sprintf("  %s %s (%s)", o.Kind, o.Name, who))
	}
	section(w, "of the stack, but no compose file defines and no service uses", orphans)
	var problems []string
	for _, o := range s.Objects {
		for _, p := range o.Problems {
			problems = append(problems, fmt.Sprintf("  %s %s: %s", o.Kind, o.Key, p))
		}
	}
	section(w, "to do", problems)
}

func section(w io.Writer, title string, lines []string) {
	if len(lines) > 0 {
		fmt.Fprintf(w, "\n%s:\n%s\n", title, strings.Join(lines, "\n"))
	}
}

// source is where the value comes from; for a secret store, with the
// store's version of the value.
func source(o plan.ObjectStatus) string {
	switch {
	case o.Source == "":
		return "-"
	case o.StoreVersion != "":
		return o.Source + " @" + o.StoreVersion
	}
	return o.Source
}

func age(o plan.ObjectStatus) string {
	if !o.Deployed {
		return "not deployed"
	}
	return span(time.Duration(o.AgeSeconds * float64(time.Second)))
}

func policy(o plan.ObjectStatus) string {
	if o.Policy == nil {
		return "-"
	}
	return "every " + o.Policy.Every
}

func due(o plan.ObjectStatus, now time.Time) string {
	switch {
	case o.Policy == nil || o.Policy.Due == nil:
		return "-"
	case o.Policy.Overdue:
		return "OVERDUE by " + span(now.Sub(*o.Policy.Due))
	}
	return "in " + span(o.Policy.Due.Sub(now))
}

func usedBy(o plan.ObjectStatus) string {
	if len(o.Users) == 0 {
		return "nothing"
	}
	var out []string
	for _, u := range o.Users {
		on := fmt.Sprintf("%d/%d tasks", u.TasksOnCurrent, u.Tasks)
		switch {
		case !u.Deployed:
			on = "not deployed"
		case !u.OnCurrent:
			on = "not on it yet"
		}
		out = append(out, fmt.Sprintf("%s:%s (%s)", u.Service, u.Target, on))
	}
	return strings.Join(out, ", ")
}

// span is a duration in its two largest units: 3d4h, 5m12s, 40s.
func span(d time.Duration) string {
	d = d.Round(time.Second)
	units := []struct {
		name string
		size time.Duration
	}{{"d", 24 * time.Hour}, {"h", time.Hour}, {"m", time.Minute}, {"s", time.Second}}
	for i, u := range units {
		if n := d / u.size; n > 0 || u.name == "s" {
			out := fmt.Sprintf("%d%s", n, u.name)
			if i+1 < len(units) {
				if m := (d - n*u.size) / units[i+1].size; m > 0 {
					out += fmt.Sprintf("%d%s", m, units[i+1].name)
				}
			}
			return out
		}
	}
	return ""
}
