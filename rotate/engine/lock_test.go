package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/api/types/system"
	"github.com/moby/moby/client"
	"github.com/stackctl/stackctl/rotate/engine/enginetest"
)

// configStore is an engine that holds configs the way a manager does:
// names are unique, creation is atomic, and the clock is the engine's.
type configStore struct {
	Engine
	mu      sync.Mutex
	now     time.Time
	configs map[string]swarm.Config // by ID
	next    int
	writes  int
}

func newConfigStore() *configStore {
	return &configStore{now: time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC), configs: map[string]swarm.Config{}}
}

func (s *configStore) advance(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.now = s.now.Add(d)
}

func (s *configStore) Info(context.Context, client.InfoOptions) (client.SystemInfoResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return client.SystemInfoResult{Info: system.Info{SystemTime: s.now.Format(time.RFC3339Nano)}}, nil
}

func (s *configStore) ConfigList(_ context.Context, o client.ConfigListOptions) (client.ConfigListResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out client.ConfigListResult
	for _, c := range s.configs {
		for name := range o.Filters["name"] {
			if strings.HasPrefix(c.Spec.Name, name) {
				out.Items = append(out.Items, c)
			}
		}
	}
	return out, nil
}

func (s *configStore) ConfigCreate(_ context.Context, o client.ConfigCreateOptions) (client.ConfigCreateResult, error) {
	spec := o.Spec
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writes++
	for _, c := range s.configs {
		if c.Spec.Name == spec.Name {
			return client.ConfigCreateResult{}, cerrdefs.ErrConflict.WithMessage("name conflicts with an existing object")
		}
	}
	s.next++
	id := fmt.Sprint("cfg", s.next)
	c := swarm.Config{ID: id, Spec: spec}
	c.CreatedAt, c.UpdatedAt, c.Version.Index = s.now, s.now, uint64(s.next)
	s.configs[id] = c
	return client.ConfigCreateResult{ID: id}, nil
}

func (s *configStore) ConfigUpdate(_ context.Context, id string, o client.ConfigUpdateOptions) (client.ConfigUpdateResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writes++
	c, ok := s.configs[id]
	if !ok || c.Version != o.Version {
		return client.ConfigUpdateResult{}, cerrdefs.ErrNotFound
	}
	c.Spec.Labels, c.UpdatedAt = o.Spec.Labels, s.now
	c.Version.Index++
	s.configs[id] = c
	return client.ConfigUpdateResult{}, nil
}

func (s *configStore) ConfigRemove(_ context.Context, id string, _ client.ConfigRemoveOptions) (client.ConfigRemoveResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writes++
	if _, ok := s.configs[id]; !ok {
		return client.ConfigRemoveResult{}, cerrdefs.ErrNotFound.WithMessage("config " + id + " not found")
	}
	delete(s.configs, id)
	return client.ConfigRemoveResult{}, nil
}

func TestLock(t *testing.T) {
	defer func(d time.Duration) { lockPoll = d }(lockPoll)
	lockPoll = time.Millisecond
	ctx := context.Background()
	first := LockOptions{Holder: "stackctl deploy by ci@runner-1 pid 7"}

	tests := []struct {
		name string
		// before runs between the first holder taking the lock and the second trying.
		before  func(s *configStore, l *Lock)
		second  LockOptions
		wantErr string
		wantOut string
	}{
		{
			name:    "held: fails at once naming the holder",
			second:  LockOptions{Holder: "b"},
			wantErr: "stack shop is locked by \"stackctl deploy by ci@runner-1 pid 7\" since 2026-11-24T12:00:00Z, last seen 0s ago: another stackctl is changing it",
		},
		{
			name:    "held: waits, then fails with how long it waited",
			second:  LockOptions{Holder: "b", Wait: 20 * time.Millisecond},
			wantErr: "(waited 0s): another stackctl",
			wantOut: "waiting for the lock of shop, held by \"stackctl deploy by ci@runner-1 pid 7\"",
		},
		{
			name: "released while waiting: taken",
			before: func(s *configStore, l *Lock) {
				go func() { time.Sleep(10 * time.Millisecond); l.Release(ctx) }()
			},
			second:  LockOptions{Holder: "b", Wait: time.Minute},
			wantOut: "waiting for the lock of shop",
		},
		{
			name:    "stale: taken over",
			before:  func(s *configStore, l *Lock) { s.advance(LockStale + time.Second) },
			second:  LockOptions{Holder: "b"},
			wantOut: "taking over the lock of shop: \"stackctl deploy by ci@runner-1 pid 7\" has not refreshed it for 2m1s",
		},
		{
			name:    "forced: removed and taken",
			second:  LockOptions{Holder: "b", Force: true},
			wantOut: "removing the lock of shop held by \"stackctl deploy by ci@runner-1 pid 7\" since 2026-11-24T12:00:00Z (--force-unlock)",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newConfigStore()
			l, err := AcquireLock(ctx, s, "shop", first, Quiet{})
			if err != nil {
				t.Fatal(err)
			}
			if tc.before != nil {
				tc.before(s, l)
			}
			var out enginetest.Log
			l2, err := AcquireLock(ctx, s, "shop", tc.second, &out)
			if tc.wantErr != "" {
				var held *LockHeld
				if !errors.As(err, &held) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want a LockHeld containing %q", err, tc.wantErr)
				}
				if len(s.configs) != 1 {
					t.Errorf("the failed attempt left %d locks", len(s.configs))
				}
			} else {
				if err != nil {
					t.Fatal(err)
				}
				if err := l2.Release(ctx); err != nil {
					t.Fatal(err)
				}
				if len(s.configs) != 0 {
					t.Errorf("released, yet %d configs are left", len(s.configs))
				}
			}
			if got := out.Text(); !strings.Contains(got, tc.wantOut) {
				t.Errorf("printed %q, want %q", got, tc.wantOut)
			}
		})
	}
}

// Many takers at once: exactly one holds the lock at any time.
func TestLockExcludes(t *testing.T) {
	defer func(d time.Duration) { lockPoll = d }(lockPoll)
	lockPoll = time.Millisecond
	s := newConfigStore()
	var (
		mu      sync.Mutex
		holders int
		wg      sync.WaitGroup
	)
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l, err := AcquireLock(context.Background(), s, "shop", LockOptions{Holder: fmt.Sprint(i), Wait: time.Minute}, Quiet{})
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			holders++
			if holders > 1 {
				t.Errorf("%d holders at once", holders)
			}
			mu.Unlock()
			time.Sleep(time.Millisecond)
			mu.Lock()
			holders--
			mu.Unlock()
			if err := l.Release(context.Background()); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if len(s.configs) != 0 {
		t.Errorf("%d locks left", len(s.configs))
	}
}

func TestLockNameFitsSwarm(t *testing.T) {
	short := LockName("shop")
	if short != "stackctl.lock.shop" {
		t.Errorf("LockName(shop) = %q", short)
	}
	long := strings.Repeat("a", 61)
	other := strings.Repeat("a", 60) + "b"
	if n := LockName(long); len(n) > 64 || n == LockName(other) || !strings.HasPrefix(n, "stackctl.lock.aaa") {
		t.Errorf("LockName of a 61-character stack = %q (%d characters), of another = %q", n, len(n), LockName(other))
	}
}

// TestLockLost: a command whose lock another took (--force-unlock) says so
// when it checks and when it releases, and removes nothing of the other's.
func TestLockLost(t *testing.T) {
	s := newConfigStore()
	ctx := context.Background()
	mine, err := AcquireLock(ctx, s, "shop", LockOptions{Holder: "first"}, &enginetest.Log{})
	if err != nil {
		t.Fatal(err)
	}
	if err := mine.Check(ctx); err != nil {
		t.Fatalf("check of a held lock: %v", err)
	}
	theirs, err := AcquireLock(ctx, s, "shop", LockOptions{Holder: "second", Force: true}, &enginetest.Log{})
	if err != nil {
		t.Fatal(err)
	}
	err = mine.Check(ctx)
	if !errors.Is(err, ErrLockLost) || !strings.Contains(err.Error(), `now held by "second"`) {
		t.Fatalf("check after --force-unlock by another: %v", err)
	}
	var cmdErr error = err
	mine.ReleaseInto(ctx, &cmdErr)
	if strings.Count(cmdErr.Error(), ErrLockLost.Error()) != 1 {
		t.Errorf("the loss is said %d times: %v", strings.Count(cmdErr.Error(), ErrLockLost.Error()), cmdErr)
	}
	if _, found, _ := currentLock(ctx, s, "shop"); !found {
		t.Error("releasing the lost lock removed the other's")
	}
	if err := theirs.Release(ctx); err != nil {
		t.Error(err)
	}
}
