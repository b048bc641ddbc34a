package rotate

import (
	"context"

	"github.com/moby/moby/client"
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
)

// Engine is the part of the Docker Engine API that stackctl uses: the
// small interfaces each step asks for, declared beside it (observer in
// observe.go, applier in apply.go, rolloutWatcher in wait.go, lockStore in
// lock.go, versionRemover in prune.go). *client.Client satisfies it;
// enginetest.Engine is an in-memory one; tests inject faults with a struct
// that embeds it and overrides a few methods.
type Engine interface {
	observer
	applier
	rolloutWatcher
	lockStore
	versionRemover
	ClientVersion() string
	PluginList(ctx context.Context, options client.PluginListOptions) (client.PluginListResult, error)
}
