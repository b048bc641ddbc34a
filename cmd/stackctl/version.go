package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/moby/moby/client"
	"github.com/spf13/cobra"
)

// version, commit and date are set at build time through -ldflags -X (the
// Makefile's build and .goreleaser.yaml); a plain go build or go install
// leaves them empty and versionOf fills them from the build info.
var (
	version = ""
	commit  = ""
	date    = ""
)

// sopsModule is read from the build info rather than from sops/v3/version,
// whose package links urfave/cli and a Markdown renderer for its own CLI.
const sopsModule = "github.com/getsops/sops/v3"

// versionFormat is the format_version of version -o json (its own
// document, apart from the deploy results' rotate.FormatVersion).
const versionFormat = "1.0"

// versionInfo is what stackctl version prints. Nothing in it needs the
// engine or a config file: version answers at once, also offline.
type versionInfo struct {
	FormatVersion string `json:"format_version"`
	Version       string `json:"version"`
	Commit        string `json:"commit"`
	// Date is the commit's date (RFC 3339): builds of one commit are
	// byte for byte the same, so a release's checksums can be rebuilt.
	Date     string   `json:"date"`
	Go       string   `json:"go"`
	Platform string   `json:"platform"`
	Sops     string   `json:"sops"`
	API      apiRange `json:"docker_api"`
	Modified bool     `json:"modified,omitempty"`
}

// apiRange is the Docker Engine API versions the moby client speaks: it
// starts at Max and negotiates down to what the engine offers, never below
// Min (github.com/moby/moby/client's MaxAPIVersion and MinAPIVersion).
type apiRange struct {
	Min string `json:"min"`
	Max string `json:"max"`
}

type versionOptions struct{ format string }

func newVersionCmd(d *deps) *cobra.Command {
	var opts versionOptions
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print stackctl's version, commit, date, Go, sops and Docker API versions",
		Example: `  stackctl version
  stackctl version -o json`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			if opts.format != "text" && opts.format != "json" {
				return usageError{fmt.Errorf("--output must be text or json, not %q", opts.format)}
			}
			return runVersion(d, opts)
		},
	}
	cmd.Flags().StringVarP(&opts.format, "output", "o", "text", "text or json")
	return cmd
}

// thisVersion is this binary's version information.
func thisVersion() versionInfo {
	info, _ := debug.ReadBuildInfo()
	return versionOf(info, version, commit, date)
}

func runVersion(d *deps, opts versionOptions) error {
	v := thisVersion()
	if opts.format == "json" {
		return writeJSON(d.stdout, v)
	}
	printVersion(d, v)
	return nil
}

func printVersion(d *deps, v versionInfo) {
	commit := v.Commit
	if v.Modified {
		commit += " (modified)"
	}
	fmt.Fprintf(d.stdout, "stackctl %s\n", v.Version)
	fmt.Fprintf(d.stdout, "  commit:      %s\n", commit)
	fmt.Fprintf(d.stdout, "  date:        %s\n", v.Date)
	fmt.Fprintf(d.stdout, "  go:          %s %s\n", v.Go, v.Platform)
	fmt.Fprintf(d.stdout, "  sops:        %s\n", v.Sops)
	fmt.Fprintf(d.stdout, "  docker api:  %s to %s (negotiated with the engine)\n", v.API.Min, v.API.Max)
}

// versionOf puts together what the linker was told and what the Go
// toolchain recorded: go install module@v1.2.3 records the module version,
// a build in a git checkout the commit, its time and whether the tree was
// modified. info may be nil (no build info).
func versionOf(info *debug.BuildInfo, version, commit, date string) versionInfo {
	v := versionInfo{
		FormatVersion: versionFormat,
		Version:       version,
		Commit:        commit,
		Date:          date,
		Go:            runtime.Version(),
		Platform:      runtime.GOOS + "/" + runtime.GOARCH,
		Sops:          "unknown",
		API:           apiRange{Min: client.MinAPIVersion, Max: client.MaxAPIVersion},
	}
	if info != nil {
		fromBuildInfo(&v, info)
	}
	for _, s := range []*string{&v.Version, &v.Commit, &v.Date} {
		if *s == "" {
			*s = "unknown"
		}
	}
	if v.Version == "unknown" {
		v.Version = "dev"
	}
	return v
}

func fromBuildInfo(v *versionInfo, info *debug.BuildInfo) {
	if v.Version == "" && info.Main.Version != "" && info.Main.Version != "(devel)" {
		v.Version = info.Main.Version
	}
	settings := map[string]string{}
	for _, s := range info.Settings {
		settings[s.Key] = s.Value
	}
	if v.Commit == "" {
		v.Commit = settings["vcs.revision"]
	}
	if v.Date == "" {
		v.Date = settings["vcs.time"]
	}
	// Only when the commit is the one the toolchain saw: an -X commit
	// names what the release was built from, and says nothing of the tree.
	v.Modified = settings["vcs.modified"] == "true" && v.Commit == settings["vcs.revision"]
	for _, m := range info.Deps {
		if m.Path == sopsModule {
			v.Sops = m.Version
			if r := m.Replace; r != nil {
				v.Sops = m.Version + " replaced by " + strings.TrimSpace(r.Path+" "+r.Version)
			}
		}
	}
}
