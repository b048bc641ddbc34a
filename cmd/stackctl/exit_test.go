package main

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/stackctl/stackctl/rotate/engine"
	"github.com/stackctl/stackctl/sopsbridge"
)

func TestExitCode(t *testing.T) {
	sopsErr := func(kind error) error {
		return fmt.Errorf("secret s: %w", &sopsbridge.Error{File: "app.enc.yaml", Kind: kind})
	}
	tests := []struct {
		name        string
		err         error
		interrupted bool
		want        int
	}{
		{"ok", nil, false, exitOK},
		{"flag", usageError{errors.New("unknown flag --x")}, false, exitUsage},
		{"no usable key: the user's to fix", inputError(sopsErr(sopsbridge.ErrNoKey)), false, exitUsage},
		{"tampered file", inputError(sopsErr(sopsbridge.ErrTampered)), false, exitUsage},
		{"key service did not answer: not the input's fault", inputError(sopsErr(sopsbridge.ErrUnreachable)), false, exitFailure},
		{"one of two files unreachable", inputError(errors.Join(sopsErr(sopsbridge.ErrNoKey), sopsErr(sopsbridge.ErrUnreachable))), false, exitFailure},
		{"interrupted while reading", inputError(fmt.Errorf("-c -: %w", context.Canceled)), true, exitFailure},
		{"interrupted, the error a usage one", usageError{context.Canceled}, true, exitFailure},
		{"engine refused", errors.New("create service x: rpc error"), false, exitFailure},
		{"no such stack", asUsage(fmt.Errorf("prune: %w", engine.ErrNoStack)), false, exitUsage},
		{"lock lost", fmt.Errorf("deploy: %w", engine.ErrLockLost), false, exitFailure},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := exitCode(tt.err, tt.interrupted); got != tt.want {
				t.Errorf("exitCode(%v) = %d, want %d", tt.err, got, tt.want)
			}
		})
	}
}
