package engine

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"

	"github.com/stackctl/stackctl/compose"
	"github.com/stackctl/stackctl/rotate/plan"
)

// Reporter receives progress. Nothing it receives holds a value.
type Reporter interface {
	// Printf reports one step: a line of its own.
	Printf(format string, args ...any)
	// Status reports where one service's rollout stands now.
	Status(service, status string)
}

// Quiet is a Reporter that reports nothing.
type Quiet struct{}

func (Quiet) Printf(string, ...any) {}
func (Quiet) Status(string, string) {}

// Rollout is one service that Apply created or updated.
type Rollout struct {
	Name    string
	ID      string
	Created bool
	// prev is the update status before our update, to tell a fresh one from a stale one.
	prev *swarm.UpdateStatus
	// spec is what was sent; replicas and mode decide when it has converged.
	spec  swarm.ServiceSpec
	start time.Time
}

// applier writes what a plan creates and updates.
type applier interface {
	NetworkCreate(ctx context.Context, name string, options client.NetworkCreateOptions) (client.NetworkCreateResult, error)
	SecretCreate(ctx context.Context, options client.SecretCreateOptions) (client.SecretCreateResult, error)
	SecretList(ctx context.Context, options client.SecretListOptions) (client.SecretListResult, error)
	ConfigCreate(ctx context.Context, options client.ConfigCreateOptions) (client.ConfigCreateResult, error)
	ConfigList(ctx context.Context, options client.ConfigListOptions) (client.ConfigListResult, error)
	ServiceCreate(ctx context.Context, options client.ServiceCreateOptions) (client.ServiceCreateResult, error)
	ServiceInspect(ctx context.Context, serviceID string, options client.ServiceInspectOptions) (client.ServiceInspectResult, error)
	ServiceUpdate(ctx context.Context, serviceID string, options client.ServiceUpdateOptions) (client.ServiceUpdateResult, error)
	ServiceRemove(ctx context.Context, serviceID string, options client.ServiceRemoveOptions) (client.ServiceRemoveResult, error)
}

// Applied is what Apply did: the rollouts it started, and the ID of every
// version the services refer to by kind/name (those it created among them).
type Applied struct {
	Rollouts []Rollout
	IDs      map[string]string
}

// Apply carries out a plan in docker stack deploy's order: networks, then
// secret and config versions, then services, each changed service with
// exactly one create or update, all sent at once. The plan is not changed.
func Apply(ctx context.Context, eng applier, p *plan.Plan, report Reporter) (Applied, error) {
	var out Applied
	if err := createNetworks(ctx, eng, p, report); err != nil {
		return out, err
	}
	var err error
	if out.IDs, err = createVersions(ctx, eng, p, report); err != nil {
		return out, err
	}
	out.Rollouts, err = applyServices(ctx, eng, p, out.IDs, report)
	if err == nil {
		return out, nil
	}
	if len(out.Rollouts) == 0 || ctx.Err() != nil || client.IsErrConnectionFailed(err) {
		// Interrupted, or the engine is out of reach: a re-run picks up.
		return out, err
	}
	// The engine refused part of the deploy: put back the services it
	// took, so that no stack is left half on the old spec, half on the new.
	uerr := undo(context.WithoutCancel(ctx), eng, out.Rollouts, report)
	out.Rollouts = nil
	return out, errors.Join(err, uerr)
}

func createNetworks(ctx context.Context, eng applier, p *plan.Plan, report Reporter) error {
	for _, n := range p.Networks {
		if n.Action != plan.Create {
			continue
		}
		report.Printf("creating network %s", n.Name)
		if _, err := eng.NetworkCreate(ctx, n.Name, n.Options); err != nil && !errdefs.IsConflict(err) {
			return fmt.Errorf("create network %s: %w", n.Name, err)
		}
	}
	return nil
}

// createVersions creates the plan's new versions and returns the ID of
// every version by kind/name.
func createVersions(ctx context.Context, eng applier, p *plan.Plan, report Reporter) (map[string]string, error) {
	ids := map[string]string{}
	for i := range p.Versions {
		v := &p.Versions[i] // read only
		if v.Action != plan.Create {
			ids[string(v.Kind)+"/"+v.Name] = v.ID
			continue
		}
		report.Printf("creating %s %s", v.Kind, v.Name)
		id, err := createVersion(ctx, eng, v)
		if err != nil {
			return nil, err
		}
		ids[string(v.Kind)+"/"+v.Name] = id
	}
	return ids, nil
}

// applyServices creates or updates every changed service, at once, and
// returns the rollouts that started and the engine's refusals.
func applyServices(ctx context.Context, eng applier, p *plan.Plan, ids map[string]string, report Reporter) ([]Rollout, error) {
	var (
		mu       sync.Mutex
		rollouts []Rollout
		errs     []error
		wg       sync.WaitGroup
	)
	for _, planned := range p.Services {
		if planned.Action == plan.Unchanged {
			continue
		}
		// The plan is a value: the spec sent is a copy, with the IDs of
		// the versions just created.
		sc := planned
		sc.Spec = plan.CopySpec(planned.Spec)
		if err := fillIDs(&sc.Spec, ids); err != nil {
			wg.Wait()
			return rollouts, fmt.Errorf("service %s: %w", sc.Name, err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := applyService(ctx, eng, &sc, report)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			rollouts = append(rollouts, r)
		}()
	}
	wg.Wait()
	return rollouts, errors.Join(errs...)
}

// undo puts back the services an apply changed: a created one is removed,
// an updated one rolled back to its previous spec.
func undo(ctx context.Context, eng applier, rollouts []Rollout, report Reporter) error {
	var failed, names []string
	for _, r := range rollouts {
		names = append(names, r.Name)
		if r.Created {
			report.Printf("removing service %s, which this deploy created", r.Name)
			if _, err := eng.ServiceRemove(ctx, r.ID, client.ServiceRemoveOptions{}); err != nil {
				failed = append(failed, fmt.Sprintf("remove %s: %v", r.Name, err))
			}
			continue
		}
		report.Printf("rolling back service %s", r.Name)
		if err := rollBack(ctx, eng, r.ID); err != nil {
			failed = append(failed, fmt.Sprintf("roll back %s: %v", r.Name, err))
		}
	}
	sort.Strings(names)
	if len(failed) > 0 {
		return fmt.Errorf("the engine refused part of the deploy, and putting back the services it took failed (%s): run stackctl deploy again once the cause is fixed", strings.Join(failed, "; "))
	}
	return fmt.Errorf("the engine refused part of the deploy, so the services it took were put back (%s): nothing of this deploy is live but its new versions, which the next deploy reuses or prunes", strings.Join(names, ", "))
}

// rollBack asks swarm to put a service back on its previous spec, at the
// version it has now: its own orchestrator moves the version on as the
// update it was given starts, so an update out of sequence is retried.
func rollBack(ctx context.Context, eng applier, id string) error {
	for attempt := 1; ; attempt++ {
		got, err := eng.ServiceInspect(ctx, id, client.ServiceInspectOptions{})
		if err != nil {
			return err
		}
		svc := got.Service
		_, err = eng.ServiceUpdate(ctx, id, client.ServiceUpdateOptions{Version: svc.Version, Spec: svc.Spec, Rollback: "previous"})
		if err == nil || !outOfSequence(err) || attempt == maxOutOfSequence {
			return err
		}
	}
}

// outOfSequence: swarm refused an update because the service's version
// moved on since it was read. swarmkit says so only in the message
// (controlapi's "update out of sequence", gRPC code Unknown).
func outOfSequence(err error) bool {
	return strings.Contains(err.Error(), "update out of sequence")
}

func createVersion(ctx context.Context, eng applier, vc *plan.VersionChange) (string, error) {
	v := vc.Version
	ann := swarm.Annotations{Name: v.Name, Labels: vc.Labels}
	var templating *swarm.Driver
	if d := v.Source.TemplateDriver; d != "" {
		templating = &swarm.Driver{Name: d} // as docker's convert.Secrets and convert.Configs set it
	}
	var driver *swarm.Driver
	if v.Source.Driver != "" {
		driver = &swarm.Driver{Name: v.Source.Driver, Options: v.Source.DriverOpts} // as docker's convert.Secrets sets it
	}
	var err error
	if v.Source.Kind == compose.Secret {
		var resp client.SecretCreateResult
		resp, err = eng.SecretCreate(ctx, client.SecretCreateOptions{Spec: swarm.SecretSpec{Annotations: ann, Data: v.Data, Driver: driver, Templating: templating}})
		if err == nil {
			return resp.ID, nil
		}
	} else {
		var resp client.ConfigCreateResult
		resp, err = eng.ConfigCreate(ctx, client.ConfigCreateOptions{Spec: swarm.ConfigSpec{Annotations: ann, Data: v.Data, Templating: templating}})
		if err == nil {
			return resp.ID, nil
		}
	}
	// Another deploy made the same version first: content-addressed, so it is ours too.
	if errdefs.IsConflict(err) || strings.Contains(err.Error(), "already exists") {
		if id, ok := findVersion(ctx, eng, v.Source.Kind, v.Name); ok {
			return id, nil
		}
	}
	return "", fmt.Errorf("create %s %s: %w", v.Source.Kind, v.Name, err)
}

// findVersion looks a version up by exact name (the API's filter is a prefix match).
func findVersion(ctx context.Context, eng applier, kind compose.Kind, name string) (string, bool) {
	f := make(client.Filters).Add("name", name)
	if kind == compose.Secret {
		list, err := eng.SecretList(ctx, client.SecretListOptions{Filters: f})
		if err == nil {
			for _, x := range list.Items {
				if x.Spec.Name == name {
					return x.ID, true
				}
			}
		}
		return "", false
	}
	list, err := eng.ConfigList(ctx, client.ConfigListOptions{Filters: f})
	if err == nil {
		for _, x := range list.Items {
			if x.Spec.Name == name {
				return x.ID, true
			}
		}
	}
	return "", false
}

// fillIDs replaces the placeholders of new versions with their IDs.
func fillIDs(spec *swarm.ServiceSpec, ids map[string]string) error {
	cs := spec.TaskTemplate.ContainerSpec
	if cs == nil {
		return nil
	}
	for _, r := range cs.Secrets {
		if strings.HasPrefix(r.SecretID, compose.PendingID) {
			id, ok := ids["secret/"+r.SecretName]
			if !ok {
				return fmt.Errorf("secret %s was not created", r.SecretName)
			}
			r.SecretID = id
		}
	}
	for _, r := range cs.Configs {
		if strings.HasPrefix(r.ConfigID, compose.PendingID) {
			id, ok := ids["config/"+r.ConfigName]
			if !ok {
				return fmt.Errorf("config %s was not created", r.ConfigName)
			}
			r.ConfigID = id
		}
	}
	return nil
}

// maxOutOfSequence bounds the retries when another writer bumps a service's version.
const maxOutOfSequence = 5

func applyService(ctx context.Context, eng applier, sc *plan.ServiceChange, report Reporter) (Rollout, error) {
	r := Rollout{Name: sc.Name, spec: sc.Spec, start: time.Now()}
	if sc.Action == plan.Create {
		report.Printf("creating service %s", sc.Name)
		resp, err := eng.ServiceCreate(ctx, client.ServiceCreateOptions{Spec: sc.Spec})
		if err != nil {
			return r, fmt.Errorf("create service %s: %w", sc.Name, err)
		}
		r.ID, r.Created = resp.ID, true
		return r, nil
	}
	report.Printf("updating service %s (%s)", sc.Name, plan.Summary(sc.Diff))
	live := *sc.Live
	r.ID, r.prev = live.ID, live.UpdateStatus
	for attempt := 1; ; attempt++ {
		resp, err := eng.ServiceUpdate(ctx, live.ID, client.ServiceUpdateOptions{Version: live.Version, Spec: sc.Spec})
		if err == nil {
			for _, w := range resp.Warnings {
				report.Printf("service %s: %s", sc.Name, w)
			}
			return r, nil
		}
		if !outOfSequence(err) || attempt == maxOutOfSequence {
			return r, fmt.Errorf("update service %s: %w", sc.Name, err)
		}
		got, ierr := eng.ServiceInspect(ctx, live.ID, client.ServiceInspectOptions{})
		if ierr != nil {
			return r, fmt.Errorf("update service %s: %w (and inspect: %v)", sc.Name, err, ierr)
		}
		svc := got.Service
		live = svc
		r.prev = svc.UpdateStatus
		sc.Spec.TaskTemplate.ForceUpdate = svc.Spec.TaskTemplate.ForceUpdate
	}
}
