package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stackctl/stackctl/compose"
	"github.com/stackctl/stackctl/rotate"
	"github.com/stackctl/stackctl/rotate/engine"
	"github.com/stackctl/stackctl/rotate/plan"
	"github.com/stackctl/stackctl/sopsbridge"
)

func TestGitHubReport(t *testing.T) {
	dir := t.TempDir()
	summary, output := filepath.Join(dir, "summary.md"), filepath.Join(dir, "output")
	env := map[string]string{"GITHUB_STEP_SUMMARY": summary, "GITHUB_OUTPUT": output, "GITHUB_ACTIONS": "true"}
	d := &deps{getenv: func(k string) string { return env[k] }}
	res := &rotate.Result{
		Applied: true,
		Plan: &plan.Plan{Stack: "shop",
			Versions: []plan.VersionChange{{Kind: compose.Secret, Name: "shop_pw.abc", Action: plan.Create}},
			Services: []plan.ServiceChange{{Name: "shop_web", Action: plan.Update}, {Name: "shop_db", Action: plan.Unchanged}}},
		Rolled:   []string{"shop_web"},
		Outcomes: []engine.Outcome{{Service: "shop_web", Result: "converged", Seconds: 6.2}},
		Pruned:   []plan.VersionChange{{Kind: compose.Secret, Name: "shop_pw.old"}},
	}
	var stdout bytes.Buffer
	if err := github(d, "text").write(&stdout, report{command: "deploy", stack: "shop", result: res}, nil); err != nil {
		t.Fatal(err)
	}
	sum, _ := os.ReadFile(summary)
	for _, want := range []string{"### stackctl deploy `shop`: done", "**Versions created:** `shop_pw.abc`", "| `shop_web` | update | converged | 6.2 s |", "| `shop_db` | unchanged |", "**Versions pruned:** `shop_pw.old`"} {
		if !strings.Contains(string(sum), want) {
			t.Errorf("summary lacks %q:\n%s", want, sum)
		}
	}
	out, _ := os.ReadFile(output)
	if string(out) != "changed=true\nservices=shop_web\nversions=shop_pw.abc\npruned=shop_pw.old\n" {
		t.Errorf("outputs:\n%s", out)
	}
	if stdout.Len() != 0 {
		t.Errorf("annotation without an error: %s", stdout.String())
	}

	// A failure becomes an annotation naming the file, and the line when known.
	stdout.Reset()
	err := errors.New("load compose.yml: yaml: line 7: did not find expected key\nsecond line")
	github(d, "text").write(&stdout, report{command: "deploy", stack: "shop", files: []string{"compose.yml"}}, err)
	if got := stdout.String(); got != "::error file=compose.yml,line=7,title=stackctl deploy failed::load compose.yml: yaml: line 7: did not find expected key%0Asecond line\n" {
		t.Errorf("annotation: %q", got)
	}
	stdout.Reset()
	serr := &sopsbridge.Error{Ref: "secret pw", File: "secrets.enc.yaml", Kind: sopsbridge.ErrTampered}
	github(d, "text").write(&stdout, report{command: "deploy", files: []string{"compose.yml"}}, serr)
	if !strings.HasPrefix(stdout.String(), "::error file=secrets.enc.yaml,title=") {
		t.Errorf("annotation: %q", stdout.String())
	}
	// JSON output stays JSON: no workflow command on stdout.
	stdout.Reset()
	github(d, "json").write(&stdout, report{command: "deploy"}, err)
	if stdout.Len() != 0 {
		t.Errorf("annotation mixed into JSON output: %s", stdout.String())
	}
}

// TestErrorLocationFromTypedError: a GitHub annotation points at the file
// and line compose reports in its FileError, not at a guess from the text.
func TestErrorLocationFromTypedError(t *testing.T) {
	dir := t.TempDir()
	good, bad := filepath.Join(dir, "base.yml"), filepath.Join(dir, "prod.yml")
	os.WriteFile(good, []byte("services:\n  web:\n    image: x\n"), 0o600)
	os.WriteFile(bad, []byte("services:\n  web:\n    image: x\n\tports: []\n"), 0o600)
	_, err := compose.Load(context.Background(), compose.Options{Files: []string{good, bad}, Env: []string{}, Stack: "s"})
	if err == nil {
		t.Fatal("loaded a file with a tab")
	}
	// The line yaml.v3 names (it counts the tab of line 4 as line 3).
	if file, line := errorLocation(err, []string{good, bad}); file != bad || line != "3" || !strings.Contains(err.Error(), "line 3") {
		t.Errorf("location = %s:%s, want %s:3 (%v)", file, line, bad, err)
	}
}
