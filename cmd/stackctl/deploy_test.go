package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/stackctl/stackctl/rotate/engine"
)

func TestDeployFlags(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		check   func(deployOptions) bool
		wantErr string
	}{
		{"defaults", nil, func(o deployOptions) bool {
			return o.deploy.Keep == 2 && o.deploy.Wait.Timeout == 10*time.Minute && !o.deploy.DryRun && !o.deploy.Detach && o.output.format == "text"
		}, ""},
		{"all flags", []string{"-c", "a.yml", "--env-file", "e", "--dry-run", "--detach", "--timeout", "30s", "--keep", "0", "--no-prune", "-o", "json", "-q", "shop"}, func(o deployOptions) bool {
			return o.load.Stack == "shop" && o.load.Files[0] == "a.yml" && o.load.EnvFiles[0] == "e" && o.deploy.DryRun && o.deploy.Detach &&
				o.deploy.Wait.Timeout == 30*time.Second && o.deploy.Keep == 0 && o.deploy.NoPrune && o.output.format == "json" && o.output.quiet
		}, ""},
		{"bad output", []string{"-o", "yaml"}, nil, "--output must be text or json"},
		{"negative keep", []string{"--keep", "-1"}, nil, "--keep must be 0 or more"},
		{"two stacks", []string{"a", "b"}, nil, "accepts at most 1 arg"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { checkFlags(t, newDeployCmd, tt.args, tt.check, tt.wantErr) })
	}
}

// checkFlags parses args with a command whose work is replaced by a
// function that captures the options, and checks them or the error.
func checkFlags[O any](t *testing.T, newCmd func(*deps, func(context.Context, O) error) *cobra.Command, args []string, check func(O) bool, wantErr string) {
	t.Helper()
	d, _, _ := testDeps("")
	var got O
	cmd := newCmd(d, func(_ context.Context, o O) error { got = o; return nil })
	cmd.SetArgs(args)
	cmd.SetOut(&bytes.Buffer{})
	cmd.SetErr(&bytes.Buffer{})
	err := cmd.Execute()
	if wantErr != "" {
		if err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Fatalf("err = %v, want %q", err, wantErr)
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	if !check(got) {
		t.Errorf("options = %+v", got)
	}
}

// TestBadInputTouchesNoEngine: every input is read and validated before
// stackctl even connects to the engine.
func TestBadInputTouchesNoEngine(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yml")
	os.WriteFile(bad, []byte("services:\n  web:\n    image: x\n    secrets: [s]\nsecrets:\n  s: {file: ./missing.txt}\n"), 0o600)
	for _, args := range [][]string{
		{"deploy", "-c", bad, "shop"},
		{"plan", "-c", bad, "shop"},
		{"prune", "-c", bad, "shop"},
	} {
		t.Run(args[0], func(t *testing.T) {
			d, out, errb := testDeps("")
			connected := false
			d.engine = func(context.Context) (engine.Engine, error) {
				connected = true
				return nil, errors.New("must not connect")
			}
			if code := run(args, d); code != exitUsage {
				t.Errorf("exit %d, want %d; stderr: %s", code, exitUsage, errb)
			}
			if connected {
				t.Error("connected to the engine before the input was valid")
			}
			if out.Len() > 0 {
				t.Errorf("stdout on failure: %s", out)
			}
			if !strings.Contains(errb.String(), "missing.txt") {
				t.Errorf("error does not name the file: %s", errb)
			}
		})
	}
}

func TestRotateFlags(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		check   func(rotateOptions) bool
		wantErr string
	}{
		{"defaults", []string{"db_password"}, func(o rotateOptions) bool {
			return o.secret == "db_password" && o.length == 32 && o.charset == "alnum" && !o.stdin && o.fromFile == "" && o.rotate.Deploy.Keep == 2
		}, ""},
		{"stack and files", []string{"db_password", "-c", "a.yml", "shop", "--no-deploy", "--dry-run"}, func(o rotateOptions) bool {
			return o.load.Stack == "shop" && o.load.Files[0] == "a.yml" && o.rotate.NoDeploy && o.rotate.DryRun
		}, ""},
		{"generator settings", []string{"s", "--length", "48", "--charset", "hex"}, func(o rotateOptions) bool { return o.length == 48 && o.charset == "hex" }, ""},
		{"from file", []string{"s", "--from-file", "v.txt"}, func(o rotateOptions) bool { return o.fromFile == "v.txt" }, ""},
		{"two sources", []string{"s", "--stdin", "--from-file", "v.txt"}, nil, "choose one of"},
		{"stdin twice", []string{"s", "--stdin", "-c", "-"}, nil, "both want standard input"},
		{"no secret", nil, nil, "accepts between 1 and 2 arg"},
		{"due, stack", []string{"--due", "shop"}, func(o rotateOptions) bool { return o.due && o.secret == "" && o.load.Stack == "shop" }, ""},
		{"all, no stack", []string{"--all"}, func(o rotateOptions) bool { return o.all && o.secret == "" && o.load.Stack == "" }, ""},
		{"due and a secret and a stack", []string{"--due", "s", "shop"}, nil, "accepts at most 1 arg"},
		{"due and all", []string{"--due", "--all"}, nil, "choose one of --due and --all"},
		{"due with a given value", []string{"--due", "--stdin"}, nil, "name the secret instead"},
		{"length given", []string{"s", "--length", "40"}, func(o rotateOptions) bool { return o.lengthSet && !o.charsetSet }, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { checkFlags(t, newRotateCmd, tt.args, tt.check, tt.wantErr) })
	}
}

func TestStatusFlags(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		check   func(statusOptions) bool
		wantErr string
	}{
		{"defaults", nil, func(o statusOptions) bool { return !o.check && o.output.format == "text" }, ""},
		{"check json stack", []string{"--check", "-o", "json", "-c", "a.yml", "shop"}, func(o statusOptions) bool {
			return o.check && o.output.format == "json" && o.load.Stack == "shop" && o.load.Files[0] == "a.yml"
		}, ""},
		{"bad output", []string{"-o", "yaml"}, nil, "text or json"},
		{"two stacks", []string{"a", "b"}, nil, "accepts at most 1 arg"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { checkFlags(t, newStatusCmd, tt.args, tt.check, tt.wantErr) })
	}
}
