//go:build e2e

package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
)

var shBlock = regexp.MustCompile("(?s)```sh\n(.*?)```")

// TestExampleREADMEs runs every ```sh block of examples/*/README.md from
// the repository root, with the built stackctl on PATH, so the docs never lie.
func TestExampleREADMEs(t *testing.T) {
	realEngine(t)
	root, _ := filepath.Abs(filepath.Join("..", ".."))
	readmes, _ := filepath.Glob(filepath.Join(root, "examples", "*", "README.md"))
	if len(readmes) < 3 {
		t.Fatalf("found %d example READMEs", len(readmes))
	}
	api := realEngine(t)
	t.Cleanup(func() { removeStack(t, api, "multienv") })
	for _, readme := range readmes {
		t.Run(filepath.Base(filepath.Dir(readme)), func(t *testing.T) {
			text, _ := os.ReadFile(readme)
			for _, m := range shBlock.FindAllStringSubmatch(string(text), -1) {
				cmd := exec.Command("bash", "-euo", "pipefail", "-c", m[1])
				cmd.Dir = root
				cmd.Env = append(os.Environ(), "PATH="+filepath.Dir(binary(t))+":"+os.Getenv("PATH"), "DEMO_IMAGE="+testImage(t))
				if out, err := cmd.CombinedOutput(); err != nil {
					t.Errorf("%v\n--- commands:\n%s--- output:\n%s", err, m[1], out)
				}
			}
		})
	}
}
