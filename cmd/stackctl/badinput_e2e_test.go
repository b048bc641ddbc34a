//go:build e2e

package main

import (
	"context"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/moby/moby/client"
	"gopkg.in/yaml.v3"
)

// badCase is testdata/badinput/<name>/case.yaml.
type badCase struct {
	// Args are stackctl's arguments; {{stack}} is a fresh stack name,
	// {{baseline}} the stack the test deploys first.
	Args []string `yaml:"args"`
	// Env is added to the environment; {{dir}} is the case's folder.
	// SOPS_AGE_KEY_FILE is the test key unless set here.
	Env map[string]string `yaml:"env"`
	// Want are substrings of the one error message ({{stack}} and
	// {{baseline}} are replaced): the file, the key and a hint.
	Want []string `yaml:"want"`
	// Exit is the expected exit code: 1 unless set (2 for usage and input errors).
	Exit int `yaml:"exit"`
	// Generate writes files of this many bytes ('x') into the case's copy.
	Generate map[string]int `yaml:"generate"`
}

// baselineCompose is the healthy stack that bad changes target; the
// cases that change it copy it with image: ${IMAGE} and ../../sops paths.
const baselineCompose = `
services:
  web:
    image: {{image}}
    deploy: {replicas: 1, endpoint_mode: dnsrr, update_config: {monitor: 1s}}
    secrets: [db_password]
    configs: [app_conf]
    networks: [back]
secrets:
  db_password:
    file: {{sops}}/app.enc.yaml
    x-sops: {key: db.password}
configs:
  app_conf:
    content: "level=info"
networks:
  back: {}
`

// TestBadInputCorpus runs every case of testdata/badinput against the real
// engine: each must fail with its exit code and exactly one error message
// that names the file, the key and what to do, and must change nothing,
// neither in the engine nor in the case's files.
func TestBadInputCorpus(t *testing.T) {
	api := realEngine(t)
	root := testdataPath(t, "badinput")
	entries, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if e.IsDir() {
			names = append(names, e.Name())
		}
	}
	if len(names) < 45 {
		t.Fatalf("testdata/badinput has %d cases, want at least 45", len(names))
	}

	baseline := newStack(t) // removed at the end, also on failure
	dir := writeDir(t, map[string]string{"compose.yml": baselineCompose})
	mustStackctl(t, dir, nil, "deploy", "-q", "-c", "compose.yml", "--timeout", "2m", baseline)
	if r := stackctl(t, dir, nil, "plan", "-q", "-c", "compose.yml", baseline); !strings.Contains(r.stdout, "no changes") {
		t.Fatalf("the baseline does not converge:\n%s%s", r.stdout, r.stderr)
	}

	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			runBadCase(t, api, filepath.Join(root, name), baseline)
		})
	}
}

func runBadCase(t *testing.T, api *client.Client, src, baseline string) {
	raw, err := os.ReadFile(filepath.Join(src, "case.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var c badCase
	dec := yaml.NewDecoder(strings.NewReader(string(raw)))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		t.Fatalf("case.yaml: %v", err)
	}
	if len(c.Args) == 0 || len(c.Want) == 0 {
		t.Fatal("case.yaml needs args and want")
	}
	if c.Exit == 0 {
		c.Exit = exitFailure
	}
	stack := newStack(t)
	expand := strings.NewReplacer("{{stack}}", stack, "{{baseline}}", baseline).Replace

	// Run in a copy laid out like testdata, so that ../../sops and
	// ../../age resolve and a write to any input is seen, not committed.
	tree := t.TempDir()
	work := filepath.Join(tree, "badinput", filepath.Base(src))
	copyTree(t, src, work)
	copyTree(t, testdataPath(t, "sops"), filepath.Join(tree, "sops"))
	copyTree(t, testdataPath(t, "age"), filepath.Join(tree, "age"))
	for f, n := range c.Generate {
		if err := os.WriteFile(filepath.Join(work, f), []byte(strings.Repeat("x", n)), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	var args, env []string
	for _, a := range c.Args {
		args = append(args, expand(a))
	}
	env = append(env, "IMAGE="+testImage(t))
	for _, k := range slices.Sorted(maps.Keys(c.Env)) {
		env = append(env, k+"="+strings.ReplaceAll(c.Env[k], "{{dir}}", work))
	}

	files := snapshot(t, tree)
	stacks := []string{stack, baseline}
	before := engineState(t, api, stacks...)
	r := stackctl(t, work, env, args...)
	after := engineState(t, api, stacks...)

	var problems []string
	if r.code != c.Exit {
		problems = append(problems, fmt.Sprintf("exit %d, want %d", r.code, c.Exit))
	}
	msg, noise := errorMessage(r.stderr)
	switch {
	case msg == "":
		problems = append(problems, "no line starting with \"error: \" on stderr")
	case len(noise) > 0:
		problems = append(problems, fmt.Sprintf("stderr has more than the one error message: %q", noise))
	}
	for _, w := range c.Want {
		if w = expand(w); !strings.Contains(msg, w) {
			problems = append(problems, fmt.Sprintf("the error does not contain %q", w))
		}
	}
	if strings.Contains(strings.ToLower(r.stdout), "error") {
		problems = append(problems, "stdout has an error: "+r.stdout)
	}
	if d := diffLines(before, after); d != "" {
		problems = append(problems, "the engine changed:\n"+d)
	}
	for path, content := range snapshot(t, tree) {
		if files[path] != content {
			problems = append(problems, "wrote "+path)
		}
	}
	for path := range files {
		if _, err := os.Stat(path); err != nil {
			problems = append(problems, "removed "+path)
		}
	}
	sort.Strings(problems)

	report := fmt.Sprintf("stackctl %s\nexit %d\nstderr:\n%s\nstdout:\n%s\nproblems:\n  %s",
		strings.Join(args, " "), r.code, r.stderr, r.stdout, strings.Join(problems, "\n  "))
	if len(problems) > 0 {
		t.Error(report)
	}
}

// errorMessage returns stderr's one error message: a line starting with
// "error: ", with the indented lines that follow it when it lists several
// problems. It returns every other line but warnings as noise: progress
// (a sign of writes), a second error, or unindented continuation lines.
func errorMessage(stderr string) (msg string, noise []string) {
	if stderr == "" {
		return "", nil
	}
	inMsg := false
	for _, l := range strings.Split(strings.TrimRight(stderr, "\n"), "\n") {
		switch {
		case inMsg && strings.HasPrefix(l, "  ") && strings.TrimSpace(l) != "":
			msg += "\n" + l
		case strings.HasPrefix(l, "warning: "):
			inMsg = false
		case strings.HasPrefix(l, "error: ") && msg == "":
			msg, inMsg = strings.TrimPrefix(l, "error: "), true
		default:
			noise, inMsg = append(noise, l), false
		}
	}
	return msg, noise
}

// engineState describes every service, secret, config and network of the
// given stacks (by namespace label or by name prefix) with its ID, version
// index and labels. engineSnapshot (rotate_e2e_test.go) has names and
// update times only.
func engineState(t *testing.T, api *client.Client, stacks ...string) string {
	t.Helper()
	ctx := context.Background()
	ours := func(name string, labels map[string]string) bool {
		for _, s := range stacks {
			if labels["com.docker.stack.namespace"] == s || strings.HasPrefix(name, s+"_") {
				return true
			}
		}
		return false
	}
	var lines []string
	add := func(kind, name, id string, index uint64, labels map[string]string) {
		if !ours(name, labels) {
			return
		}
		var kv []string
		for k, v := range labels {
			kv = append(kv, k+"="+v)
		}
		sort.Strings(kv)
		lines = append(lines, fmt.Sprintf("%s %s id=%s index=%d labels=[%s]", kind, name, id, index, strings.Join(kv, " ")))
	}
	svcs, err := api.ServiceList(ctx, client.ServiceListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range svcs.Items {
		add("service", s.Spec.Name, s.ID, s.Version.Index, s.Spec.Labels)
	}
	secrets, err := api.SecretList(ctx, client.SecretListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range secrets.Items {
		add("secret", s.Spec.Name, s.ID, s.Version.Index, s.Spec.Labels)
	}
	configs, err := api.ConfigList(ctx, client.ConfigListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range configs.Items {
		add("config", c.Spec.Name, c.ID, c.Version.Index, c.Spec.Labels)
	}
	nets, err := api.NetworkList(ctx, client.NetworkListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nets.Items {
		add("network", n.Name, n.ID, 0, n.Labels)
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// diffLines lists the lines only in a (-) or only in b (+).
func diffLines(a, b string) string {
	if a == b {
		return ""
	}
	as, bs := strings.Split(a, "\n"), strings.Split(b, "\n")
	var out []string
	for _, l := range as {
		if !slices.Contains(bs, l) {
			out = append(out, "  - "+l)
		}
	}
	for _, l := range bs {
		if !slices.Contains(as, l) {
			out = append(out, "  + "+l)
		}
	}
	return strings.Join(out, "\n")
}

// copyTree copies the regular files under src to dst.
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if e.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o600)
	})
	if err != nil {
		t.Fatal(err)
	}
}
