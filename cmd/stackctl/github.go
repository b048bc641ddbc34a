package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/stackctl/stackctl/compose"
	"github.com/stackctl/stackctl/rotate"
	"github.com/stackctl/stackctl/rotate/engine"
	"github.com/stackctl/stackctl/rotate/plan"
	"github.com/stackctl/stackctl/sopsbridge"
)

// githubRun is what a run tells GitHub Actions when it runs there: a job
// summary (GITHUB_STEP_SUMMARY), step outputs (GITHUB_OUTPUT) and error
// annotations (workflow commands on stdout, text output only).
type githubRun struct {
	summary, output string
	annotate        bool
}

func github(d *deps, format string) githubRun {
	return githubRun{
		summary:  d.getenv("GITHUB_STEP_SUMMARY"),
		output:   d.getenv("GITHUB_OUTPUT"),
		annotate: d.getenv("GITHUB_ACTIONS") == "true" && format == "text",
	}
}

// report is what one command did, for GitHub. It holds names, never values.
type report struct {
	command string
	stack   string
	dryRun  bool
	result  *rotate.Result
	rotated *rotate.RotateResult
	files   []string
}

func (g githubRun) write(stdout io.Writer, r report, runErr error) error {
	var errs []error
	if g.summary != "" {
		errs = append(errs, appendFile(g.summary, summaryMarkdown(r, runErr)))
	}
	if g.output != "" {
		errs = append(errs, appendFile(g.output, outputs(r)))
	}
	if g.annotate && runErr != nil {
		file, line := errorLocation(runErr, r.files)
		fmt.Fprintf(stdout, "::error %stitle=stackctl %s failed::%s\n", location(file, line), r.command, escapeCommand(runErr.Error()))
	}
	return errors.Join(errs...)
}

// reportTo writes r for GitHub when the command returns, and lets a
// failure to write surface if the command itself succeeded.
func reportTo(d *deps, format string, r *report, err *error) {
	if werr := github(d, format).write(d.stdout, *r, *err); werr != nil && *err == nil {
		*err = werr
	}
}

func appendFile(path, text string) error {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("github actions: %w", err)
	}
	defer f.Close()
	_, err = io.WriteString(f, text)
	return err
}

func summaryMarkdown(r report, runErr error) string {
	var b strings.Builder
	state := "done"
	switch {
	case runErr != nil:
		state = "failed"
	case r.dryRun || r.command == "plan":
		state = "plan only, nothing written"
	}
	fmt.Fprintf(&b, "### stackctl %s `%s`: %s\n\n", r.command, r.stack, state)
	if rr := r.rotated; rr != nil {
		for _, x := range rr.Rotated {
			fmt.Fprintf(&b, "Rotated secret `%s` at %s: version `%s`.\n\n", x.Secret, x.Where(), x.Version)
		}
	}
	if res := r.result; res != nil && res.Plan != nil {
		if created := res.Created(); len(created) > 0 {
			fmt.Fprintf(&b, "**Versions created:** %s\n\n", codeList(created))
		}
		serviceTable(&b, res)
		if pruned := res.PrunedNames(); len(pruned) > 0 {
			fmt.Fprintf(&b, "**Versions pruned:** %s\n\n", codeList(pruned))
		}
	}
	if runErr != nil {
		fmt.Fprintf(&b, "```text\n%s\n```\n\n", runErr)
	}
	return b.String()
}

// serviceTable is a row per service of the plan: its action, and how its
// rollout ended.
func serviceTable(b *strings.Builder, res *rotate.Result) {
	outcome := map[string]engine.Outcome{}
	for _, o := range res.Outcomes {
		outcome[o.Service] = o
	}
	b.WriteString("| service | action | outcome | time |\n| --- | --- | --- | --- |\n")
	for _, s := range res.Plan.Services {
		result, took := "", ""
		if o, ok := outcome[s.Name]; ok {
			result, took = o.Result, fmt.Sprintf("%.1f s", o.Seconds)
		} else if s.Action != plan.Unchanged && res.Applied {
			result = "sent"
		}
		fmt.Fprintf(b, "| `%s` | %s | %s | %s |\n", s.Name, s.Action, result, took)
	}
	b.WriteString("\n")
}

func codeList(names []string) string {
	quoted := make([]string, len(names))
	for i, n := range names {
		quoted[i] = "`" + n + "`"
	}
	return strings.Join(quoted, ", ")
}

func outputs(r report) string {
	changed := false
	var services, versions, pruned []string
	if res := r.result; res != nil && res.Plan != nil {
		changed = res.Plan.Changes()
		services, versions = res.Services(), res.Created()
		for _, v := range res.Pruned {
			pruned = append(pruned, v.Name)
		}
	}
	if r.rotated != nil && r.rotated.Written {
		changed = true
	}
	return fmt.Sprintf("changed=%t\nservices=%s\nversions=%s\npruned=%s\n",
		changed, strings.Join(services, ","), strings.Join(versions, ","), strings.Join(pruned, ","))
}

var lineInError = lazyRegexp(`line (\d+)`)

// errorLocation finds the file and line an error is about, where known.
func errorLocation(err error, files []string) (string, string) {
	var se *sopsbridge.Error
	if errors.As(err, &se) && se.File != "" {
		return se.File, ""
	}
	var fe *compose.FileError
	if errors.As(err, &fe) {
		file, _, _ := strings.Cut(fe.File, ", ") // several files: the first
		if fe.Line > 0 {
			return file, strconv.Itoa(fe.Line)
		}
		return file, ""
	}
	// Other input errors name their file in the message.
	file := ""
	for _, f := range files {
		if f != "-" && strings.Contains(err.Error(), f) {
			file = f
			break
		}
	}
	if file == "" && len(files) > 0 && files[0] != "-" {
		file = files[0]
	}
	line := ""
	if m := lineInError().FindStringSubmatch(err.Error()); m != nil {
		line = m[1]
	}
	return file, line
}

func location(file, line string) string {
	if file == "" {
		return ""
	}
	s := "file=" + escapeProperty(file) + ","
	if line != "" {
		s += "line=" + line + ","
	}
	return s
}

// escapeCommand and escapeProperty encode what workflow commands cannot carry raw.
func escapeCommand(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A").Replace(s)
}

func escapeProperty(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A", ":", "%3A", ",", "%2C").Replace(s)
}
