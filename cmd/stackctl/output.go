package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/spf13/pflag"

	"github.com/stackctl/stackctl/rotate"
	"github.com/stackctl/stackctl/rotate/engine"
	"github.com/stackctl/stackctl/rotate/plan"
)

// outputFlags are --output, --quiet and --keep, shared by the commands
// that print a plan or a result; they register and check themselves.
type outputFlags struct {
	format string
	quiet  bool
	keep   int
}

// register adds the flags; quiet and keep say what those do here.
func (f *outputFlags) register(fs *pflag.FlagSet, quiet, keep string) {
	fs.StringVarP(&f.format, "output", "o", "text", "text or json")
	fs.BoolVarP(&f.quiet, "quiet", "q", false, quiet)
	fs.IntVar(&f.keep, "keep", 2, keep)
}

func (f *outputFlags) validate() error {
	if f.format != "text" && f.format != "json" {
		return usageError{fmt.Errorf("--output must be text or json, not %q", f.format)}
	}
	if f.keep < 0 {
		return usageError{errNegativeKeep}
	}
	return nil
}

var errNegativeKeep = errors.New("--keep must be 0 or more")

const keepUsage = "unused versions of each secret and config to keep"

// reporter prints progress on stderr: nothing when quiet, a live
// per-service view on a terminal, plain lines otherwise (CI logs).
func reporter(d *deps, quiet bool) engine.Reporter {
	switch {
	case quiet:
		return engine.Quiet{}
	case d.stderrTTY:
		return &liveReporter{w: d.stderr, status: map[string]string{}}
	}
	return &lineReporter{w: d.stderr}
}

type lineReporter struct {
	mu sync.Mutex
	w  io.Writer
}

func (r *lineReporter) Printf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	fmt.Fprintf(r.w, format+"\n", args...)
}

func (r *lineReporter) Status(service, status string) {
	r.Printf("service %s: %s", service, status)
}

// liveReporter keeps one line per service at the bottom of the terminal
// and rewrites it in place; steps scroll above it.
type liveReporter struct {
	mu     sync.Mutex
	w      io.Writer
	order  []string
	status map[string]string
	drawn  int
}

func (r *liveReporter) Printf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.clear()
	fmt.Fprintf(r.w, format+"\n", args...)
	r.draw()
}

func (r *liveReporter) Status(service, status string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.status[service]; !ok {
		r.order = append(r.order, service)
	}
	r.status[service] = status
	r.clear()
	r.draw()
}

func (r *liveReporter) clear() {
	for ; r.drawn > 0; r.drawn-- {
		fmt.Fprint(r.w, "\033[1A\033[2K")
	}
}

func (r *liveReporter) draw() {
	for _, s := range r.order {
		fmt.Fprintf(r.w, "  %-30s %s\n", s, r.status[s])
	}
	r.drawn = len(r.order)
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// printPlan writes a plan for people.
func printPlan(w io.Writer, p *plan.Plan) {
	fmt.Fprintf(w, "stack %s\n", p.Stack)
	for _, n := range p.Networks {
		if n.Action != plan.Unchanged {
			fmt.Fprintf(w, "  %-9s network %s\n", n.Action, n.Name)
		}
	}
	for _, v := range p.Versions {
		if v.Action != plan.Unchanged {
			fmt.Fprintf(w, "  %-9s %s %s\n", v.Action, v.Kind, v.Name)
		}
	}
	for _, s := range p.Services {
		fmt.Fprintf(w, "  %-9s service %s\n", s.Action, s.Name)
		for _, d := range s.Diff {
			fmt.Fprintf(w, "              %s\n", d)
		}
	}
	for _, v := range p.Prune {
		fmt.Fprintf(w, "  %-9s %s %s (after the rollout)\n", "prune", v.Kind, v.Name)
	}
	if !p.Changes() {
		fmt.Fprintln(w, "  no changes")
	}
}

// printResult writes a deploy's outcome for people.
func printResult(w io.Writer, r *rotate.Result) {
	fmt.Fprintf(w, "stack %s: %d versions created, %d services rolled, %d versions pruned in %s\n",
		r.Plan.Stack, len(r.Created()), len(r.Rolled), len(r.Pruned), r.Duration.Round(time.Millisecond))
}
