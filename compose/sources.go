package compose

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
)

// Kind is what a source becomes in the swarm.
type Kind string

const (
	Secret Kind = "secret"
	Config Kind = "config"
)

// Origin is where a source's value comes from.
type Origin string

const (
	FromFile        Origin = "file"
	FromEnvironment Origin = "environment"
	FromContent     Origin = "content"
)

// Source is one secret or config that the stack defines from a value
// (not external). Its value is read later, by sopsbridge.
type Source struct {
	Kind Kind
	// Key is the compose key services refer to.
	Key string
	// Name is the swarm name before versioning: <stack>_<key> or the explicit name:.
	Name   string
	Origin Origin
	// File is the absolute path, for FromFile.
	File string
	// Variable is the environment variable, for FromEnvironment.
	Variable string
	// Inline is the value for FromEnvironment and FromContent.
	Inline []byte
	// SOPS is set by an x-sops extension.
	SOPS *SOPSRef
	// Labels are the compose labels of the object.
	Labels map[string]string
}

// SOPSRef selects what to take from a SOPS-encrypted file.
type SOPSRef struct {
	// Path selects one value; empty means the whole decrypted document.
	Path []string
	// Format overrides the format guessed from the file's extension.
	Format string
}

// Ref names a source in error messages: "secret db_password".
func (s Source) Ref() string { return string(s.Kind) + " " + s.Key }

// MaxSize is swarm's limit (exclusive) on a value's size.
func (k Kind) MaxSize() int {
	if k == Secret {
		return 500 * 1024
	}
	return 1000 * 1024
}

// Sources lists the secrets then configs that the stack defines from a
// value, sorted by key, with each value's origin validated.
func (p *Project) Sources() ([]Source, error) {
	var out []Source
	var errs []string
	add := func(kind Kind, objs map[string]types.FileObjectConfig) {
		for _, key := range SortedKeys(objs) {
			obj := objs[key]
			if obj.External {
				continue
			}
			s, err := p.source(kind, key, obj)
			if err != nil {
				errs = append(errs, err.Error())
				continue
			}
			out = append(out, s)
		}
	}
	add(Secret, secretObjects(p.Secrets))
	add(Config, configObjects(p.Configs))
	switch len(errs) {
	case 0:
	case 1:
		return nil, fmt.Errorf("%s: %s", strings.Join(p.Files, ", "), errs[0])
	default:
		return nil, fmt.Errorf("%s:\n  %s", strings.Join(p.Files, ", "), strings.Join(errs, "\n  "))
	}
	return out, nil
}

func (p *Project) source(kind Kind, key string, obj types.FileObjectConfig) (Source, error) {
	s := Source{Kind: kind, Key: key, Name: obj.Name, Labels: obj.Labels}
	where := fmt.Sprintf("%ss.%s", kind, key)
	if obj.Driver != "" {
		return s, fmt.Errorf("%s: driver %q is not supported: stackctl versions values it can read; use file:, environment: or content:", where, obj.Driver)
	}
	switch {
	case obj.File != "":
		s.Origin, s.File = FromFile, obj.File
	case obj.Environment != "":
		v, ok := p.Environment[obj.Environment]
		if !ok {
			return s, fmt.Errorf("%s: environment variable %s is not set: export it, or add it to .env or an --env-file", where, obj.Environment)
		}
		s.Origin, s.Variable, s.Inline = FromEnvironment, obj.Environment, []byte(v)
	case obj.Content != "":
		s.Origin, s.Inline = FromContent, []byte(obj.Content)
	default:
		return s, fmt.Errorf("%s: no value: set file:, environment: or content:, or mark it external: true", where)
	}
	ref, err := parseXSops(obj.Extensions["x-sops"])
	if err != nil {
		return s, fmt.Errorf("%s.x-sops: %w", where, err)
	}
	if ref != nil && s.Origin != FromFile {
		return s, fmt.Errorf("%s.x-sops: only a file: source can be SOPS-encrypted, this one is %s:", where, s.Origin)
	}
	s.SOPS = ref
	if err := ValidateName(kind, key, s.Name); err != nil {
		return s, err
	}
	return s, nil
}

// VersionSuffixLen is the length of ".<hash>" that versioning appends.
const VersionSuffixLen = 1 + 12

var swarmName = regexp.MustCompile(`^[a-zA-Z0-9](?:[a-zA-Z0-9-_.]*[a-zA-Z0-9])?$`)

// ValidateName checks that name, once versioned, is a valid swarm object
// name: at most 64 characters of [a-zA-Z0-9-_.], starting and ending alphanumeric.
func ValidateName(kind Kind, key, name string) error {
	if !swarmName.MatchString(name) {
		return fmt.Errorf("%ss.%s: name %q is not a valid swarm name: use letters, digits, '-', '_' and '.', starting and ending with a letter or digit", kind, key, name)
	}
	if max := 64 - VersionSuffixLen; len(name) > max {
		return fmt.Errorf("%ss.%s: name %q has %d characters; swarm allows 64 and the version suffix takes %d: set a name: of at most %d characters under %ss.%s",
			kind, key, name, len(name), VersionSuffixLen, max, kind, key)
	}
	return nil
}

func parseXSops(v any) (*SOPSRef, error) {
	switch v := v.(type) {
	case nil:
		return nil, nil
	case bool:
		if !v {
			return nil, nil
		}
		return &SOPSRef{}, nil
	case map[string]any:
		ref := &SOPSRef{}
		for k, val := range v {
			switch k {
			case "key":
				path, err := parseKeyPath(val)
				if err != nil {
					return nil, err
				}
				ref.Path = path
			case "format":
				f, ok := val.(string)
				if !ok || !validFormat(f) {
					return nil, fmt.Errorf("format must be one of yaml, json, dotenv, ini, binary")
				}
				ref.Format = f
			default:
				return nil, fmt.Errorf("unknown field %q: use key: and format:", k)
			}
		}
		return ref, nil
	default:
		return nil, fmt.Errorf("must be a mapping like {key: db.password}, or true")
	}
}

func parseKeyPath(v any) ([]string, error) {
	var path []string
	switch v := v.(type) {
	case string:
		path = strings.Split(v, ".")
	case []any:
		for _, e := range v {
			switch e := e.(type) {
			case string:
				path = append(path, e)
			case int:
				path = append(path, strconv.Itoa(e))
			default:
				return nil, fmt.Errorf("key: list items must be strings or indexes")
			}
		}
	default:
		return nil, fmt.Errorf("key: must be a dotted path like db.password, or a list like [db, password]")
	}
	for _, p := range path {
		if p == "" {
			return nil, fmt.Errorf("key: empty path segment: write db.password, or a list like [db, password]")
		}
	}
	return path, nil
}

func validFormat(f string) bool {
	switch f {
	case "yaml", "json", "dotenv", "ini", "binary":
		return true
	}
	return false
}

func secretObjects(m types.Secrets) map[string]types.FileObjectConfig {
	out := make(map[string]types.FileObjectConfig, len(m))
	for k, v := range m {
		out[k] = types.FileObjectConfig(v)
	}
	return out
}

func configObjects(m types.Configs) map[string]types.FileObjectConfig {
	out := make(map[string]types.FileObjectConfig, len(m))
	for k, v := range m {
		out[k] = types.FileObjectConfig(v)
	}
	return out
}
