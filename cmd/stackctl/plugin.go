package main

// stackctl as a Docker CLI plugin: the same binary, installed as
// ~/.docker/cli-plugins/docker-stackctl, answers `docker stackctl ...`.
//
// The protocol, from docker/cli's cli-plugins (metadata/metadata.go,
// manager/manager.go, manager/candidate.go, plugin/plugin.go,
// socket/socket.go), and checked against the docker CLI installed here:
//
//   - docker finds docker-NAME in its cli-plugins folders and runs
//     `docker-NAME docker-cli-plugin-metadata`, which prints JSON metadata
//     (SchemaVersion "0.1.0" and a Vendor are required); `docker info` and
//     `docker --help` list the plugin from it.
//   - `docker [GLOBAL FLAGS] NAME ARGS...` runs docker-NAME with docker's
//     own arguments, unchanged: [GLOBAL FLAGS] NAME ARGS..., with
//     DOCKER_CLI_PLUGIN_ORIGINAL_CLI_COMMAND set to docker's argv[0].
//     The global flags (--config, -c/--context, -H/--host, --tls...,
//     -D, -l) are the plugin's to parse: docker only checks them.
//     `docker help NAME` passes `help NAME`; completion passes
//     `__complete NAME ...`.
//   - DOCKER_CLI_PLUGIN_SOCKET names a unix socket docker listens on. When
//     docker gets SIGINT or SIGTERM while not on a terminal, it closes the
//     socket rather than pass the signal on: the plugin stops then.
//
// docker/cli's own cli-plugins/plugin package does this on top of its
// cli/command package, which stackctl does not link: the part it needs is
// written here.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

const (
	pluginName           = "stackctl"
	pluginMetadataCmd    = "docker-cli-plugin-metadata"
	envPluginOriginalCLI = "DOCKER_CLI_PLUGIN_ORIGINAL_CLI_COMMAND"
	envPluginSocket      = "DOCKER_CLI_PLUGIN_SOCKET"
)

// pluginMetadata is what docker-cli-plugin-metadata prints (docker/cli
// cli-plugins/metadata.Metadata).
type pluginMetadata struct {
	SchemaVersion    string `json:",omitempty"`
	Vendor           string `json:",omitempty"`
	Version          string `json:",omitempty"`
	ShortDescription string `json:",omitempty"`
	URL              string `json:",omitempty"`
}

// pluginMode tells whether the docker CLI runs stackctl as its plugin:
// the metadata handshake, whatever the binary's name, or a binary named
// docker-stackctl started by docker (which sets
// DOCKER_CLI_PLUGIN_ORIGINAL_CLI_COMMAND). Run by hand, docker-stackctl
// is plain stackctl, as docker/cli's plugins are (plugin.RunningStandalone);
// and a plain stackctl that inherited the variable stays plain.
func pluginMode(exe string, args []string, getenv func(string) string) bool {
	if len(args) == 1 && args[0] == pluginMetadataCmd {
		return true
	}
	name := strings.TrimSuffix(filepath.Base(exe), ".exe")
	return name == "docker-"+pluginName && getenv(envPluginOriginalCLI) != ""
}

// newPluginCmd wraps stackctl's root command as docker's plugin
// framework does: a "docker" command that takes docker's global flags
// ahead of the plugin's name, with stackctl and the metadata handshake
// under it. Help then reads "docker stackctl plan".
func newPluginCmd(root *cobra.Command, ef *engineFlags) *cobra.Command {
	top := &cobra.Command{
		Use:              "docker [OPTIONS] COMMAND",
		Short:            "The Docker CLI, running its stackctl plugin",
		SilenceUsage:     true,
		SilenceErrors:    true,
		TraverseChildren: true, // global flags come before "stackctl"
	}
	top.CompletionOptions.HiddenDefaultCmd = true
	top.SetIn(root.InOrStdin())
	top.SetOut(root.OutOrStdout())
	top.SetErr(root.ErrOrStderr())
	top.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	dockerGlobalFlags(top.Flags(), ef)
	// cobra finds an unknown command only under the root command, and
	// stackctl is not the root here: `docker stackctl plna` would print
	// the help and succeed.
	root.Args = func(cmd *cobra.Command, args []string) error {
		if len(args) == 0 {
			return nil
		}
		err := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
		if cmd.SuggestionsMinimumDistance <= 0 {
			cmd.SuggestionsMinimumDistance = 2 // cobra's default
		}
		if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
			err += "\n\nDid you mean this?\n\t" + strings.Join(s, "\n\t") + "\n"
		}
		return errors.New(err)
	}
	root.RunE = func(cmd *cobra.Command, _ []string) error { return cmd.Help() }
	top.AddCommand(root, newMetadataCmd(root))
	pluginExamples(root)
	return top
}

// dockerGlobalFlags are the docker CLI's global flags (docker/cli
// cli/flags/options.go, InstallFlags). They are local to the top command,
// not persistent: docker's -c (--context) would clash with stackctl's
// -c (--compose-file).
func dockerGlobalFlags(fs *pflag.FlagSet, ef *engineFlags) {
	fs.StringVar(&ef.configDir, "config", "", "location of the docker CLI's configuration (default: DOCKER_CONFIG or ~/.docker)")
	fs.StringVarP(&ef.contextName, "context", "c", "", "docker context to use")
	fs.StringVarP(&ef.host, "host", "H", "", "daemon socket to connect to")
	fs.Var(&ef.tls, "tls", "use TLS; implied by --tlsverify")
	fs.Var(&ef.tlsVerify, "tlsverify", "use TLS and verify the remote")
	for _, name := range []string{"tls", "tlsverify"} {
		fs.Lookup(name).NoOptDefVal = "true"
	}
	fs.StringVar(&ef.tlsCA, "tlscacert", "", "trust certificates signed only by this CA (default: ca.pem in DOCKER_CERT_PATH)")
	fs.StringVar(&ef.tlsCert, "tlscert", "", "TLS certificate file (default: cert.pem in DOCKER_CERT_PATH)")
	fs.StringVar(&ef.tlsKey, "tlskey", "", "TLS key file (default: key.pem in DOCKER_CERT_PATH)")
	// docker's logging flags: stackctl writes no debug log, so they are
	// taken and have no effect.
	fs.BoolP("debug", "D", false, "accepted from docker; stackctl has no debug output")
	fs.StringP("log-level", "l", "info", "accepted from docker; stackctl has no log levels")
}

func newMetadataCmd(root *cobra.Command) *cobra.Command {
	return &cobra.Command{
		Use:    pluginMetadataCmd,
		Short:  "Print the metadata the docker CLI asks its plugins for",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			enc := json.NewEncoder(cmd.OutOrStdout())
			enc.SetEscapeHTML(false)
			enc.SetIndent("", "  ")
			return enc.Encode(pluginMetadata{
				SchemaVersion:    "0.1.0",
				Vendor:           "stackctl",
				Version:          thisVersion().Version,
				ShortDescription: root.Short,
				URL:              "https://github.com/stackctl/stackctl",
			})
		},
	}
}

// pluginExamples makes the examples of `docker stackctl --help` read as
// they are typed there: "stackctl" where a command line starts (after the
// variables set for it) becomes "docker stackctl".
func pluginExamples(root *cobra.Command) {
	call := regexp.MustCompile(`(?m)^([ \t]*(?:[A-Z_]+=\S+ )*)stackctl\b`) // compiled in plugin mode only
	var walk func(*cobra.Command)
	walk = func(cmd *cobra.Command) {
		cmd.Example = call.ReplaceAllString(cmd.Example, "${1}docker stackctl")
		for _, c := range cmd.Commands() {
			walk(c)
		}
	}
	walk(root)
}

// watchPluginSocket cancels when the docker CLI that started stackctl
// closes the socket it named (see above). Without the socket, or when it
// cannot be reached, signals are what stop stackctl, as standalone. The
// returned func closes stackctl's end.
func watchPluginSocket(addr string, cancel context.CancelFunc) (stop func()) {
	if addr == "" {
		return func() {}
	}
	conn, err := net.Dial("unix", addr)
	if err != nil {
		return func() {}
	}
	go func() {
		io.Copy(io.Discard, conn) // docker never writes: this returns when it closes
		cancel()
	}()
	return func() { conn.Close() }
}
