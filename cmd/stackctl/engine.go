package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"

	"github.com/docker/cli/cli/config"
	dcontext "github.com/docker/cli/cli/context"
	"github.com/docker/cli/cli/context/docker"
	"github.com/docker/cli/cli/context/store"
	dopts "github.com/docker/cli/opts"
	"github.com/moby/moby/client"
	"github.com/spf13/cobra"

	"github.com/stackctl/stackctl/rotate/engine"
)

// engineFlags choose the engine the way the docker CLI does. stackctl has
// --host and --context of its own; as a docker CLI plugin it also takes
// docker's global flags (plugin.go), which set the rest. Unset, TLS comes
// from DOCKER_TLS, DOCKER_TLS_VERIFY and DOCKER_CERT_PATH.
type engineFlags struct {
	host, contextName string
	configDir         string       // docker --config
	tls, tlsVerify    optionalBool // docker --tls, --tlsverify
	// docker --tlscacert, --tlscert, --tlskey: files that replace
	// ca.pem, cert.pem and key.pem in the certificate folder.
	tlsCA, tlsCert, tlsKey string
}

func (f *engineFlags) register(cmd *cobra.Command) {
	cmd.PersistentFlags().StringVarP(&f.host, "host", "H", "", "daemon socket to connect to (default: DOCKER_HOST or the current docker context)")
	cmd.PersistentFlags().StringVar(&f.contextName, "context", "", "docker context to use (default: DOCKER_CONTEXT or the current docker context)")
}

// optionalBool is a boolean flag that knows whether it was given: docker
// turns TLS on when --tlsverify is given at all, even as --tlsverify=false.
type optionalBool struct{ value, set bool }

func (b *optionalBool) Set(s string) error {
	v, err := strconv.ParseBool(s)
	b.value, b.set = v, err == nil
	return err
}
func (b *optionalBool) String() string   { return strconv.FormatBool(b.value) }
func (b *optionalBool) Type() string     { return "bool" }
func (b *optionalBool) IsBoolFlag() bool { return true }

// or is the flag's value if it was given, else def.
func (b optionalBool) or(def bool) bool {
	if b.set {
		return b.value
	}
	return def
}

// Names and defaults of the docker CLI, from docker/cli's source:
// cli/command/cli.go (resolveContextName, resolveDefaultDockerEndpoint),
// cli/command/context.go, cli/flags/options.go (the TLS variables and
// file names) and cli/config/config.go (DOCKER_CONFIG, ~/.docker).
const (
	defaultContextName = "default"
	envDockerContext   = "DOCKER_CONTEXT"
	envDockerTLS       = "DOCKER_TLS"
	envDockerConfig    = "DOCKER_CONFIG"
)

// connect builds an Engine API client for the engine the docker CLI would
// talk to with the same flags, environment and configuration. It reads the
// configuration and the context store, and the client negotiates the API
// version on its first request (unless DOCKER_API_VERSION fixes it).
func connect(_ context.Context, f engineFlags, getenv func(string) string) (engine.Engine, error) {
	ep, headers, err := resolveEndpoint(f, getenv)
	if err != nil {
		return nil, err
	}
	opts, err := ep.ClientOpts() // ssh:// and other helpers, TLS, DOCKER_API_VERSION
	if err != nil {
		return nil, fmt.Errorf("docker connection to %s: %w", ep.Host, err)
	}
	if len(headers) > 0 {
		opts = append(opts, client.WithHTTPHeaders(headers))
	}
	opts = append(opts, client.WithUserAgent("stackctl/"+thisVersion().Version))
	c, err := client.New(opts...)
	if err != nil {
		return nil, fmt.Errorf("docker connection to %s: %w", ep.Host, err)
	}
	return c, nil
}

// resolveEndpoint is the docker CLI's choice of engine: --host (the
// default context with that host), --context, DOCKER_HOST (the default
// context), DOCKER_CONTEXT, currentContext in config.json, then the
// default context (DOCKER_HOST or the local socket, TLS from the
// environment). It also returns the HttpHeaders of config.json, which the
// docker CLI sends with every request.
func resolveEndpoint(f engineFlags, getenv func(string) string) (docker.Endpoint, map[string]string, error) {
	if f.host != "" && f.contextName != "" {
		return docker.Endpoint{}, nil, usageError{errors.New("conflicting options: cannot specify both --host and --context: give one")}
	}
	dir := configDir(f, getenv)
	cfg, err := config.Load(dir)
	if err != nil {
		return docker.Endpoint{}, nil, fmt.Errorf("docker CLI configuration: %w: fix the file, or set DOCKER_CONFIG to another folder", err)
	}
	name, from := contextName(f, getenv, cfg.CurrentContext)
	if from == "currentContext" {
		from = "currentContext in " + cfg.Filename
	}
	var ep docker.Endpoint
	if name == defaultContextName {
		ep, err = defaultEndpoint(f, getenv, dir)
	} else {
		ep, err = contextEndpoint(filepath.Join(dir, "contexts"), name, from)
	}
	return ep, cfg.HTTPHeaders, err
}

// configDir is docker's configuration folder: --config, DOCKER_CONFIG,
// else ~/.docker.
func configDir(f engineFlags, getenv func(string) string) string {
	if f.configDir != "" {
		return filepath.Clean(f.configDir)
	}
	if dir := getenv(envDockerConfig); dir != "" {
		return dir
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".docker")
}

// contextName is the docker context to use, and what chose it.
func contextName(f engineFlags, getenv func(string) string, current string) (name, from string) {
	switch {
	case f.contextName != "":
		return f.contextName, "--context"
	case f.host != "":
		return defaultContextName, "--host"
	case getenv(client.EnvOverrideHost) != "":
		return defaultContextName, client.EnvOverrideHost
	case getenv(envDockerContext) != "":
		return getenv(envDockerContext), envDockerContext
	case current != "":
		return current, "currentContext"
	}
	return defaultContextName, ""
}

// defaultEndpoint is docker's "default" context: the host from --host or
// DOCKER_HOST (else the local socket, or tcp://localhost:2376 with TLS),
// with TLS when --tls, --tlsverify, DOCKER_TLS or DOCKER_TLS_VERIFY asks
// for it, from ca.pem, cert.pem and key.pem in DOCKER_CERT_PATH (else the
// configuration folder).
func defaultEndpoint(f engineFlags, getenv func(string) string, dir string) (docker.Endpoint, error) {
	verify := f.tlsVerify.or(getenv(client.EnvTLSVerify) != "")
	useTLS := f.tls.or(getenv(envDockerTLS) != "") || f.tlsVerify.set || verify
	raw := f.host
	if raw == "" {
		raw = getenv(client.EnvOverrideHost)
	}
	host, err := dopts.ParseHost(useTLS, raw)
	if err != nil {
		return docker.Endpoint{}, usageError{fmt.Errorf("docker host %q: %w", raw, err)}
	}
	ep := docker.Endpoint{EndpointMeta: docker.EndpointMeta{Host: host}}
	if !useTLS {
		return ep, nil
	}
	certDir := getenv(client.EnvOverrideCertPath)
	if certDir == "" {
		certDir = dir
	}
	ca, cert, key := tlsFile(f.tlsCA, certDir, "ca.pem", true), tlsFile(f.tlsCert, certDir, "cert.pem", false), tlsFile(f.tlsKey, certDir, "key.pem", false)
	ep.SkipTLSVerify = !verify
	if ep.TLSData, err = dcontext.TLSDataFromFiles(ca, cert, key); err != nil {
		return docker.Endpoint{}, fmt.Errorf("TLS to %s: %w: put ca.pem, cert.pem and key.pem in the folder DOCKER_CERT_PATH names (now %s), or unset DOCKER_TLS_VERIFY and DOCKER_TLS", host, err, certDir)
	}
	return ep, nil
}

// tlsFile is the file a TLS flag names, else name in dir. The client
// certificate and key are optional: docker drops their default paths when
// the files are missing, but not the CA's.
func tlsFile(flag, dir, name string, required bool) string {
	if flag != "" {
		return flag
	}
	path := filepath.Join(dir, name)
	if _, err := os.Stat(path); !required && errors.Is(err, fs.ErrNotExist) {
		return ""
	}
	return path
}

// contextEndpoint reads a docker context's engine endpoint and its TLS
// material from the context store (contexts/meta and contexts/tls).
func contextEndpoint(storeDir, name, from string) (docker.Endpoint, error) {
	s := store.New(storeDir, store.NewConfig(nil,
		store.EndpointTypeGetter(docker.DockerEndpoint, func() any { return &docker.EndpointMeta{} })))
	meta, err := s.GetMetadata(name)
	if errors.Is(err, fs.ErrNotExist) {
		return docker.Endpoint{}, fmt.Errorf("docker context %q (from %s) does not exist in %s: list contexts with docker context ls, or create it with docker context create", name, from, storeDir)
	}
	if err != nil {
		return docker.Endpoint{}, fmt.Errorf("docker context %q: %w", name, err)
	}
	epMeta, err := docker.EndpointFromContext(meta)
	if err != nil {
		return docker.Endpoint{}, fmt.Errorf("docker context %q: %w: recreate it with docker context create --docker host=...", name, err)
	}
	ep, err := docker.WithTLSData(s, name, epMeta)
	if err != nil {
		return docker.Endpoint{}, fmt.Errorf("docker context %q: %w", name, err)
	}
	setGoDebug(meta)
	return ep, nil
}

// setGoDebug is docker's escape hatch for old engines' certificates: a
// context's metadata may carry a GODEBUG value (such as
// x509negativeserial=1), used unless GODEBUG is set already
// (docker/cli cli/command/cli.go, setGoDebug). Go reads a changed GODEBUG
// at once.
func setGoDebug(meta store.Metadata) {
	fields, ok := meta.Metadata.(map[string]any)
	if !ok || os.Getenv("GODEBUG") != "" {
		return
	}
	if v, ok := fields["GODEBUG"].(string); ok {
		os.Setenv("GODEBUG", v)
	}
}
