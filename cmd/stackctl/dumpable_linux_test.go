package main

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestNoCoreDumps: main makes stackctl non-dumpable before it reads a
// value. The check runs in a child, which calls what main calls and
// reports what the kernel says.
func TestNoCoreDumps(t *testing.T) {
	if os.Getenv("STACKCTL_DUMPABLE_CHILD") == "1" {
		if err := noCoreDumps(); err != nil {
			t.Fatal(err)
		}
		v, err := unix.PrctlRetInt(unix.PR_GET_DUMPABLE, 0, 0, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		os.Stdout.WriteString("dumpable=" + string(rune('0'+v)) + "\n")
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run", "^TestNoCoreDumps$")
	cmd.Env = append(os.Environ(), "STACKCTL_DUMPABLE_CHILD=1")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "dumpable=0") {
		t.Fatalf("child: %v\n%s", err, out)
	}
}
