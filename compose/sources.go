package compose

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	composetypes "github.com/docker/cli/cli/compose/types"
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
	// FromDriver: a secret-driver plugin holds the value. The secret is
	// created as docker stack deploy creates it, under its swarm name,
	// and never versioned.
	FromDriver Origin = "driver"
	// FromStore: a secret store holds the value (x-store).
	FromStore Origin = "store"
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
	// Rotate is set by an x-rotate extension (secrets only).
	Rotate *RotatePolicy
	// Store is where a FromStore value lives (x-store).
	Store *StoreRef
	// Labels are the compose labels of the object.
	Labels map[string]string
	// TemplateDriver is a config's or secret's template_driver (golang):
	// swarm renders the value for each task.
	TemplateDriver string
	// Driver and DriverOpts name the secret-driver plugin, for FromDriver.
	Driver     string
	DriverOpts map[string]string
}

// SOPSRef selects what to take from a SOPS-encrypted file.
type SOPSRef struct {
	// Path selects one value; empty means the whole decrypted document.
	Path []string
	// Format overrides the format guessed from the file's extension.
	Format string
	// PlaintextConfig lets a config hold a decrypted value, which swarm
	// stores in clear for anyone with API access to read.
	PlaintextConfig bool
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
// value, sorted by key, with each value's origin validated. Secrets and
// configs from a driver (a secret-driver plugin holds the value) are not
// sources. With skipNoValue (render, which checks what `docker stack
// config` checks), an object with no value is left as it is and named in
// the returned warnings; docker stack deploy, and stackctl deploy, reject it.
func (p *Project) Sources(skipNoValue bool) ([]Source, []string, error) {
	var out []Source
	var errs, warnings []string
	add := func(kind Kind, objs map[string]composetypes.FileObjectConfig) {
		for _, key := range SortedKeys(objs) {
			obj := objs[key]
			x := p.extras[kind][key]
			if msg := notOurs(kind, key, obj, x); msg != "" {
				errs = append(errs, msg)
				continue
			}
			if obj.External.External {
				continue
			}
			if obj.Driver != "" {
				s := Source{Kind: kind, Key: key, Name: p.swarmName(key, obj.Name), Origin: FromDriver, Labels: obj.Labels,
					TemplateDriver: obj.TemplateDriver, Driver: obj.Driver, DriverOpts: obj.DriverOpts}
				if err := validateSwarmName(kind, key, s.Name, 0); err != nil {
					errs = append(errs, err.Error())
					continue
				}
				out = append(out, s)
				continue
			}
			s, err := p.source(kind, key, obj, p.extras[kind][key])
			if errors.Is(err, errNoValue) && skipNoValue {
				warnings = append(warnings, fmt.Sprintf("%ss.%s: no value (file:, environment: or content:): left as it is; a deploy rejects it", kind, key))
				continue
			}
			if err != nil {
				errs = append(errs, err.Error())
				continue
			}
			out = append(out, s)
		}
	}
	add(Secret, secretObjects(p.Config.Secrets))
	add(Config, configObjects(p.Config.Configs))
	switch len(errs) {
	case 0:
	case 1:
		return nil, nil, fmt.Errorf("%s: %s", p.where(), errs[0])
	default:
		return nil, nil, fmt.Errorf("%s:\n  %s", p.where(), strings.Join(errs, "\n  "))
	}
	return out, warnings, nil
}

// notOurs says what is wrong with an external or driver secret or config
// that also says how stackctl should make or rotate its value.
func notOurs(kind Kind, key string, obj composetypes.FileObjectConfig, x objectExtra) string {
	if !obj.External.External && obj.Driver == "" {
		return ""
	}
	what := "external: true"
	if obj.Driver != "" {
		what = "driver:"
	}
	if x.Environment != "" || x.HasContent || x.Store != nil {
		return fmt.Sprintf("%ss.%s: %s and a value (environment:, content: or x-store): keep one", kind, key, what)
	}
	if x.Rotate != nil {
		return fmt.Sprintf("%ss.%s.x-rotate: the value of a secret with %s is not stackctl's to rotate: rotate it where it is made, or remove x-rotate", kind, key, what)
	}
	return ""
}

// errNoValue: a secret or config with neither file:, environment: nor content:.
var errNoValue = errors.New("no value: set file:, environment: or content:, or mark it external: true")

// swarmName is the name docker stack deploy gives a secret or config:
// name:, or <stack>_<key>.
func (p *Project) swarmName(key, name string) string {
	if name != "" {
		return name
	}
	return p.Stack + "_" + key
}

func (p *Project) source(kind Kind, key string, obj composetypes.FileObjectConfig, x objectExtra) (Source, error) {
	s := Source{Kind: kind, Key: key, Name: p.swarmName(key, obj.Name), Labels: obj.Labels, TemplateDriver: obj.TemplateDriver}
	where := fmt.Sprintf("%ss.%s", kind, key)
	hasFile := obj.File != "" && obj.File != p.WorkingDir
	if n := btoi(hasFile) + btoi(x.Environment != "") + btoi(x.HasContent) + btoi(x.Store != nil); n > 1 {
		return s, fmt.Errorf("%s: more than one value (file:, environment:, content:, x-store): keep one", where)
	}
	switch {
	case x.Store != nil:
		if err := s.readStore(where, x.Store); err != nil {
			return s, err
		}
	case x.Environment != "":
		v, ok := p.Environment[x.Environment]
		if !ok {
			return s, fmt.Errorf("%s: environment variable %s is not set: export it, or add it to .env or an --env-file", where, x.Environment)
		}
		s.Origin, s.Variable, s.Inline = FromEnvironment, x.Environment, []byte(v)
	case x.HasContent:
		s.Origin, s.Inline = FromContent, []byte(x.Content)
	case hasFile:
		// docker's loader makes file: absolute; an absent file: becomes
		// the working directory itself.
		s.Origin, s.File = FromFile, obj.File
	default:
		return s, fmt.Errorf("%s: %w", where, errNoValue)
	}
	if err := s.readExtensions(where, x); err != nil {
		return s, err
	}
	if err := ValidateName(kind, key, s.Name); err != nil {
		return s, err
	}
	return s, nil
}

// readExtensions reads x-sops and x-rotate into s.
func (s *Source) readExtensions(where string, x objectExtra) error {
	ref, err := parseXSops(x.SOPS)
	if err != nil {
		return fmt.Errorf("%s.x-sops: %w", where, err)
	}
	if ref != nil && s.Origin != FromFile {
		return fmt.Errorf("%s.x-sops: only a file: source can be SOPS-encrypted, this one is %s:", where, s.Origin)
	}
	s.SOPS = ref
	if s.Rotate, err = parseXRotate(x.Rotate); err != nil {
		return fmt.Errorf("%s.x-rotate: %w", where, err)
	}
	if s.Rotate != nil && (s.Kind != Secret || (ref == nil && !s.Store.Writable())) {
		return fmt.Errorf("%s.x-rotate: only a secret from a SOPS-encrypted file (x-sops) or a secret store (x-store) can be rotated, as rotation writes the new value back into it: encrypt it with sops and add x-sops, or remove x-rotate", where)
	}
	return nil
}

// readStore reads x-store: a secret's value from a secret store.
func (s *Source) readStore(where string, v any) error {
	uri, ok := v.(string)
	if !ok {
		return fmt.Errorf("%s.x-store: must be a reference like vault://secret/shop/db#password", where)
	}
	if s.Kind != Secret {
		return fmt.Errorf("%s.x-store: a config is stored in clear, readable by anyone with API access (docker config inspect): keep a store's value in a secret", where)
	}
	ref, err := ParseStoreRef(uri)
	if err != nil {
		return fmt.Errorf("%s.x-store: %w", where, err)
	}
	s.Origin, s.Store = FromStore, ref
	return nil
}

// VersionSuffixLen is the length of ".<hash>" that versioning appends.
const VersionSuffixLen = 1 + 12

var swarmName = lazyRegexp(`^[a-zA-Z0-9](?:[a-zA-Z0-9-_.]*[a-zA-Z0-9])?$`)

// ValidateName checks that name, once versioned, is a valid swarm object
// name: at most 64 characters of [a-zA-Z0-9-_.], starting and ending alphanumeric.
func ValidateName(kind Kind, key, name string) error {
	return validateSwarmName(kind, key, name, VersionSuffixLen)
}

func validateSwarmName(kind Kind, key, name string, suffix int) error {
	if !swarmName().MatchString(name) {
		return fmt.Errorf("%ss.%s: name %q is not a valid swarm name: use letters, digits, '-', '_' and '.', starting and ending with a letter or digit", kind, key, name)
	}
	if max := 64 - suffix; len(name) > max {
		return fmt.Errorf("%ss.%s: name %q has %d characters; swarm allows 64 and the version suffix takes %d: set a name: of at most %d characters under %ss.%s",
			kind, key, name, len(name), suffix, max, kind, key)
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
			case "plaintext_config":
				b, ok := val.(bool)
				if !ok {
					return nil, fmt.Errorf("plaintext_config must be true or false")
				}
				ref.PlaintextConfig = b
			case "format":
				f, ok := val.(string)
				if !ok || !validFormat(f) {
					return nil, fmt.Errorf("format must be one of yaml, json, dotenv, ini, binary")
				}
				ref.Format = f
			default:
				return nil, fmt.Errorf("unknown field %q: use key:, format: and plaintext_config:", k)
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

func secretObjects(m map[string]composetypes.SecretConfig) map[string]composetypes.FileObjectConfig {
	out := make(map[string]composetypes.FileObjectConfig, len(m))
	for k, v := range m {
		out[k] = composetypes.FileObjectConfig(v)
	}
	return out
}

func configObjects(m map[string]composetypes.ConfigObjConfig) map[string]composetypes.FileObjectConfig {
	out := make(map[string]composetypes.FileObjectConfig, len(m))
	for k, v := range m {
		out[k] = composetypes.FileObjectConfig(v)
	}
	return out
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
