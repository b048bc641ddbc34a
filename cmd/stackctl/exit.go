package main

import (
	"context"
	"errors"

	"github.com/stackctl/stackctl/rotate"
	"github.com/stackctl/stackctl/rotate/engine"
	"github.com/stackctl/stackctl/sopsbridge"
)

// Exit codes, documented in README.md: what the user must fix is 2, what
// failed on the way (the engine, the network, a key service, a signal) 1.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

// usageError marks a failure of the command line or of its input that
// the user must fix before anything can run.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// exitCode is the one place that turns an error into an exit code.
func exitCode(err error, interrupted bool) int {
	var ue usageError
	switch {
	case err == nil:
		return exitOK
	case interrupted && errors.Is(err, context.Canceled):
		return exitFailure // SIGINT or SIGTERM, whatever was being read
	case errors.As(err, &ue):
		return exitUsage
	}
	return exitFailure
}

// inputError marks a failure to load, decrypt or validate the inputs as
// bad input, unless the inputs could not be read for a reason that is
// not theirs: a key service that did not answer, an interruption.
func inputError(err error) error {
	if err == nil || errors.Is(err, sopsbridge.ErrUnreachable) ||
		errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return usageError{err}
}

// asUsage marks a failure caused by what the user asked for, found only
// once the engine was read, as a usage error.
func asUsage(err error) error {
	if errors.Is(err, engine.ErrNoStack) || errors.Is(err, rotate.ErrBadValue) {
		return usageError{err}
	}
	return err
}
