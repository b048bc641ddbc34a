//go:build e2e

package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"
)

// benchCompose is 20 services; the first 10 share one secret.
func benchCompose() string {
	var b strings.Builder
	b.WriteString("services:\n")
	for i := range 20 {
		fmt.Fprintf(&b, "  s%02d:\n    image: {{image}}\n    deploy: {replicas: 1, endpoint_mode: dnsrr}\n", i)
		if i < 10 {
			b.WriteString("    secrets: [shared]\n")
		}
	}
	b.WriteString("secrets:\n  shared: {file: ./shared.txt}\n")
	return b.String()
}

func timed(b *testing.B, name string, args ...string) time.Duration {
	b.Helper()
	start := time.Now()
	cmd := exec.Command(name, args...)
	cmd.Env = os.Environ()
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return time.Since(start)
}

// writesTo counts the services of a stack whose spec version moved since before.
func writesTo(b *testing.B, api *client.Client, stack string, before map[string]uint64) int {
	list, err := api.ServiceList(context.Background(), client.ServiceListOptions{Filters: make(client.Filters).Add("label", "com.docker.stack.namespace="+stack)})
	if err != nil {
		b.Fatal(err)
	}
	n := 0
	for _, s := range list.Items {
		if s.Version.Index != before[s.Spec.Name] {
			n++
		}
	}
	return n
}

func reportRatio(b *testing.B, name string, ours, theirs time.Duration) {
	b.ReportMetric(ours.Seconds(), name+"-stackctl-s")
	b.ReportMetric(theirs.Seconds(), name+"-docker-s")
	b.ReportMetric(ours.Seconds()/theirs.Seconds(), name+"-ratio")
}

// BenchmarkDeployVsDocker puts stackctl and the docker CLI side by side on
// the local engine: the first deploy of 20 services, an unchanged redeploy,
// and a change of the secret that 10 of them share (stackctl deploy against
// the documented docker service update --secret-rm --secret-add, one
// service after another). Run it with -benchtime 1x: each step is real.
func BenchmarkDeployVsDocker(b *testing.B) {
	api := realEngine(b)
	for b.Loop() {
		ours, theirs := newStack(b), newStack(b)
		dir := writeDir(b, map[string]string{"compose.yml": benchCompose(), "shared.txt": "v1"})
		compose := dir + "/compose.yml"

		// First deploy, both detached (docker stack deploy's default).
		o := timed(b, binary(b), "deploy", "--detach", "-q", "-c", compose, ours)
		d := timed(b, "docker", "stack", "deploy", "--resolve-image", "never", "--detach=true", "-q", "-c", compose, theirs)
		reportRatio(b, "first20", o, d)
		// Let both converge before the next step.
		timed(b, binary(b), "deploy", "-q", "-c", compose, ours)
		waitConverged(b, api, theirs)

		// Unchanged redeploy.
		bo, bd := versionIndexes(b, api, ours), versionIndexes(b, api, theirs)
		o = timed(b, binary(b), "deploy", "-q", "-c", compose, ours)
		d = timed(b, "docker", "stack", "deploy", "--resolve-image", "never", "--detach=true", "-q", "-c", compose, theirs)
		reportRatio(b, "unchanged20", o, d)
		b.ReportMetric(float64(writesTo(b, api, ours, bo)), "unchanged20-stackctl-updates")
		b.ReportMetric(float64(writesTo(b, api, theirs, bd)), "unchanged20-docker-updates")
		waitConverged(b, api, theirs)

		// Change the secret 10 services share.
		writeInto(b, dir, map[string]string{"shared.txt": "v2"})
		o = timed(b, binary(b), "deploy", "-q", "-c", compose, ours)
		start := time.Now()
		cmd := exec.Command("docker", "secret", "create", "--label", "com.docker.stack.namespace="+theirs, theirs+"_shared_v2", dir+"/shared.txt")
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("docker secret create: %v\n%s", err, out)
		}
		for i := range 10 {
			timed(b, "docker", "service", "update", "-q", "--secret-rm", theirs+"_shared", "--secret-add", "source="+theirs+"_shared_v2,target=shared", fmt.Sprintf("%s_s%02d", theirs, i))
		}
		reportRatio(b, "shared10", o, time.Since(start))
	}
}

// waitConverged waits until every service of a stack runs all its replicas.
func waitConverged(b *testing.B, api *client.Client, stack string) {
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		out, err := exec.Command("docker", "stack", "services", "--format", "{{.Replicas}}", stack).Output()
		if err == nil {
			done := true
			for _, line := range strings.Fields(string(out)) {
				parts := strings.Split(line, "/")
				if len(parts) != 2 || parts[0] != parts[1] {
					done = false
				}
			}
			if done {
				return
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	b.Fatalf("stack %s did not converge", stack)
}
