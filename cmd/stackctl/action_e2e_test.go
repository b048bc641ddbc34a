//go:build e2e

package main

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// sshServer starts a throwaway sshd on 127.0.0.1 that lets root in with a
// key made for the test, and returns the port, that key, and the
// known_hosts line for the server.
func sshServer(t *testing.T) (port int, clientKey, knownHosts string) {
	t.Helper()
	sshd := "/usr/sbin/sshd"
	if _, err := os.Stat(sshd); err != nil {
		t.Fatal("the ssh:// tests need sshd: apt-get install openssh-server (make test does)")
	}
	dir, err := os.MkdirTemp("", "sshd")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	for _, k := range []string{"host_key", "client_key"} {
		if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", filepath.Join(dir, k)).CombinedOutput(); err != nil {
			t.Fatalf("ssh-keygen: %v\n%s", err, out)
		}
	}
	pub, _ := os.ReadFile(filepath.Join(dir, "client_key.pub"))
	os.WriteFile(filepath.Join(dir, "authorized_keys"), pub, 0o600)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port = l.Addr().(*net.TCPAddr).Port
	l.Close()
	cfg := fmt.Sprintf("Port %d\nListenAddress 127.0.0.1\nHostKey %s/host_key\nAuthorizedKeysFile %s/authorized_keys\nPermitRootLogin prohibit-password\nPasswordAuthentication no\nStrictModes no\nUsePAM no\nPidFile %s/sshd.pid\n", port, dir, dir, dir)
	os.WriteFile(filepath.Join(dir, "sshd_config"), []byte(cfg), 0o600)
	os.MkdirAll("/run/sshd", 0o755)
	cmd := exec.Command(sshd, "-D", "-e", "-f", filepath.Join(dir, "sshd_config"))
	var logs bytes.Buffer
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if c, err := net.Dial("tcp", l.Addr().String()); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("sshd did not start:\n%s", logs.String())
		}
	}
	key, _ := os.ReadFile(filepath.Join(dir, "client_key"))
	hostPub, _ := os.ReadFile(filepath.Join(dir, "host_key.pub"))
	fields := strings.Fields(string(hostPub))
	return port, string(key), fmt.Sprintf("[127.0.0.1]:%d %s %s", port, fields[0], fields[1])
}

// actionRun is one run of action.yml's steps, the way a runner runs them.
type actionRun struct {
	stdout, stderr  string
	code            int
	output, summary string
}

var expression = regexp.MustCompile(`\$\{\{\s*([a-z_.-]+)\s*\}\}`)

// runAction runs action.yml's shell steps in dir with the given inputs
// (defaults from action.yml), as the runner does: inputs through each
// step's env, GITHUB_OUTPUT and GITHUB_STEP_SUMMARY as files. The one
// `uses:` step (actions/setup-go) is skipped: Go is here.
func runAction(t *testing.T, dir string, inputs map[string]string) actionRun {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "action.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var action struct {
		Inputs map[string]struct{ Default string }
		Runs   struct {
			Steps []struct {
				Uses, Run, ID string
				Env           map[string]string
			}
		}
	}
	if err := yaml.Unmarshal(raw, &action); err != nil {
		t.Fatal(err)
	}
	root, _ := filepath.Abs(filepath.Join("..", "..", "."))
	temp := t.TempDir()
	contexts := map[string]string{"github.action_path": root, "github.action_ref": "test", "runner.temp": temp}
	for name, in := range action.Inputs {
		v, ok := inputs[name]
		if !ok {
			v = in.Default
		}
		contexts["inputs."+name] = v
	}
	var run actionRun
	outFile, sumFile := filepath.Join(temp, "output"), filepath.Join(temp, "summary")
	for _, step := range action.Runs.Steps {
		if step.Uses != "" {
			if !strings.HasPrefix(step.Uses, "actions/setup-go@") {
				t.Fatalf("the test runner does not know how to run %s", step.Uses)
			}
			continue
		}
		env := append(os.Environ(), "GITHUB_ACTIONS=true", "GITHUB_OUTPUT="+outFile, "GITHUB_STEP_SUMMARY="+sumFile)
		for k, v := range step.Env {
			env = append(env, k+"="+expression.ReplaceAllStringFunc(v, func(e string) string {
				name := expression.FindStringSubmatch(e)[1]
				val, ok := contexts[name]
				if !ok {
					t.Fatalf("unknown expression %s", e)
				}
				return val
			}))
		}
		cmd := exec.Command("bash", "-e", "-c", step.Run)
		cmd.Dir, cmd.Env = dir, env
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		run.stdout += out.String()
		run.stderr += errb.String()
		if ee, ok := err.(*exec.ExitError); ok {
			run.code = ee.ExitCode()
			break
		} else if err != nil {
			t.Fatal(err)
		}
	}
	o, _ := os.ReadFile(outFile)
	s, _ := os.ReadFile(sumFile)
	run.output, run.summary = string(o), string(s)
	if entries, _ := os.ReadDir(filepath.Join(temp, "stackctl-ssh")); entries != nil {
		t.Errorf("the action left its ssh folder behind: %v", entries)
	}
	return run
}

// TestActionOverSSH runs the GitHub action's steps against the local swarm
// through DOCKER_HOST=ssh://root@127.0.0.1: deploy, rotate, then plan.
func TestActionOverSSH(t *testing.T) {
	realEngine(t)
	port, clientKey, knownHosts := sshServer(t)
	stack := newStack(t)
	dir := rotateDir(t)
	ageKey, err := os.ReadFile(testdataPath(t, "age", "test-key.txt"))
	if err != nil {
		t.Fatal(err)
	}
	home, _ := os.UserHomeDir()
	knownBefore, knownErr := os.ReadFile(filepath.Join(home, ".ssh", "known_hosts"))
	inputs := map[string]string{
		"compose-file":    "compose.yml\n",
		"stack":           stack,
		"docker-host":     fmt.Sprintf("ssh://root@127.0.0.1:%d", port),
		"ssh-private-key": clientKey,
		"ssh-known-hosts": knownHosts,
		"sops-age-key":    string(ageKey),
		"timeout":         "2m",
	}
	check := func(name string, r actionRun) {
		t.Helper()
		if r.code != 0 {
			t.Fatalf("%s: exit %d\n%s\n%s", name, r.code, r.stdout, r.stderr)
		}
		secretLines := strings.Split(strings.TrimSpace(clientKey), "\n")
		for _, s := range []string{secretLines[1], "AGE-SECRET-KEY-", "CANARY-db-password-7c1e", "CANARY-api-key-52ab"} {
			if strings.Contains(r.stdout+r.stderr+r.output+r.summary, s) && !strings.Contains(r.stdout, "::add-mask::"+s) {
				t.Errorf("%s: a key or value is printed: %.12s...", name, s)
			}
		}
		for path, content := range snapshot(t, dir) {
			if filepath.Base(path) == "app.enc.yaml" {
				continue // SOPS ciphertext
			}
			for _, s := range []string{secretLines[1], "AGE-SECRET-KEY-", "CANARY-db-password-7c1e", "CANARY-api-key-52ab"} {
				if strings.Contains(content, s) {
					t.Errorf("%s: a key or value was written to %s", name, path)
				}
			}
		}
		after, err := os.ReadFile(filepath.Join(home, ".ssh", "known_hosts"))
		if (err != nil) != (knownErr != nil) || !bytes.Equal(after, knownBefore) {
			t.Errorf("%s: ~/.ssh/known_hosts was not restored", name)
		}
	}

	r := runAction(t, dir, inputs)
	check("deploy", r)
	if !strings.Contains(r.output, "changed=true") || !strings.Contains(r.output, "services="+stack+"_api,"+stack+"_bystander,"+stack+"_worker") {
		t.Errorf("deploy outputs:\n%s", r.output)
	}
	if !strings.Contains(r.summary, "### stackctl deploy `"+stack+"`: done") {
		t.Errorf("deploy summary:\n%s", r.summary)
	}

	// dir is no git work tree: TestActionRotateCommits runs commit: push.
	inputs["command"], inputs["secret"], inputs["commit"] = "rotate", "db_password", "none"
	r = runAction(t, dir, inputs)
	check("rotate", r)
	if !strings.Contains(r.output, "services="+stack+"_api,"+stack+"_worker\n") || !strings.Contains(r.summary, "Rotated secret `db_password`") {
		t.Errorf("rotate outputs:\n%s\nsummary:\n%s", r.output, r.summary)
	}

	inputs["command"] = "plan"
	r = runAction(t, dir, inputs)
	check("plan", r)
	if !strings.Contains(r.output, "changed=false") || !strings.Contains(r.summary, "plan only, nothing written") {
		t.Errorf("plan after rotate:\n%s\n%s", r.output, r.summary)
	}
}

// TestActionLint lints action.yml (through a workflow that uses it) and the
// example workflow with actionlint.
func TestActionLint(t *testing.T) {
	if testing.Short() {
		t.Skip("downloads actionlint")
	}
	repo := t.TempDir()
	root, _ := filepath.Abs(filepath.Join("..", ".."))
	os.MkdirAll(filepath.Join(repo, ".github", "workflows"), 0o755)
	action, _ := os.ReadFile(filepath.Join(root, "action.yml"))
	os.WriteFile(filepath.Join(repo, "action.yml"), action, 0o644)
	for _, name := range []string{"deploy.yml", "rotate.yml"} {
		example, _ := os.ReadFile(filepath.Join(root, "examples", "github-actions", name))
		os.WriteFile(filepath.Join(repo, ".github", "workflows", "example-"+name), example, 0o644)
	}
	os.WriteFile(filepath.Join(repo, ".github", "workflows", "local.yml"), []byte(`name: local
on: push
jobs:
  deploy:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - id: s
        uses: ./
        with:
          command: plan
          compose-file: docker-compose.yml
          stack: shop
      - run: echo "${{ steps.s.outputs.changed }} ${{ steps.s.outputs.services }} ${{ steps.s.outputs.versions }}"
`), 0o644)
	exec.Command("git", "init", "-q", repo).Run()
	cmd := exec.Command("go", "run", "github.com/rhysd/actionlint/cmd/actionlint@v1.7.12", "-shellcheck=", "-pyflakes=")
	cmd.Dir = repo
	cmd.Env = append(os.Environ(), "GOFLAGS=")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("actionlint: %v\n%s", err, out)
	}
}
