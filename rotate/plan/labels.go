package plan

import (
	"maps"
	"path/filepath"
	"strings"

	"github.com/stackctl/stackctl/compose"
)

// Labels on what stackctl makes. com.docker.stack.namespace is docker's own,
// so `docker stack ls/ps/services/rm` treat a stackctl stack as theirs.
const (
	LabelNamespace = "com.docker.stack.namespace"
	LabelImage     = "com.docker.stack.image"
	// LabelName is the swarm name a version belongs to (<stack>_<key> or name:).
	LabelName = "io.stackctl.name"
	// LabelHash is the version's keyed content hash.
	LabelHash = "io.stackctl.hash"
	// LabelSource is where the value came from: a file relative to the
	// project's folder, and "#" and the SOPS key when there is one.
	LabelSource = "io.stackctl.source"
	// LabelStoreVersion is, for a value from a secret store, the store's
	// version of it (a KV version).
	LabelStoreVersion = "io.stackctl.store.version"
	// LabelEvery is the rotation policy in force when the version was made.
	LabelEvery = "io.stackctl.rotate.every"
	// LabelCreatedBy names who made the version: user@host, or
	// github:<owner>/<repo> under GitHub Actions, whose run the
	// LabelCI* labels name.
	LabelCreatedBy  = "io.stackctl.created-by"
	LabelCIRun      = "io.stackctl.ci.run"
	LabelCIWorkflow = "io.stackctl.ci.workflow"
	LabelCICommit   = "io.stackctl.ci.commit"
	LabelCIActor    = "io.stackctl.ci.actor"
)

// VersionLabels are the labels of a new version: the compose labels,
// the stack's, and its history (where its value came from, the policy,
// who made it). None holds a value or an unkeyed hash of one.
func VersionLabels(stack string, v *Version, projectDir string, provenance map[string]string) map[string]string {
	labels := maps.Clone(v.Source.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	labels[LabelNamespace] = stack
	if v.Source.Origin == compose.FromDriver {
		return labels // created as docker stack deploy creates it
	}
	for k, val := range provenance {
		labels[k] = val
	}
	labels[LabelName] = v.Source.Name
	labels[LabelHash] = v.Hash
	if src := sourceLabel(v.Source, projectDir); src != "" {
		labels[LabelSource] = src
	}
	if r := v.Source.Rotate; r != nil {
		labels[LabelEvery] = r.EverySpec
	}
	if v.StoreVersion != "" {
		labels[LabelStoreVersion] = v.StoreVersion
	}
	return labels
}

// sourceLabel is "secrets.enc.yaml#db.password", "environment:DB_PW",
// "content" or the x-store reference.
func sourceLabel(s compose.Source, dir string) string {
	switch s.Origin {
	case compose.FromFile:
		file := s.File
		if rel, err := filepath.Rel(dir, s.File); err == nil && dir != "" {
			file = filepath.ToSlash(rel)
		}
		if s.SOPS != nil && len(s.SOPS.Path) > 0 {
			file += "#" + strings.Join(s.SOPS.Path, ".")
		}
		return file
	case compose.FromEnvironment:
		return "environment:" + s.Variable
	case compose.FromContent:
		return "content"
	case compose.FromStore:
		return s.Store.URI
	}
	return ""
}
