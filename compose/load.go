// Package compose loads compose files exactly as `docker stack deploy`
// does — with docker's own loader, so interpolation, merging, validation
// and defaults are docker's — plus a documented superset (.env, profiles,
// secrets from environment: or content:, x-sops), and rewrites secret and
// config references to content-addressed versions.
package compose

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/distribution/reference"
	dockerloader "github.com/docker/cli/cli/compose/loader"
	composetypes "github.com/docker/cli/cli/compose/types"
	"github.com/sirupsen/logrus"
)

// ValidateStackName checks a stack name given on the command line.
func ValidateStackName(name string) error {
	if name == "" || name != loader.NormalizeProjectName(name) {
		return fmt.Errorf("invalid stack name %q: use lowercase letters, digits, dashes and underscores, starting with a letter or digit", name)
	}
	return nil
}

// Options says which compose files to load and how to interpolate them.
type Options struct {
	// Files are merged in order; "-" reads Stdin. Empty means the standard
	// default names (compose.yaml, docker-compose.yml, ...) in WorkDir or above.
	Files []string
	// EnvFiles feed interpolation; empty means WorkDir's .env if present.
	EnvFiles []string
	// Profiles are the active compose profiles, added to COMPOSE_PROFILES.
	Profiles []string
	// Stack overrides the project name; empty means the compose project name.
	Stack string
	// Stdin is read when a file is "-".
	Stdin io.Reader
	// WorkDir is where default files are searched; empty means the current directory.
	WorkDir string
	// Env is the environment for interpolation; nil means os.Environ().
	Env []string
}

// Project is a loaded, validated compose project and the stack it deploys as.
type Project struct {
	// Config is the stack as docker's loader reads it: merged, interpolated,
	// with docker's defaults. Services are in docker's order (by name).
	Config *composetypes.Config
	// Stack is the stack namespace (docker's com.docker.stack.namespace).
	Stack string
	// Files are the compose files that were merged, as given ("-" for stdin).
	Files []string
	// WorkingDir is where relative paths resolve: the first file's folder.
	WorkingDir string
	// Environment is what interpolation read: the process environment,
	// then .env or --env-file for variables it does not set.
	Environment map[string]string
	// Warnings are what the files ask for that swarm cannot do, and what
	// stackctl read beyond docker (.env); each names the key, once.
	Warnings []string

	// raw are the files as parsed, without the superset keys.
	raw []rawFile
	// extras are the superset keys of each secret and config, taken out
	// before docker's loader sees them: kind -> key -> extra.
	extras map[Kind]map[string]objectExtra
}

// where names the compose files in messages.
func (p *Project) where() string { return strings.Join(p.Files, ", ") }

// Load reads, merges, interpolates and validates compose files with
// docker's loader, after taking out what stackctl adds to docker's format.
func Load(ctx context.Context, opts Options) (*Project, error) {
	files, err := configPaths(opts)
	if err != nil {
		return nil, err
	}
	raw, workDir, err := readFiles(ctx, opts, files)
	if err != nil {
		return nil, err
	}
	var (
		env       map[string]string
		fromFiles []string
	)
	logged := captureLogs(func() { env, fromFiles, err = environment(opts, workDir) })
	if err != nil {
		return nil, err
	}

	p := &Project{Files: files, WorkingDir: workDir, Environment: env, Warnings: logged}
	if len(fromFiles) > 0 {
		p.Warnings = append(p.Warnings, fmt.Sprintf("interpolation read %s from %s (docker stack deploy reads only the environment)",
			strings.Join(fromFiles, ", "), envFilesNamed(opts, workDir)))
	}

	ext, err := takeSuperset(raw, env, opts.Profiles)
	if err != nil {
		return nil, err
	}
	p.extras = ext.objects
	p.Warnings = append(p.Warnings, ext.warnings...)

	if err := p.nameStack(opts, ext.name); err != nil {
		return nil, err
	}

	cfg, loaderLogged, err := loadWithDocker(raw, workDir, env)
	if err != nil {
		return nil, explainDocker(raw, workDir, env, err)
	}
	// docker's loader orders services by name only when it merges files.
	sort.Slice(cfg.Services, func(i, j int) bool { return cfg.Services[i].Name < cfg.Services[j].Name })
	p.Config = cfg
	p.raw = raw
	p.Warnings = append(p.Warnings, loaderLogged...)
	p.Warnings = append(p.Warnings, ignoredProperties(raw, ext.skipped)...)
	p.Warnings = namedOnce(p.where(), p.Warnings)
	if len(ext.skipped) > 0 {
		kept := cfg.Services[:0]
		for _, svc := range cfg.Services {
			if !slices.Contains(ext.skipped, svc.Name) {
				kept = append(kept, svc)
			}
		}
		cfg.Services = kept
	}
	return p, nil
}

// CheckDeployable checks, beyond what docker's loader (and so `docker
// stack config`) checks, what `docker stack deploy`, its converter or the
// engine would reject, and what swarm would accept but never schedule:
// bad input found here fails before anything is written.
func (p *Project) CheckDeployable() error {
	where := p.where()
	if len(p.Config.Services) == 0 {
		// docker stack deploy takes it too, and creates the rest.
		p.Warnings = append(p.Warnings, where+": no services to deploy: only networks, secrets and configs are created (a service in an inactive profile is not deployed: activate it with --profile)")
	}
	// As docker stack deploy does, before anything else: an image for each service.
	for _, svc := range p.Config.Services {
		if svc.Image == "" {
			return fmt.Errorf("%s: services.%s: no image: set image: (swarm cannot build images)", where, svc.Name)
		}
		if _, err := reference.ParseAnyReference(svc.Image); err != nil {
			return fmt.Errorf("%s: services.%s.image: invalid image reference %q: %v: write it like registry.example.com/team/app:1.2, in lowercase", where, svc.Name, svc.Image, err)
		}
	}
	if err := validate(p.Config); err != nil {
		file := blame(p.raw, err, func(f rawFile) error {
			c, _, ferr := loadWithDocker([]rawFile{f}, p.WorkingDir, p.Environment)
			if ferr != nil {
				return ferr
			}
			return validate(c)
		})
		return fmt.Errorf("%s: %w", file, err)
	}
	return nil
}

// namedOnce prefixes each warning with the files it is about, once each.
func namedOnce(where string, warnings []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, w := range warnings {
		if !seen[w] {
			seen[w] = true
			out = append(out, where+": "+w)
		}
	}
	return out
}

// nameStack picks the stack name as docker compose picks a project name:
// the argument, COMPOSE_PROJECT_NAME, the top-level name:, the folder.
func (p *Project) nameStack(opts Options, fromFile string) error {
	name, explicit := opts.Stack, opts.Stack != ""
	if !explicit {
		if v := p.Environment["COMPOSE_PROJECT_NAME"]; v != "" {
			name, explicit = v, true
		} else if fromFile != "" {
			name, explicit = fromFile, true
		} else {
			name = loader.NormalizeProjectName(filepath.Base(p.WorkingDir))
		}
	}
	if explicit {
		if err := ValidateStackName(name); err != nil {
			return err
		}
	}
	if name == "" {
		return fmt.Errorf("%s: no stack name: the folder's name %q has no letter or digit: give the stack name as an argument", p.where(), filepath.Base(p.WorkingDir))
	}
	p.Stack = name
	return nil
}

func configPaths(opts Options) ([]string, error) {
	if len(opts.Files) > 0 {
		return opts.Files, nil
	}
	po, err := cli.NewProjectOptions(nil, cli.WithWorkingDirectory(opts.WorkDir), cli.WithDefaultConfigPath)
	if err != nil {
		return nil, err
	}
	if len(po.ConfigPaths) == 0 {
		return nil, errors.New("no compose file found: pass one with -c FILE, or add compose.yaml (or docker-compose.yml) to this directory")
	}
	return po.ConfigPaths, nil
}

// rawFile is one compose file as docker's loader parses it.
type rawFile struct {
	name string
	dict map[string]any
}

// readFiles reads and parses each file, and finds the working directory
// as docker stack deploy does: the first file's folder (the current one
// for stdin).
func readFiles(ctx context.Context, opts Options, files []string) ([]rawFile, string, error) {
	var out []rawFile
	stdinUsed := false
	for _, f := range files {
		if f == "-" && stdinUsed {
			return nil, "", errors.New("-c - given twice: stdin can be read only once")
		}
		stdinUsed = stdinUsed || f == "-"
	}
	for _, f := range files {
		var (
			b   []byte
			err error
		)
		if f == "-" {
			if opts.Stdin == nil {
				return nil, "", errors.New("-c -: no standard input to read")
			}
			b, err = ReadInput(ctx, func() (io.ReadCloser, error) { return io.NopCloser(opts.Stdin), nil }, maxComposeSize)
		} else {
			b, err = ReadInput(ctx, func() (io.ReadCloser, error) { return os.Open(f) }, maxComposeSize)
		}
		if errors.Is(err, ErrTooLarge) {
			return nil, "", fmt.Errorf("read compose file %s: %w: that is not a compose file", f, err)
		}
		if err != nil {
			return nil, "", fmt.Errorf("read compose file %s: %w", f, err)
		}
		dict, err := dockerloader.ParseYAML(b)
		if err != nil {
			return nil, "", fileError(f, explainYAML(err))
		}
		out = append(out, rawFile{name: f, dict: dict})
	}

	wd := opts.WorkDir
	if files[0] != "-" {
		wd = filepath.Dir(files[0])
	}
	if wd == "" {
		wd = "."
	}
	abs, err := filepath.Abs(wd)
	if err != nil {
		return nil, "", err
	}
	return out, abs, nil
}

// maxComposeSize bounds a compose file: far above any real stack file
// (1,000 services are 200 KiB), far below what would exhaust memory.
const maxComposeSize = 32 << 20

// environment is the process environment, then the env files (.env by
// default) for what it does not set, as docker compose reads them. It
// returns the variables that only the files set, by name.
func environment(opts Options, workDir string) (map[string]string, []string, error) {
	env := opts.Env
	if env == nil {
		env = os.Environ()
	}
	po, err := cli.NewProjectOptions(nil,
		cli.WithWorkingDirectory(workDir),
		cli.WithEnv(env),
		cli.WithEnvFiles(opts.EnvFiles...),
		cli.WithDotEnv,
	)
	if err != nil {
		return nil, nil, envFileError(opts, workDir, err)
	}
	// sops' own variables (SOPS_AGE_KEY holds a private key) are not for
	// interpolation: `environment: [SOPS_AGE_KEY]` must not ship the key
	// into a service, nor a plan print it.
	for k := range po.Environment {
		if strings.HasPrefix(k, "SOPS_") {
			delete(po.Environment, k)
		}
	}
	proc := map[string]bool{}
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		proc[k] = true
	}
	var fromFiles []string
	for k := range po.Environment {
		if !proc[k] {
			fromFiles = append(fromFiles, k)
		}
	}
	sort.Strings(fromFiles)
	return po.Environment, fromFiles, nil
}

func envFilesNamed(opts Options, workDir string) string {
	if len(opts.EnvFiles) > 0 {
		return strings.Join(opts.EnvFiles, ", ")
	}
	return filepath.Join(workDir, ".env")
}

// loadMu serialises the code whose logs captureLogs takes.
var loadMu sync.Mutex

// loadWithDocker runs docker's loader as docker stack deploy runs it. What
// the loader logs (deprecations) is returned as warnings, not printed.
func loadWithDocker(files []rawFile, workDir string, env map[string]string) (*composetypes.Config, []string, error) {
	details := composetypes.ConfigDetails{WorkingDir: workDir, Environment: env}
	for _, f := range files {
		// The loader interpolates into new maps: f.dict is read, never changed.
		details.ConfigFiles = append(details.ConfigFiles, composetypes.ConfigFile{Filename: f.name, Config: f.dict})
	}
	details.Version = versionOf(files)

	var cfg *composetypes.Config
	var err error
	logged := captureLogs(func() {
		defer func() {
			if recover() != nil {
				cfg, err = nil, errLoaderPanic
			}
		}()
		cfg, err = dockerloader.Load(details)
	})
	return cfg, logged, err
}

// errLoaderPanic: docker's loader panics on some YAML it does not expect,
// such as a null key in environment: ({NULL: null}); docker stack deploy
// crashes on it. What it panicked with is not shown: it may hold a value.
var errLoaderPanic = errors.New("docker's compose loader cannot read this file: it holds a YAML null where a key or name is expected (such as NULL: or ~: as a key): quote the key or remove it")

// captureLogs runs fn and returns what it logged through logrus's global
// logger (docker's loader and compose-go warn there), which would
// otherwise reach stderr as logrus lines.
func captureLogs(fn func()) []string {
	loadMu.Lock()
	defer loadMu.Unlock()
	hook := &captureHook{}
	std := logrus.StandardLogger()
	oldOut, oldHooks := std.Out, std.ReplaceHooks(logrus.LevelHooks{})
	std.SetOutput(io.Discard)
	std.AddHook(hook)
	defer func() {
		std.ReplaceHooks(oldHooks)
		std.SetOutput(oldOut)
	}()
	fn()
	return hook.messages
}

// captureHook keeps what docker's loader logs.
type captureHook struct{ messages []string }

func (*captureHook) Levels() []logrus.Level { return logrus.AllLevels }
func (h *captureHook) Fire(e *logrus.Entry) error {
	h.messages = append(h.messages, e.Message)
	return nil
}

// SortedKeys returns a map's keys in order, so that output never depends on
// Go's random map iteration.
func SortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
