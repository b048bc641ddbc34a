// Package compose loads compose files the way a `docker stack deploy` user
// expects, names stack objects as docker does, and rewrites secret and
// config references to content-addressed versions.
package compose

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/distribution/reference"
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
	*types.Project
	// Stack is the stack namespace (docker's com.docker.stack.namespace).
	Stack string
	// Files are the compose files that were merged, as given ("-" for stdin).
	Files []string
}

// Load reads, merges, interpolates and validates compose files.
func Load(ctx context.Context, opts Options) (*Project, error) {
	files, err := configPaths(opts)
	if err != nil {
		return nil, err
	}
	details, err := readConfigDetails(opts, files)
	if err != nil {
		return nil, err
	}
	where := strings.Join(files, ", ")

	name, explicit := opts.Stack, opts.Stack != ""
	if !explicit {
		if v := details.Environment["COMPOSE_PROJECT_NAME"]; v != "" {
			name, explicit = v, true
		} else {
			name = loader.NormalizeProjectName(filepath.Base(details.WorkingDir))
		}
	}
	if explicit {
		if err := ValidateStackName(name); err != nil {
			return nil, err
		}
	}

	p, err := loader.LoadWithContext(ctx, details, func(o *loader.Options) {
		o.SetProjectName(name, explicit)
		o.ResolvePaths = true
		// docker stack deploy applies its own defaults at conversion time
		// (a secret's target is its source name, not /run/secrets/<name>);
		// compose-go's defaults would make every spec differ from docker's.
		o.SkipDefaultValues = true
	})
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", where, explain(err))
	}
	if len(p.Services) == 0 {
		return nil, fmt.Errorf("load %s: no services defined: a stack needs at least one service", where)
	}
	for _, name := range SortedKeys(p.Services) {
		if img := p.Services[name].Image; img != "" {
			if _, err := reference.ParseAnyReference(img); err != nil {
				return nil, fmt.Errorf("load %s: services.%s.image: invalid image reference %q: %v: write it like registry.example.com/team/app:1.2, in lowercase", where, name, img, err)
			}
		}
	}
	if err := validate(p, where); err != nil {
		return nil, err
	}
	lookup := func(k string) (string, bool) { v, ok := details.Environment[k]; return v, ok }
	if err := checkDroppedRefs(details.ConfigFiles, lookup); err != nil {
		return nil, err
	}
	return &Project{Project: p, Stack: p.Name, Files: files}, nil
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

func readConfigDetails(opts Options, files []string) (types.ConfigDetails, error) {
	var details types.ConfigDetails
	stdinUsed := false
	for _, f := range files {
		var (
			b   []byte
			err error
		)
		if f == "-" {
			if stdinUsed {
				return details, errors.New("-c - given twice: stdin can be read only once")
			}
			stdinUsed = true
			if opts.Stdin == nil {
				return details, errors.New("-c -: no standard input to read")
			}
			b, err = io.ReadAll(opts.Stdin)
		} else {
			b, err = os.ReadFile(f)
		}
		if err != nil {
			return details, fmt.Errorf("read compose file %s: %w", f, err)
		}
		details.ConfigFiles = append(details.ConfigFiles, types.ConfigFile{Filename: f, Content: b})
	}

	// Like docker stack deploy, relative paths resolve against the first file's folder.
	wd := opts.WorkDir
	if files[0] != "-" {
		wd = filepath.Dir(files[0])
	}
	if wd == "" {
		wd = "."
	}
	abs, err := filepath.Abs(wd)
	if err != nil {
		return details, err
	}
	details.WorkingDir = abs

	env := opts.Env
	if env == nil {
		env = os.Environ()
	}
	po, err := cli.NewProjectOptions(nil,
		cli.WithWorkingDirectory(abs),
		cli.WithEnv(env),
		cli.WithEnvFiles(opts.EnvFiles...),
		cli.WithDotEnv,
	)
	if err != nil {
		return details, fmt.Errorf("read env file %s: %w", strings.Join(opts.EnvFiles, ", "), err)
	}
	details.Environment = po.Environment
	return details, nil
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
