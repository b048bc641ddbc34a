package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
)

// The lock on a stack is a swarm config: the manager creates a name once,
// atomically, so whoever creates it holds the lock. The holder refreshes
// it (a label update, which moves the config's UpdatedAt) while it works,
// and a lock whose last refresh is older than LockStale by the engine's own
// clock is taken over, so a killed deploy blocks others for LockStale at
// most. Times are the engine's, so clocks of CI runners do not matter.
const (
	LabelLock    = "io.stackctl.lock"
	LabelHolder  = "io.stackctl.holder"
	labelRefresh = "io.stackctl.refresh"

	LockStale = 2 * time.Minute
	// lockRefresh is how often the holder marks the lock as alive.
	lockRefresh = LockStale / 4
)

// lockPoll is how often a waiting deploy looks at the lock again.
var lockPoll = time.Second

// LockName is the config that locks a stack. Its dots keep it apart from
// versions (<stack>_<key>.<hash>) and from what docker stack deploy names.
// Swarm names have at most 64 characters; a stack name that leaves no room
// is cut and given a hash of the whole name, so that every stack docker
// stack deploy takes can be locked.
func LockName(stack string) string {
	const prefix, max = "stackctl.lock.", 64
	name := prefix + stack
	if len(name) <= max {
		return name
	}
	sum := sha256.Sum256([]byte(stack))
	suffix := "." + hex.EncodeToString(sum[:])[:12]
	return strings.TrimRight(name[:max-len(suffix)], "._-") + suffix
}

// LockOptions say who takes a stack's lock and how long to wait for it.
type LockOptions struct {
	// Holder says who holds the lock, for the message others get.
	Holder string
	// Wait is how long to wait for another holder; 0 fails at once.
	Wait time.Duration
	// Force removes the current lock first, whoever holds it.
	Force bool
}

// LockHeld is the error of a deploy that found its stack locked.
type LockHeld struct {
	Stack  string
	Holder string
	Since  time.Time
	Seen   time.Duration // since the holder last refreshed the lock
	Waited time.Duration
}

func (e *LockHeld) Error() string {
	waited := ""
	if e.Waited > 0 {
		waited = fmt.Sprintf(" (waited %s)", e.Waited.Round(time.Second))
	}
	return fmt.Sprintf("stack %s is locked by %q since %s, last seen %s ago%s: another stackctl is changing it; wait for it (--lock-wait), or if it died run again with --force-unlock (a lock goes stale by itself %s after its holder stops)",
		e.Stack, e.Holder, e.Since.UTC().Format(time.RFC3339), e.Seen.Round(time.Second), waited, LockStale)
}

// Lock is a held stack lock. Release it when the writes are done.
type Lock struct {
	eng   lockStore
	id    string
	stop  chan struct{}
	done  sync.WaitGroup
	Stack string
	// Waited: another writer held the lock first, and may have changed the
	// stack and its files meanwhile.
	Waited bool
}

// lockStore keeps the stack's lock: a config, and the engine's clock.
type lockStore interface {
	Info(ctx context.Context, options client.InfoOptions) (client.SystemInfoResult, error)
	ConfigList(ctx context.Context, options client.ConfigListOptions) (client.ConfigListResult, error)
	ConfigCreate(ctx context.Context, options client.ConfigCreateOptions) (client.ConfigCreateResult, error)
	ConfigRemove(ctx context.Context, id string, options client.ConfigRemoveOptions) (client.ConfigRemoveResult, error)
	ConfigUpdate(ctx context.Context, id string, options client.ConfigUpdateOptions) (client.ConfigUpdateResult, error)
}

// AcquireLock takes the lock of stack, waiting up to opts.Wait for another
// holder, and keeps it fresh until Release.
func AcquireLock(ctx context.Context, eng lockStore, stack string, opts LockOptions, report Reporter) (*Lock, error) {
	spec := swarm.ConfigSpec{
		Annotations: swarm.Annotations{
			Name:   LockName(stack),
			Labels: map[string]string{LabelLock: stack, LabelHolder: opts.Holder},
		},
	}
	spec.Data, _ = json.Marshal(map[string]string{"stack": stack, "holder": opts.Holder})
	start := time.Now()
	told := false
	for {
		cur, found, err := currentLock(ctx, eng, stack)
		if err != nil {
			return nil, err
		}
		if found {
			takeOver, err := waitForHolder(ctx, eng, stack, cur, opts, time.Since(start), &told, report)
			if err != nil {
				return nil, err
			}
			if !takeOver {
				continue // waited a poll: look again
			}
			// Remove by ID: if another deploy took the lock over first,
			// this removes nothing and the create below fails.
			if _, err := eng.ConfigRemove(ctx, cur.ID, client.ConfigRemoveOptions{}); err != nil && !errdefs.IsNotFound(err) {
				return nil, fmt.Errorf("remove the lock of %s: %w", stack, err)
			}
			opts.Force = false
		}
		created, err := eng.ConfigCreate(ctx, client.ConfigCreateOptions{Spec: spec})
		if errdefs.IsConflict(err) {
			continue // someone else took it since we looked
		}
		if err != nil {
			return nil, fmt.Errorf("take the lock of %s: %w", stack, err)
		}
		l := &Lock{eng: eng, id: created.ID, stop: make(chan struct{}), Stack: stack, Waited: told}
		l.done.Add(1)
		go l.refresh(context.WithoutCancel(ctx), spec)
		return l, nil
	}
}

// waitForHolder decides about a lock someone holds: take it over (forced,
// or its holder stopped refreshing it), or wait one poll, or give up once
// opts.Wait has passed, with the holder as the error.
func waitForHolder(ctx context.Context, eng lockStore, stack string, cur swarm.Config, opts LockOptions, waited time.Duration, told *bool, report Reporter) (takeOver bool, err error) {
	held, err := lockHeld(ctx, eng, stack, cur)
	if err != nil {
		return false, err
	}
	switch {
	case opts.Force:
		report.Printf("removing the lock of %s held by %q since %s (--force-unlock)", stack, held.Holder, held.Since.UTC().Format(time.RFC3339))
		return true, nil
	case held.Seen > LockStale:
		report.Printf("taking over the lock of %s: %q has not refreshed it for %s", stack, held.Holder, held.Seen.Round(time.Second))
		return true, nil
	case waited >= opts.Wait:
		if opts.Wait > 0 {
			held.Waited = waited
		}
		return false, held
	}
	if !*told {
		report.Printf("waiting for the lock of %s, held by %q since %s", stack, held.Holder, held.Since.UTC().Format(time.RFC3339))
		*told = true
	}
	return false, sleep(ctx, lockPoll)
}

// refresh marks the lock alive every lockRefresh until Release.
func (l *Lock) refresh(ctx context.Context, spec swarm.ConfigSpec) {
	defer l.done.Done()
	t := time.NewTicker(lockRefresh)
	defer t.Stop()
	for n := 1; ; n++ {
		select {
		case <-l.stop:
			return
		case <-t.C:
		}
		cur, found, err := currentLock(ctx, l.eng, l.Stack)
		if err != nil || !found || cur.ID != l.id {
			continue // the next refresh tries again; a lost lock shows as stale to others
		}
		spec.Labels = map[string]string{LabelLock: l.Stack, LabelHolder: spec.Labels[LabelHolder], labelRefresh: strconv.Itoa(n)}
		_, _ = l.eng.ConfigUpdate(ctx, l.id, client.ConfigUpdateOptions{Version: cur.Version, Spec: spec})
	}
}

// ErrLockLost: another command took the lock while this one held it.
var ErrLockLost = errors.New("the lock was taken from this command while it ran")

// Check fails with ErrLockLost when the lock is no longer this command's
// (another stackctl removed it with --force-unlock, or took it over as
// stale): the rollout this command waited for may have been replaced by
// the other's.
func (l *Lock) Check(ctx context.Context) error {
	if l == nil {
		return nil
	}
	cur, found, err := currentLock(context.WithoutCancel(ctx), l.eng, l.Stack)
	if err != nil {
		return err
	}
	if found && cur.ID == l.id {
		return nil
	}
	holder := "nobody"
	if found {
		holder = strconv.Quote(cur.Spec.Labels[LabelHolder])
	}
	return fmt.Errorf("stack %s: %w (now held by %s): what it sent may have been replaced by another writer, and nothing was pruned: check the stack with stackctl plan, and deploy again", l.Stack, ErrLockLost, holder)
}

// Release gives the lock up. It runs even when ctx is cancelled, so that an
// interrupted deploy does not leave its lock behind.
func (l *Lock) Release(ctx context.Context) error {
	if l == nil {
		return nil
	}
	close(l.stop)
	l.done.Wait()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if err := l.Check(ctx); errors.Is(err, ErrLockLost) {
		return err // by ID, the remove below would remove nothing of the other's
	}
	if _, err := l.eng.ConfigRemove(ctx, l.id, client.ConfigRemoveOptions{}); err != nil && !errdefs.IsNotFound(err) {
		return fmt.Errorf("release the lock of %s: %w: remove it with docker config rm %s", l.Stack, err, LockName(l.Stack))
	}
	return nil
}

// ReleaseInto releases the lock at the end of a command whose error is
// *errp. When the connection to the engine was lost, it says so in one
// message: what was sent may or may not have been applied, and a re-run
// (with --force-unlock if the lock could not be released) picks up.
func (l *Lock) ReleaseInto(ctx context.Context, errp *error) {
	rerr := l.Release(ctx)
	if errors.Is(rerr, ErrLockLost) && errors.Is(*errp, ErrLockLost) {
		return // said once
	}
	if !client.IsErrConnectionFailed(*errp) && !client.IsErrConnectionFailed(rerr) {
		*errp = errors.Join(*errp, rerr)
		return
	}
	cause, unlock := *errp, ""
	if cause == nil {
		cause = rerr
	}
	if rerr != nil {
		unlock = " with --force-unlock (the lock could not be released)"
	}
	*errp = fmt.Errorf("lost the connection to the Docker engine: %w: what was sent before may or may not have been applied, and nothing was pruned: run the same command again%s", cause, unlock)
}

func currentLock(ctx context.Context, eng lockStore, stack string) (swarm.Config, bool, error) {
	list, err := eng.ConfigList(ctx, client.ConfigListOptions{Filters: make(client.Filters).Add("name", LockName(stack))})
	if err != nil {
		return swarm.Config{}, false, fmt.Errorf("read the lock of %s: %w", stack, err)
	}
	for _, c := range list.Items { // the name filter matches prefixes too
		if c.Spec.Name == LockName(stack) {
			return c, true, nil
		}
	}
	return swarm.Config{}, false, nil
}

// lockHeld describes a lock, with its age by the engine's clock.
func lockHeld(ctx context.Context, eng lockStore, stack string, c swarm.Config) (*LockHeld, error) {
	got, err := eng.Info(ctx, client.InfoOptions{})
	if err != nil {
		return nil, fmt.Errorf("cannot reach the Docker engine: %w", err)
	}
	now, err := time.Parse(time.RFC3339Nano, got.Info.SystemTime)
	if err != nil {
		return nil, errors.New("the engine did not say what time it is: cannot tell whether the lock of " + stack + " is stale")
	}
	holder := c.Spec.Labels[LabelHolder]
	if holder == "" {
		holder = "an unknown holder"
	}
	return &LockHeld{Stack: stack, Holder: holder, Since: c.CreatedAt, Seen: now.Sub(c.UpdatedAt)}, nil
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
