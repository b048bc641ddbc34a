//go:build e2e

package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
)

const (
	scaleServices = 100
	scaleSecrets  = 50
	// scaleChanged is the secret whose value the third phase changes.
	scaleChanged = 7
)

// scaleSecretsOf are the secrets service i uses: two or three, so that
// every secret is shared by four to six services.
func scaleSecretsOf(i int) []int {
	s := []int{i % scaleSecrets, (i + 17) % scaleSecrets}
	if i%2 == 0 {
		s = append(s, (i+33)%scaleSecrets)
	}
	return s
}

// scaleCompose is 100 services of the test image, one replica each, and
// 50 secrets from plain files.
func scaleCompose(image string) string {
	var b strings.Builder
	b.WriteString("services:\n")
	for i := range scaleServices {
		fmt.Fprintf(&b, "  s%03d:\n    image: %s\n    command: [sleep]\n    deploy: {replicas: 1, endpoint_mode: dnsrr}\n    secrets:\n", i, image)
		for _, k := range scaleSecretsOf(i) {
			fmt.Fprintf(&b, "      - k%02d\n", k)
		}
	}
	b.WriteString("secrets:\n")
	for k := range scaleSecrets {
		fmt.Fprintf(&b, "  k%02d: {file: ./k%02d.txt}\n", k, k)
	}
	return b.String()
}

func randomValue() string {
	v := make([]byte, 24)
	rand.Read(v)
	return base64.RawURLEncoding.EncodeToString(v)
}

// scaleRun is what one or more client processes did through the proxy.
type scaleRun struct {
	wall     time.Duration
	calls    int
	writes   int
	maxrss   int64 // KiB, the largest of the processes
	procs    int
	updated  int // services of the stack whose spec version moved
	counts   map[string]int
	failed   bool
	failText string
	// converged is the time until the stack converged, when the tool
	// returned before (docker stack deploy); else the same as wall.
	converged time.Duration
}

func (r *scaleRun) add(o scaleRun) {
	r.wall += o.wall
	r.converged += o.converged
	r.calls += o.calls
	r.writes += o.writes
	r.maxrss = max(r.maxrss, o.maxrss)
	r.procs += o.procs
	if r.counts == nil {
		r.counts = map[string]int{}
	}
	for k, n := range o.counts {
		r.counts[k] += n
	}
	if o.failed && !r.failed {
		r.failed, r.failText = true, o.failText
	}
}

// maxrssSource is a wrapper that runs a command and writes the command's
// peak resident memory (KiB) to a file. A child's ru_maxrss includes the
// memory of the process it was forked from (Linux records the old mm's
// peak at exec), so measured straight from the test binary every client
// would show the test's own 70 MiB; forked from this small wrapper, the
// floor is the wrapper's 1-2 MiB.
const maxrssSource = `package main

import (
	"os"
	"os/exec"
	"strconv"
	"syscall"
)

func main() {
	cmd := exec.Command(os.Args[2], os.Args[3:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	err := cmd.Run()
	if cmd.ProcessState == nil {
		os.Stderr.WriteString(err.Error() + "\n")
		os.Exit(127)
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	os.WriteFile(os.Args[1], []byte(strconv.FormatInt(ru.Maxrss, 10)), 0o600)
	os.Exit(cmd.ProcessState.ExitCode())
}
`

var (
	maxrssOnce sync.Once
	maxrssBin  string
	maxrssErr  error
)

// maxrssWrapper builds the wrapper once per test binary.
func maxrssWrapper(b *testing.B) string {
	b.Helper()
	maxrssOnce.Do(func() {
		dir := filepath.Join(filepath.Dir(binary(b)), "maxrss")
		if maxrssErr = os.MkdirAll(dir, 0o755); maxrssErr != nil {
			return
		}
		if maxrssErr = os.WriteFile(filepath.Join(dir, "main.go"), []byte(maxrssSource), 0o600); maxrssErr != nil {
			return
		}
		build := exec.Command("go", "build", "-o", "maxrss", "main.go")
		build.Dir = dir
		build.Env = append(os.Environ(), "CGO_ENABLED=0", "GO111MODULE=off", "GOFLAGS=")
		if out, err := build.CombinedOutput(); err != nil {
			maxrssErr = fmt.Errorf("go build maxrss: %v\n%s", err, out)
			return
		}
		maxrssBin = filepath.Join(dir, "maxrss")
	})
	if maxrssErr != nil {
		b.Fatal(maxrssErr)
	}
	return maxrssBin
}

// measure runs one client process against the proxy and returns its wall
// time, the Engine API requests it made and its peak resident memory.
func measure(b *testing.B, p *apiProxy, dir, name string, args ...string) scaleRun {
	b.Helper()
	rssFile := filepath.Join(b.TempDir(), "maxrss")
	p.Reset()
	cmd := exec.Command(maxrssWrapper(b), append([]string{rssFile, name}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "DOCKER_HOST="+p.Host(), "DOCKER_CONTEXT=")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	if _, ok := err.(*exec.ExitError); err != nil && !ok {
		b.Fatalf("%s: %v", name, err)
	}
	if !p.waitIdle(5 * time.Second) {
		b.Logf("%s left connections open through the proxy", name)
	}
	r := scaleRun{wall: wall, converged: wall, calls: p.Total(), writes: p.Writes(), counts: p.Counts(), procs: 1}
	kib, rerr := os.ReadFile(rssFile)
	if rerr != nil {
		b.Fatalf("%s: no peak memory: %v\n%s", name, rerr, out.String())
	}
	r.maxrss, _ = strconv.ParseInt(string(kib), 10, 64) // KiB on Linux
	if err != nil {
		r.failed, r.failText = true, strings.TrimSpace(out.String())
	}
	return r
}

func mustSucceed(b *testing.B, what string, r scaleRun) {
	b.Helper()
	if r.failed {
		b.Fatalf("%s failed:\n%s", what, r.failText)
	}
}

// BenchmarkScale100Services50Secrets deploys 100 services that share 50
// secrets, with stackctl and with docker stack deploy, both through an
// Engine API proxy that counts requests, in three phases: the first
// deploy, an unchanged redeploy, and a change of one secret's value.
//
// Each tool runs as it does by default: stackctl waits for the rollout,
// docker stack deploy returns once the changes are sent. For docker the
// benchmark then waits for convergence itself, on the engine directly (not
// counted as docker's requests), and reports both times. It does not use
// docker stack deploy --detach=false: that waits for one service after
// another, each for a 5 s stability window, so 100 services took 537 s on
// the first deploy and 514 s on an unchanged redeploy (engine 20.10, CLI 28).
//
// docker stack deploy cannot change a secret's value: secrets are
// immutable and it fails with "only updates to Labels are allowed". The
// benchmark records that failing run, then measures the manual way the
// docker documentation describes: docker secret create of a new name and
// one docker service update --secret-rm --secret-add per service that uses
// the secret (each waits for its rollout). Its numbers are the sums over
// those processes; its memory is the largest of them.
//
// Run it with -benchtime 1x: each phase is real and takes seconds.
func BenchmarkScale100Services50Secrets(b *testing.B) {
	api := realEngine(b)
	image := testImage(b)
	proxy := newAPIProxy(b, "")
	for b.Loop() {
		// Nothing of either stack may be left once the cleanups ran
		// (registered first, so it runs after newStack's removeStack).
		var ours, theirs string
		b.Cleanup(func() {
			out, _ := exec.Command("sh", "-c", "docker secret ls --format '{{.Name}}'; docker config ls --format '{{.Name}}'; docker service ls --format '{{.Name}}'").Output()
			for _, name := range strings.Fields(string(out)) {
				if ours != "" && strings.Contains(name, ours) || theirs != "" && strings.Contains(name, theirs) {
					b.Errorf("left after the benchmark: %s", name)
				}
			}
		})
		ours, theirs = newStack(b), newStack(b)
		files := map[string]string{"compose.yml": scaleCompose(image)}
		for k := range scaleSecrets {
			files[fmt.Sprintf("k%02d.txt", k)] = randomValue()
		}
		dir := writeDir(b, files)
		var users []int // services that use the secret that changes
		for i := range scaleServices {
			if slices.Contains(scaleSecretsOf(i), scaleChanged) {
				users = append(users, i)
			}
		}

		ourDeploy := func() scaleRun {
			return measure(b, proxy, dir, binary(b), "deploy", "-q", "-c", "compose.yml", ours)
		}
		// docker stack deploy returns once the changes are sent (its
		// default); the benchmark then waits for convergence itself, on the
		// engine directly, so that those requests are not counted.
		theirDeploy := func() scaleRun {
			r := measure(b, proxy, dir, "docker", "stack", "deploy", "--resolve-image", "never", "-q", "-c", "compose.yml", theirs)
			if !r.failed {
				r.converged = r.wall + waitStackConverged(b, api, theirs)
			}
			return r
		}
		type phase struct {
			name          string
			ours, theirs  scaleRun
			theirsComment string
		}
		var phases []phase

		// 1. First deploy.
		o := ourDeploy()
		mustSucceed(b, "stackctl first deploy", o)
		d := theirDeploy()
		mustSucceed(b, "docker stack deploy (first)", d)
		o.updated, d.updated = scaleServices, scaleServices
		phases = append(phases, phase{name: "first", ours: o, theirs: d})

		// 2. Unchanged redeploy.
		bo, bd := versionIndexes(b, api, ours), versionIndexes(b, api, theirs)
		o = ourDeploy()
		mustSucceed(b, "stackctl unchanged redeploy", o)
		d = theirDeploy()
		mustSucceed(b, "docker stack deploy (unchanged)", d)
		o.updated, d.updated = writesTo(b, api, ours, bo), writesTo(b, api, theirs, bd)
		phases = append(phases, phase{name: "unchanged", ours: o, theirs: d})

		// 3. One secret, used by len(users) services, gets a new value.
		changed := fmt.Sprintf("k%02d", scaleChanged)
		writeInto(b, dir, map[string]string{changed + ".txt": randomValue()})
		bo, bd = versionIndexes(b, api, ours), versionIndexes(b, api, theirs)
		o = ourDeploy()
		mustSucceed(b, "stackctl secret change", o)
		o.updated = writesTo(b, api, ours, bo)
		failed := theirDeploy()
		if !failed.failed {
			b.Errorf("docker stack deploy changed a secret's value: it was expected to fail")
		}
		failed.updated = writesTo(b, api, theirs, bd)
		var manual scaleRun
		manual.add(measure(b, proxy, dir, "docker", "secret", "create", "--label", "com.docker.stack.namespace="+theirs,
			theirs+"_"+changed+"_v2", changed+".txt"))
		mustSucceed(b, "docker secret create", manual)
		for _, i := range users {
			r := measure(b, proxy, dir, "docker", "service", "update", "-q", "--secret-rm", theirs+"_"+changed,
				"--secret-add", "source="+theirs+"_"+changed+"_v2,target="+changed, fmt.Sprintf("%s_s%03d", theirs, i))
			mustSucceed(b, "docker service update", r)
			manual.add(r)
		}
		manual.updated = writesTo(b, api, theirs, bd)
		phases = append(phases,
			phase{name: "secret", ours: o, theirs: manual,
				theirsComment: fmt.Sprintf("docker: secret create + %d x service update --secret-rm --secret-add", len(users))},
			phase{name: "secret-stack-deploy", ours: o, theirs: failed,
				theirsComment: "docker stack deploy fails: " + lastLine(failed.failText)})

		// Metrics and a side-by-side table.
		var t strings.Builder
		fmt.Fprintf(&t, "\n%d services, %d secrets (secret %s used by %d services), through an API-counting proxy.\n", scaleServices, scaleSecrets, changed, len(users))
		fmt.Fprintf(&t, "stackctl waits for the rollout and its requests include that polling; docker stack deploy returns at once\n")
		fmt.Fprintf(&t, "(\"until converged\" adds the benchmark's own wait, whose requests are not counted).\n")
		fmt.Fprintf(&t, "%-20s %-18s %12s %12s %10s\n", "phase", "metric", "stackctl", "docker", "ratio")
		for _, ph := range phases {
			rows := []struct {
				metric       string
				unit         string
				ours, theirs float64
				format       string
			}{
				{"until converged (s)", "s", ph.ours.converged.Seconds(), ph.theirs.converged.Seconds(), "%12.2f"},
				{"until it returns (s)", "s-return", ph.ours.wall.Seconds(), ph.theirs.wall.Seconds(), "%12.2f"},
				{"API requests", "api-calls", float64(ph.ours.calls), float64(ph.theirs.calls), "%12.0f"},
				{"API writes", "writes", float64(ph.ours.writes), float64(ph.theirs.writes), "%12.0f"},
				{"services updated", "services-updated", float64(ph.ours.updated), float64(ph.theirs.updated), "%12.0f"},
				{"peak RSS (MiB)", "maxrss-MiB", float64(ph.ours.maxrss) / 1024, float64(ph.theirs.maxrss) / 1024, "%12.1f"},
				{"processes", "", float64(ph.ours.procs), float64(ph.theirs.procs), "%12.0f"},
			}
			for j, r := range rows {
				label := ""
				if j == 0 {
					label = ph.name
				}
				ratio := "-"
				if r.theirs != 0 {
					ratio = fmt.Sprintf("%.2fx", r.ours/r.theirs)
				}
				fmt.Fprintf(&t, "%-20s %-18s "+r.format+" "+r.format+" %10s\n", label, r.metric, r.ours, r.theirs, ratio)
				if r.unit != "" && ph.name != "secret-stack-deploy" {
					b.ReportMetric(r.ours, "stackctl-"+r.unit+"/"+ph.name)
					b.ReportMetric(r.theirs, "docker-"+r.unit+"/"+ph.name)
				}
			}
			if ph.theirsComment != "" {
				fmt.Fprintf(&t, "%-20s (%s)\n", "", ph.theirsComment)
			}
		}
		fmt.Println(t.String())

		for _, ph := range phases {
			b.Logf("%s, stackctl requests: %s", ph.name, formatCounts(ph.ours.counts))
			b.Logf("%s, docker requests: %s", ph.name, formatCounts(ph.theirs.counts))
		}

	}
}

// waitStackConverged waits, on the engine directly, until every service of
// a stack runs its replicas from its current spec and no update is in
// progress, and returns how long that took.
func waitStackConverged(b *testing.B, api *client.Client, stack string) time.Duration {
	b.Helper()
	ctx := context.Background()
	start := time.Now()
	f := make(client.Filters).Add("label", "com.docker.stack.namespace="+stack)
	running := make(client.Filters).Add("desired-state", "running")
	for deadline := start.Add(5 * time.Minute); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		services, err := api.ServiceList(ctx, client.ServiceListOptions{Filters: f})
		if err != nil {
			b.Fatal(err)
		}
		tasks, err := api.TaskList(ctx, client.TaskListOptions{Filters: running})
		if err != nil {
			b.Fatal(err)
		}
		up := map[string]int{}
		for _, t := range tasks.Items {
			if t.Status.State == swarm.TaskStateRunning {
				up[t.ServiceID]++
			} else {
				up[t.ServiceID] = -1 << 20 // a task on its way: not yet
			}
		}
		done := len(services.Items) > 0
		for _, s := range services.Items {
			want := 1
			if s.Spec.Mode.Replicated != nil && s.Spec.Mode.Replicated.Replicas != nil {
				want = int(*s.Spec.Mode.Replicated.Replicas)
			}
			if up[s.ID] != want || s.UpdateStatus != nil && s.UpdateStatus.State == swarm.UpdateStateUpdating {
				done = false
				break
			}
		}
		if done {
			return time.Since(start)
		}
	}
	b.Fatalf("stack %s did not converge in 5 minutes", stack)
	return 0
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// formatCounts lists request counts, most frequent first.
func formatCounts(c map[string]int) string {
	keys := slices.Collect(maps.Keys(c))
	slices.SortFunc(keys, func(a, b string) int {
		if c[a] != c[b] {
			return c[b] - c[a]
		}
		return strings.Compare(a, b)
	})
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s=%d", k, c[k]))
	}
	return strings.Join(parts, ", ")
}
