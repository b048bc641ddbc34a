package main

import (
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/stackctl/stackctl/rotate"
)

// outputFlags are shared by the commands that print a plan or a result.
type outputFlags struct {
	format string
	quiet  bool
}

func (f *outputFlags) validate() error {
	if f.format != "text" && f.format != "json" {
		return usageError{fmt.Errorf("--output must be text or json, not %q", f.format)}
	}
	return nil
}

// reporter prints progress lines on stderr, one at a time, unless quiet.
func reporter(w io.Writer, quiet bool) rotate.Reporter {
	if quiet {
		return func(string, ...any) {}
	}
	var mu sync.Mutex
	return func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(w, format+"\n", args...)
	}
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// printPlan writes a plan for people.
func printPlan(w io.Writer, p *rotate.Plan) {
	fmt.Fprintf(w, "stack %s\n", p.Stack)
	for _, n := range p.Networks {
		if n.Action != rotate.Unchanged {
			fmt.Fprintf(w, "  %-9s network %s\n", n.Action, n.Name)
		}
	}
	for _, v := range p.Versions {
		if v.Action != rotate.Unchanged {
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
	created := 0
	for _, v := range r.Plan.Versions {
		if v.Action == rotate.Create {
			created++
		}
	}
	fmt.Fprintf(w, "stack %s: %d versions created, %d services rolled, %d versions pruned in %s\n",
		r.Plan.Stack, created, len(r.Rolled), len(r.Pruned), r.Duration.Round(time.Millisecond))
}
