package rotate

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// TestLayering: data flows one way, compose -> sopsbridge -> plan ->
// engine -> rotate -> cmd. Each package may import only the stackctl
// packages listed for it (directly or not); compose, sopsbridge and the
// in-memory engine stand alone.
func TestLayering(t *testing.T) {
	const module = "github.com/stackctl/stackctl/"
	allowed := map[string][]string{
		"compose":                  nil,
		"sopsbridge":               nil,
		"rotate/engine/enginetest": nil,
		"rotate/plan":              {"compose", "sopsbridge"},
		"rotate/store":             {"compose"},
		"rotate/store/storetest":   nil,
		"rotate/engine":            {"compose", "sopsbridge", "rotate/plan"},
		"rotate":                   {"compose", "sopsbridge", "rotate/plan", "rotate/engine", "rotate/store"},
	}
	for pkg, may := range allowed {
		out, err := exec.Command("go", "list", "-deps", module+pkg).Output()
		if err != nil {
			t.Fatalf("go list %s: %v", pkg, err)
		}
		for _, dep := range strings.Fields(string(out)) {
			rel, ours := strings.CutPrefix(dep, module)
			if ours && rel != pkg && !slices.Contains(may, rel) {
				t.Errorf("%s imports %s: it may import only %v", pkg, dep, may)
			}
		}
	}
}

// TestPlanIsPure: the plan package takes no context and holds no engine
// client; it only computes.
func TestPlanIsPure(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{join .Imports "\n"}}`, "github.com/stackctl/stackctl/rotate/plan").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, imp := range strings.Fields(string(out)) {
		if imp == "context" || imp == "net/http" || strings.HasPrefix(imp, "github.com/moby/moby/client") || strings.HasPrefix(imp, "github.com/docker/cli") {
			t.Errorf("rotate/plan imports %s: planning reads its arguments only", imp)
		}
	}
}
