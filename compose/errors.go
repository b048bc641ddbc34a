package compose

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	dockerloader "github.com/docker/cli/cli/compose/loader"
	"github.com/docker/cli/cli/compose/template"
)

// docker's loader says what is wrong and where, in docker's words, but not
// always what to do, and some of its messages span lines. explainDocker
// keeps docker's reason, names the file, and adds the fix for the shapes a
// user meets; a message it does not know passes through on one line.

var (
	// docker/cli's schema package (v29, santhosh-tekuri/jsonschema) returns
	// "<path>: <description>" as a plain string: no type to read.
	// schema: "services.web: additional property 'imagee' is not allowed",
	// "services.web: additional properties 'a', 'b' not allowed"
	additional = lazyRegexp(`^(\S+): additional propert(?:y|ies) ('.*') (?:is )?not allowed$`)
	quotedName = lazyRegexp(`'([^']*)'`)
	// schema: "services.web.environment: must be a mapping", "...: must be an integer"
	wantType = lazyRegexp(`^(\S+): must be (?:an? )?(.+)$`)
	// schema: "services.web.deploy.replicas: must be greater than or equal to 0"
	minimum = lazyRegexp(`^(\S+): must be greater than or equal to (\S+)$`)
	// interpolation: `invalid interpolation format for X: "${A"; you may need to escape any $ with another $`
	badInterpolation = lazyRegexp(`^invalid interpolation format for (\S+): "(.*)"; you may need to escape any \$ with another \$$`)
	// interpolation: "error while interpolating X: failed to cast to expected type: ..."
	castErr = lazyRegexp(`^error while interpolating (\S+): failed to cast to expected type: (.*)$`)
	// mapstructure: "decoding failed due to the following error(s):\n\n'Deploy.Resources.Limits.memory' msg"
	decodeErr = lazyRegexp(`(?s)error\(s\)(?: decoding)?:\s*(?:\* )?(?:error decoding )?'([^']*)'[: ]\s*(.*)$`)
	// schema: "services.web.deploy.update_config.order: value must be one of 'start-first', 'stop-first'"
	enum = lazyRegexp(`^(\S+): value must be (?:one of )?(.*)$`)
	// schema: "services.web.healthcheck.interval: 'VALUE' is not valid duration: time: ..."
	// (the value may come from a variable: it is never repeated)
	format = lazyRegexp(`(?s)^(\S+): .* is not valid (\w+): `)
	// schema: "services.web.x: 'VALUE' does not match pattern '...'"
	pattern = lazyRegexp(`(?s)^(\S+): .* does not match pattern `)
	// yaml.v3: "yaml: line 6: found character that cannot start any token"
	yamlLine = lazyRegexp(`line (\d+)`)
)

// FileError is bad input found in compose files: File names them as the
// message does ("a.yml" or "a.yml, b.yml"), Line is the line when known
// (a YAML syntax error). GitHub annotations point at it.
type FileError struct {
	File string
	Line int
	Err  error
}

func (e *FileError) Error() string { return e.File + ": " + e.Err.Error() }
func (e *FileError) Unwrap() error { return e.Err }

func fileError(file string, err error) error {
	line := 0
	if m := yamlLine().FindStringSubmatch(err.Error()); m != nil && strings.HasPrefix(err.Error(), "yaml: ") {
		line, _ = strconv.Atoi(m[1])
	}
	return &FileError{File: file, Line: line, Err: err}
}

// explainDocker names the file whose content docker's loader rejected and
// says what to do.
func explainDocker(files []rawFile, workDir string, env map[string]string, err error) error {
	file := blame(files, err, func(f rawFile) error {
		_, _, ferr := loadWithDocker([]rawFile{f}, workDir, env)
		return ferr
	})
	var fpe *dockerloader.ForbiddenPropertiesError
	if errors.As(err, &fpe) {
		return fileError(file, fmt.Errorf("compose file contains options docker stack deploy does not support: %s", describeProperties(fpe.Properties)))
	}
	return fileError(file, errors.New(explain(err.Error(), files)))
}

// blame names the one file that fails alone with the same error, or all
// of them: the loader checks each file before it merges.
func blame(files []rawFile, err error, alone func(rawFile) error) string {
	names := make([]string, len(files))
	for i, f := range files {
		names[i] = f.name
	}
	if len(files) > 1 {
		for _, f := range files {
			if ferr := alone(f); ferr != nil && ferr.Error() == err.Error() {
				return f.name
			}
		}
	}
	return strings.Join(names, ", ")
}

// formatHints say how to write a value of each of docker's schema formats.
var formatHints = map[string]string{
	"duration":          "write a duration like 10s, 1m30s or 2h",
	"ports":             `write ports like "8080:80" or {target: 80, published: 8080}, with port numbers from 1 to 65535`,
	"expose":            `write a port like "80" or "8000-8010"`,
	"subnet_ip_address": "write a subnet like 10.0.0.0/24",
}

func explain(msg string, files []rawFile) string {
	msg = strings.TrimSpace(msg)
	for _, e := range explainers {
		if m := e.re().FindStringSubmatch(msg); m != nil {
			if out := e.say(m, files); out != "" {
				return out
			}
		}
	}
	if strings.HasPrefix(msg, "yaml: ") {
		return explainYAML(errors.New(msg)).Error()
	}
	return oneLine(msg)
}

// explainers say, for each shape of docker's messages, what is wrong and
// what to do; the first that matches and says something wins.
var explainers = []struct {
	re  func() *regexp.Regexp
	say func(m []string, files []rawFile) string
}{
	{enum, func(m []string, _ []rawFile) string { return fmt.Sprintf("%s must be one of %s", m[1], m[2]) }},
	{format, explainFormat},
	{pattern, func(m []string, _ []rawFile) string {
		return m[1] + ": not in the form docker accepts there: check it against the compose file reference (version 3)"
	}},
	{additional, explainUnknownKeys},
	{minimum, func(m []string, _ []rawFile) string { return fmt.Sprintf("%s must be at least %s", m[1], m[2]) }},
	{badInterpolation, func(m []string, _ []rawFile) string {
		if strings.HasPrefix(m[2], "required variable ") {
			return fmt.Sprintf("%s: %s: set the variable in the environment, .env or an --env-file", m[1], m[2])
		}
		return fmt.Sprintf("%s: invalid interpolation %s: close it like ${VAR} or ${VAR:-default}, or write a literal $ as $$", m[1], m[2])
	}},
	// The value came from interpolation, maybe from a variable that holds
	// a secret: say what is wrong with it, never what it is.
	{castErr, func(m []string, _ []rawFile) string {
		return fmt.Sprintf("%s: the interpolated value %s", m[1], unquoted(valueHint(m[2])))
	}},
	{decodeErr, func(m []string, files []rawFile) string {
		return fmt.Sprintf("%s: the value %s", servicePath(files, m[1]), unquoted(valueHint(oneLine(m[2]))))
	}},
	{wantType, explainType},
}

func explainFormat(m []string, _ []rawFile) string {
	what := strings.TrimSuffix(strings.ReplaceAll(m[2], "_", " "), "s")
	if hint, ok := formatHints[m[2]]; ok {
		return fmt.Sprintf("%s: not a valid %s: %s", m[1], what, hint)
	}
	return fmt.Sprintf("%s: not a valid %s", m[1], what)
}

func explainUnknownKeys(m []string, _ []rawFile) string {
	var keys []string
	for _, q := range quotedName().FindAllStringSubmatch(m[2], -1) {
		key := q[1]
		if m[1] != "(root)" {
			key = m[1] + "." + key
		}
		keys = append(keys, key)
	}
	sort.Strings(keys)
	what := "unknown key"
	if len(keys) > 1 {
		what = "unknown keys"
	}
	return strings.Join(keys, ", ") + ": " + what + ": docker stack deploy rejects it too: check its spelling against the compose file reference (version 3), or remove it"
}

// typeHints say how to write a value of each of the schema's types.
var typeHints = map[string]string{
	"mapping":            "mapping, like {KEY: value}",
	"list":               "list, like [a, b]",
	"integer":            "whole number: write one like 3",
	"number":             "number: write one like 0.5",
	"string":             "string: quote it",
	"boolean":            "boolean: write true or false",
	"string or a number": "string or number",
}

func explainType(m []string, _ []rawFile) string {
	if strings.HasSuffix(m[1], ".mode") && (m[2] == "number" || m[2] == "integer") {
		return fmt.Sprintf("%s must be a number: write a file mode like 0440", m[1])
	}
	if l, ok := typeHints[m[2]]; ok {
		return fmt.Sprintf("%s must be a %s", m[1], l)
	}
	return ""
}

// servicePath turns the path of a value docker's loader could not decode
// inside a service (Go field names, like Deploy.Resources.Limits.memory)
// into the compose key, services.NAME.deploy.resources.limits.memory,
// naming the service whose file has that key (the loader does not say).
func servicePath(files []rawFile, goPath string) string {
	var keys []string
	for _, part := range strings.Split(goPath, ".") {
		keys = append(keys, snake(part))
	}
	for _, f := range files {
		services, _ := f.dict["services"].(map[string]any)
		for _, name := range SortedKeys(services) {
			if hasPath(services[name], keys) {
				return "services." + name + "." + strings.Join(keys, ".")
			}
		}
	}
	return strings.Join(keys, ".")
}

// snake turns a Go field name into its compose key: UpdateConfig -> update_config.
func snake(s string) string {
	var b strings.Builder
	for i, r := range s {
		if r >= 'A' && r <= 'Z' {
			if i > 0 && !(s[i-1] >= 'A' && s[i-1] <= 'Z') {
				b.WriteByte('_')
			}
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}

func hasPath(v any, keys []string) bool {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return false
		}
		if v, ok = m[k]; !ok {
			return false
		}
	}
	return true
}

// explainYAML says how to fix a YAML syntax error.
func explainYAML(err error) error {
	msg := oneLine(err.Error())
	if strings.Contains(msg, "top-level object must be a mapping") {
		return errors.New("the file must be a mapping of keys like services:, not a list or a value")
	}
	return fmt.Errorf("%s: fix the YAML syntax there (indent with spaces, not tabs; close every bracket and quote; no key twice)", msg)
}

// explainInterpolation explains an error of stackctl's own interpolation
// of the keys docker's loader does not read.
func explainInterpolation(err error) error {
	var ite *template.InvalidTemplateError
	if errors.As(err, &ite) {
		if strings.HasPrefix(ite.Template, "required variable ") {
			return fmt.Errorf("%s: set the variable in the environment, .env or an --env-file", ite.Template)
		}
		return fmt.Errorf("invalid interpolation %s: close it like ${VAR} or ${VAR:-default}, or write a literal $ as $$", ite.Template)
	}
	return err
}

// explainContentInterpolation is explainInterpolation for content:, whose
// text is the value itself: it is not quoted.
func explainContentInterpolation(err error) error {
	var ite *template.InvalidTemplateError
	if errors.As(err, &ite) && strings.HasPrefix(ite.Template, "required variable ") {
		name, _, _ := strings.Cut(strings.TrimPrefix(ite.Template, "required variable "), " ")
		return fmt.Errorf("required variable %s is not set: set it in the environment, .env or an --env-file", name)
	}
	return errors.New("invalid interpolation (the text is not shown: it is the value): close every ${ like ${VAR}, or write a literal $ as $$")
}

// envFileError reports an env file that cannot be read. compose-go's
// parser quotes the line it failed on, which may hold a value: only the
// file, the line number and the kind of mistake are kept.
func envFileError(opts Options, workDir string, err error) error {
	files := envFilesNamed(opts, workDir)
	msg := err.Error()
	if strings.Contains(msg, "couldn't find env file") || strings.Contains(msg, "no such file") {
		return fmt.Errorf("read env file %s: couldn't find env file: check the --env-file path", files)
	}
	var parts []string
	if m := yamlLine().FindStringSubmatch(msg); m != nil {
		parts = append(parts, "line "+m[1])
	}
	switch {
	case strings.Contains(msg, "key cannot contain a space"):
		parts = append(parts, "key cannot contain a space")
	case strings.Contains(msg, "unterminated quoted value"):
		parts = append(parts, "unterminated quoted value: close the quote")
	case strings.Contains(msg, "unexpected character"):
		parts = append(parts, "unexpected character in a variable name")
	default:
		parts = append(parts, "syntax error")
	}
	return fmt.Errorf("read env file %s: %s: write each line as KEY=value", files, strings.Join(parts, ": "))
}

func describeProperties(props map[string]string) string {
	var out []string
	for _, k := range SortedKeys(props) {
		out = append(out, k+" ("+props[k]+")")
	}
	return strings.Join(out, "; ")
}

var (
	parseNumber   = lazyRegexp(`strconv\.(?:Atoi|ParseInt|ParseUint): parsing ("[^"]*"): invalid syntax`)
	parseFloat    = lazyRegexp(`strconv\.ParseFloat: parsing ("[^"]*"): invalid syntax`)
	parseDuration = lazyRegexp(`time: (?:invalid duration|unknown unit|missing unit)`)
	parseSize     = lazyRegexp(`invalid size: '([^']*)'`)
)

// unquoted drops a leading quoted value from a hint: `"x" is not a whole
// number: ...` becomes `is not a whole number: ...`.
func unquoted(hint string) string {
	if strings.HasPrefix(hint, `"`) {
		if i := strings.Index(hint[1:], `" `); i >= 0 {
			return hint[i+3:]
		}
	}
	if strings.HasPrefix(hint, "invalid size ") {
		return "is not a size: write one like 512M or 2G"
	}
	if m := parseDuration().FindStringIndex(hint); m != nil {
		return "is not a duration: write one like 10s, 1m30s or 2h"
	}
	if parseBool().MatchString(hint) {
		return "is not a boolean: write true or false"
	}
	return "cannot be read as the type this key needs"
}

// docker's loader: "invalid boolean: VALUE"
var parseBool = lazyRegexp(`^invalid boolean: `)

// valueHint says what a malformed value should look like.
func valueHint(msg string) string {
	switch {
	case parseNumber().MatchString(msg):
		return parseNumber().FindStringSubmatch(msg)[1] + " is not a whole number: write one like 3"
	case parseFloat().MatchString(msg):
		return parseFloat().FindStringSubmatch(msg)[1] + " is not a number: write one like 0.5"
	case parseDuration().MatchString(msg):
		return msg[parseDuration().FindStringIndex(msg)[0]:] + ": write a duration like 10s, 1m30s or 2h"
	case parseSize().MatchString(msg):
		return fmt.Sprintf("invalid size %q: write a size like 512M or 2G", parseSize().FindStringSubmatch(msg)[1])
	}
	return oneLine(msg)
}

// oneLine joins the lines of a message with "; ".
func oneLine(msg string) string {
	var parts []string
	for _, l := range strings.Split(msg, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			parts = append(parts, l)
		}
	}
	return strings.Join(parts, "; ")
}
