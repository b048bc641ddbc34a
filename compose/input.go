package compose

import (
	"context"
	"errors"
	"fmt"
	"io"
)

// ErrTooLarge: an input over its bound (/dev/zero, a runaway pipe).
var ErrTooLarge = errors.New("too large")

// ReadInput reads all that open returns, at most limit bytes, and gives up
// when ctx ends: a read from a terminal, a pipe or a FIFO (whose open
// blocks until a writer comes) never keeps Ctrl-C from stopping stackctl.
// A read given up on is left to end with the process.
func ReadInput(ctx context.Context, open func() (io.ReadCloser, error), limit int) ([]byte, error) {
	type result struct {
		b   []byte
		err error
	}
	done := make(chan result, 1)
	go func() {
		r, err := open()
		if err != nil {
			done <- result{nil, err}
			return
		}
		defer r.Close()
		b, err := io.ReadAll(io.LimitReader(r, int64(limit)+1))
		if err == nil && len(b) > limit {
			err = fmt.Errorf("more than %d bytes: %w", limit, ErrTooLarge)
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
