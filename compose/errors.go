package compose

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// Errors from compose-go name the key but often not what to do, and some
// span several lines. explain rewrites the shapes a user meets into one
// line that names the key and says how to fix it; others pass through,
// flattened to one line.

var (
	// mapstructure: "decoding failed due to the following error(s):\n\n'services[web].x' msg"
	decodeErr = regexp.MustCompile(`(?s)^decoding failed due to the following error\(s\):\s*'([^']*)' (.*)$`)
	// jsonschema: "validating F: services.web.imagee false schema"
	falseSchema = regexp.MustCompile(`^validating [^:]*: (\S+) false schema$`)
	// jsonschema: "validating F: services.web additional properties 'x' not allowed"
	additional = regexp.MustCompile(`^validating [^:]*: *(\S*) ?additional propert(?:y|ies) '([^']*)' not allowed$`)
	// compose-go: "invalid interpolation format for X.\nYou may need to escape any $ with another $.\n${A"
	badInterpolation = regexp.MustCompile(`(?s)^invalid interpolation format for ([^\n]*?)\.?\n.*\n(.*)$`)
	// compose-go: `service "web" refers to undefined secret nope: invalid compose project`
	undefinedRef = regexp.MustCompile(`^service "([^"]*)" refers to undefined (secret|config|network|volume) (\S+): invalid compose project$`)
	// compose-go: "invalid hostPort: abc"
	hostPort = regexp.MustCompile(`^invalid (hostPort|containerPort): (\S+)$`)
	// compose-go: "error while interpolating services.web.x: failed to cast to expected type: ..."
	castErr = regexp.MustCompile(`^error while interpolating (\S+): failed to cast to expected type: (.*)$`)
	// compose-go: `service "web" has neither an image nor a build context specified: invalid compose project`
	noImage = regexp.MustCompile(`^service "([^"]*)" has neither an image nor a build context specified: invalid compose project$`)
	// compose-go: "secrets.x: one of file|environment must be set"
	noValue = regexp.MustCompile(`^((?:secrets|configs)\.\S+): one of (\S+) must be set$`)
	// jsonschema: "validating F: services.web.secrets must be a array"
	wantType = regexp.MustCompile(`^(validating [^:]*: \S+ must be) an? (array|mapping)$`)
)

// explain rewrites a compose-go load error; see above.
func explain(err error) error {
	msg := err.Error()
	if strings.Contains(msg, ": yaml: ") {
		return fmt.Errorf("%s: fix the YAML syntax there (indent with spaces, not tabs; close every bracket and quote; no key twice)", oneLine(msg))
	}
	if m := hostPort.FindStringSubmatch(msg); m != nil {
		return fmt.Errorf("ports: invalid %s %s: write ports like \"8080:80\" or {target: 80, published: 8080}, with port numbers from 1 to 65535", m[1], m[2])
	}
	if m := decodeErr.FindStringSubmatch(msg); m != nil {
		return fmt.Errorf("%s: %s", dotted(m[1]), valueHint(m[2]))
	}
	if m := falseSchema.FindStringSubmatch(msg); m != nil {
		return fmt.Errorf("%s: unknown key: check its spelling against the compose specification, or remove it", m[1])
	}
	if m := additional.FindStringSubmatch(msg); m != nil {
		key := m[2]
		if m[1] != "" {
			key = m[1] + "." + key
		}
		return fmt.Errorf("%s: unknown key: check its spelling against the compose specification, or remove it", key)
	}
	if m := badInterpolation.FindStringSubmatch(msg); m != nil {
		return fmt.Errorf("%s: invalid interpolation %s: close it like ${VAR} or ${VAR:-default}, or write a literal $ as $$", m[1], strings.TrimSpace(m[2]))
	}
	if m := undefinedRef.FindStringSubmatch(msg); m != nil {
		return fmt.Errorf("services.%s: refers to undefined %s %s: define %s under the top-level %ss:, or fix the reference", m[1], m[2], m[3], m[3], m[2])
	}
	if m := noImage.FindStringSubmatch(msg); m != nil {
		return fmt.Errorf("services.%s: no image: set image: (swarm cannot build images)", m[1])
	}
	if m := noValue.FindStringSubmatch(msg); m != nil {
		keys := strings.Split(m[2], "|")
		for i := range keys {
			keys[i] += ":"
		}
		return fmt.Errorf("%s: no value: set %s, or mark it external: true", m[1], strings.Join(keys, " or "))
	}
	if m := wantType.FindStringSubmatch(msg); m != nil {
		like := map[string]string{"array": "list, like [a, b]", "mapping": "mapping, like {KEY: value}"}
		return fmt.Errorf("%s a %s", m[1], like[m[2]])
	}
	if m := castErr.FindStringSubmatch(msg); m != nil {
		return fmt.Errorf("%s: %s", m[1], valueHint(m[2]))
	}
	if strings.Contains(msg, "\n") {
		return errors.New(oneLine(msg))
	}
	return err
}

// dotted turns mapstructure's services[web].deploy into services.web.deploy.
func dotted(path string) string {
	return strings.NewReplacer("[", ".", "]", "").Replace(path)
}

var (
	parseNumber   = regexp.MustCompile(`strconv\.(?:Atoi|ParseInt|ParseUint): parsing ("[^"]*"): invalid syntax`)
	parseFloat    = regexp.MustCompile(`strconv\.ParseFloat: parsing ("[^"]*"): invalid syntax`)
	parseDuration = regexp.MustCompile(`^time: (?:invalid duration|unknown unit|missing unit)`)
	parseSize     = regexp.MustCompile(`^invalid size: '([^']*)'`)
)

// valueHint says what a malformed value should look like.
func valueHint(msg string) string {
	switch {
	case parseNumber.MatchString(msg):
		return parseNumber.FindStringSubmatch(msg)[1] + " is not a whole number: write one like 3"
	case parseFloat.MatchString(msg):
		return parseFloat.FindStringSubmatch(msg)[1] + " is not a number: write one like 0.5"
	case parseDuration.MatchString(msg):
		return strings.TrimPrefix(msg, "time: ") + ": write a duration like 10s, 1m30s or 2h"
	case parseSize.MatchString(msg):
		return fmt.Sprintf("invalid size %q: write a size like 512M or 2G", parseSize.FindStringSubmatch(msg)[1])
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
