package compose

import (
	"regexp"
	"sync"
)

// lazyRegexp compiles expr on first use, not at start: nothing is
// compiled before a command needs it.
func lazyRegexp(expr string) func() *regexp.Regexp {
	return sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(expr) })
}
