package sopsbridge

import (
	"errors"
	"fmt"
	"strings"
)

// The kinds of failure a caller can tell apart with errors.Is.
var (
	ErrNoKey        = errors.New("no usable key to decrypt it")
	ErrTampered     = errors.New("it was changed after it was encrypted (MAC mismatch)")
	ErrKeyNotFound  = errors.New("key not found")
	ErrNotEncrypted = errors.New("it is not a SOPS-encrypted file")
	ErrClear        = errors.New("x-sops selects a value sops left unencrypted")
	ErrMalformed    = errors.New("it is not a well-formed SOPS file")
	ErrInvalid      = errors.New("invalid value")
	// ErrUnreachable: the file's key services did not answer in time (or
	// the read was interrupted): nothing wrong with the file itself.
	ErrUnreachable = errors.New("no key service answered in time to decrypt it")
)

// Error is a failure to read one source. It never holds plaintext.
type Error struct {
	// Ref names the compose object: "secret db_password".
	Ref string
	// File is the file read, if any.
	File string
	// Path is the x-sops key path, if any.
	Path string
	// Kind is one of the Err* values above.
	Kind error
	// Detail says more about what failed; Hint says what to do.
	Detail, Hint string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Ref)
	if e.File != "" {
		fmt.Fprintf(&b, ": %s", e.File)
	}
	if e.Path != "" {
		fmt.Fprintf(&b, ": key %s", e.Path)
	}
	fmt.Fprintf(&b, ": %s", e.Kind)
	if e.Detail != "" {
		fmt.Fprintf(&b, ": %s", e.Detail)
	}
	if e.Hint != "" {
		fmt.Fprintf(&b, "; %s", e.Hint)
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Kind }
