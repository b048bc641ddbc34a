package compose

import (
	"bytes"
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/moby/moby/client/pkg/versions"
	"gopkg.in/yaml.v3"
)

// Render returns the stack as a compose file that `docker stack config`
// and `docker stack deploy` read back to the same stack: docker's own
// encoding of what docker's loader read (as `docker stack config` prints
// it), with every $ in a value written $$, since reading it interpolates
// again.
//
// Two changes keep it readable, on its own, as the same stack: env_file is
// left out (docker's loader has already read those files into
// environment, and their relative paths would no longer resolve), and a
// version below 3.5 is written 3.5, the first whose schema has the name:
// of an external network, secret or config (docker's loader turns the
// older external: {name: x} into name: x).
func (p *Project) Render() ([]byte, error) {
	cfg := *p.Config
	cfg.Services = slices.Clone(cfg.Services)
	for i := range cfg.Services {
		cfg.Services[i].EnvFile = nil
	}
	if versions.LessThan(cfg.Version, minRenderVersion) {
		cfg.Version = minRenderVersion
	}
	escaped := escapeDollars(reflect.ValueOf(&cfg)).Interface()
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(escaped); err != nil {
		return nil, fmt.Errorf("render: %w", err)
	}
	return buf.Bytes(), nil
}

// minRenderVersion is the first compose file version whose schema allows
// name: on networks, secrets and configs (docker/cli's config_schema_v3.5.json).
const minRenderVersion = "3.5"

// escapeDollars copies v with $ written $$ in every string value; map keys
// and field names are not interpolated, so they stay as they are. It
// walks the typed config once, so that one encoding pass renders it.
func escapeDollars(v reflect.Value) reflect.Value {
	switch v.Kind() {
	case reflect.String:
		if !strings.Contains(v.String(), "$") {
			return v
		}
		out := reflect.New(v.Type()).Elem()
		out.SetString(strings.ReplaceAll(v.String(), "$", "$$"))
		return out
	case reflect.Pointer:
		if v.IsNil() {
			return v
		}
		out := reflect.New(v.Type().Elem())
		out.Elem().Set(escapeDollars(v.Elem()))
		return out
	case reflect.Interface:
		if v.IsNil() {
			return v
		}
		out := reflect.New(v.Type()).Elem()
		out.Set(escapeDollars(v.Elem()))
		return out
	case reflect.Struct:
		return escapeStruct(v)
	case reflect.Slice:
		if v.IsNil() {
			return v
		}
		out := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
		for i := 0; i < v.Len(); i++ {
			out.Index(i).Set(escapeDollars(v.Index(i)))
		}
		return out
	case reflect.Map:
		return escapeMap(v)
	}
	return v
}

func escapeStruct(v reflect.Value) reflect.Value {
	out := reflect.New(v.Type()).Elem()
	out.Set(v) // unexported fields as they are
	for i := 0; i < v.NumField(); i++ {
		if out.Field(i).CanSet() {
			out.Field(i).Set(escapeDollars(v.Field(i)))
		}
	}
	return out
}

func escapeMap(v reflect.Value) reflect.Value {
	if v.IsNil() {
		return v
	}
	out := reflect.MakeMapWithSize(v.Type(), v.Len())
	for it := v.MapRange(); it.Next(); {
		out.SetMapIndex(it.Key(), escapeDollars(it.Value()))
	}
	return out
}
