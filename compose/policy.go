package compose

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// RotatePolicy is a secret's x-rotate extension: how often its value is
// due for a new one, and how a new value is generated.
type RotatePolicy struct {
	// Every is how long a value may live; EverySpec is how it was written
	// ("90d"), for labels and output.
	Every     time.Duration
	EverySpec string
	// Length and Charset override the rotate command's generator
	// settings; zero values keep its defaults.
	Length  int
	Charset string
}

// Charsets a generated value may use (rotate.Generate makes each).
var Charsets = []string{"alnum", "base64url", "hex"}

// everyUnits are the units of an x-rotate every: duration. Go's own
// durations stop at hours; rotation periods are days and weeks.
var everyUnits = map[string]time.Duration{
	"s": time.Second, "m": time.Minute, "h": time.Hour,
	"d": 24 * time.Hour, "w": 7 * 24 * time.Hour,
}

var everyPart = lazyRegexp(`^(\d+)([smhdw])`)

// ParseEvery reads a rotation period: one or more <number><unit> parts,
// units s, m, h, d and w ("90d", "12h", "4w", "1d12h").
func ParseEvery(s string) (time.Duration, error) {
	rest := strings.TrimSpace(s)
	if rest == "" {
		return 0, fmt.Errorf("every: is empty: write a period like 90d, 12h or 4w")
	}
	var total time.Duration
	for rest != "" {
		m := everyPart().FindStringSubmatch(rest)
		if m == nil {
			return 0, fmt.Errorf("every: %q is not a period: write a number and a unit (s, m, h, d, w), like 90d, 12h or 4w", s)
		}
		n, err := strconv.ParseInt(m[1], 10, 64)
		unit := everyUnits[m[2]]
		if err != nil || n > int64((1<<63-1)/unit) || total > 1<<63-1-time.Duration(n)*unit {
			return 0, fmt.Errorf("every: %q is too long", s)
		}
		total += time.Duration(n) * unit
		rest = rest[len(m[0]):]
	}
	if total <= 0 {
		return 0, fmt.Errorf("every: %q is not a period: it must be longer than zero", s)
	}
	return total, nil
}

// parseXRotate reads x-rotate: {every: 90d, length: 32, charset: alnum}.
func parseXRotate(v any) (*RotatePolicy, error) {
	if v == nil {
		return nil, nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("must be a mapping like {every: 90d}")
	}
	p := &RotatePolicy{}
	for _, k := range SortedKeys(m) {
		if err := p.set(k, m[k]); err != nil {
			return nil, err
		}
	}
	if p.EverySpec == "" {
		return nil, fmt.Errorf("every: is missing: say how often the value is due, like {every: 90d}")
	}
	return p, nil
}

func (p *RotatePolicy) set(k string, v any) error {
	switch k {
	case "every":
		s, ok := v.(string)
		if !ok {
			if n, isInt := v.(int); isInt {
				return fmt.Errorf("every: %d has no unit: write it like %dd (days), or with s, m, h, w", n, n)
			}
			return fmt.Errorf("every: must be a period like 90d, 12h or 4w")
		}
		d, err := ParseEvery(s)
		if err != nil {
			return err
		}
		p.Every, p.EverySpec = d, strings.TrimSpace(s)
	case "length":
		n, ok := v.(int)
		if max := Secret.MaxSize() - 1; !ok || n < 1 || n > max {
			return fmt.Errorf("length: must be a whole number from 1 to %d", max)
		}
		p.Length = n
	case "charset":
		s, ok := v.(string)
		if !ok || !slices.Contains(Charsets, s) {
			return fmt.Errorf("charset: must be one of %s", strings.Join(Charsets, ", "))
		}
		p.Charset = s
	default:
		return fmt.Errorf("unknown field %q: use every:, length: and charset:", k)
	}
	return nil
}
