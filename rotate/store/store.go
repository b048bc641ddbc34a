// Package store reads a secret's value from the secret store an x-store
// reference names, and writes a new one there as a new version: Vault
// (and OpenBao) KV version 2 through Vault's own client. Values stay in
// memory; errors name the reference, never a value.
package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/stackctl/stackctl/compose"
)

// Value is a stored value and the store's identity of it: the first
// version of the store's history from which it has been the same, so that
// a change to another field of the same object names no new version.
type Value struct {
	Data []byte
	// Version is the store's own version identity ("3" for KV version 3).
	Version string
	// Current is the store's current version, which a write checks.
	Current string
}

// ErrBadReference is a reference that cannot be read as written: no such
// path or field, a value that is not text, a store this build does not
// link. ErrNoAccess is missing or refused credentials. ErrUnreachable is a
// store that did not answer. All are the user's to fix.
var (
	ErrBadReference = errors.New("bad store reference")
	ErrNoAccess     = errors.New("no access to the store")
	ErrUnreachable  = errors.New("store unreachable")
)

// Error is a failed store call: which secret, which reference, what to do.
type Error struct {
	Secret string
	URI    string
	Kind   error
	// Detail says what failed and what to do; it holds no value.
	Detail string
}

func (e *Error) Error() string {
	return fmt.Sprintf("secret %s (x-store %s): %s", e.Secret, e.URI, e.Detail)
}

func (e *Error) Unwrap() error { return e.Kind }

// Backend is one kind of store.
type Backend interface {
	Read(ctx context.Context, ref *compose.StoreRef) (Value, error)
	// Next is the version identity a write after current makes.
	Next(current string) string
	// Write stores data as version next, if the current version is still
	// prev (a Value's Current), and returns the version it made.
	Write(ctx context.Context, ref *compose.StoreRef, data []byte, prev, next string) (string, error)
}

// Stores hands out one backend per scheme, each connected on first use.
type Stores struct {
	// Getenv reads the environment the stores' own CLIs read
	// (VAULT_ADDR, VAULT_TOKEN, ...).
	Getenv   func(string) string
	backends map[string]Backend
}

// openers connect to each kind of store, as its own CLI would: from the
// environment, the CLI's files and the SDK's default credential chain.
var openers = map[string]func(ctx context.Context, getenv func(string) string) (Backend, error){
	"vault": func(_ context.Context, getenv func(string) string) (Backend, error) { return newVault(getenv) },
	"awssm": func(ctx context.Context, _ func(string) string) (Backend, error) { return newAWS(ctx) },
	"azkv":  func(_ context.Context, getenv func(string) string) (Backend, error) { return newAzure(getenv) },
	"op":    func(_ context.Context, getenv func(string) string) (Backend, error) { return newOnePassword(getenv) },
	"gcpsm": func(ctx context.Context, getenv func(string) string) (Backend, error) { return newGCP(ctx, getenv) },
}

// For is the backend of a reference's scheme.
func (s *Stores) For(ctx context.Context, secret string, ref *compose.StoreRef) (Backend, error) {
	if b, ok := s.backends[ref.Scheme]; ok {
		return b, nil
	}
	open, ok := openers[ref.Scheme]
	if !ok {
		return nil, &Error{Secret: secret, URI: ref.URI, Kind: ErrBadReference,
			Detail: fmt.Sprintf("this build of stackctl reads no %s:// store: keep the value in a store it reads or a SOPS file", ref.Scheme)}
	}
	b, err := open(ctx, s.Getenv)
	if err != nil {
		return nil, &Error{Secret: secret, URI: ref.URI, Kind: ErrNoAccess, Detail: err.Error()}
	}
	if s.backends == nil {
		s.backends = map[string]Backend{}
	}
	s.backends[ref.Scheme] = b
	return b, nil
}

// Read reads the value a secret's reference names.
func (s *Stores) Read(ctx context.Context, secret string, ref *compose.StoreRef) (Value, error) {
	b, err := s.For(ctx, secret, ref)
	if err != nil {
		return Value{}, err
	}
	v, err := b.Read(ctx, ref)
	return v, named(secret, ref, err)
}

// Next is the version identity the store gives a secret's next value.
func (s *Stores) Next(ctx context.Context, secret string, ref *compose.StoreRef, current string) (string, error) {
	b, err := s.For(ctx, secret, ref)
	if err != nil {
		return "", err
	}
	return b.Next(current), nil
}

// Write writes a new value for a secret as the store's version next.
func (s *Stores) Write(ctx context.Context, secret string, ref *compose.StoreRef, data []byte, prev, next string) (string, error) {
	b, err := s.For(ctx, secret, ref)
	if err != nil {
		return "", err
	}
	v, err := b.Write(ctx, ref, data, prev, next)
	return v, named(secret, ref, err)
}

// named puts the secret's name on a backend's error.
func named(secret string, ref *compose.StoreRef, err error) error {
	var e *Error
	if errors.As(err, &e) {
		e.Secret, e.URI = secret, ref.URI
	}
	return err
}
