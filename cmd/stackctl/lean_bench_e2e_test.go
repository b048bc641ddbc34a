//go:build e2e

package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// BenchmarkLeanVsDocker prints issue 15's table: stackctl, built as
// `make build` builds it, beside the docker CLI on this machine, as
// ratios (the machine is noisy; runs are interleaved and medians taken).
// Run it with -benchtime 1x (make bench does): every row is real.
func BenchmarkLeanVsDocker(b *testing.B) {
	api := realEngine(b)
	docker, err := exec.LookPath("docker")
	if err != nil {
		b.Fatal("the docker CLI is the reference: install it")
	}
	bin := releaseBinary(b)
	for b.Loop() {
		const runs = 41
		ours, theirs := interleave(b, runs, []string{bin, "version"}, []string{docker, "--version"})
		size := func(p string) float64 {
			st, err := os.Stat(p)
			if err != nil {
				b.Fatal(err)
			}
			return float64(st.Size()) / 1e6
		}
		deps, inits := linked(b, bin)

		stack, theirStack := newStack(b), newStack(b)
		dir := writeDir(b, map[string]string{"compose.yml": benchCompose(), "shared.txt": "v1"})
		compose := filepath.Join(dir, "compose.yml")
		timed(b, bin, "deploy", "-q", "-c", compose, stack)
		timed(b, docker, "stack", "deploy", "--resolve-image", "never", "--detach=true", "-q", "-c", compose, theirStack)
		waitConverged(b, api, theirStack)
		redeploy, dockerRedeploy := interleave(b, 5,
			[]string{bin, "deploy", "-q", "-c", compose, stack},
			[]string{docker, "stack", "deploy", "--resolve-image", "never", "--detach=true", "-q", "-c", compose, theirStack})

		rows := []struct {
			metric, name, unit string
			ours, their        float64
			goal               string
		}{
			{"start", "`stackctl version` cold start vs `docker --version`", "ms", ours.wall, theirs.wall, "≤ 1.4×"},
			{"rss", "peak memory of `version`", "MiB", ours.rss, theirs.rss, "≤ 1.5×"},
			{"size", "binary vs the docker CLI", "MB", size(bin), size(docker), "≤ 1.0×"},
			{"redeploy20", "unchanged redeploy, 20 services, vs `docker stack deploy --resolve-image never`", "s", redeploy.wall / 1000, dockerRedeploy.wall / 1000, "≤ 0.7×"},
		}
		var t strings.Builder
		fmt.Fprintf(&t, "\n| | stackctl | docker | ratio | goal |\n|---|---|---|---|---|\n")
		for _, r := range rows {
			fmt.Fprintf(&t, "| %s | %.3g %s | %.3g %s | %.2f× | %s |\n", r.name, r.ours, r.unit, r.their, r.unit, r.ours/r.their, r.goal)
			b.ReportMetric(r.ours/r.their, r.metric+"-ratio")
		}
		fmt.Fprintf(&t, "| packages linked / with an init that ran | %d / %d | | | |\n", deps, inits)
		b.Log(t.String())
	}
}

// releaseBinary builds stackctl as `make build` does (stripped, no cgo).
func releaseBinary(b *testing.B) string {
	out := filepath.Join(b.TempDir(), "stackctl")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", out, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if msg, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, msg)
	}
	return out
}

type runStats struct{ wall, rss float64 } // medians: ms, MiB

// interleave runs a and b in turn, n times each, and returns the medians
// of each one's wall time and peak resident memory.
func interleave(tb testing.TB, n int, a, b []string) (runStats, runStats) {
	var wa, wb, ra, rb []float64
	for range n {
		for _, c := range []struct {
			argv      []string
			wall, rss *[]float64
		}{{a, &wa, &ra}, {b, &wb, &rb}} {
			start := time.Now()
			mustRun(tb, exec.Command(c.argv[0], c.argv[1:]...))
			*c.wall = append(*c.wall, float64(time.Since(start).Microseconds())/1000)
			*c.rss = append(*c.rss, peakMemory(tb, c.argv))
		}
	}
	return runStats{median(wa), median(ra)}, runStats{median(wb), median(rb)}
}

// peakMemory is a command's peak resident memory in MiB, by GNU time: a
// child that this (large) test process starts itself would report the
// test's own peak, which Linux carries across the exec of a vfork'd child;
// time forks from a small process.
func peakMemory(tb testing.TB, argv []string) float64 {
	out, err := exec.Command("/usr/bin/time", append([]string{"-f", "peak-kib %M"}, argv...)...).CombinedOutput()
	if err != nil {
		tb.Fatalf("/usr/bin/time %s: %v (install Debian's time package)\n%s", strings.Join(argv, " "), err, out)
	}
	i := strings.LastIndex(string(out), "peak-kib ")
	kib, err := strconv.Atoi(strings.TrimSpace(string(out[i+len("peak-kib "):])))
	if i < 0 || err != nil {
		tb.Fatalf("time said %q", out)
	}
	return float64(kib) / 1024
}

func mustRun(tb testing.TB, cmd *exec.Cmd) {
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("%s: %v\n%s", strings.Join(cmd.Args, " "), err, out)
	}
}

func median(xs []float64) float64 {
	slices.Sort(xs)
	return xs[len(xs)/2]
}

// linked counts the packages the binary links (go list -deps) and those
// whose init ran work at start (GODEBUG=inittrace=1).
func linked(tb testing.TB, bin string) (deps, inits int) {
	out, err := exec.Command("go", "list", "-deps", "github.com/stackctl/stackctl/cmd/stackctl").Output()
	if err != nil {
		tb.Fatal(err)
	}
	cmd := exec.Command(bin, "version")
	cmd.Env = append(os.Environ(), "GODEBUG=inittrace=1")
	trace, err := cmd.CombinedOutput()
	if err != nil {
		tb.Fatal(err)
	}
	for _, line := range strings.Split(string(trace), "\n") {
		if strings.HasPrefix(line, "init ") {
			inits++
		}
	}
	return len(strings.Fields(string(out))), inits
}
