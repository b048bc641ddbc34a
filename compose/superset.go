package compose

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/docker/cli/cli/compose/schema"
	"github.com/docker/cli/cli/compose/template"
	composetypes "github.com/docker/cli/cli/compose/types"
	"github.com/moby/moby/client/pkg/versions"
)

// What stackctl reads beyond docker's compose format (the compose
// specification defines each, and swarm can do it). takeSuperset removes
// these keys from the parsed files before docker's loader sees them, so
// that everything else is docker's to read, exactly as docker reads it.
//
//   - name: (top level): the stack name when none is given;
//   - services.*.profiles: a service whose profiles are all inactive is
//     not deployed (said in a warning);
//   - services.*.depends_on in its long form (a mapping with conditions):
//     docker's format has only the list, which swarm ignores anyway;
//   - secrets.*.environment, secrets.*.content, configs.*.environment,
//     configs.*.content: a value from a variable or inline;
//   - x-sops on secrets and configs, x-rotate and x-store on secrets
//     (stackctl's own extensions);
//   - version: files that say different versions (docker refuses to merge
//     them; the compose specification calls version informative) are read
//     with the newest of them.

// objectExtra is what a secret or config says beyond docker's format.
type objectExtra struct {
	// Environment names the variable that holds the value.
	Environment string
	// Content is the value, inline; HasContent tells "" from unset.
	Content    string
	HasContent bool
	// SOPS is the x-sops extension as written.
	SOPS any
	// Rotate is the x-rotate extension as written.
	Rotate any
	// Store is the x-store extension as written.
	Store any
}

type superset struct {
	name     string
	objects  map[Kind]map[string]objectExtra
	warnings []string
	// skipped are the services left out by their profiles. docker's
	// loader still reads (and checks) them; Load drops them after.
	skipped []string
}

// objectKeys are the keys of a secret or config that docker's format lacks.
var objectKeys = []string{"environment", "content", "x-sops", "x-rotate", "x-store"}

func takeSuperset(files []rawFile, env map[string]string, profiles []string) (*superset, error) {
	t := &supersetTaker{
		superset:        &superset{objects: map[Kind]map[string]objectExtra{Secret: {}, Config: {}}},
		env:             env,
		serviceProfiles: map[string][]string{},
		longDependsOn:   map[string]bool{},
	}
	for _, f := range files {
		if err := t.takeName(f); err != nil {
			return nil, err
		}
		if err := t.takeServices(f); err != nil {
			return nil, err
		}
		for _, kind := range []Kind{Secret, Config} {
			if err := t.takeObjects(f, kind); err != nil {
				return nil, err
			}
		}
	}
	s := t.superset
	for _, name := range SortedKeys(t.longDependsOn) {
		s.warnings = append(s.warnings, fmt.Sprintf("services.%s.depends_on: conditions ignored: swarm starts services in no order and does not wait for one another", name))
	}
	active := activeProfiles(env, profiles)
	for _, name := range SortedKeys(t.serviceProfiles) {
		ps := t.serviceProfiles[name]
		if len(ps) == 0 || active["*"] || anyActive(ps, active) {
			continue
		}
		s.skipped = append(s.skipped, name)
		s.warnings = append(s.warnings, fmt.Sprintf("services.%s: not deployed: its profiles (%s) are not active: activate one with --profile %s or COMPOSE_PROFILES=%s", name, strings.Join(ps, ", "), ps[0], ps[0]))
	}
	reconcileVersions(files)
	return s, nil
}

// supersetTaker takes the superset's keys out of the files, one by one.
type supersetTaker struct {
	*superset
	env             map[string]string
	serviceProfiles map[string][]string
	longDependsOn   map[string]bool
}

func (t *supersetTaker) subst(f rawFile, path, v string) (string, error) {
	out, err := template.Substitute(v, func(k string) (string, bool) { v, ok := t.env[k]; return v, ok })
	if err != nil {
		return "", fileError(f.name, fmt.Errorf("%s: %w", path, explainInterpolation(err)))
	}
	return out, nil
}

// takeName takes the top-level name:.
func (t *supersetTaker) takeName(f rawFile) error {
	n, ok := f.dict["name"]
	if !ok {
		return nil
	}
	str, isStr := n.(string)
	if !isStr {
		return fileError(f.name, errors.New("name: must be a string, like name: shop"))
	}
	v, err := t.subst(f, "name", str)
	if err != nil {
		return err
	}
	t.name = v
	delete(f.dict, "name")
	return nil
}

// takeServices takes each service's profiles and reads its long-form
// depends_on as the list.
func (t *supersetTaker) takeServices(f rawFile) error {
	services, _ := f.dict["services"].(map[string]any)
	for _, svcName := range SortedKeys(services) {
		svc, ok := services[svcName].(map[string]any)
		if !ok {
			continue // docker's schema names the problem
		}
		if raw, ok := svc["profiles"]; ok {
			names, err := t.profiles(f, svcName, raw)
			if err != nil {
				return err
			}
			t.serviceProfiles[svcName] = names
			delete(svc, "profiles")
		}
		if deps, ok := svc["depends_on"].(map[string]any); ok {
			svc["depends_on"] = toList(SortedKeys(deps))
			t.longDependsOn[svcName] = true
		}
	}
	return nil
}

func (t *supersetTaker) profiles(f rawFile, svcName string, raw any) ([]string, error) {
	list, ok := raw.([]any)
	if !ok {
		return nil, fileError(f.name, fmt.Errorf("services.%s.profiles: must be a list, like [debug]", svcName))
	}
	var names []string
	for _, e := range list {
		str, ok := e.(string)
		if !ok {
			return nil, fileError(f.name, fmt.Errorf("services.%s.profiles: must be a list of names, like [debug]", svcName))
		}
		v, err := t.subst(f, "services."+svcName+".profiles", str)
		if err != nil {
			return nil, err
		}
		names = append(names, v)
	}
	return names, nil
}

// takeObjects takes environment:, content:, x-sops and x-rotate from each secret or
// config. As docker merges secrets and configs, a later file's definition
// replaces the earlier one whole.
func (t *supersetTaker) takeObjects(f rawFile, kind Kind) error {
	section, _ := f.dict[string(kind)+"s"].(map[string]any)
	for _, key := range SortedKeys(section) {
		obj, ok := section[key].(map[string]any)
		if !ok {
			continue // docker's schema names the problem
		}
		var x objectExtra
		path := fmt.Sprintf("%ss.%s", kind, key)
		if v, ok := obj["environment"]; ok {
			str, ok := v.(string)
			if !ok {
				return fileError(f.name, fmt.Errorf("%s.environment: must be the name of a variable, like DB_PASSWORD", path))
			}
			name, err := t.subst(f, path+".environment", str)
			if err != nil {
				return err
			}
			x.Environment = name
		}
		if v, ok := obj["content"]; ok {
			c, err := t.content(f, kind, path, v)
			if err != nil {
				return err
			}
			x.Content, x.HasContent = c, true
		}
		x.SOPS, x.Rotate, x.Store = obj["x-sops"], obj["x-rotate"], obj["x-store"]
		for _, k := range objectKeys {
			delete(obj, k)
		}
		t.objects[kind][key] = x
	}
	return nil
}

// content interpolates a content: text. The text is a value: an error or
// a warning names the key and the variables, never the text.
func (t *supersetTaker) content(f rawFile, kind Kind, path string, v any) (string, error) {
	str, ok := v.(string)
	if !ok {
		return "", fileError(f.name, fmt.Errorf("%s.content: must be a string", path))
	}
	var unset []string
	c, err := template.Substitute(str, func(k string) (string, bool) {
		v, ok := t.env[k]
		if !ok && !hasFallback(str, k) {
			unset = append(unset, k)
		}
		return v, ok
	})
	if err != nil {
		return "", fileError(f.name, fmt.Errorf("%s.content: %w", path, explainContentInterpolation(err)))
	}
	switch {
	case len(unset) == 0:
	case kind == Secret: // a name in a secret's text may be part of the secret
		t.warnings = append(t.warnings, fmt.Sprintf("%s.content: a variable it refers to is not set, so that part of the value is empty: set it, or write a literal $ as $$", path))
	default:
		t.warnings = append(t.warnings, fmt.Sprintf("%s.content: $%s not set, so left out of the value: set it, or write a literal $ as $$", path, strings.Join(slices.Compact(slices.Sorted(slices.Values(unset))), ", $")))
	}
	return c, nil
}

// hasFallback: every use of name in text says what to do when it is
// unset (${NAME:-x}, ${NAME-x}, ${NAME:?msg}, ${NAME:+x} ...).
func hasFallback(text, name string) bool {
	uses := strings.Count(text, "${"+name+"}") + strings.Count(text, "$"+name)
	for _, op := range []string{":-", "-", ":?", "?", ":+", "+"} {
		uses -= strings.Count(text, "${"+name+op)
	}
	return uses <= 0
}

func toList(keys []string) []any {
	out := make([]any, len(keys))
	for i, k := range keys {
		out[i] = k
	}
	return out
}

// activeProfiles are --profile's and COMPOSE_PROFILES' (comma-separated).
func activeProfiles(env map[string]string, flags []string) map[string]bool {
	active := map[string]bool{}
	for _, p := range append(strings.Split(env["COMPOSE_PROFILES"], ","), flags...) {
		if p = strings.TrimSpace(p); p != "" {
			active[p] = true
		}
	}
	return active
}

func anyActive(ps []string, active map[string]bool) bool {
	for _, p := range ps {
		if active[p] {
			return true
		}
	}
	return false
}

// reconcileVersions gives every file the newest version any of them says,
// when they differ (docker would refuse to merge them).
func reconcileVersions(files []rawFile) {
	newest := ""
	differ := false
	for i, f := range files {
		v := schema.Version(f.dict)
		if i > 0 && v != newest {
			differ = true
		}
		if newest == "" || versions.GreaterThan(v, newest) {
			newest = v
		}
	}
	if !differ {
		return
	}
	for _, f := range files {
		f.dict["version"] = newest
	}
}

// versionOf is the version docker's loader reads the files with.
func versionOf(files []rawFile) string {
	return schema.Version(files[0].dict)
}

// ignoredKeys are docker's lists of the service keys stack deploy ignores.
func ignoredKeys() []string {
	keys := append([]string{}, composetypes.UnsupportedProperties...)
	for k := range composetypes.DeprecatedProperties {
		keys = append(keys, k)
	}
	return keys
}

// ignoredProperties names, once each, the service options that docker
// stack deploy ignores (swarm cannot do them) or calls deprecated.
func ignoredProperties(files []rawFile, skipped []string) []string {
	ignored := map[string]bool{}
	for _, f := range files {
		services, _ := f.dict["services"].(map[string]any)
		for name, svc := range services {
			if slices.Contains(skipped, name) {
				continue
			}
			m, _ := svc.(map[string]any)
			for _, k := range ignoredKeys() {
				if _, ok := m[k]; ok {
					ignored["services."+name+"."+k] = true
				}
			}
		}
	}
	if len(ignored) == 0 {
		return nil
	}
	keys := SortedKeys(ignored)
	return []string{"ignored, as docker stack deploy ignores them (swarm cannot do them): " + strings.Join(keys, ", ")}
}
