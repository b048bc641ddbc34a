package compose

import (
	"fmt"
	"strings"
)

// StoreRef is a secret's x-store extension: where its value lives in a
// secret store. Spellings:
//
//	vault://MOUNT/PATH#FIELD   Vault or OpenBao KV version 2
//	awssm://NAME[#JSONKEY]     AWS Secrets Manager (no # for a plain string)
//	gcpsm://PROJECT/NAME       Google Cloud Secret Manager
//	azkv://VAULT/NAME          Azure Key Vault
//	op://VAULT/ITEM/FIELD      1Password
type StoreRef struct {
	// URI is the reference as written.
	URI string
	// Scheme is vault, awssm, gcpsm, azkv or op.
	Scheme string
	// Path is what follows scheme://, up to #; Parts is it split at /.
	Path  string
	Parts []string
	// Field is what follows #: a field of the stored object.
	Field string
}

// storeSchemes says, for each scheme, how many /-separated parts its path
// has (0: at least two, the first a mount; -1: any, as an AWS secret's
// name may hold slashes) and whether #FIELD is needed or refused.
var storeSchemes = map[string]struct {
	parts    int
	field    bool
	noField  bool
	spelling string
}{
	"vault": {0, true, false, "vault://MOUNT/PATH#FIELD"},
	"awssm": {-1, false, false, "awssm://NAME or awssm://NAME#JSONKEY"},
	"gcpsm": {2, false, true, "gcpsm://PROJECT/NAME"},
	"azkv":  {2, false, true, "azkv://VAULT/NAME"},
	"op":    {3, false, true, "op://VAULT/ITEM/FIELD"},
}

// ParseStoreRef reads an x-store reference and checks its spelling.
func ParseStoreRef(uri string) (*StoreRef, error) {
	scheme, rest, ok := strings.Cut(uri, "://")
	rule, known := storeSchemes[scheme]
	if !ok || !known {
		return nil, fmt.Errorf("%q is not a store reference: write vault://MOUNT/PATH#FIELD, awssm://NAME#KEY, gcpsm://PROJECT/NAME, azkv://VAULT/NAME or op://VAULT/ITEM/FIELD", uri)
	}
	r := &StoreRef{URI: uri, Scheme: scheme}
	r.Path, r.Field, _ = strings.Cut(rest, "#")
	r.Parts = strings.Split(r.Path, "/")
	bad := r.Path == "" || strings.ContainsAny(r.Path, " ?") || (rule.field && r.Field == "") || (rule.noField && strings.Contains(rest, "#"))
	for _, p := range r.Parts {
		bad = bad || p == ""
	}
	switch rule.parts {
	case -1:
	case 0:
		bad = bad || len(r.Parts) < 2
	default:
		bad = bad || len(r.Parts) != rule.parts
	}
	if bad {
		return nil, fmt.Errorf("%q: write it as %s", uri, rule.spelling)
	}
	return r, nil
}

// Writable: stackctl can write a new value into the store (rotate).
func (r *StoreRef) Writable() bool {
	return r != nil && (r.Scheme == "vault" || r.Scheme == "awssm" || r.Scheme == "gcpsm")
}
