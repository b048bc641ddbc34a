package store

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	vault "github.com/hashicorp/vault/api"

	"github.com/stackctl/stackctl/compose"
)

// vaultKV reads and writes Vault KV version 2 (vault://MOUNT/PATH#FIELD):
// MOUNT is the first part of the path, the rest is the secret's path in
// it, FIELD one of its keys.
type vaultKV struct {
	client *vault.Client
	addr   string
}

// maxWalk bounds how far back Read looks for the first version of a value.
const maxWalk = 32

// newVault connects as the Vault CLI does: VAULT_ADDR, VAULT_CACERT,
// VAULT_NAMESPACE ... (read by the client's DefaultConfig), the token from
// VAULT_TOKEN or else the CLI's token file, ~/.vault-token.
func newVault(getenv func(string) string) (*vaultKV, error) {
	cfg := vault.DefaultConfig()
	if cfg.Error != nil {
		return nil, fmt.Errorf("the Vault settings in the environment: %v", cfg.Error)
	}
	c, err := vault.NewClient(cfg)
	if err != nil {
		return nil, fmt.Errorf("the Vault settings in the environment: %v", err)
	}
	token := getenv("VAULT_TOKEN")
	if token == "" {
		if home, err := os.UserHomeDir(); err == nil {
			if b, err := os.ReadFile(filepath.Join(home, ".vault-token")); err == nil {
				token = strings.TrimSpace(string(b))
			}
		}
	}
	if token == "" {
		return nil, fmt.Errorf("no Vault token: set VAULT_TOKEN (or log in with the vault CLI, which writes ~/.vault-token)")
	}
	c.SetToken(token)
	return &vaultKV{client: c, addr: c.Address()}, nil
}

func split(ref *compose.StoreRef) (mount, path string) {
	return ref.Parts[0], strings.Join(ref.Parts[1:], "/")
}

func (v *vaultKV) Read(ctx context.Context, ref *compose.StoreRef) (Value, error) {
	mount, path := split(ref)
	kv := v.client.KVv2(mount)
	cur, err := kv.Get(ctx, path)
	if err != nil {
		return Value{}, v.explain(ref, err)
	}
	data, err := field(cur, ref)
	if err != nil {
		return Value{}, err
	}
	// The value's identity is the first version of the run of versions
	// that hold it: a change to another field leaves the name alone.
	first := cur.VersionMetadata.Version
	for n := first - 1; n >= 1 && cur.VersionMetadata.Version-n <= maxWalk; n-- {
		old, err := kv.GetVersion(ctx, path, n)
		if err != nil || old == nil || old.Data == nil {
			break // deleted or destroyed: the run starts after it
		}
		if d, err := field(old, ref); err != nil || string(d) != string(data) {
			break
		}
		first = n
	}
	return Value{Data: data, Version: strconv.Itoa(first), Current: strconv.Itoa(cur.VersionMetadata.Version)}, nil
}

// field is the text of the reference's field.
func field(s *vault.KVSecret, ref *compose.StoreRef) ([]byte, error) {
	raw, ok := s.Data[ref.Field]
	if !ok {
		return nil, &Error{Kind: ErrBadReference, Detail: fmt.Sprintf("the Vault secret has no field %q: check the name after #", ref.Field)}
	}
	str, ok := raw.(string)
	if !ok {
		return nil, &Error{Kind: ErrBadReference, Detail: fmt.Sprintf("field %q of the Vault secret is not text: store the value as a string", ref.Field)}
	}
	return []byte(str), nil
}

// Next: Vault numbers a secret's versions one by one.
func (v *vaultKV) Next(current string) string {
	n, _ := strconv.Atoi(current)
	return strconv.Itoa(n + 1)
}

func (v *vaultKV) Write(ctx context.Context, ref *compose.StoreRef, data []byte, prev, _ string) (string, error) {
	mount, path := split(ref)
	kv := v.client.KVv2(mount)
	cur, err := kv.Get(ctx, path)
	if err != nil {
		return "", v.explain(ref, err)
	}
	if prev != "" && strconv.Itoa(cur.VersionMetadata.Version) != prev {
		return "", &Error{Kind: ErrBadReference, Detail: fmt.Sprintf("the Vault secret is at version %d, not %s as read (another writer went first): nothing was written; run it again", cur.VersionMetadata.Version, prev)}
	}
	// Every other field stays as it is, in the same new version; the
	// check-and-set makes a write by someone else since the read fail.
	next := map[string]any{}
	for k, val := range cur.Data {
		next[k] = val
	}
	next[ref.Field] = string(data)
	got, err := kv.Put(ctx, path, next, vault.WithCheckAndSet(cur.VersionMetadata.Version))
	if err != nil {
		return "", v.explain(ref, err)
	}
	return strconv.Itoa(got.VersionMetadata.Version), nil
}

// explain turns a Vault client error into what the user must do. Vault's
// own messages name paths and policies, never values; they are kept.
func (v *vaultKV) explain(ref *compose.StoreRef, err error) error {
	mount, path := split(ref)
	var re *vault.ResponseError
	switch {
	case errors.Is(err, vault.ErrSecretNotFound):
		return &Error{Kind: ErrBadReference, Detail: fmt.Sprintf("Vault at %s has no secret %s in mount %s: check the path, or write it first (vault kv put -mount=%s %s %s=...)", v.addr, path, mount, mount, path, ref.Field)}
	case errors.As(err, &re) && (re.StatusCode == http.StatusForbidden || re.StatusCode == http.StatusUnauthorized):
		return &Error{Kind: ErrNoAccess, Detail: fmt.Sprintf("Vault at %s refused the token (%d): check VAULT_TOKEN and that its policy may read %s/data/%s", v.addr, re.StatusCode, mount, path)}
	case errors.As(err, &re) && re.StatusCode == http.StatusBadRequest && strings.Contains(strings.Join(re.Errors, " "), "check-and-set"):
		return &Error{Kind: ErrBadReference, Detail: "the Vault secret changed while this command ran (another writer went first): nothing was written; run it again"}
	case errors.As(err, &re):
		return &Error{Kind: ErrBadReference, Detail: fmt.Sprintf("Vault at %s answered %d: %s", v.addr, re.StatusCode, strings.Join(re.Errors, "; "))}
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	}
	return &Error{Kind: ErrUnreachable, Detail: fmt.Sprintf("cannot reach Vault at %s (%v): check VAULT_ADDR and that Vault is up", v.addr, err)}
}
