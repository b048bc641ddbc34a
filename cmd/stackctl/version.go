package main

import (
	"fmt"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// version and commit are set by the Makefile through -ldflags -X.
var (
	version = "dev"
	commit  = ""
)

func newVersionCmd(d *deps) *cobra.Command {
	return &cobra.Command{
		Use:     "version",
		Short:   "Print stackctl's version and commit",
		Example: "  stackctl version",
		Args:    cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			c := commit
			if c == "" {
				c = vcsRevision()
			}
			fmt.Fprintf(d.stdout, "stackctl %s (commit %s)\n", version, c)
			return nil
		},
	}
}

func vcsRevision() string {
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, s := range info.Settings {
			if s.Key == "vcs.revision" {
				return s.Value
			}
		}
	}
	return "unknown"
}
