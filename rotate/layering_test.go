package rotate

import (
	"os/exec"
	"strings"
	"testing"
)

// TestLayering: data flows one way, compose -> sopsbridge -> rotate ->
// cmd. compose and sopsbridge are leaves (they import no other stackctl
// package); the in-memory engine imports none either.
func TestLayering(t *testing.T) {
	const module = "github.com/stackctl/stackctl/"
	for _, pkg := range []string{"compose", "sopsbridge", "rotate/enginetest"} {
		out, err := exec.Command("go", "list", "-deps", module+pkg).Output()
		if err != nil {
			t.Fatalf("go list %s: %v", pkg, err)
		}
		for _, dep := range strings.Fields(string(out)) {
			if strings.HasPrefix(dep, module) && dep != module+pkg {
				t.Errorf("%s imports %s: it must stand alone", pkg, dep)
			}
		}
	}
}
