// Package engine holds every Docker Engine API call stackctl makes: it
// observes a stack, applies a plan, waits for the rollout, holds the
// stack's lock and removes versions, each behind a small interface.
package engine

import (
	"context"

	"github.com/moby/moby/client"
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
