//go:build e2e

package main

import (
	"os/exec"
	"testing"
	"time"
)

// BenchmarkRenderVsDockerStackConfig times `stackctl render` and
// `docker stack config` on the same plain compose file (1,000 services,
// 500 secrets) and reports both and their ratio.
func BenchmarkRenderVsDockerStackConfig(b *testing.B) {
	if _, err := exec.LookPath("docker"); err != nil {
		b.Fatal("this benchmark compares with the docker CLI: install it (apt-get install docker.io)")
	}
	file := testdataPath(b, "bench", "stack-1000.yml")
	timeIt := func(name string, args ...string) time.Duration {
		start := time.Now()
		if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
			b.Fatalf("%s: %v\n%s", name, err, out)
		}
		return time.Since(start)
	}
	var ours, docker time.Duration
	for b.Loop() {
		ours += timeIt(binary(b), "render", "-c", file, "bench")
		docker += timeIt("docker", "stack", "config", "-c", file)
	}
	n := float64(b.N)
	b.ReportMetric(float64(ours.Milliseconds())/n, "stackctl-ms/op")
	b.ReportMetric(float64(docker.Milliseconds())/n, "docker-ms/op")
	b.ReportMetric(float64(ours)/float64(docker), "stackctl/docker")
}
