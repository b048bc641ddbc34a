package plan

import (
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/api/types/swarm"
)

// State is what the engine holds that a deploy of one stack depends on.
type State struct {
	Stack string
	// Networks by name: the stack's own and every other (for external ones).
	Networks map[string]network.Summary
	// SwarmIDs are the swarm's IDs of the predefined networks (host,
	// bridge) that the stack's services are attached to: swarm gives them
	// IDs of its own, which the network list does not show.
	SwarmIDs map[string]string
	// Secrets and Configs: every one in the swarm, by name (external
	// references may name any of them).
	Secrets map[string]swarm.Secret
	Configs map[string]swarm.Config
	// Services: every one in the swarm, so that prune never removes a
	// version another stack refers to.
	Services []swarm.Service
}

// StackServices are the services labelled with the stack's namespace.
func (s *State) StackServices() map[string]swarm.Service {
	out := map[string]swarm.Service{}
	for _, svc := range s.Services {
		if svc.Spec.Labels[LabelNamespace] == s.Stack {
			out[svc.Spec.Name] = svc
		}
	}
	return out
}
