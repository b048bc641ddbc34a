package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/docker/cli/cli/command"
	cliflags "github.com/docker/cli/cli/flags"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/stackctl/stackctl/rotate/engine"
)

// engineFlags choose the engine the way the docker CLI does: --host,
// --context, DOCKER_HOST (unix, tcp with DOCKER_TLS_VERIFY and
// DOCKER_CERT_PATH, ssh://), DOCKER_CONTEXT, then the current context.
type engineFlags struct {
	host        string
	contextName string
}

func (f *engineFlags) register(cmd *cobra.Command) {
	cmd.PersistentFlags().StringVarP(&f.host, "host", "H", "", "daemon socket to connect to (default: DOCKER_HOST or the current docker context)")
	cmd.PersistentFlags().StringVar(&f.contextName, "context", "", "docker context to use (default: DOCKER_CONTEXT or the current docker context)")
}

// connect builds an Engine API client with docker/cli's own resolution of
// hosts, contexts, TLS and ssh.
func connect(ctx context.Context, f engineFlags) (engine.Engine, error) {
	// docker/cli's Client() exits the process when the endpoint cannot be
	// resolved; DockerEndpoint() reports that on the error stream instead,
	// so resolve it first and turn what it reports into an error.
	var initErr bytes.Buffer
	cli, err := command.NewDockerCli(command.WithErrorStream(&initErr), command.WithOutputStream(io.Discard))
	if err != nil {
		return nil, err
	}
	opts := cliflags.NewClientOptions()
	fs := pflag.NewFlagSet("docker", pflag.ContinueOnError)
	opts.InstallFlags(fs) // reads DOCKER_TLS_VERIFY, DOCKER_CERT_PATH
	opts.LogLevel = "warn"
	if f.host != "" {
		opts.Hosts = []string{f.host}
	}
	opts.Context = f.contextName
	opts.SetDefaultOptions(fs)
	if err := cli.Initialize(opts); err != nil {
		return nil, fmt.Errorf("docker connection: %w", err)
	}
	cli.DockerEndpoint()
	if initErr.Len() > 0 {
		return nil, fmt.Errorf("docker connection: %s", strings.TrimSpace(initErr.String()))
	}
	return cli.Client(), nil // negotiates the API version on its first request
}
