//go:build e2e

package main

import (
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// gitStack deploys rotateCompose's stack from a clone of a local bare
// repository (branch main, the clone's upstream) and returns the stack,
// the bare repository, the clone, and the version service api reads.
func gitStack(t *testing.T) (stack, bare, work, old string) {
	t.Helper()
	api := realEngine(t)
	isolateGit(t)
	enc, err := os.ReadFile(testdataPath(t, "sops", "app.enc.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	stack = newStack(t)
	bare, work = gitRemote(t, map[string]string{
		"compose.yml":  strings.ReplaceAll(rotateCompose, "{{image}}", testImage(t)),
		"app.enc.yaml": string(enc),
		"plain.txt":    "plain",
	})
	mustStackctl(t, work, nil, "deploy", "-c", "compose.yml", stack)
	return stack, bare, work, inspectSecretRef(t, api, stack+"_api", "db_password")
}

// secretsAtPush installs a pre-receive hook that notes which secrets a
// service reads when a push arrives, and returns what it noted.
func secretsAtPush(t *testing.T, bare, service string) func() string {
	t.Helper()
	seen := filepath.Join(t.TempDir(), "seen")
	hook := "#!/bin/sh\nexec >" + seen + " 2>&1\ndocker service inspect --format '{{range .Spec.TaskTemplate.ContainerSpec.Secrets}}{{.SecretName}} {{end}}' " + service + "\nexit 0\n"
	if err := os.WriteFile(filepath.Join(bare, "hooks", "pre-receive"), []byte(hook), 0o755); err != nil {
		t.Fatal(err)
	}
	return func() string {
		b, _ := os.ReadFile(seen)
		return string(b)
	}
}

// showFile writes a file of the bare repository's main into a temporary
// file, for decrypt.
func showFile(t *testing.T, bare, rev, name string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(out, []byte(gitT(t, bare, "show", rev+":"+name)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return out
}

// checkPushedRotation: the last commit of the remote's main is the
// rotation, and changes only the value's ciphertext and the SOPS metadata.
func checkPushedRotation(t *testing.T, bare, value string) {
	t.Helper()
	if got := gitT(t, bare, "log", "-1", "--format=%s", "main"); got != "stackctl: rotate db_password" {
		t.Errorf("the remote's main ends in %q", got)
	}
	if got := gitT(t, bare, "diff", "--name-only", "main~1", "main"); got != "app.enc.yaml" {
		t.Errorf("the commit changes %q, want app.enc.yaml alone", got)
	}
	before, after := showFile(t, bare, "main~1", "app.enc.yaml"), showFile(t, bare, "main", "app.enc.yaml")
	b, _ := os.ReadFile(before)
	a, _ := os.ReadFile(after)
	for _, l := range changedLines(b, a) {
		if !strings.HasPrefix(l, "password: ENC[") && !strings.HasPrefix(l, "lastmodified:") && !strings.HasPrefix(l, "mac: ENC[") && l != "" {
			t.Errorf("unexpected change in the committed SOPS file: %q", l)
		}
	}
	if decrypt(t, after, "db", "password") != value || decrypt(t, after, "api_key") != "CANARY-api-key-52ab" {
		t.Error("the pushed file does not hold the new value, and only it")
	}
}

// TestRotateCommitE2E: rotate --commit pushes the new ciphertext to the
// branch, and only then rolls the new version out.
func TestRotateCommitE2E(t *testing.T) {
	api := realEngine(t)
	stack, bare, work, old := gitStack(t)
	seen := secretsAtPush(t, bare, stack+"_api")
	const canary = "CANARY-git-commit-e2e-4a9d"

	r := stackctlIn(t, work, canary+"\n", nil, "rotate", "db_password", "--stdin", "--commit", "--keep", "0", "-c", "compose.yml", stack)
	if r.code != 0 {
		t.Fatalf("rotate --commit: exit %d\n%s", r.code, r.stderr)
	}
	checkPushedRotation(t, bare, canary)
	if got := gitT(t, work, "status", "--porcelain"); got != "" {
		t.Errorf("the clone is not clean:\n%s", got)
	}

	// The push came first: the service still read the old version then.
	if s := seen(); !strings.Contains(s, old) {
		t.Errorf("at the push, %s_api read %q, want %s", stack, s, old)
	}
	now := inspectSecretRef(t, api, stack+"_api", "db_password")
	if now == old || inspectSecretRef(t, api, stack+"_worker", "/etc/db.pw") != now {
		t.Errorf("after the rotation api reads %s (was %s), worker %s", now, old, inspectSecretRef(t, api, stack+"_worker", "/etc/db.pw"))
	}
	for _, got := range readInContainers(t, api, stack+"_api", "/run/secrets/db_password") {
		if got != canary {
			t.Error("api does not read the new value")
		}
	}
	if strings.Contains(r.stdout+r.stderr+gitT(t, bare, "log", "-p", "--all")+gitT(t, work, "log", "-p", "--all"), canary) {
		t.Error("the new value is in the output or in git in clear")
	}
}

// TestRotateCommitRefusedE2E: a push the remote refuses stops the
// rotation with exit 1 and nothing rolled out.
func TestRotateCommitRefusedE2E(t *testing.T) {
	api := realEngine(t)
	stack, bare, work, old := gitStack(t)
	rejectPushes(t, bare)
	mainBefore := gitT(t, bare, "rev-parse", "main")
	engineBefore := engineSnapshot(t, api, stack)
	const canary = "CANARY-git-refused-e2e-71c2"

	r := stackctlIn(t, work, canary+"\n", nil, "rotate", "db_password", "--stdin", "--commit", "-c", "compose.yml", stack)
	if r.code != exitFailure {
		t.Fatalf("rotate --commit to a refusing remote: exit %d, want 1\n%s", r.code, r.stderr)
	}
	for _, want := range []string{"the push to origin main failed, so nothing was rolled out", "pre-receive hook declined", "protected branch", "--pull-request"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr does not say %q:\n%s", want, r.stderr)
		}
	}
	if got := engineSnapshot(t, api, stack); got != engineBefore {
		t.Errorf("the engine changed:\n%s\n->\n%s", engineBefore, got)
	}
	if got := inspectSecretRef(t, api, stack+"_api", "db_password"); got != old {
		t.Errorf("api reads %s, want the old %s", got, old)
	}
	if gitT(t, bare, "rev-parse", "main") != mainBefore {
		t.Error("the remote's main moved")
	}
	if strings.Contains(r.stdout+r.stderr+gitT(t, work, "log", "-p", "--all"), canary) {
		t.Error("the new value is in the output or in git in clear")
	}
}

// actionRotate runs the action's rotate of db_password in work, with
// more inputs.
func actionRotate(t *testing.T, work, stack string, more map[string]string) actionRun {
	t.Helper()
	ageKey, err := os.ReadFile(testdataPath(t, "age", "test-key.txt"))
	if err != nil {
		t.Fatal(err)
	}
	inputs := map[string]string{"command": "rotate", "secret": "db_password", "compose-file": "compose.yml\n",
		"stack": stack, "sops-age-key": string(ageKey), "timeout": "2m"}
	maps.Copy(inputs, more)
	return runAction(t, work, inputs)
}

// TestActionRotateCommits runs the action's rotate in a clone, with no git
// identity configured: the commit, as github-actions[bot], is pushed
// before the rollout.
func TestActionRotateCommits(t *testing.T) {
	api := realEngine(t)
	stack, bare, work, old := gitStack(t)
	seen := secretsAtPush(t, bare, stack+"_api")
	r := actionRotate(t, work, stack, nil)
	if r.code != 0 {
		t.Fatalf("rotate: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	const bot = "github-actions[bot] <41898282+github-actions[bot]@users.noreply.github.com>"
	if got := gitT(t, bare, "log", "-1", "--format=%s%n%an <%ae>%n%cn <%ce>", "main"); got != "stackctl: rotate db_password\n"+bot+"\n"+bot {
		t.Errorf("the remote's main ends in:\n%s", got)
	}
	if s := seen(); !strings.Contains(s, old) {
		t.Errorf("at the push, %s_api read %q, want %s", stack, s, old)
	}
	if now := inspectSecretRef(t, api, stack+"_api", "db_password"); now == old {
		t.Error("api was not rolled to the new version")
	}
	value := decrypt(t, showFile(t, bare, "main", "app.enc.yaml"), "db", "password")
	if strings.Contains(r.stdout+r.stderr+r.output+r.summary+gitT(t, bare, "log", "-p", "--all"), value) {
		t.Error("the new value is in the output or in git in clear")
	}
}

// TestActionRotatePullRequest runs the action's rotate with commit:
// pull-request against a fake GitHub API: the rotation is pushed to a new
// branch, the pull request asked for, and nothing rolled out.
func TestActionRotatePullRequest(t *testing.T) {
	api := realEngine(t)
	stack, bare, work, old := gitStack(t)
	srv, pr := fakeGitHub(t, http.StatusCreated, `{"number": 3, "html_url": "https://github.example/acme/shop/pull/3"}`)
	t.Setenv("GITHUB_API_URL", srv.URL+"/api/v3")
	t.Setenv("GITHUB_REPOSITORY", "acme/shop")
	engineBefore := engineSnapshot(t, api, stack)
	r := actionRotate(t, work, stack, map[string]string{"commit": "pull-request", "github-token": "tok-123"})
	if r.code != 0 || !strings.Contains(r.stderr, "opened pull request #3") {
		t.Fatalf("rotate: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if pr.Base != "main" || !strings.HasPrefix(pr.Head, "stackctl/rotate-db_password-") {
		t.Errorf("pull request from %s into %s", pr.Head, pr.Base)
	}
	if got := gitT(t, bare, "log", "-1", "--format=%s", pr.Head); got != "stackctl: rotate db_password" {
		t.Errorf("branch %s ends in %q", pr.Head, got)
	}
	if got := gitT(t, bare, "rev-list", "--count", "main"); got != "1" {
		t.Errorf("main has %s commits, want 1", got)
	}
	if got := engineSnapshot(t, api, stack); got != engineBefore || inspectSecretRef(t, api, stack+"_api", "db_password") != old {
		t.Errorf("the engine changed:\n%s\n->\n%s", engineBefore, got)
	}
}

// TestScheduledExampleRotatesDue runs the action with the inputs of the
// scheduled workflow in examples/github-actions/rotate.yml (the engine,
// files and keys made local): a secret whose policy is due is rotated,
// committed and pushed, then rolled out.
func TestScheduledExampleRotatesDue(t *testing.T) {
	api := realEngine(t)
	isolateGit(t)
	raw, err := os.ReadFile(filepath.Join("..", "..", "examples", "github-actions", "rotate.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var workflow struct {
		Jobs map[string]struct {
			Steps []struct {
				Uses string
				With map[string]string
			}
		}
	}
	if err := yaml.Unmarshal(raw, &workflow); err != nil {
		t.Fatal(err)
	}
	var inputs map[string]string
	for _, s := range workflow.Jobs["rotate"].Steps {
		if strings.HasPrefix(s.Uses, "stackctl/stackctl@") {
			inputs = s.With
		}
	}
	if inputs["command"] != "rotate-due" || inputs["commit"] != "push" {
		t.Fatalf("the example's inputs: %v", inputs)
	}
	enc, err := os.ReadFile(testdataPath(t, "sops", "app.enc.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	ageKey, err := os.ReadFile(testdataPath(t, "age", "test-key.txt"))
	if err != nil {
		t.Fatal(err)
	}
	stack := newStack(t)
	withPolicy := strings.Replace(rotateCompose, "x-sops: {key: db.password}}", "x-sops: {key: db.password}, x-rotate: {every: 1s}}", 1)
	bare, work := gitRemote(t, map[string]string{"compose.yml": strings.ReplaceAll(withPolicy, "{{image}}", testImage(t)), "app.enc.yaml": string(enc), "plain.txt": "plain"})
	mustStackctl(t, work, nil, "deploy", "-c", "compose.yml", stack)
	old := inspectSecretRef(t, api, stack+"_api", "db_password")
	time.Sleep(1500 * time.Millisecond) // the policy is due

	maps.Copy(inputs, map[string]string{"compose-file": "compose.yml\n", "stack": stack, "docker-host": "", "ssh-private-key": "", "ssh-known-hosts": "", "sops-age-key": string(ageKey), "timeout": "2m"})
	r := runAction(t, work, inputs)
	if r.code != 0 {
		t.Fatalf("the scheduled rotation: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if got := gitT(t, bare, "log", "-1", "--format=%s", "main"); got != "stackctl: rotate db_password" {
		t.Errorf("the remote's main ends in %q", got)
	}
	if now := inspectSecretRef(t, api, stack+"_api", "db_password"); now == old {
		t.Error("api was not rolled to the new version")
	}
	if !strings.Contains(r.output, "changed=true") {
		t.Errorf("outputs:\n%s", r.output)
	}
}
