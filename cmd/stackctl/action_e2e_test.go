//go:build e2e

package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
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
	// steps are the outputs of each step that has an id, and ran: the
	// ones that were skipped or never reached are absent.
	steps map[string]map[string]string
	// bin is where the action installs stackctl.
	bin string
}

var expression = regexp.MustCompile(`\$\{\{\s*([a-z_.-]+)\s*\}\}`)

// The one form of if: that action.yml uses: a step runs unless an earlier
// step's output is the value given.
var ifNotEqual = regexp.MustCompile(`^steps\.([a-z_-]+)\.outputs\.([a-z_-]+) != '([^']*)'$`)

// actionEnv changes how runAction runs the action: the ref it is pinned
// to, more environment, and the id of the step to stop before.
type actionEnv struct {
	ref    string
	env    []string
	before string
}

// runAction runs action.yml's shell steps in dir with the given inputs
// (defaults from action.yml), as the runner does: inputs through each
// step's env, GITHUB_OUTPUT (one file a step) and GITHUB_STEP_SUMMARY as
// files, RUNNER_OS and RUNNER_ARCH set, if: conditions on earlier steps'
// outputs. The one `uses:` step (actions/setup-go) is skipped: Go is here.
// The action is pinned to ref "test", which is no release: it builds
// stackctl from this source.
func runAction(t *testing.T, dir string, inputs map[string]string) actionRun {
	return runActionWith(t, dir, inputs, actionEnv{ref: "test"})
}

func runActionWith(t *testing.T, dir string, inputs map[string]string, ae actionEnv) actionRun {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "action.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var action struct {
		Inputs map[string]struct{ Default string }
		Runs   struct {
			Steps []struct {
				Uses, Run, ID, If string
				Env               map[string]string
			}
		}
	}
	if err := yaml.Unmarshal(raw, &action); err != nil {
		t.Fatal(err)
	}
	root, _ := filepath.Abs(filepath.Join("..", "..", "."))
	temp := t.TempDir()
	contexts := map[string]string{
		"github.action_path": root, "github.action_ref": ae.ref, "github.action_repository": "stackctl/stackctl",
		"github.server_url": "https://github.invalid", "runner.temp": temp,
	}
	for name, in := range action.Inputs {
		v, ok := inputs[name]
		if !ok {
			v = in.Default
		}
		contexts["inputs."+name] = v
	}
	run := actionRun{steps: map[string]map[string]string{}, bin: filepath.Join(temp, "stackctl-bin", "stackctl")}
	sumFile := filepath.Join(temp, "summary")
	for i, step := range action.Runs.Steps {
		if step.ID != "" && step.ID == ae.before {
			break
		}
		if !runsStep(t, step.If, run.steps) {
			continue
		}
		if step.Uses != "" {
			if !strings.HasPrefix(step.Uses, "actions/setup-go@") {
				t.Fatalf("the test runner does not know how to run %s", step.Uses)
			}
			continue
		}
		outFile := filepath.Join(temp, fmt.Sprintf("output-%d", i))
		env := append(os.Environ(), "GITHUB_ACTIONS=true", "GITHUB_OUTPUT="+outFile, "GITHUB_STEP_SUMMARY="+sumFile,
			"RUNNER_OS=Linux", "RUNNER_ARCH="+map[string]string{"amd64": "X64", "arm64": "ARM64"}[runtime.GOARCH])
		env = append(env, ae.env...)
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
		o, _ := os.ReadFile(outFile)
		run.output += string(o)
		if step.ID != "" {
			run.steps[step.ID] = parseOutputs(string(o))
		}
		if ee, ok := err.(*exec.ExitError); ok {
			run.code = ee.ExitCode()
			break
		} else if err != nil {
			t.Fatal(err)
		}
	}
	s, _ := os.ReadFile(sumFile)
	run.summary = string(s)
	if entries, _ := os.ReadDir(filepath.Join(temp, "stackctl-ssh")); entries != nil {
		t.Errorf("the action left its ssh folder behind: %v", entries)
	}
	return run
}

// runsStep evaluates a step's if: against the outputs so far; a step's
// output never set is the empty string, as on a runner.
func runsStep(t *testing.T, cond string, steps map[string]map[string]string) bool {
	t.Helper()
	if cond == "" {
		return true
	}
	m := ifNotEqual.FindStringSubmatch(strings.TrimSpace(cond))
	if m == nil {
		t.Fatalf("the test runner does not know how to evaluate if: %s", cond)
	}
	return steps[m[1]][m[2]] != m[3]
}

// parseOutputs reads a GITHUB_OUTPUT file's name=value lines (the action
// writes no multi-line values).
func parseOutputs(s string) map[string]string {
	out := map[string]string{}
	for _, line := range strings.Split(s, "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			out[k] = v
		}
	}
	return out
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
// example workflow with actionlint, and each of the action's scripts with
// shellcheck (actionlint checks the scripts of workflows, not of actions).
func TestActionLint(t *testing.T) {
	if testing.Short() {
		t.Skip("installs actionlint")
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
	tools := exec.Command(filepath.Join(root, ".ci", "tools"), "actionlint")
	tools.Stderr = os.Stderr
	actionlint, err := tools.Output()
	if err != nil {
		t.Fatalf(".ci/tools actionlint: %v", err)
	}
	cmd := exec.Command(strings.TrimSpace(string(actionlint)), "-shellcheck=", "-pyflakes=")
	cmd.Dir = repo
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("actionlint: %v\n%s", err, out)
	}

	var a struct {
		Runs struct{ Steps []struct{ Name, Run string } }
	}
	if err := yaml.Unmarshal(action, &a); err != nil {
		t.Fatal(err)
	}
	for _, step := range a.Runs.Steps {
		if step.Run == "" {
			continue
		}
		sc := exec.Command("shellcheck", "--shell=bash", "-")
		sc.Stdin = strings.NewReader(step.Run)
		if out, err := sc.CombinedOutput(); err != nil {
			t.Errorf("shellcheck, step %q: %v (apt-get install shellcheck; make test does)\n%s", step.Name, err, out)
		}
	}
}

// release is a GitHub release as the action downloads it: its tag, and
// files by name.
type release struct {
	tag, version string
	files        map[string][]byte
}

// binaryName is the bare binary of this platform in a release of version,
// as .goreleaser.yaml names it and action.yml asks for it.
func binaryName(version string) string {
	return fmt.Sprintf("stackctl_%s_%s_%s", version, runtime.GOOS, runtime.GOARCH)
}

// snapshotRelease is the release the action is tested against: the
// goreleaser snapshot that make release-check put in the folder
// STACKCTL_DIST names (make test sets it), so that the names and
// checksums.txt goreleaser makes are the ones the action reads. Without
// it (a test run by hand), a release of the same shape: this source built
// as a release is, and a checksums.txt of goreleaser's "SHA256  NAME" lines.
func snapshotRelease(t *testing.T) release {
	t.Helper()
	if dist := os.Getenv("STACKCTL_DIST"); dist != "" {
		return distRelease(t, dist)
	}
	version := "0.0.0-test"
	name := binaryName(version)
	out := filepath.Join(t.TempDir(), name)
	root, _ := filepath.Abs(filepath.Join("..", ".."))
	build := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w -X main.version=v"+version+" -X main.commit=0123456789abcdef -X main.date=2026-01-02T03:04:05Z", "-o", out, "./cmd/stackctl")
	build.Dir, build.Env = root, append(os.Environ(), "CGO_ENABLED=0")
	if b, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	bin, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	// Another platform's line too, so the action has to pick its own.
	sums := fmt.Sprintf("%x  %s\n%x  %s\n", sha256.Sum256(bin), name, sha256.Sum256([]byte("other")), "stackctl_"+version+"_plan9_386")
	return release{tag: "v" + version, version: version, files: map[string][]byte{name: bin, "checksums.txt": []byte(sums)}}
}

// distRelease reads goreleaser's dist folder: its version from
// metadata.json; this platform's bare binary and checksums.txt from
// release/, where make release-check lays out the files a release holds.
func distRelease(t *testing.T, dist string) release {
	t.Helper()
	var meta struct{ Version string }
	raw, err := os.ReadFile(filepath.Join(dist, "metadata.json"))
	if err == nil {
		err = json.Unmarshal(raw, &meta)
	}
	if err != nil || meta.Version == "" {
		t.Fatalf("STACKCTL_DIST=%s holds no goreleaser metadata.json with a version (%v): run make release-check", dist, err)
	}
	r := release{tag: "v" + meta.Version, version: meta.Version, files: map[string][]byte{}}
	for _, name := range []string{binaryName(meta.Version), "checksums.txt"} {
		b, err := os.ReadFile(filepath.Join(dist, "release", name))
		if err != nil {
			t.Fatalf("the snapshot release in %s: %v", dist, err)
		}
		r.files[name] = b
	}
	return r
}

// releaseServer serves releases at /download/TAG/NAME, as GitHub serves
// /OWNER/REPO/releases/download/TAG/NAME, answering status instead of the
// file when status is not 0, and records the paths asked for.
func releaseServer(t *testing.T, rels []release, status int) (url string, asked func() []string) {
	t.Helper()
	var (
		mu   sync.Mutex
		seen []string
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.URL.Path)
		mu.Unlock()
		if status != 0 {
			http.Error(w, "scripted failure", status)
			return
		}
		for _, rel := range rels {
			if b, ok := rel.files[strings.TrimPrefix(r.URL.Path, "/download/"+rel.tag+"/")]; ok && strings.HasPrefix(r.URL.Path, "/download/"+rel.tag+"/") {
				w.Write(b)
				return
			}
		}
		http.NotFound(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/download", func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), seen...)
	}
}

// TestActionRelease runs the action's steps pinned to a release tag
// against a local server holding a goreleaser snapshot release: the
// verified binary is installed and run; a binary whose sha256 is not the
// one in checksums.txt fails the step before anything runs; no release
// for the ref builds stackctl from the action's source, and the log says
// which path was taken.
func TestActionRelease(t *testing.T) {
	good := snapshotRelease(t)
	bin := good.files[binaryName(good.version)]

	// The same release with the binary swapped for a program that leaves
	// a mark when it runs: checksums.txt still lists the real binary.
	mark := filepath.Join(t.TempDir(), "ran")
	tampered := release{tag: good.tag, version: good.version, files: map[string][]byte{
		"checksums.txt":          good.files["checksums.txt"],
		binaryName(good.version): []byte("#!/bin/sh\ntouch " + mark + "\n"),
	}}
	// A release that has checksums for other platforms only.
	otherOnly := release{tag: "v7.7.7", version: "7.7.7", files: map[string][]byte{
		"checksums.txt": []byte(fmt.Sprintf("%x  stackctl_7.7.7_plan9_386\n", sha256.Sum256(nil))),
	}}

	tests := []struct {
		name   string
		rels   []release
		status int // the server's answer to every request, when not 0
		ref    string
		before string // stop before the step with this id
		code   int
		found  string
		has    []string // in stdout
		asked  []string // paths the server was asked for, in order
		// version is what the installed stackctl's version must say ("" when
		// none may be installed).
		version string
	}{
		{name: "verified", rels: []release{good}, ref: good.tag, before: "run", found: "true",
			has:   []string{"stackctl: using release " + good.tag + " (" + binaryName(good.version) + ", sha256 verified", ": OK", "stackctl v" + good.version},
			asked: []string{"/download/" + good.tag + "/checksums.txt", "/download/" + good.tag + "/" + binaryName(good.version)}, version: "v" + good.version},
		{name: "checksum mismatch", rels: []release{tampered}, ref: good.tag, code: 1,
			has:   []string{"FAILED", "::error::stackctl: " + binaryName(good.version) + " from ", "does not match the sha256 in the release's checksums.txt: not installed, nothing run"},
			asked: []string{"/download/" + good.tag + "/checksums.txt", "/download/" + good.tag + "/" + binaryName(good.version)}},
		{name: "no release for the tag", rels: []release{good}, ref: "v404.0.0", before: "run", found: "false",
			has:   []string{"stackctl: no release v404.0.0 at ", "(checksums.txt: HTTP 404): building from the action's source instead", "stackctl: building from source at v404.0.0", "stackctl v404.0.0"},
			asked: []string{"/download/v404.0.0/checksums.txt"}, version: "v404.0.0"},
		{name: "a branch", rels: []release{good}, ref: "main", before: "build", found: "false",
			has: []string{"stackctl: no release for ref 'main' (not a version tag): building from the action's source instead"}},
		{name: "a commit", rels: []release{good}, ref: "0123456789abcdef0123456789abcdef01234567", before: "build", found: "false",
			has: []string{"(not a version tag): building from the action's source instead"}},
		{name: "no build for this platform", rels: []release{otherOnly}, ref: "v7.7.7", before: "build", found: "false",
			has:   []string{"stackctl: release v7.7.7 has no " + binaryName("7.7.7") + ": building from the action's source instead"},
			asked: []string{"/download/v7.7.7/checksums.txt"}},
		{name: "server error", rels: []release{good}, status: http.StatusBadGateway, ref: good.tag, code: 1,
			has:   []string{"::error::stackctl: ", "/checksums.txt: HTTP 502"},
			asked: []string{"/download/" + good.tag + "/checksums.txt"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url, asked := releaseServer(t, tt.rels, tt.status)
			// curl's --retry would ask again after a 502: the server's log
			// is compared without repeats.
			r := runActionWith(t, t.TempDir(), nil, actionEnv{ref: tt.ref, before: tt.before, env: []string{"STACKCTL_RELEASE_URL=" + url}})
			log := r.stdout + r.stderr
			if r.code != tt.code {
				t.Fatalf("exit %d, want %d\n%s", r.code, tt.code, log)
			}
			if got := r.steps["release"]["found"]; got != tt.found {
				t.Errorf("release step's found=%q, want %q\n%s", got, tt.found, log)
			}
			for _, s := range tt.has {
				if !strings.Contains(r.stdout, s) {
					t.Errorf("stdout lacks %q:\n%s", s, log)
				}
			}
			if got := compact(asked()); strings.Join(got, " ") != strings.Join(tt.asked, " ") {
				t.Errorf("the server was asked for %q, want %q", got, tt.asked)
			}
			if tt.code != 0 {
				if _, ok := r.steps["run"]; ok {
					t.Error("the action ran stackctl after a failed step")
				}
				if _, err := os.Stat(mark); err == nil {
					t.Error("the binary that failed its checksum was run")
				}
			}
			installed, err := os.ReadFile(r.bin)
			switch {
			case tt.version == "":
				if err == nil {
					t.Errorf("a stackctl was installed at %s", r.bin)
				}
			case err != nil:
				t.Fatalf("no stackctl installed: %v\n%s", err, log)
			case tt.found == "true" && !bytes.Equal(installed, bin):
				t.Error("the installed stackctl is not the release's binary")
			default:
				out, err := exec.Command(r.bin, "version", "-o", "json").Output()
				var v struct{ Version, Sops string }
				if err == nil {
					err = json.Unmarshal(out, &v)
				}
				if err != nil || v.Version != tt.version || !strings.HasPrefix(v.Sops, "v3.") {
					t.Errorf("installed stackctl version -o json: %v, %s; want version %s", err, out, tt.version)
				}
			}
		})
	}
}

// compact drops repeats in a row (curl retrying).
func compact(s []string) []string {
	var out []string
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}
