package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/moby/moby/client"
)

func TestVersionOf(t *testing.T) {
	sops := &debug.Module{Path: sopsModule, Version: "v3.13.3"}
	vcs := []debug.BuildSetting{{Key: "vcs.revision", Value: "abc123"}, {Key: "vcs.time", Value: "2026-01-02T03:04:05Z"}, {Key: "vcs.modified", Value: "true"}}
	tests := []struct {
		name                  string
		info                  *debug.BuildInfo
		version, commit, date string // from -ldflags -X
		want                  versionInfo
	}{
		{"release build: -X wins, the tree says nothing",
			&debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Deps: []*debug.Module{sops}, Settings: vcs},
			"v1.2.3", "fullcommit", "2026-02-03T00:00:00Z",
			versionInfo{Version: "v1.2.3", Commit: "fullcommit", Date: "2026-02-03T00:00:00Z", Sops: "v3.13.3"}},
		{"go build in a checkout: the toolchain's stamp",
			&debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Deps: []*debug.Module{sops}, Settings: vcs},
			"", "", "",
			versionInfo{Version: "dev", Commit: "abc123", Date: "2026-01-02T03:04:05Z", Sops: "v3.13.3", Modified: true}},
		{"go install module@version: the module's version",
			&debug.BuildInfo{Main: debug.Module{Version: "v1.4.0"}, Deps: []*debug.Module{sops}},
			"", "", "",
			versionInfo{Version: "v1.4.0", Commit: "unknown", Date: "unknown", Sops: "v3.13.3"}},
		{"sops replaced",
			&debug.BuildInfo{Deps: []*debug.Module{{Path: sopsModule, Version: "v3.13.3", Replace: &debug.Module{Path: "../sops"}}}},
			"v1.0.0", "c", "d",
			versionInfo{Version: "v1.0.0", Commit: "c", Date: "d", Sops: "v3.13.3 replaced by ../sops"}},
		{"no build info",
			nil, "", "", "",
			versionInfo{Version: "dev", Commit: "unknown", Date: "unknown", Sops: "unknown"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := tt.want
			want.FormatVersion, want.Go, want.Platform = versionFormat, runtime.Version(), runtime.GOOS+"/"+runtime.GOARCH
			want.API = apiRange{Min: client.MinAPIVersion, Max: client.MaxAPIVersion}
			if got := versionOf(tt.info, tt.version, tt.commit, tt.date); got != want {
				t.Errorf("versionOf:\n got %+v\nwant %+v", got, want)
			}
		})
	}
}

func TestVersionCommand(t *testing.T) {
	tests := []struct {
		name string
		args []string
		code int
		has  []string // in stdout, or stderr when code is not 0
	}{
		{"text", []string{"version"}, exitOK, []string{"stackctl ", "  commit:", "  date:", "  go:          " + runtime.Version(),
			"  sops:        v3.", "  docker api:  " + client.MinAPIVersion + " to " + client.MaxAPIVersion}},
		{"json", []string{"version", "-o", "json"}, exitOK, []string{`"format_version": "1.0"`, `"sops": "v3.`, `"docker_api": {`}},
		{"bad output", []string{"version", "-o", "yaml"}, exitUsage, []string{`--output must be text or json, not "yaml"`}},
		{"arguments", []string{"version", "now"}, exitUsage, []string{"unknown command"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, out, errb := testDeps("")
			if code := run(tt.args, d); code != tt.code {
				t.Fatalf("exit %d, want %d; stderr: %s", code, tt.code, errb)
			}
			got := out.String()
			if tt.code != exitOK {
				got = errb.String()
			}
			for _, s := range tt.has {
				if !strings.Contains(got, s) {
					t.Errorf("output lacks %q:\n%s", s, got)
				}
			}
		})
	}
}

// TestVersionSopsFromGoMod checks that the sops version printed is the one
// go.mod requires (read from the build info, not from sops' own package).
func TestVersionSopsFromGoMod(t *testing.T) {
	mod, err := os.ReadFile(filepath.Join("..", "..", "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^\s*github\.com/getsops/sops/v3 (v\S+)`).FindSubmatch(mod)
	if m == nil {
		t.Fatal("go.mod requires no github.com/getsops/sops/v3")
	}
	info, _ := debug.ReadBuildInfo()
	if got := versionOf(info, "", "", "").Sops; got != string(m[1]) {
		t.Errorf("sops %s, go.mod requires %s", got, m[1])
	}
}

// TestVersionNeedsNothing runs the built binary's version where the engine
// and the docker CLI's configuration are broken: it answers all the same,
// with nothing on stderr, because it connects to nothing and reads no
// configuration (it is the cold-start measure).
func TestVersionNeedsNothing(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(binary(t), "version", "-o", "json")
	cmd.Env = append(os.Environ(), "DOCKER_HOST=tcp://127.0.0.1:1", "DOCKER_CONFIG="+dir, "DOCKER_CONTEXT=missing", "HOME="+dir)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil || stderr.Len() > 0 {
		t.Fatalf("stackctl version: %v\n%s", err, stderr.String())
	}
	var v versionInfo
	if err := json.Unmarshal(out, &v); err != nil {
		t.Fatalf("version -o json: %v\n%s", err, out)
	}
	if v.FormatVersion != versionFormat || !strings.HasPrefix(v.Sops, "v3.") || v.API.Max != client.MaxAPIVersion {
		t.Errorf("version -o json: %+v", v)
	}
}
