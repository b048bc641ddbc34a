package engine

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"

	"github.com/stackctl/stackctl/rotate/plan"
)

// ErrNotManager means the engine cannot take swarm writes.
var ErrNotManager = errors.New(`this node is not a swarm manager. Use "docker swarm init" or "docker swarm join" to connect this node to swarm and try again`)

// ErrNoStack means the engine has nothing of the stack a command names.
var ErrNoStack = errors.New("no such stack")

// observer reads what the swarm holds.
type observer interface {
	Info(ctx context.Context, options client.InfoOptions) (client.SystemInfoResult, error)
	NetworkList(ctx context.Context, options client.NetworkListOptions) (client.NetworkListResult, error)
	NetworkInspect(ctx context.Context, id string, options client.NetworkInspectOptions) (client.NetworkInspectResult, error)
	SecretList(ctx context.Context, options client.SecretListOptions) (client.SecretListResult, error)
	ConfigList(ctx context.Context, options client.ConfigListOptions) (client.ConfigListResult, error)
	ServiceList(ctx context.Context, options client.ServiceListOptions) (client.ServiceListResult, error)
}

// CheckStack fails with ErrNoStack when the swarm has no service, secret or
// config of the stack: a mistyped name, most likely.
func CheckStack(ctx context.Context, eng observer, stack string) error {
	services, err := eng.ServiceList(ctx, client.ServiceListOptions{Filters: stackFilter(stack)})
	if err != nil {
		return fmt.Errorf("list services: %w", err)
	}
	if len(services.Items) > 0 {
		return nil
	}
	secrets, err := eng.SecretList(ctx, client.SecretListOptions{Filters: stackFilter(stack)})
	if err != nil {
		return fmt.Errorf("list secrets: %w", err)
	}
	configs, err := eng.ConfigList(ctx, client.ConfigListOptions{Filters: stackFilter(stack)})
	if err != nil {
		return fmt.Errorf("list configs: %w", err)
	}
	if len(secrets.Items)+len(configs.Items) > 0 {
		return nil
	}
	return fmt.Errorf("stack %s not found in this swarm: check the name (docker stack ls lists them), or deploy it first with stackctl deploy: %w", stack, ErrNoStack)
}

// CheckManager fails with the docker CLI's message when the engine is not
// a swarm manager.
func CheckManager(ctx context.Context, eng observer) error {
	got, err := eng.Info(ctx, client.InfoOptions{})
	if err != nil {
		return fmt.Errorf("cannot reach the Docker engine: %w", err)
	}
	if !got.Info.Swarm.ControlAvailable {
		return ErrNotManager
	}
	return nil
}

// Observe reads what the deploy of stack depends on. It writes nothing.
func Observe(ctx context.Context, eng observer, stack string) (*plan.State, error) {
	s := &plan.State{Stack: stack, Networks: map[string]network.Summary{}, Secrets: map[string]swarm.Secret{}, Configs: map[string]swarm.Config{}}
	nets, err := eng.NetworkList(ctx, client.NetworkListOptions{})
	if err != nil {
		return nil, fmt.Errorf("list networks: %w", err)
	}
	for _, n := range nets.Items {
		s.Networks[n.Name] = n
	}
	secrets, err := eng.SecretList(ctx, client.SecretListOptions{})
	if err != nil {
		return nil, fmt.Errorf("list secrets: %w", err)
	}
	for _, x := range secrets.Items {
		s.Secrets[x.Spec.Name] = x
	}
	configs, err := eng.ConfigList(ctx, client.ConfigListOptions{})
	if err != nil {
		return nil, fmt.Errorf("list configs: %w", err)
	}
	for _, x := range configs.Items {
		s.Configs[x.Spec.Name] = x
	}
	services, err := eng.ServiceList(ctx, client.ServiceListOptions{})
	if err != nil {
		return nil, fmt.Errorf("list services: %w", err)
	}
	s.Services = services.Items
	if err := findSwarmIDs(ctx, eng, s); err != nil {
		return nil, err
	}
	return s, nil
}

// findSwarmIDs inspects the networks the stack's services are attached to
// that the network list does not have: swarm's own objects for host and
// bridge.
func findSwarmIDs(ctx context.Context, eng observer, s *plan.State) error {
	s.SwarmIDs = map[string]string{}
	known := map[string]bool{}
	for _, n := range s.Networks {
		known[n.ID] = true
	}
	for _, svc := range s.StackServices() {
		for _, att := range svc.Spec.TaskTemplate.Networks {
			if known[att.Target] {
				continue
			}
			known[att.Target] = true
			got, err := eng.NetworkInspect(ctx, att.Target, client.NetworkInspectOptions{Scope: "swarm"})
			if err != nil {
				continue // gone since; the plan re-attaches by name
			}
			if n := got.Network; n.Scope == "swarm" {
				s.SwarmIDs[n.Name] = n.ID
			}
		}
	}
	return nil
}

func stackFilter(stack string) client.Filters {
	return make(client.Filters).Add("label", plan.LabelNamespace+"="+stack)
}

// taskLister reads tasks.
type taskLister interface {
	TaskList(ctx context.Context, options client.TaskListOptions) (client.TaskListResult, error)
}

// RunningTasks are the tasks the swarm wants running, by service ID.
func RunningTasks(ctx context.Context, eng taskLister) (map[string][]swarm.Task, error) {
	list, err := eng.TaskList(ctx, client.TaskListOptions{Filters: make(client.Filters).Add("desired-state", "running")})
	if err != nil {
		return nil, fmt.Errorf("list tasks: %w", err)
	}
	out := map[string][]swarm.Task{}
	for _, t := range list.Items {
		out[t.ServiceID] = append(out[t.ServiceID], t)
	}
	return out, nil
}

// Now is the engine's time, so that ages and due dates read the clock
// that stamped the versions; the local one if the engine does not say.
func Now(ctx context.Context, eng observer) time.Time {
	if got, err := eng.Info(ctx, client.InfoOptions{}); err == nil {
		if t, err := time.Parse(time.RFC3339Nano, got.Info.SystemTime); err == nil {
			return t
		}
	}
	return time.Now()
}
