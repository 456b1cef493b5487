package resilience

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"time"
)

// Defaults of [Backoff] for zero-valued fields.
const (
	DefaultBackoffInitial    = 500 * time.Millisecond
	DefaultBackoffMax        = 60 * time.Second
	DefaultBackoffMultiplier = 2.0
	DefaultBackoffJitter     = 0.2
)

// Backoff is an exponential backoff with jitter and a cap: the n-th delay
// (counting from 0) is Initial * Multiplier^n, capped at Max, then moved at
// random by up to ±Jitter of itself, and capped at Max again.
//
// Zero-valued fields take the defaults: Initial 500ms, Max 60s, Multiplier 2,
// Jitter 0.2 (±20%). A negative Jitter disables jitter. The zero Backoff is
// ready to use.
type Backoff struct {
	Initial    time.Duration // the first delay; default 500ms
	Max        time.Duration // the cap on every delay; default 60s
	Multiplier float64       // growth per step, at least 1; default 2
	Jitter     float64       // fraction of the delay to vary by, in [0, 1]; default 0.2; negative for none
}

// Validate reports every problem of b, joined with errors.Join.
func (b Backoff) Validate() error {
	var errs []error
	if b.Initial < 0 {
		errs = append(errs, fmt.Errorf("resilience: backoff Initial %v is negative", b.Initial))
	}
	if b.Max < 0 {
		errs = append(errs, fmt.Errorf("resilience: backoff Max %v is negative", b.Max))
	}
	if d := b.WithDefaults(); d.Max < d.Initial && b.Initial >= 0 && b.Max >= 0 {
		errs = append(errs, fmt.Errorf("resilience: backoff Max %v is below Initial %v", d.Max, d.Initial))
	}
	if b.Multiplier != 0 && (b.Multiplier < 1 || math.IsNaN(b.Multiplier) || math.IsInf(b.Multiplier, 0)) {
		errs = append(errs, fmt.Errorf("resilience: backoff Multiplier %v must be at least 1", b.Multiplier))
	}
	if b.Jitter > 1 || math.IsNaN(b.Jitter) {
		errs = append(errs, fmt.Errorf("resilience: backoff Jitter %v must be at most 1", b.Jitter))
	}
	return errors.Join(errs...)
}

// WithDefaults returns b with its zero-valued fields set to the defaults.
func (b Backoff) WithDefaults() Backoff {
	if b.Initial == 0 {
		b.Initial = DefaultBackoffInitial
	}
	if b.Max == 0 {
		b.Max = DefaultBackoffMax
	}
	if b.Multiplier == 0 {
		b.Multiplier = DefaultBackoffMultiplier
	}
	if b.Jitter == 0 {
		b.Jitter = DefaultBackoffJitter
	}
	return b
}

// Delay returns the delay before retry n, counting from 0: Delay(0) is about
// Initial. Negative n counts as 0. Delay never exceeds Max and is never negative.
func (b Backoff) Delay(n int) time.Duration {
	return b.WithDefaults().delay(n, rand.Float64())
}

// delay computes the n-th delay of a Backoff whose defaults are applied, with
// r in [0, 1) choosing the jitter.
func (b Backoff) delay(n int, r float64) time.Duration {
	if n < 0 {
		n = 0
	}
	d := float64(b.Initial) * math.Pow(b.Multiplier, float64(n))
	if d > float64(b.Max) || math.IsInf(d, 0) || math.IsNaN(d) {
		d = float64(b.Max)
	}
	if b.Jitter > 0 {
		d *= 1 + (2*r-1)*b.Jitter
	}
	d = min(d, float64(b.Max))
	return time.Duration(max(d, 0))
}
