package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/stackctl/stackctl/compose"
	"github.com/stackctl/stackctl/rotate"
	"github.com/stackctl/stackctl/rotate/engine"
	"github.com/stackctl/stackctl/rotate/engine/enginetest"
)

const gitRotateCompose = `
services:
  api:
    image: example/api:1
    secrets: [db_password]
secrets:
  db_password: {file: ./app.enc.yaml, x-sops: {key: db.password}}
`

// TestRotateRecordsBeforeRollout runs rotate with each way of recording
// the new value in git, against a clone of a local bare repository and
// the in-memory engine: what is checked before the write, that the push
// comes before the rollout, and that a refused push rolls nothing out.
func TestRotateRecordsBeforeRollout(t *testing.T) {
	isolateGit(t)
	t.Setenv("SOPS_AGE_KEY_FILE", testdataPath(t, "age", "test-key.txt"))
	enc, err := os.ReadFile(testdataPath(t, "sops", "app.enc.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	const canary = "CANARY-git-rotated-5e0b"
	value := filepath.Join(t.TempDir(), "new.txt")
	os.WriteFile(value, []byte(canary+"\n"), 0o600)
	tests := []struct {
		name     string
		args     []string
		setup    func(t *testing.T, bare, work string)
		code     int
		written  bool // the file has the new value
		pushed   bool // the remote's main has the rotation
		rolled   bool // the engine has a new version, in use
		inStderr string
	}{
		{name: "--commit", args: []string{"--commit"}, written: true, pushed: true, rolled: true, inStderr: "pushed it to origin main"},
		{name: "--commit rejected", args: []string{"--commit"}, setup: func(t *testing.T, bare, _ string) { rejectPushes(t, bare) },
			code: exitFailure, written: true, inStderr: "nothing was rolled out"},
		{name: "staged", written: true, rolled: true, inStderr: "git commit -m"},
		{name: "untracked", setup: func(t *testing.T, _, w string) { gitT(t, w, "rm", "-q", "--cached", "app.enc.yaml") },
			code: exitUsage, inStderr: "git add it first, or pass --no-commit-check"},
		{name: "untracked with --no-commit-check", args: []string{"--no-commit-check"}, setup: func(t *testing.T, _, w string) { gitT(t, w, "rm", "-q", "--cached", "app.enc.yaml") },
			written: true, rolled: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bare, work := gitRemote(t, map[string]string{"compose.yml": gitRotateCompose, "app.enc.yaml": string(enc)})
			if tt.setup != nil {
				tt.setup(t, bare, work)
			}
			eng := deployFromClone(t, work)
			secretsBefore, updatesBefore := len(secretNames(t, eng, "shop")), eng.Count("ServiceUpdate")
			fileBefore, _ := os.ReadFile(filepath.Join(work, "app.enc.yaml"))
			mainBefore := gitT(t, bare, "rev-parse", "main")

			d, stdout, stderr := testDeps("")
			d.engine = func(context.Context) (engine.Engine, error) { return eng, nil }
			opts := rotateOptionsFor(t, d, append([]string{"db_password", "--from-file", value, "-c", filepath.Join(work, "compose.yml"), "shop"}, tt.args...))
			opts.rotate.Deploy.Wait = fastWait
			err := runRotate(context.Background(), d, opts)
			t.Logf("stderr:\n%s\nerror: %v", stderr, err)
			out := stdout.String() + stderr.String() + fmt.Sprint(err)
			if code := exitCode(err, false); code != tt.code || !strings.Contains(out, tt.inStderr) {
				t.Fatalf("exit %d (%v), want %d and %q; stderr:\n%s", code, err, tt.code, tt.inStderr, stderr)
			}
			fileAfter, _ := os.ReadFile(filepath.Join(work, "app.enc.yaml"))
			if written := !bytes.Equal(fileBefore, fileAfter); written != tt.written {
				t.Errorf("file written: %t, want %t", written, tt.written)
			}
			if pushed := gitT(t, bare, "rev-parse", "main") != mainBefore; pushed != tt.pushed {
				t.Errorf("pushed: %t, want %t", pushed, tt.pushed)
			}
			if tt.pushed && gitT(t, bare, "log", "-1", "--format=%s", "main") != "stackctl: rotate db_password" {
				t.Error("the pushed commit is not the rotation")
			}
			rolled := len(secretNames(t, eng, "shop")) > secretsBefore && eng.Count("ServiceUpdate") > updatesBefore
			if rolled != tt.rolled || (!tt.rolled && len(secretNames(t, eng, "shop")) != secretsBefore) {
				t.Errorf("rolled: %t, want %t (secrets %v)", rolled, tt.rolled, secretNames(t, eng, "shop"))
			}
			logs := gitT(t, work, "log", "--all", "-p") + gitT(t, bare, "log", "--all", "-p")
			if strings.Contains(out+logs, canary) {
				t.Error("the new value is in the output or in git's history in clear")
			}
		})
	}
}

var fastWait = engine.WaitOptions{Interval: time.Millisecond, Settle: time.Millisecond, Timeout: 10 * time.Second}

// deployFromClone deploys work/compose.yml as stack shop to an in-memory
// engine.
func deployFromClone(t *testing.T, work string) *enginetest.Engine {
	t.Helper()
	eng := enginetest.New()
	desired, err := rotate.Prepare(context.Background(), compose.Options{Files: []string{filepath.Join(work, "compose.yml")}, Stack: "shop"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rotate.Deploy(context.Background(), eng, desired, rotate.DeployOptions{Wait: fastWait, Lock: engine.LockOptions{Holder: "t"}}, &enginetest.Log{}); err != nil {
		t.Fatal(err)
	}
	return eng
}

// rotateOptionsFor parses rotate's command line into its options.
func rotateOptionsFor(t *testing.T, d *deps, args []string) rotateOptions {
	t.Helper()
	var opts rotateOptions
	cmd := newRotateCmd(d, func(_ context.Context, o rotateOptions) error { opts = o; return nil })
	cmd.SetArgs(args)
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	return opts
}

// secretNames lists a stack's secrets, from the engine or the in-memory one.
func secretNames(t testing.TB, api interface {
	SecretList(context.Context, client.SecretListOptions) (client.SecretListResult, error)
}, stack string) []string {
	t.Helper()
	list, err := api.SecretList(context.Background(), client.SecretListOptions{Filters: make(client.Filters).Add("label", "com.docker.stack.namespace="+stack)})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range list.Items {
		names = append(names, s.Spec.Name)
	}
	return names
}
