// Package sopsbridge reads the values of secrets and configs, decrypting
// SOPS files in memory. Plaintext never leaves the returned Value.
package sopsbridge

import (
	"context"
	"crypto/hkdf"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/getsops/sops/v3"
	"github.com/getsops/sops/v3/aes"
	"github.com/getsops/sops/v3/logging"
	"github.com/sirupsen/logrus"
)

// Source is one value to read: a file, SOPS-encrypted or not, or a value
// already in memory. The caller (rotate) builds it from compose's source,
// so that this package stands alone.
type Source struct {
	// Ref names what reads the value in errors: "secret db_password".
	Ref string
	// Kind ("secret", "config") and MaxSize (exclusive) are swarm's bound
	// on the value's size.
	Kind    string
	MaxSize int
	// File is the absolute path of a file source; Inline the value of any
	// other (an environment variable, a content: text).
	File   string
	Inline []byte
	// SOPS is set by an x-sops extension: the file must be encrypted.
	SOPS *SOPSRef
}

// SOPSRef selects what to take from a SOPS-encrypted file.
type SOPSRef struct {
	// Path selects one value; empty means the whole decrypted document.
	Path []string
	// Format overrides the format guessed from the file's extension.
	Format string
}

func (s Source) path() []string {
	if s.SOPS == nil {
		return nil
	}
	return s.SOPS.Path
}

// Value is a source's plaintext, in memory only.
type Value struct {
	Data []byte
	// NameKey keys the version hash of a SOPS source; it is derived from the
	// file's data key, so only holders of a decryption key can link a
	// version name to a value. Nil for plain sources.
	NameKey []byte
	// Digest is the SHA-256 of the file as read, for a file source: a
	// writer that waited can tell whether another changed it meanwhile.
	Digest [32]byte
}

// FileDigest is the SHA-256 of a file, as Value.Digest has it.
func FileDigest(ctx context.Context, file string) ([32]byte, error) {
	raw, e := readFile(ctx, file)
	if e != nil {
		return [32]byte{}, e
	}
	return sha256.Sum256(raw), nil
}

// Encrypted reports whether the value came from a SOPS file.
func (v Value) Encrypted() bool { return v.NameKey != nil }

// encryptedValue is a whole value as sops writes it (sops' aes/cipher.go:
// ENC[AES256_GCM,data:<base64>,iv:<base64>,tag:<base64>,type:<type>]);
// every SOPS file has one at least, its MAC. The bare prefix is not
// enough: a plain file may mention it (documentation, a test vector).
var encryptedValue = lazyRegexp(`ENC\[AES256_GCM,data:[A-Za-z0-9+/=]*,iv:[A-Za-z0-9+/=]+,tag:[A-Za-z0-9+/=]+,type:[a-z]+\]`)

// IsEncrypted reports whether data holds SOPS-encrypted values, and so
// must be decrypted (or, without its metadata, refused as damaged) rather
// than read as it is.
func IsEncrypted(data []byte) bool { return encryptedValue().Match(data) }

// Reader reads sources, decrypting each SOPS file once.
type Reader struct {
	mu    sync.Mutex
	files map[string]*decrypted
}

type decrypted struct {
	tree sops.Tree
	// encrypted is the file as stored, to tell which leaves sops left in
	// clear; it holds no plaintext of an encrypted value.
	encrypted sops.Tree
	store     sops.Store
	// dataKey is the file's data key, recovered once: a rotation writes
	// with it what it read.
	dataKey []byte
	nameKey []byte
	err     *Error
}

var quietSops sync.Once

// NewReader returns a Reader with an empty cache.
func NewReader() *Reader {
	// sops logs "Data key recovered successfully" at info level on stderr.
	quietSops.Do(func() { logging.SetLevel(logrus.WarnLevel) })
	return &Reader{files: map[string]*decrypted{}}
}

// ReadAll reads every source and reports all failures at once, each cause
// once: a file that cannot be decrypted is one error naming every secret
// and config that reads it. The values are in the order of srcs.
func (r *Reader) ReadAll(ctx context.Context, srcs []Source) ([]Value, error) {
	vals := make([]Value, 0, len(srcs))
	var errs []error
	byFile := map[string]*Error{} // file-wide failures, by file and kind
	for _, s := range srcs {
		v, err := r.Read(ctx, s)
		if err != nil {
			var e *Error
			if errors.As(err, &e) && fileWide(e.Kind) {
				key := e.File + "\x00" + e.Kind.Error()
				if first, ok := byFile[key]; ok {
					first.Ref += ", " + e.Ref
					first.Path = "" // the file fails, whichever key is read
					continue
				}
				byFile[key] = e
			}
			errs = append(errs, err)
			continue
		}
		vals = append(vals, v)
	}
	return vals, errors.Join(errs...)
}

// fileWide are the failures of a whole file, the same for every key read.
func fileWide(kind error) bool {
	return kind == ErrNoKey || kind == ErrUnreachable || kind == ErrTampered || kind == ErrMalformed
}

// Read returns the value of one source, validated against swarm's limits.
func (r *Reader) Read(ctx context.Context, s Source) (Value, error) {
	if err := ctx.Err(); err != nil {
		return Value{}, err
	}
	v, err := r.read(ctx, s)
	if err != nil {
		return Value{}, err
	}
	if n := len(v.Data); n == 0 || n >= s.MaxSize {
		return Value{}, &Error{Ref: s.Ref, File: s.File, Path: strings.Join(s.path(), "."), Kind: ErrInvalid,
			Detail: fmt.Sprintf("the value has %d bytes; swarm takes a %s of 1 to %d bytes", n, s.Kind, s.MaxSize-1),
			Hint:   "fix the value at its source"}
	}
	return v, nil
}

func (r *Reader) read(ctx context.Context, s Source) (Value, error) {
	if s.File == "" {
		return Value{Data: s.Inline}, nil
	}
	raw, e := readFile(ctx, s.File)
	if e != nil {
		e.Ref = s.Ref
		if e.Hint == "" {
			e.Hint = "check the file: path (relative paths start at the first compose file's folder)"
		}
		return Value{}, e
	}
	if !IsEncrypted(raw) {
		if s.SOPS != nil {
			return Value{}, &Error{Ref: s.Ref, File: s.File, Kind: ErrNotEncrypted,
				Hint: "x-sops promises an encrypted file: encrypt it with `sops encrypt -i " + s.File + "`, or remove x-sops"}
		}
		return Value{Data: raw, Digest: sha256.Sum256(raw)}, nil
	}
	ref := s.SOPS
	if ref == nil {
		ref = &SOPSRef{}
	}
	d := r.decrypt(ctx, s, raw, ref.Format)
	if d.err != nil {
		e := *d.err
		e.Ref, e.Path = s.Ref, strings.Join(ref.Path, ".")
		return Value{}, &e
	}
	data, err := extract(d, ref.Path)
	if err != nil {
		var e *Error
		if errors.As(err, &e) {
			e.Ref, e.File, e.Path = s.Ref, s.File, strings.Join(ref.Path, ".")
		}
		return Value{}, err
	}
	return Value{Data: data, NameKey: d.nameKey, Digest: sha256.Sum256(raw)}, nil
}

// IsBinary says whether sops reads file as a binary file: format, or the
// file's extension when format is empty (sops' own rule).
func IsBinary(file, format string) bool {
	return formatOf(file, format) == formatBinary
}

// readFile reads a whole file of at most maxFileSize bytes.
func readFile(ctx context.Context, file string) ([]byte, *Error) {
	// A FIFO's open blocks until a writer comes: Ctrl-C still stops it.
	raw, err := readBounded(ctx, file, maxFileSize)
	if errors.Is(err, errTooLarge) {
		return nil, &Error{File: file, Kind: ErrInvalid, Detail: fmt.Sprintf("the file has more than %d MiB", maxFileSize>>20),
			Hint: "point file: at the secret or config itself; swarm takes values of at most 1000 KiB"}
	}
	if err != nil {
		return nil, &Error{File: file, Kind: ErrInvalid, Detail: "cannot read the file: " + describeIOError(err)}
	}
	return raw, nil
}

var errTooLarge = errors.New("too large")

// readBounded reads at most limit bytes of file and gives up when ctx
// ends: a FIFO's open blocks until a writer comes, and Ctrl-C must still
// stop stackctl. (compose.ReadInput does the same for compose files; this
// package stands alone.) A read given up on ends with the process.
func readBounded(ctx context.Context, file string, limit int) ([]byte, error) {
	type result struct {
		b   []byte
		err error
	}
	done := make(chan result, 1)
	go func() {
		f, err := os.Open(file)
		if err != nil {
			done <- result{nil, err}
			return
		}
		defer f.Close()
		b, err := io.ReadAll(io.LimitReader(f, int64(limit)+1))
		if err == nil && len(b) > limit {
			err = errTooLarge
		}
		done <- result{b, err}
	}()
	select {
	case r := <-done:
		return r.b, r.err
	case <-ctx.Done():
		return nil, fmt.Errorf("interrupted while reading: %w", ctx.Err())
	}
}

func describeIOError(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// decrypt decrypts a file once per Reader, keyed by path and format. A
// decryption cut short by ctx is not remembered.
func (r *Reader) decrypt(ctx context.Context, s Source, raw []byte, format string) *decrypted {
	cacheKey := s.File + "\x00" + format
	r.mu.Lock()
	defer r.mu.Unlock()
	if d, ok := r.files[cacheKey]; ok {
		return d
	}
	d := decryptFile(ctx, s.File, raw, format)
	if ctx.Err() == nil {
		r.files[cacheKey] = d
	}
	return d
}

func decryptFile(ctx context.Context, file string, raw []byte, format string) (d *decrypted) {
	d = &decrypted{}
	fail := func(kind error, detail, hint string) *decrypted {
		d.err = &Error{File: file, Kind: kind, Detail: detail, Hint: hint}
		return d
	}
	// sops can panic on trees it does not expect.
	defer func() {
		if p := recover(); p != nil {
			d = fail(ErrMalformed, fmt.Sprintf("sops failed on it (%v)", p), "check it with `sops decrypt "+file+"`")
		}
	}()

	d.store = storeFor(formatOf(file, format), storesConfig(file))
	tree, err := d.store.LoadEncryptedFile(raw)
	if err != nil {
		return fail(ErrMalformed, parseFailure(err), "check it with `sops decrypt "+file+"`, or set x-sops: {format: ...} if its extension misleads")
	}
	// LoadEncryptedFile has read raw once; a second tree keeps the
	// ciphertexts, since Decrypt replaces them in place.
	if d.encrypted, err = d.store.LoadEncryptedFile(raw); err != nil {
		return fail(ErrMalformed, parseFailure(err), "check it with `sops decrypt "+file+"`")
	}
	key, unreachable, err := dataKey(ctx, &tree.Metadata)
	if unreachable {
		return fail(ErrUnreachable, err.Error(), "check the network path to those key services, or try again")
	}
	if err != nil {
		return fail(ErrNoKey, err.Error(), keyHint)
	}
	cipher := aes.NewCipher()
	mac, err := tree.Decrypt(key, cipher)
	if err != nil {
		return fail(ErrTampered, "a value does not decrypt", "restore the file from git, or re-encrypt it with sops")
	}
	want, err := cipher.Decrypt(tree.Metadata.MessageAuthenticationCode, key, tree.Metadata.LastModified.Format(time.RFC3339))
	if err != nil || want != mac {
		return fail(ErrTampered, "", "restore the file from git; edit encrypted files only with `sops edit`")
	}
	nameKey, err := hkdf.Key(sha256.New, key, nil, "stackctl version name v1", 32)
	if err != nil {
		return fail(ErrMalformed, "cannot derive a name key", "")
	}
	d.tree, d.dataKey, d.nameKey = tree, key, nameKey
	return d
}

// parseFailure describes why sops could not parse a file without its
// parser's text, which quotes the input: a plain file that only looks
// encrypted may hold a value in clear.
func parseFailure(err error) string {
	if errors.Is(err, sops.MetadataNotFound) {
		return "sops metadata not found: it holds encrypted values but no sops metadata (a damaged SOPS file?)"
	}
	if m := lineNumber().FindStringSubmatch(err.Error()); m != nil {
		return "sops cannot parse it (line " + m[1] + ")"
	}
	return "sops cannot parse it"
}

var lineNumber = lazyRegexp(`line (\d+)`)

const keyHint = "give stackctl one of these keys: for age, SOPS_AGE_KEY, SOPS_AGE_KEY_FILE, SOPS_AGE_KEY_CMD or ~/.config/sops/age/keys.txt; for PGP, the secret key in GNUPGHOME; for cloud KMS, that cloud's credentials"

// triedKeys lists the master keys that could have decrypted the file.
func triedKeys(m sops.Metadata) string {
	var tried []string
	for _, g := range m.KeyGroups {
		for _, k := range g {
			tried = append(tried, k.TypeToIdentifier()+" "+k.ToString())
		}
	}
	if len(tried) == 0 {
		return "no key: the file lists no master keys"
	}
	var local []string
	for _, env := range []string{"SOPS_AGE_KEY", "SOPS_AGE_KEY_FILE", "SOPS_AGE_KEY_CMD", "GNUPGHOME"} {
		v := os.Getenv(env)
		if v == "" {
			continue
		}
		if env == "SOPS_AGE_KEY_FILE" || env == "GNUPGHOME" {
			if _, err := os.Stat(v); err != nil {
				local = append(local, fmt.Sprintf("%s=%s, which does not exist", env, v))
				continue
			}
		}
		local = append(local, env)
	}
	where := "none of SOPS_AGE_KEY, SOPS_AGE_KEY_FILE, SOPS_AGE_KEY_CMD is set"
	if len(local) > 0 {
		where = "with " + strings.Join(local, ", ") + " set"
	}
	return strings.Join(tried, ", ") + " (" + where + ")"
}

// extract returns the whole document, or the value at path.
func extract(d *decrypted, path []string) (data []byte, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = &Error{Kind: ErrMalformed, Detail: fmt.Sprintf("sops failed on it (%v)", p)}
		}
	}()
	if len(path) == 0 {
		out, err := d.store.EmitPlainFile(d.tree.Branches)
		if err != nil {
			return nil, &Error{Kind: ErrMalformed, Detail: err.Error()}
		}
		return out, nil
	}
	if len(d.tree.Branches) == 0 {
		return nil, &Error{Kind: ErrKeyNotFound, Detail: "the file is empty"}
	}
	var node any = d.tree.Branches[0]
	for i, seg := range path {
		next, ok, have := child(node, seg)
		if !ok {
			detail := "no " + strconv.Quote(seg)
			if i > 0 {
				detail += " under " + strings.Join(path[:i], ".")
			}
			if have != "" {
				detail += "; there is " + have
			}
			return nil, &Error{Kind: ErrKeyNotFound, Detail: detail,
				Hint: "fix x-sops key:, or add the key with `sops set`"}
		}
		node = next
	}
	switch node.(type) {
	case sops.TreeBranch, []any:
		return nil, &Error{Kind: ErrKeyNotFound, Detail: "it selects a mapping or list, not a value",
			Hint: "name one value inside it"}
	}
	if node == nil {
		return nil, &Error{Kind: ErrKeyNotFound, Detail: "it selects an empty value (null)",
			Hint: "give it a value with `sops set`, or point x-sops key: at another"}
	}
	if err := encryptedLeaf(d.encrypted, path); err != nil {
		return nil, err
	}
	out, err := sops.ToBytes(node)
	if err != nil {
		return nil, &Error{Kind: ErrMalformed, Detail: "the value has an unsupported type"}
	}
	return out, nil
}

// encryptedLeaf fails when sops stored the value at path in clear, by one
// of the settings that leave values unencrypted: a value selected by
// x-sops is a secret, and rotate would write a new one in clear.
func encryptedLeaf(enc sops.Tree, path []string) error {
	if len(enc.Branches) == 0 {
		return nil
	}
	var node any = enc.Branches[0]
	for _, seg := range path {
		next, ok, _ := child(node, seg)
		if !ok {
			return nil // extract has found it in the decrypted tree
		}
		node = next
	}
	if s, ok := node.(string); ok && strings.HasPrefix(s, "ENC[AES256_GCM,") {
		return nil
	}
	return &Error{Kind: ErrClear, Detail: "it is stored in clear " + clearBecause(enc.Metadata),
		Hint: "x-sops must select an encrypted value: change that setting (in .sops.yaml too) and re-encrypt the file with sops, or rename the key"}
}

// clearBecause names the sops setting that can leave a value unencrypted.
func clearBecause(m sops.Metadata) string {
	var why []string
	add := func(name, v string) {
		if v != "" {
			why = append(why, fmt.Sprintf("%s %q", name, v))
		}
	}
	add("unencrypted_suffix", m.UnencryptedSuffix)
	add("encrypted_suffix", m.EncryptedSuffix)
	add("unencrypted_regex", m.UnencryptedRegex)
	add("encrypted_regex", m.EncryptedRegex)
	add("unencrypted_comment_regex", m.UnencryptedCommentRegex)
	add("encrypted_comment_regex", m.EncryptedCommentRegex)
	if m.MACOnlyEncrypted {
		why = append(why, "mac_only_encrypted")
	}
	if len(why) == 0 {
		return "by the file's sops settings"
	}
	return "by the file's sops settings: " + strings.Join(why, ", ")
}

// child steps one path segment into a branch or list. When the step fails,
// have lists the keys that are there (key names, never values).
func child(node any, seg string) (next any, ok bool, have string) {
	switch n := node.(type) {
	case sops.TreeBranch:
		var keys []string
		for _, item := range n {
			k, isStr := item.Key.(string)
			if !isStr {
				continue // comments
			}
			if k == seg {
				return item.Value, true, ""
			}
			keys = append(keys, k)
		}
		sort.Strings(keys)
		if len(keys) > 10 {
			keys = append(keys[:10], "...")
		}
		return nil, false, strings.Join(keys, ", ")
	case []any:
		i, err := strconv.Atoi(seg)
		if err != nil || i < 0 || i >= len(n) {
			return nil, false, fmt.Sprintf("a list of %d items (index 0 to %d)", len(n), len(n)-1)
		}
		return n[i], true, ""
	}
	return nil, false, "a value, not a mapping"
}
