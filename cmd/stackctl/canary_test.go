package main

import (
	"bytes"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func testdataPath(t testing.TB, parts ...string) string {
	p, err := filepath.Abs(filepath.Join(append([]string{"..", "..", "testdata"}, parts...)...))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// The canaries of testdata/sops, plus those this test writes in plain files.
var canaries = []string{"CANARY-db-password-7c1e", "CANARY-api-key-52ab", "CANARY-tls-key-d04f", "CANARY-plain-8d21", "CANARY-env-40aa", "CANARY-content-6c3e"}

// TestCanaries runs render and each failure path as a separate process
// and checks that no secret value reaches stdout, stderr or any file the
// process writes.
func TestCanaries(t *testing.T) {
	sops := testdataPath(t, "sops")
	cases := map[string]string{
		"render": `
services:
  web:
    image: x
    secrets: [a, b, c, d]
    configs: [e]
secrets:
  a: {file: ` + sops + `/app.enc.yaml, x-sops: {key: db.password}}
  b: {file: ` + sops + `/tls.key.enc}
  c: {file: ./plain.txt}
  d: {environment: CANARY_ENV}
configs:
  e: {content: "CANARY-content-6c3e"}
`,
		"wrong key":      "services: {web: {image: x, secrets: [a]}}\nsecrets:\n  a: {file: " + sops + "/foreign.enc.yaml, x-sops: {key: password}}\n",
		"tampered":       "services: {web: {image: x, secrets: [a]}}\nsecrets:\n  a: {file: " + sops + "/tampered.enc.yaml, x-sops: {key: db.password}}\n",
		"key not found":  "services: {web: {image: x, secrets: [a]}}\nsecrets:\n  a: {file: " + sops + "/app.enc.yaml, x-sops: {key: db.nope}}\n",
		"selects a map":  "services: {web: {image: x, secrets: [a]}}\nsecrets:\n  a: {file: " + sops + "/app.enc.yaml, x-sops: {key: db}}\n",
		"plain x-sops":   "services: {web: {image: x, secrets: [a]}}\nsecrets:\n  a: {file: ./plain.txt, x-sops: {key: a}}\n",
		"bad yaml":       "services:\n  web:\n    image: x\nconfigs:\n  e:\n    content: CANARY-content-6c3e\n   bad: [\n",
		"bad type":       "services:\n  web:\n    image: x\n    environment: CANARY-content-6c3e\n",
		"unused keyword": "services:\n  web:\n    image: x\n    secrets: [a]\nsecrets:\n  a: {environment: CANARY_ENV, bogus: CANARY-content-6c3e}\n",
		"oversize":       "services: {web: {image: x, secrets: [a]}}\nsecrets:\n  a: {file: ./big.txt}\n",
	}
	for name, composeFile := range cases {
		t.Run(name, func(t *testing.T) {
			work, tmp, home := t.TempDir(), t.TempDir(), t.TempDir()
			files := map[string]string{
				"compose.yml": composeFile,
				"plain.txt":   "CANARY-plain-8d21",
				"big.txt":     strings.Repeat("CANARY-plain-8d21", 40000),
			}
			for f, c := range files {
				if err := os.WriteFile(filepath.Join(work, f), []byte(c), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			before := snapshot(t, work, tmp, home)
			var out, errb bytes.Buffer
			cmd := exec.Command(binary(t), "render", "-c", "compose.yml", "canary")
			cmd.Dir = work
			cmd.Stdout, cmd.Stderr = &out, &errb
			cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, "TMPDIR=" + tmp,
				"SOPS_AGE_KEY_FILE=" + testdataPath(t, "age", "test-key.txt"), "CANARY_ENV=CANARY-env-40aa"}
			err := cmd.Run()
			if name == "render" && err != nil {
				t.Fatalf("render failed: %v\n%s", err, errb.String())
			}
			if name != "render" && err == nil {
				t.Fatalf("expected a failure, got stdout:\n%s", out.String())
			}
			for _, c := range canaries {
				if strings.Contains(out.String(), c) || strings.Contains(errb.String(), c) {
					t.Errorf("canary %s in output:\nstdout: %s\nstderr: %s", c, out.String(), errb.String())
				}
			}
			for path, content := range snapshot(t, work, tmp, home) {
				if before[path] == content {
					continue
				}
				for _, c := range canaries {
					if strings.Contains(content, c) {
						t.Errorf("canary %s written to %s", c, path)
					}
				}
			}
		})
	}
}

// snapshot reads every file under the given folders.
func snapshot(t *testing.T, dirs ...string) map[string]string {
	files := map[string]string{}
	for _, dir := range dirs {
		err := filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
			if err != nil || e.IsDir() {
				return err
			}
			b, err := os.ReadFile(p)
			files[p] = string(b)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return files
}
