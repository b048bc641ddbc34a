package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestLeanDeps: the binary links none of the packages that made it big
// and slow to start, and that it does not need (issue 15's trace, by
// go list -deps and go mod why):
var forbiddenDeps = []struct{ prefix, why string }{
	// docker/cli's command tree (with swarmkit's API, etcd's raft
	// protobufs, notary, the OpenTelemetry SDK): stackctl connects through
	// docker/cli's context store and connection helpers, and converts with
	// its own converter.
	{"github.com/docker/cli/cli/command", "connect through cli/context and cli/connhelper, convert in compose"},
	{"go.etcd.io/etcd", "linked only through docker/cli's command tree"},
	{"github.com/moby/swarmkit", "linked only through docker/cli's command tree"},
	{"github.com/prometheus", "metrics nobody reads"},
	// sops' version package and its CLI (update checks, man pages).
	{"github.com/russross/blackfriday", "sops' CLI man pages: use sops' narrow packages"},
	{"github.com/cpuguy83/go-md2man", "sops' CLI man pages: use sops' narrow packages"},
	{"github.com/urfave/cli", "sops' CLI framework: use sops' narrow packages"},
	{"github.com/getsops/sops/v3/cmd", "sops' CLI: use sops' narrow packages"},
	{"github.com/getsops/sops/v3/version", "sops' update check: the linked version comes from the build info"},
}

func TestLeanDeps(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "github.com/stackctl/stackctl/cmd/stackctl").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 100 {
		t.Fatalf("go list -deps listed %d packages: not the binary's dependencies", len(deps))
	}
	for _, dep := range deps {
		for _, f := range forbiddenDeps {
			if dep == f.prefix || strings.HasPrefix(dep, f.prefix+"/") {
				t.Errorf("the binary links %s (%s)", dep, f.why)
				break
			}
		}
	}
}
