package rotate

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"os"
	"slices"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/stackctl/stackctl/compose"
	"github.com/stackctl/stackctl/rotate/engine"
	"github.com/stackctl/stackctl/rotate/plan"
	"github.com/stackctl/stackctl/rotate/store"
	"github.com/stackctl/stackctl/sopsbridge"
)

// Charsets for generated values.
const (
	CharsetAlnum     = "alnum"
	CharsetBase64URL = "base64url"
	CharsetHex       = "hex"
)

const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// Generate makes a random value of length characters from crypto/rand.
func Generate(length int, charset string) ([]byte, error) {
	if length < 1 || length > 4096 {
		return nil, fmt.Errorf("length must be 1 to 4096, not %d", length)
	}
	switch charset {
	case CharsetAlnum:
		out := make([]byte, length)
		max := big.NewInt(int64(len(alnum)))
		for i := range out {
			n, err := rand.Int(rand.Reader, max)
			if err != nil {
				return nil, err
			}
			out[i] = alnum[n.Int64()]
		}
		return out, nil
	case CharsetBase64URL:
		raw := make([]byte, length)
		rand.Read(raw)
		return []byte(base64.RawURLEncoding.EncodeToString(raw)[:length]), nil
	case CharsetHex:
		raw := make([]byte, (length+1)/2)
		rand.Read(raw)
		return []byte(hex.EncodeToString(raw)[:length]), nil
	}
	return nil, fmt.Errorf("charset must be alnum, base64url or hex, not %q", charset)
}

// RotateOptions say which secrets get which new values and what follows.
type RotateOptions struct {
	// Values are the new plaintexts by secret key; never printed.
	Values map[string][]byte
	// NoDeploy writes the new ciphertext and stops (a pull-request flow).
	NoDeploy bool
	DryRun   bool
	// Record, when set, is called with the files a rotation rewrote once
	// they read back as the new values, before anything rolls out (a git
	// commit and push, say). Its error stops the rotation: nothing rolls.
	Record func(ctx context.Context, files []string) error
	Deploy DeployOptions
}

// RotateResult is what a rotation wrote and rolled.
type RotateResult struct {
	FormatVersion string     `json:"format_version"`
	Rotated       []Rotation `json:"rotated"`
	// Services are every service that rolls out, once each.
	Services []string `json:"services"`
	// Written: every new value is in its file.
	Written bool    `json:"written"`
	Deploy  *Result `json:"deploy,omitempty"`
}

// Rotation is one secret's new value: where it was written, its version,
// and the other secrets that read the same value and rolled with it.
type Rotation struct {
	Secret string `json:"secret"`
	// File and Key, or Store and StoreVersion: where the value went.
	File         string   `json:"file,omitempty"`
	Key          string   `json:"key,omitempty"`
	Store        string   `json:"store,omitempty"`
	StoreVersion string   `json:"store_version,omitempty"`
	Version      string   `json:"version"`
	Also         []string `json:"also,omitempty"`
	Written      bool     `json:"written"`
	// prev is the store's version the write checks and sets after.
	prev string
}

// Where names where the value went: "key db.password in secrets.enc.yaml"
// or the x-store reference.
func (r Rotation) Where() string {
	if r.Store != "" {
		return r.Store
	}
	return orWhole(r.Key) + " in " + r.File
}

// Files are the files the rotation writes, each once (a store is not a file).
func (r *RotateResult) Files() []string {
	var out []string
	for _, x := range r.Rotated {
		if x.File != "" && !slices.Contains(out, x.File) {
			out = append(out, x.File)
		}
	}
	return out
}

// ErrBadValue: a new value that its source of truth or swarm cannot hold.
var ErrBadValue = errors.New("nothing was written")

// RotationTarget checks that a secret can be rotated and returns its
// current version and the compose services that use it.
func RotationTarget(d *plan.Desired, secret string) (*plan.Version, []string, error) {
	p := d.Project
	var cur *plan.Version
	for i := range d.Versions {
		v := &d.Versions[i]
		if v.Source.Kind == compose.Secret && v.Source.Key == secret {
			cur = v
		}
	}
	if cur == nil {
		if _, ok := p.Config.Secrets[secret]; ok {
			return nil, nil, fmt.Errorf("secret %s is external: stackctl does not hold its value, so it cannot rotate it; rotate it where it is created", secret)
		}
		if _, ok := p.Config.Configs[secret]; ok {
			return nil, nil, fmt.Errorf("%s is a config: rotate changes secrets", secret)
		}
		return nil, nil, fmt.Errorf("no secret %s in %s: the secrets are %s", secret, strings.Join(p.Files, ", "), strings.Join(compose.SortedKeys(p.Config.Secrets), ", "))
	}
	if cur.Source.Origin == compose.FromStore {
		return storeTarget(d, cur)
	}
	if cur.Source.Origin != compose.FromFile || !cur.Encrypted() {
		where := string(cur.Source.Origin)
		if cur.Source.Origin == compose.FromFile {
			where = "a plain file (" + cur.Source.File + ")"
		}
		return nil, nil, fmt.Errorf("secret %s comes from %s: rotation writes the new value back into its source of truth, which must be a SOPS-encrypted file: encrypt it with sops and point the secret at it with x-sops", secret, where)
	}
	services := appendUsers(nil, d, secret)
	if len(services) == 0 {
		return nil, nil, fmt.Errorf("no service uses secret %s: nothing would pick up a new value; add it to a service's secrets: first", secret)
	}
	if (cur.Source.SOPS == nil || len(cur.Source.SOPS.Path) == 0) && !sopsbridge.IsBinary(cur.Source.File, sopsFormat(cur.Source)) {
		return nil, nil, fmt.Errorf("secret %s is the whole of %s, a structured SOPS file: rotate writes one value: point x-sops key: at the value, or keep the secret in a binary SOPS file (x-sops: {format: binary})", secret, cur.Source.File)
	}
	return cur, services, nil
}

// storeTarget: a secret from a store is rotated by writing the store's
// next version, when a service uses it.
func storeTarget(d *plan.Desired, cur *plan.Version) (*plan.Version, []string, error) {
	if !cur.Source.Store.Writable() {
		return nil, nil, fmt.Errorf("secret %s comes from %s: this build of stackctl cannot write into that store: rotate it in its store, then deploy", cur.Source.Key, cur.Source.Store.URI)
	}
	services := appendUsers(nil, d, cur.Source.Key)
	if len(services) == 0 {
		return nil, nil, fmt.Errorf("no service uses secret %s: nothing would pick up a new value; add it to a service's secrets: first", cur.Source.Key)
	}
	return cur, services, nil
}

// Rotate writes a new value into each secret's SOPS file and rolls them
// out to every service of the stack that uses them, under any target, in
// one update each, under one lock. Everything is checked, the engine
// included, before the first file is written.
func Rotate(ctx context.Context, eng engine.Engine, d *plan.Desired, opts RotateOptions, report engine.Reporter) (_ *RotateResult, err error) {
	res := &RotateResult{FormatVersion: FormatVersion, Rotated: []Rotation{}, Services: []string{}}
	targets, err := rotationTargets(d, opts)
	if err != nil {
		return nil, err
	}
	stores := &store.Stores{Getenv: os.Getenv}
	nexts, err := storeNexts(ctx, stores, targets)
	if err != nil {
		return nil, err
	}
	rotated := map[string]string{}
	for _, t := range targets {
		useNewValue(d, t, opts.Values[t.Source.Key], nexts, res, rotated, report)
	}
	var p *plan.Plan
	if !opts.NoDeploy {
		var lock *engine.Lock
		lock, p, err = prepareRollout(ctx, eng, d, opts, res, rotated, targets, report)
		if lock != nil { // none on a dry run
			defer lock.ReleaseInto(ctx, &err) // err: the function's, so a failed release is reported
		}
		if err != nil {
			return res, err
		}
		opts.Deploy.lock = lock
	}
	if opts.DryRun {
		for i, r := range res.Rotated {
			res.Rotated[i].Version = targets[i].Source.Name + ".<new>" // the value is not kept, so neither is its hash
			report.Printf("would write a new value for %s at %s", r.Secret, r.Where())
		}
		return res, nil
	}
	if err := writeAll(ctx, stores, targets, opts, res, report); err != nil {
		return res, err
	}
	if opts.NoDeploy {
		return res, nil
	}
	deployed, err := apply(ctx, eng, d, p, opts.Deploy, report)
	res.Deploy = deployed
	if err != nil {
		return res, fmt.Errorf("%w\nthe new values are in place (%s), but the rollout did not complete: retry with `stackctl deploy`%s", err, strings.Join(written(res), "; "), undoHint(res))
	}
	return res, nil
}

// rotationTargets checks every secret to rotate and its new value, and
// returns their current versions, sorted by key. A secret that reads the
// same value as another one of them is rotated with it, not twice.
func rotationTargets(d *plan.Desired, opts RotateOptions) ([]*plan.Version, error) {
	if len(opts.Values) == 0 {
		return nil, errors.New("no secret to rotate")
	}
	var out []*plan.Version
	for _, key := range compose.SortedKeys(opts.Values) {
		cur, _, err := RotationTarget(d, key)
		if err != nil {
			return nil, err
		}
		if err := checkNewValue(key, cur.Source, opts.Values[key]); err != nil {
			return nil, err
		}
		if slices.ContainsFunc(out, func(v *plan.Version) bool { return sameSource(v.Source, cur.Source) }) {
			continue
		}
		out = append(out, cur)
	}
	return out, nil
}

// writeAll writes every new value into its file and reads it back, then
// has the files recorded. A failure after a first write says what is
// written and what is not: nothing has rolled out.
func writeAll(ctx context.Context, stores *store.Stores, targets []*plan.Version, opts RotateOptions, res *RotateResult, report engine.Reporter) error {
	for i, cur := range targets {
		// Read before the write loop started: the digest check under the
		// lock used it; the values are res.Rotated[i]'s.
		write := writeNewValue
		if cur.Source.Store != nil {
			write = func(ctx context.Context, src compose.Source, value []byte, r *Rotation, report engine.Reporter) error {
				return writeToStore(ctx, stores, src, value, r, report)
			}
		}
		if err := write(ctx, cur.Source, opts.Values[cur.Source.Key], &res.Rotated[i], report); err != nil {
			if i > 0 {
				return fmt.Errorf("%w\nnothing was rolled out; these files already hold their new values: %s: roll them out with `stackctl deploy`, or undo with git checkout", err, strings.Join(written(res), ", "))
			}
			return err
		}
	}
	res.Written = true
	if opts.Record != nil {
		if err := opts.Record(ctx, res.Files()); err != nil {
			return fmt.Errorf("%w\nnothing was rolled out; the new values are in place: %s", err, strings.Join(written(res), "; "))
		}
	}
	return nil
}

// undoHint says how to take back values written into files.
func undoHint(res *RotateResult) string {
	if files := res.Files(); len(files) > 0 {
		return fmt.Sprintf(", or undo with `git checkout -- %s` and `stackctl deploy`", strings.Join(files, " "))
	}
	return ""
}

func written(res *RotateResult) []string {
	var out []string
	for _, r := range res.Rotated {
		if r.Written {
			out = append(out, r.Secret+" at "+r.Where())
		}
	}
	return out
}

// checkNewValue refuses a value the source of truth or swarm cannot hold.
func checkNewValue(secret string, src compose.Source, value []byte) error {
	if src.Store != nil && !utf8.Valid(value) {
		return fmt.Errorf("the new value for %s is not UTF-8 text, which %s holds as a string: %w", secret, src.Store.URI, ErrBadValue)
	}
	if src.Store == nil && !sopsbridge.IsBinary(src.File, sopsFormat(src)) && !utf8.Valid(value) {
		return fmt.Errorf("the new value for %s is not UTF-8 text, which a %s file cannot hold: use a binary SOPS file (x-sops: {format: binary}): %w", secret, src.File, ErrBadValue)
	}
	if len(value) == 0 || len(value) >= compose.Secret.MaxSize() {
		return fmt.Errorf("the new value for %s has %d bytes; swarm takes 1 to %d: %w", secret, len(value), compose.Secret.MaxSize()-1, ErrBadValue)
	}
	return nil
}

func sopsFormat(src compose.Source) string {
	if src.SOPS != nil {
		return src.SOPS.Format
	}
	return ""
}

// useNewValue points every secret that reads the rotated value (same file
// and key) at its next version: all of them roll out, or some services
// keep the old value. It adds the rotation to res and the rotated secrets
// (swarm name -> new version) to rotated.
func useNewValue(d *plan.Desired, cur *plan.Version, value []byte, nexts map[string]string, res *RotateResult, rotated map[string]string, report engine.Reporter) {
	src := cur.Source
	r := Rotation{Secret: src.Key, File: src.File, prev: cur.StoreCurrent}
	if src.SOPS != nil {
		r.Key = strings.Join(src.SOPS.Path, ".")
	}
	next := nextVersion(d.Project.Stack, cur, value, nexts)
	r.Version = next.Name
	if src.Store != nil {
		r.Store, r.StoreVersion = src.Store.URI, next.StoreVersion
	}
	if next.Name == cur.Name {
		report.Printf("warning: the new value of %s is the same as the current one", src.Key)
	}
	services := appendUsers(nil, d, src.Key)
	for i := range d.Versions {
		v := &d.Versions[i]
		if v.Source.Kind != compose.Secret || !sameSource(v.Source, src) {
			continue
		}
		nv := nextVersion(d.Project.Stack, v, value, nexts)
		if v.Source.Key != src.Key {
			report.Printf("secret %s reads the same value (%s): it rolls out too", v.Source.Key, r.Where())
			r.Also = append(r.Also, v.Source.Key)
			services = appendUsers(services, d, v.Source.Key)
		}
		rotated[v.Source.Name] = nv.Name
		d.UseVersion(compose.Secret, v.Source.Key, v.Name, nv.Name)
		*v = nv
	}
	for _, s := range services {
		if name := d.Project.Stack + "_" + s; !slices.Contains(res.Services, name) {
			res.Services = append(res.Services, name)
		}
	}
	sort.Strings(res.Services)
	res.Rotated = append(res.Rotated, r)
}

// nextVersion is the version a new value of v's secret gets. A store's is
// named by the version identity its write will make (nexts, by reference):
// the write checks it comes right after the version read.
func nextVersion(stack string, v *plan.Version, value []byte, nexts map[string]string) plan.Version {
	if v.Source.Store == nil {
		return plan.NameVersion(stack, v.Source, sopsbridge.Value{Data: value, NameKey: v.NameKey, Digest: v.Digest})
	}
	if string(value) == string(v.Data) {
		return *v
	}
	next := nexts[v.Source.Store.URI]
	return plan.NameStoreVersion(stack, v.Source, value, next, next)
}

// storeNexts asks each store target's store for the version identity its
// write will make, by reference.
func storeNexts(ctx context.Context, stores *store.Stores, targets []*plan.Version) (map[string]string, error) {
	nexts := map[string]string{}
	for _, t := range targets {
		if ref := t.Source.Store; ref != nil {
			next, err := stores.Next(ctx, t.Source.Key, ref, t.StoreCurrent)
			if err != nil {
				return nil, err
			}
			nexts[ref.URI] = next
		}
	}
	return nexts, nil
}

// appendUsers adds the services that read secret key.
func appendUsers(services []string, d *plan.Desired, key string) []string {
	for _, svc := range d.Project.Config.Services {
		for _, ref := range svc.Secrets {
			if ref.Source == key && !slices.Contains(services, svc.Name) {
				services = append(services, svc.Name)
			}
		}
	}
	return services
}

// prepareRollout checks the engine, takes the stack's lock (not on a dry
// run) and plans the rollout of the rotated secrets, all before a file is
// written. The lock is held until the rollout is done.
func prepareRollout(ctx context.Context, eng engine.Engine, d *plan.Desired, opts RotateOptions, res *RotateResult, rotated map[string]string, targets []*plan.Version, report engine.Reporter) (*engine.Lock, *plan.Plan, error) {
	if err := engine.CheckManager(ctx, eng); err != nil {
		return nil, nil, err
	}
	// A rotation rolls out to a deployed stack; it never creates one.
	if err := engine.CheckStack(ctx, eng, d.Project.Stack); err != nil {
		return nil, nil, err
	}
	var lock *engine.Lock
	if !opts.DryRun {
		var err error
		if lock, err = engine.AcquireLock(ctx, eng, d.Project.Stack, opts.Deploy.Lock, report); err != nil {
			return nil, nil, err
		}
		// Another writer may have gone first (it held the lock, or a
		// rotation it ran was killed after its write): writing over its
		// value would lose it.
		for _, cur := range targets {
			if cur.Source.Origin != compose.FromFile {
				continue // a store's write checks its version itself
			}
			if now, derr := sopsbridge.FileDigest(ctx, cur.Source.File); derr != nil || now != cur.Digest {
				return lock, nil, fmt.Errorf("%s changed since this rotation read it (another writer went first): nothing was written: run the rotation again", cur.Source.File)
			}
		}
	}
	planned, state, err := planAndState(ctx, eng, d, opts.Deploy.Keep)
	if err != nil {
		return lock, nil, err
	}
	p := plan.Restrict(planned, res.Services, rotated, state)
	for _, w := range p.Warnings {
		report.Printf("warning: %s", w)
	}
	res.Deploy = newResult(p)
	return lock, p, nil
}

// writeNewValue writes the value into its SOPS file and reads it back.
func writeNewValue(ctx context.Context, src compose.Source, value []byte, r *Rotation, report engine.Reporter) error {
	var path []string
	if src.SOPS != nil {
		path = src.SOPS.Path
	}
	report.Printf("writing a new value for %s at %s in %s", r.Secret, orWhole(r.Key), src.File)
	if err := sopsbridge.SetValue(ctx, src.File, sopsFormat(src), path, value); err != nil {
		return err
	}
	r.Written = true
	if check, err := sopsbridge.NewReader().Read(ctx, readRequest(src)); err != nil || string(check.Data) != string(value) {
		return fmt.Errorf("%s was written but does not read back as the new value (%v): restore it from git", src.File, err)
	}
	return nil
}

// writeToStore writes the value as the store's next version, checked
// against the version read, and reads it back.
func writeToStore(ctx context.Context, stores *store.Stores, src compose.Source, value []byte, r *Rotation, report engine.Reporter) error {
	report.Printf("writing a new value for %s into %s", r.Secret, src.Store.URI)
	got, err := stores.Write(ctx, src.Key, src.Store, value, r.prev, r.StoreVersion)
	if err != nil {
		return err
	}
	r.Written = true
	if got != r.StoreVersion {
		return fmt.Errorf("%s: the store made version %s, not %s as planned: nothing was rolled out; run stackctl deploy, which rolls out what the store holds", src.Store.URI, got, r.StoreVersion)
	}
	if check, err := stores.Read(ctx, src.Key, src.Store); err != nil || string(check.Data) != string(value) {
		return fmt.Errorf("%s: version %s was written but does not read back as the new value (%v): nothing was rolled out; check the store", src.Store.URI, got, err)
	}
	return nil
}

func orWhole(key string) string {
	if key == "" {
		return "the whole file"
	}
	return "key " + key
}

// sameSource: two sources read the same value.
func sameSource(a, b compose.Source) bool {
	if a.Origin == compose.FromStore || b.Origin == compose.FromStore {
		return a.Store != nil && b.Store != nil && a.Store.URI == b.Store.URI
	}
	if a.Origin != compose.FromFile || b.Origin != compose.FromFile || a.File != b.File {
		return false
	}
	var pa, pb []string
	var fa, fb string
	if a.SOPS != nil {
		pa, fa = a.SOPS.Path, a.SOPS.Format
	}
	if b.SOPS != nil {
		pb, fb = b.SOPS.Path, b.SOPS.Format
	}
	return slices.Equal(pa, pb) && fa == fb
}
