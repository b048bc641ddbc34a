package plan

import (
	"fmt"
	"sort"
	"time"

	"github.com/moby/moby/api/types/swarm"

	"github.com/stackctl/stackctl/compose"
)

// Status is the inventory of a stack's secrets and configs: for each one
// the compose files define, its current version, age, policy and users;
// the other versions the engine keeps; and the stack's secrets and
// configs that nothing defines or uses. It holds no value.
type Status struct {
	Stack string `json:"stack"`
	// CheckedAt is the engine's time when the status was read.
	CheckedAt time.Time      `json:"checked_at"`
	Objects   []ObjectStatus `json:"objects"`
	Orphans   []Orphan       `json:"orphans"`
}

// ObjectStatus is one secret or config of the compose files.
type ObjectStatus struct {
	Kind compose.Kind `json:"kind"`
	Key  string       `json:"key"`
	// Name is the swarm name before versioning (<stack>_<key> or name:).
	Name string `json:"name"`
	// Source is where the value comes from (LabelSource's form: a file
	// and key, an x-store reference ...), or "external".
	Source string `json:"source"`
	// StoreVersion is, for a value from a secret store, the store's
	// version of the current value.
	StoreVersion string `json:"store_version,omitempty"`
	// Current is the version the compose files call for now; Deployed
	// says whether the engine holds it.
	Current   string     `json:"current"`
	Deployed  bool       `json:"deployed"`
	CreatedAt *time.Time `json:"created_at,omitempty"`
	// AgeSeconds is how long the current version has existed.
	AgeSeconds float64         `json:"age_seconds,omitempty"`
	CreatedBy  string          `json:"created_by,omitempty"`
	Policy     *PolicyStatus   `json:"policy,omitempty"`
	Users      []Use           `json:"users"`
	Versions   []VersionStatus `json:"versions,omitempty"`
	Problems   []string        `json:"problems,omitempty"`
}

// PolicyStatus is an x-rotate policy and when it is due.
type PolicyStatus struct {
	Every string `json:"every"`
	// Due is when the current version is due for a new value.
	Due     *time.Time `json:"due,omitempty"`
	Overdue bool       `json:"overdue"`
}

// Use is one service that mounts an object, and whether it runs the
// current version.
type Use struct {
	Service string `json:"service"`
	Target  string `json:"target"`
	// Deployed: the service exists in the swarm.
	Deployed bool `json:"deployed"`
	// OnCurrent: the service's spec mounts the current version.
	OnCurrent bool `json:"on_current"`
	// Tasks are its running tasks; TasksOnCurrent those that read the
	// current version.
	Tasks          int `json:"tasks"`
	TasksOnCurrent int `json:"tasks_on_current"`
}

// VersionStatus is one version the engine holds of an object.
type VersionStatus struct {
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
	// State is "current", "in use" (a service still mounts it),
	// "rollback" (a service's previous spec mounts it) or "unused".
	State string `json:"state"`
}

// Orphan is a secret or config of the stack that no compose file defines
// and no service uses. Made by stackctl, prune removes it; else it is
// only listed.
type Orphan struct {
	Kind      compose.Kind `json:"kind"`
	Name      string       `json:"name"`
	CreatedAt time.Time    `json:"created_at"`
	Stackctl  bool         `json:"made_by_stackctl"`
}

// Version states.
const (
	StateCurrent  = "current"
	StateInUse    = "in use"
	StateRollback = "rollback"
	StateUnused   = "unused"
)

// Healthy reports whether nothing is overdue and every service runs the
// current version of what it mounts.
func (s *Status) Healthy() bool {
	for _, o := range s.Objects {
		if len(o.Problems) > 0 {
			return false
		}
	}
	return true
}

// Due are the keys of the secrets whose policy says they are due.
func (s *Status) Due() []string {
	var out []string
	for _, o := range s.Objects {
		if o.Policy != nil && o.Policy.Overdue {
			out = append(out, o.Key)
		}
	}
	return out
}

// Inventory reads the status of d's secrets and configs from the engine's
// state s and the running tasks of the stack's services (by service ID),
// at the engine's time now.
func Inventory(d *Desired, s *State, tasks map[string][]swarm.Task, now time.Time) *Status {
	st := &Status{Stack: d.Project.Stack, CheckedAt: now, Objects: []ObjectStatus{}, Orphans: []Orphan{}}
	refs := liveRefs(s)
	defined := map[string]bool{}
	for i := range d.Versions {
		v := &d.Versions[i]
		o := ObjectStatus{Kind: v.Source.Kind, Key: v.Source.Key, Name: v.Source.Name, Source: sourceLabel(v.Source, d.Project.WorkingDir), Current: v.Name, StoreVersion: v.StoreVersion}
		if v.Source.Rotate != nil {
			o.Policy = &PolicyStatus{Every: v.Source.Rotate.EverySpec}
		}
		o.observe(s, refs, now)
		if o.Policy != nil && o.CreatedAt != nil {
			due := o.CreatedAt.Add(v.Source.Rotate.Every)
			o.Policy.Due, o.Policy.Overdue = &due, !now.Before(due)
		}
		o.Users = users(d, s, tasks, v.Source.Kind, v.Source.Key, v.Name)
		o.judge(now)
		defined[string(o.Kind)+"/"+o.Name] = true
		st.Objects = append(st.Objects, o)
	}
	st.Objects = append(st.Objects, externals(d, s, tasks, refs, now)...)
	for _, o := range st.Objects {
		defined[string(o.Kind)+"/"+o.Name] = true
		defined[string(o.Kind)+"/"+o.Current] = true
	}
	st.Orphans = orphans(s, refs, defined)
	return st
}

// observe fills in what the engine holds of o: its current version and
// every other version of its name.
func (o *ObjectStatus) observe(s *State, refs map[string]string, now time.Time) {
	for _, m := range objectsOf(s, o.Kind) {
		if m.name == o.Current {
			created := m.created
			o.Deployed, o.CreatedAt = true, &created
			o.AgeSeconds = now.Sub(created).Seconds()
			o.CreatedBy = m.labels[LabelCreatedBy]
		}
		if m.labels[LabelNamespace] != s.Stack || m.labels[LabelName] != o.Name {
			continue
		}
		state := refs[string(o.Kind)+"/"+m.name]
		if m.name == o.Current {
			state = StateCurrent
		} else if state == "" {
			state = StateUnused
		}
		o.Versions = append(o.Versions, VersionStatus{Name: m.name, CreatedAt: m.created, State: state})
	}
	sort.Slice(o.Versions, func(i, j int) bool { return o.Versions[i].CreatedAt.After(o.Versions[j].CreatedAt) })
}

// judge names what --check fails on: an overdue value, a version not
// deployed, a service or a task not on the current version.
func (o *ObjectStatus) judge(now time.Time) {
	if p := o.Policy; p != nil && p.Overdue {
		o.Problems = append(o.Problems, fmt.Sprintf("overdue for rotation since %s (every %s): stackctl rotate --due", p.Due.Format(time.RFC3339), p.Every))
	}
	if !o.Deployed && len(o.Users) > 0 {
		o.Problems = append(o.Problems, fmt.Sprintf("%s is not deployed: stackctl deploy", o.Current))
	}
	for _, u := range o.Users {
		switch {
		case !u.Deployed:
			o.Problems = append(o.Problems, fmt.Sprintf("service %s is not deployed: stackctl deploy", u.Service))
		case !u.OnCurrent:
			o.Problems = append(o.Problems, fmt.Sprintf("service %s does not mount %s yet: stackctl deploy", u.Service, o.Current))
		case u.TasksOnCurrent < u.Tasks:
			o.Problems = append(o.Problems, fmt.Sprintf("%d of %d running tasks of %s read an older version: their rollout is not done", u.Tasks-u.TasksOnCurrent, u.Tasks, u.Service))
		}
	}
}

// object is a secret or config as the engine holds it.
type object struct {
	name    string
	created time.Time
	labels  map[string]string
}

func objectsOf(s *State, kind compose.Kind) []object {
	var out []object
	if kind == compose.Secret {
		for _, x := range s.Secrets {
			out = append(out, object{x.Spec.Name, x.CreatedAt, x.Spec.Labels})
		}
	} else {
		for _, x := range s.Configs {
			out = append(out, object{x.Spec.Name, x.CreatedAt, x.Spec.Labels})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// liveRefs maps kind/name of every secret and config a service of the
// swarm mounts to StateInUse, or StateRollback when only a previous spec does.
func liveRefs(s *State) map[string]string {
	used, previous := map[string]bool{}, map[string]bool{}
	for i := range s.Services {
		usedRefs(&s.Services[i].Spec, used)
		usedRefs(s.Services[i].PreviousSpec, previous)
	}
	out := map[string]string{}
	for k := range previous {
		out[k] = StateRollback
	}
	for k := range used {
		out[k] = StateInUse
	}
	return out
}

// users are the compose services that mount kind/key, with what they run.
func users(d *Desired, s *State, tasks map[string][]swarm.Task, kind compose.Kind, key, current string) []Use {
	live := s.StackServices()
	out := []Use{}
	for _, m := range d.Project.Mounts(kind, key) {
		u := Use{Service: d.Project.Stack + "_" + m.Service, Target: m.Target}
		if l, ok := live[u.Service]; ok {
			u.Deployed = true
			u.OnCurrent = mounts(l.Spec.TaskTemplate, kind, current)
			for _, t := range tasks[l.ID] {
				if t.Status.State == swarm.TaskStateRunning {
					u.Tasks++
					if mounts(t.Spec, kind, current) {
						u.TasksOnCurrent++
					}
				}
			}
		}
		out = append(out, u)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Service+out[i].Target < out[j].Service+out[j].Target })
	return out
}

// mounts: a task spec mounts the named secret or config.
func mounts(t swarm.TaskSpec, kind compose.Kind, name string) bool {
	used := map[string]bool{}
	usedRefs(&swarm.ServiceSpec{TaskTemplate: t}, used)
	return used[string(kind)+"/"+name]
}

// externals are the external secrets and configs of the compose files:
// not stackctl's to version, listed with their users.
func externals(d *Desired, s *State, tasks map[string][]swarm.Task, refs map[string]string, now time.Time) []ObjectStatus {
	versioned := map[string]bool{}
	for _, v := range d.Versions {
		versioned[string(v.Source.Kind)+"/"+v.Source.Key] = true
	}
	var out []ObjectStatus
	for _, kind := range []compose.Kind{compose.Secret, compose.Config} {
		names := d.Project.ObjectNames(kind)
		for _, key := range compose.SortedKeys(names) {
			if versioned[string(kind)+"/"+key] {
				continue
			}
			o := ObjectStatus{Kind: kind, Key: key, Name: names[key], Source: "external", Current: names[key]}
			o.observe(s, refs, now)
			o.Users = users(d, s, tasks, kind, key, o.Current)
			o.judge(now)
			out = append(out, o)
		}
	}
	return out
}

// orphans are the stack's secrets and configs that neither the compose
// files define nor a service mounts.
func orphans(s *State, refs map[string]string, defined map[string]bool) []Orphan {
	out := []Orphan{}
	for _, kind := range []compose.Kind{compose.Secret, compose.Config} {
		for _, m := range objectsOf(s, kind) {
			key := string(kind) + "/" + m.name
			if m.labels[LabelNamespace] != s.Stack || defined[key] || defined[string(kind)+"/"+m.labels[LabelName]] || refs[key] != "" {
				continue
			}
			out = append(out, Orphan{Kind: kind, Name: m.name, CreatedAt: m.created, Stackctl: m.labels[LabelName] != ""})
		}
	}
	return out
}
