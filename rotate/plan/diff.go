package plan

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/moby/moby/api/types/swarm"
)

// FieldDiff is one field of a service spec that a deploy changes.
type FieldDiff struct {
	Path string `json:"path"`
	From any    `json:"from,omitempty"`
	To   any    `json:"to,omitempty"`
}

func (d FieldDiff) String() string {
	return fmt.Sprintf("%s: %s -> %s", d.Path, show(d.From), show(d.To))
}

func show(v any) string {
	if v == nil {
		return "(none)"
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// DiffSpecs lists the fields where two service specs differ, by their
// Engine API JSON paths. Empty and absent count as the same.
func DiffSpecs(from, to swarm.ServiceSpec) []FieldDiff {
	var out []FieldDiff
	diffJSON("", toTree(from), toTree(to), &out)
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

func toTree(v any) any {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // swarm specs always marshal
	}
	var t any
	if err := json.Unmarshal(b, &t); err != nil {
		panic(err)
	}
	return dropEmpty(t)
}

// dropEmpty drops empty values, so that nil and empty compare equal.
func dropEmpty(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			if p := dropEmpty(e); p == nil {
				delete(v, k)
			} else {
				v[k] = p
			}
		}
		if len(v) == 0 {
			return nil
		}
		return v
	case []any:
		for i := range v {
			v[i] = dropEmpty(v[i])
		}
		if len(v) == 0 {
			return nil
		}
		return v
	case string:
		if v == "" {
			return nil
		}
	case bool:
		if !v {
			return nil
		}
	case float64:
		if v == 0 {
			return nil
		}
	}
	return v
}

func diffJSON(path string, a, b any, out *[]FieldDiff) {
	am, aok := a.(map[string]any)
	bm, bok := b.(map[string]any)
	if aok && bok {
		keys := map[string]bool{}
		for k := range am {
			keys[k] = true
		}
		for k := range bm {
			keys[k] = true
		}
		for k := range keys {
			diffJSON(join(path, k), am[k], bm[k], out)
		}
		return
	}
	as, aok := a.([]any)
	bs, bok := b.([]any)
	if aok && bok && len(as) == len(bs) {
		for i := range as {
			diffJSON(fmt.Sprintf("%s[%d]", path, i), as[i], bs[i], out)
		}
		return
	}
	if !equalJSON(a, b) {
		if strings.HasPrefix(path, "TaskTemplate.ContainerSpec.Env") {
			// Environment values are often credentials: a plan (a pull
			// request's, say) names the variables, not their values.
			a, b = maskEnv(a), maskEnv(b)
		}
		*out = append(*out, FieldDiff{Path: path, From: a, To: b})
	}
}

// maskEnv keeps the names of KEY=value entries and hides the values.
func maskEnv(v any) any {
	switch v := v.(type) {
	case string:
		if k, _, ok := strings.Cut(v, "="); ok {
			return k + "=(hidden)"
		}
		return v
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = maskEnv(e)
		}
		return out
	}
	return v
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func equalJSON(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

// CopySpec is a deep copy of a service spec.
func CopySpec(spec swarm.ServiceSpec) swarm.ServiceSpec {
	b, err := json.Marshal(spec)
	if err != nil {
		panic(err)
	}
	var out swarm.ServiceSpec
	if err := json.Unmarshal(b, &out); err != nil {
		panic(err)
	}
	return out
}

// Summary is a one-line description of a diff, for progress lines.
func Summary(diffs []FieldDiff) string {
	var paths []string
	for _, d := range diffs {
		paths = append(paths, d.Path)
	}
	if len(paths) > 4 {
		paths = append(paths[:4], fmt.Sprintf("and %d more", len(paths)-4))
	}
	return strings.Join(paths, ", ")
}
