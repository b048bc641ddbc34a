package sopsbridge

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/getsops/sops/v3"
	"github.com/getsops/sops/v3/config"
)

// SetValue writes value at path into a SOPS file, encrypted with the
// file's own data key and key groups. Every other value keeps its exact
// ciphertext, so the git diff is the value, lastmodified and the MAC. The
// file is replaced atomically and keeps its permissions. An empty path
// means the whole document, for binary files only.
func SetValue(ctx context.Context, file, format string, path []string, value []byte) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = &Error{File: file, Kind: ErrMalformed, Detail: fmt.Sprintf("sops failed on it (%v)", p)}
		}
	}()
	raw, rerr := readFile(ctx, file)
	if rerr != nil {
		return rerr
	}
	if !IsEncrypted(raw) {
		return &Error{File: file, Kind: ErrNotEncrypted, Hint: "stackctl writes new values only into SOPS-encrypted files"}
	}
	f := formatOf(file, format)
	store := storeFor(f, storesConfig(file))
	if len(path) == 0 {
		if f != formatBinary {
			return &Error{File: file, Kind: ErrKeyNotFound, Detail: "no key selects the value to replace",
				Hint: "set x-sops: {key: ...} to the value to rotate; only a binary file is replaced whole"}
		}
		path = []string{"data"} // the binary store keeps the document under "data"
	}
	where := strings.Join(path, ".")

	d := decryptFile(ctx, file, raw, format)
	if d.err != nil {
		e := *d.err
		e.Path = where
		return &e
	}
	plain := d.tree
	if len(plain.Branches) == 0 {
		return &Error{File: file, Path: where, Kind: ErrKeyNotFound, Detail: "the file is empty"}
	}
	newBranch, err := setLeaf(plain.Branches[0], path, string(value))
	if err != nil {
		return &Error{File: file, Path: where, Kind: ErrKeyNotFound, Detail: err.Error(), Hint: "fix x-sops key:"}
	}
	plain.Branches[0] = newBranch.(sops.TreeBranch)

	old, key := d.encrypted, d.dataKey // the file as read, and its key, recovered once
	// Encrypt the whole tree (this computes the MAC over every plaintext
	// value), then put back the old ciphertext of everything unchanged.
	if err := encryptTree(&plain, key); err != nil {
		return &Error{File: file, Kind: ErrMalformed, Detail: "re-encrypt: " + err.Error()}
	}
	for i := range plain.Branches {
		if i < len(old.Branches) {
			plain.Branches[i] = keepCiphertext(plain.Branches[i], old.Branches[i], nil, path).(sops.TreeBranch)
		}
	}
	out, err := store.EmitEncryptedFile(plain)
	if err != nil {
		return &Error{File: file, Kind: ErrMalformed, Detail: "emit: " + err.Error()}
	}
	return replaceFile(file, keepOrder(store, raw, out))
}

// keepOrder gives out the key order raw had. sops releases write the
// metadata's keys in different orders (3.12 puts an age key's recipient
// before enc, 3.13 after), so a file written by one and rewritten with
// the other would change in every key group; a rotation's diff is the
// value, lastmodified and mac. Anything it cannot read back is left as
// sops wrote it.
func keepOrder(store sops.Store, raw, out []byte) []byte {
	was, err := store.LoadPlainFile(raw)
	if err != nil {
		return out
	}
	now, err := store.LoadPlainFile(out)
	if err != nil || len(now) != len(was) {
		return out
	}
	for i := range now {
		now[i] = reorder(now[i], was[i]).(sops.TreeBranch)
	}
	again, err := store.EmitPlainFile(now)
	if err != nil {
		return out
	}
	return again
}

// reorder puts the keys of each mapping in fresh in the order old has
// them (keys old lacks go last, as they were). Mappings with comments are
// left alone: sops keeps the data's order, only its metadata moves.
func reorder(fresh, old any) any {
	switch f := fresh.(type) {
	case sops.TreeBranch:
		o, ok := old.(sops.TreeBranch)
		if !ok || hasComment(f) || hasComment(o) {
			return f
		}
		byKey := make(map[any]sops.TreeItem, len(f))
		for _, item := range f {
			byKey[item.Key] = item
		}
		out := make(sops.TreeBranch, 0, len(f))
		for _, item := range o {
			if got, ok := byKey[item.Key]; ok {
				out = append(out, sops.TreeItem{Key: got.Key, Value: reorder(got.Value, item.Value)})
				delete(byKey, item.Key)
			}
		}
		for _, item := range f {
			if _, left := byKey[item.Key]; left {
				out = append(out, item)
			}
		}
		return out
	case []any:
		o, ok := old.([]any)
		if !ok {
			return f
		}
		for i := range f {
			if i < len(o) {
				f[i] = reorder(f[i], o[i])
			}
		}
		return f
	}
	return fresh
}

func hasComment(b sops.TreeBranch) bool {
	for _, item := range b {
		if _, ok := item.Key.(sops.Comment); ok {
			return true
		}
	}
	return false
}

// storesConfig reads the store settings (indent) of the .sops.yaml that
// governs file, as sops does.
func storesConfig(file string) *config.StoresConfig {
	if conf, err := config.FindConfigFile(file); err == nil && conf != "" { // it looks from the file's folder up
		if sc, err := config.LoadStoresConfig(conf); err == nil {
			return sc
		}
	}
	return config.NewStoresConfig()
}

// setLeaf replaces the value at path, which must exist and be a value.
func setLeaf(node any, path []string, value any) (any, error) {
	if len(path) == 0 {
		switch node.(type) {
		case sops.TreeBranch, []any:
			return nil, fmt.Errorf("it selects a mapping or list, not a value")
		}
		return value, nil
	}
	switch n := node.(type) {
	case sops.TreeBranch:
		for i, item := range n {
			if k, ok := item.Key.(string); ok && k == path[0] {
				v, err := setLeaf(item.Value, path[1:], value)
				if err != nil {
					return nil, err
				}
				n[i].Value = v
				return n, nil
			}
		}
	case []any:
		if i, err := strconv.Atoi(path[0]); err == nil && i >= 0 && i < len(n) {
			v, err := setLeaf(n[i], path[1:], value)
			if err != nil {
				return nil, err
			}
			n[i] = v
			return n, nil
		}
	}
	return nil, fmt.Errorf("no %q there", path[0])
}

// keepCiphertext walks the re-encrypted tree and the original one side by
// side and takes the original's leaves (and encrypted comments) everywhere
// but at the changed path.
func keepCiphertext(fresh, old any, path, changed []string) any {
	switch f := fresh.(type) {
	case sops.TreeBranch:
		o, ok := old.(sops.TreeBranch)
		if !ok || len(o) != len(f) {
			return fresh
		}
		for i := range f {
			fk, fIsStr := f[i].Key.(string)
			ok2, oIsStr := o[i].Key.(string)
			switch {
			case fIsStr && oIsStr && fk == ok2:
				f[i].Value = keepCiphertext(f[i].Value, o[i].Value, append(path, fk), changed)
			case !fIsStr && !oIsStr:
				f[i] = o[i] // a comment
			}
		}
		return f
	case []any:
		o, ok := old.([]any)
		if !ok || len(o) != len(f) {
			return fresh
		}
		for i := range f {
			f[i] = keepCiphertext(f[i], o[i], append(path, strconv.Itoa(i)), changed)
		}
		return f
	}
	if samePath(path, changed) {
		return fresh
	}
	return old
}

func samePath(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// replaceFile writes data next to file and renames it over file, so that a
// reader sees the old file or the new one, never a part. It writes through
// a symbolic link to its target, as sops does, and keeps the target's
// mode, owner and group; a file nobody may write is refused, as sops
// refuses it. When the owner cannot be kept (another user's file,
// writable by our group), the file is rewritten in place, as sops does.
func replaceFile(file string, data []byte) error {
	target, err := filepath.EvalSymlinks(file)
	if err != nil {
		return fmt.Errorf("write %s: %w", file, err)
	}
	info, err := os.Stat(target)
	if err != nil {
		return err
	}
	if !info.Mode().IsRegular() {
		return fmt.Errorf("write %s: not a regular file: point file: at the SOPS file itself", file)
	}
	if info.Mode().Perm()&0o222 == 0 || !writable(target) {
		return fmt.Errorf("write %s: the file is read-only for this user (mode %v): make it writable, as sops needs it to be, and run again; nothing was written", file, info.Mode().Perm())
	}
	tmp, err := os.CreateTemp(filepath.Dir(target), "."+filepath.Base(target)+".stackctl-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", file, err)
	}
	defer os.Remove(tmp.Name()) // after a successful rename there is nothing to remove
	fail := func(err error) error {
		tmp.Close()
		return fmt.Errorf("write %s: %w", file, err)
	}
	if _, err := tmp.Write(data); err != nil {
		return fail(err)
	}
	if err := tmp.Chmod(info.Mode().Perm()); err != nil {
		return fail(err)
	}
	if uid, gid, ok := owner(info); ok {
		if err := tmp.Chown(uid, gid); err != nil {
			tmp.Close()
			return rewriteInPlace(target, data, file)
		}
	}
	if err := tmp.Sync(); err != nil {
		return fail(err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", file, err)
	}
	if err := os.Rename(tmp.Name(), target); err != nil {
		return fmt.Errorf("write %s: %w", file, err)
	}
	if dir, err := os.Open(filepath.Dir(target)); err == nil {
		dir.Sync()
		dir.Close()
	}
	return nil
}

// rewriteInPlace writes data over target, keeping its inode and so its
// owner and group.
func rewriteInPlace(target string, data []byte, file string) error {
	f, err := os.OpenFile(target, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return fmt.Errorf("write %s: %w", file, err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w: the file may be incomplete: restore it from git", file, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", file, err)
	}
	return f.Close()
}
