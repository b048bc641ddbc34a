package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// The stackctl binary, for the tests that run it as a user would: built
// once, on first use, so that a run of flag and plan tests builds none.
var (
	binOnce sync.Once
	binDir  string
	binPath string
	binErr  error
	// cleanups run once every test is done (the end-to-end tier removes
	// its test image here).
	cleanups []func()
)

func binary(t testing.TB) string {
	t.Helper()
	binOnce.Do(func() {
		if binDir, binErr = os.MkdirTemp("", "stackctl-bin"); binErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "stackctl")
		if out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput(); err != nil {
			binErr = &buildError{err, out}
		}
	})
	if binErr != nil {
		t.Fatalf("go build: %v", binErr)
	}
	return binPath
}

type buildError struct {
	err error
	out []byte
}

func (e *buildError) Error() string { return e.err.Error() + "\n" + string(e.out) }

func TestMain(m *testing.M) {
	code := m.Run()
	for _, c := range cleanups {
		c()
	}
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}
