package resilience

import (
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/failsafe-go/failsafe-go/circuitbreaker"
)

// ErrBreakerOpen is returned for a call the circuit breaker refused because it is
// open: the call was not attempted. Retrying is safe once the breaker's delay has
// passed. It is failsafe-go's circuitbreaker.ErrOpen, so errors.Is matches either.
var ErrBreakerOpen = circuitbreaker.ErrOpen

// Defaults of [BreakerConfig] for zero-valued fields.
const (
	DefaultBreakerFailureThreshold = 5
	DefaultBreakerDelay            = 30 * time.Second
	DefaultBreakerSuccessThreshold = 1
)

// BreakerConfig configures a circuit breaker. The breaker is closed at first; it
// opens after FailureThreshold consecutive failures and then refuses calls with
// [ErrBreakerOpen]. After Delay it is half-open and lets one trial call through;
// SuccessThreshold consecutive successes close it again, a failure opens it for
// another Delay.
//
// Zero-valued fields take the defaults: open after 5 consecutive failures, probe
// after 30s, close after 1 success. A negative FailureThreshold disables the
// breaker.
type BreakerConfig struct {
	FailureThreshold int           // consecutive failures that open the breaker; default 5; negative disables
	Delay            time.Duration // how long the breaker stays open before a probe; default 30s
	SuccessThreshold int           // consecutive successful probes that close it; default 1
}

// Validate reports every problem of c, joined with errors.Join.
func (c BreakerConfig) Validate() error {
	var errs []error
	if c.Delay < 0 {
		errs = append(errs, fmt.Errorf("resilience: breaker Delay %v is negative", c.Delay))
	}
	if c.SuccessThreshold < 0 {
		errs = append(errs, fmt.Errorf("resilience: breaker SuccessThreshold %d is negative", c.SuccessThreshold))
	}
	return errors.Join(errs...)
}

// Enabled reports whether c describes a breaker (FailureThreshold is not negative).
func (c BreakerConfig) Enabled() bool { return c.FailureThreshold >= 0 }

// WithDefaults returns c with its zero-valued fields set to the defaults.
func (c BreakerConfig) WithDefaults() BreakerConfig {
	if c.FailureThreshold == 0 {
		c.FailureThreshold = DefaultBreakerFailureThreshold
	}
	if c.Delay == 0 {
		c.Delay = DefaultBreakerDelay
	}
	if c.SuccessThreshold == 0 {
		c.SuccessThreshold = DefaultBreakerSuccessThreshold
	}
	return c
}

// BreakerState is the state of a circuit breaker.
type BreakerState int

// The states of a circuit breaker.
const (
	BreakerClosed   BreakerState = iota // calls pass
	BreakerOpen                         // calls are refused with ErrBreakerOpen
	BreakerHalfOpen                     // a trial call may pass
)

// String returns "closed", "open" or "half-open".
func (s BreakerState) String() string {
	switch s {
	case BreakerClosed:
		return "closed"
	case BreakerOpen:
		return "open"
	case BreakerHalfOpen:
		return "half-open"
	}
	return fmt.Sprintf("BreakerState(%d)", int(s))
}

func breakerStateOf(s circuitbreaker.State) BreakerState {
	switch s {
	case circuitbreaker.OpenState:
		return BreakerOpen
	case circuitbreaker.HalfOpenState:
		return BreakerHalfOpen
	}
	return BreakerClosed
}

// newBreaker builds the failsafe-go breaker c describes, with isFailure (if not nil) deciding
// which results count as failures, or nil when c disables the breaker. onChange,
// if not nil, is called after every transition, without locks held.
func newBreaker[R any](c BreakerConfig, isFailure func(R, error) bool, jitter float64, onChange func(from, to BreakerState)) circuitbreaker.CircuitBreaker[R] {
	if !c.Enabled() {
		return nil
	}
	c = c.WithDefaults()
	b := circuitbreaker.NewBuilder[R]().
		WithFailureThreshold(uint(c.FailureThreshold)).
		WithSuccessThreshold(uint(c.SuccessThreshold)).
		WithDelay(c.Delay)
	if isFailure != nil {
		b = b.HandleIf(isFailure)
	}
	if jitter > 0 {
		b = b.WithJitterFactor(jitter)
	}
	if onChange != nil {
		b = b.OnStateChanged(func(e circuitbreaker.StateChangedEvent) {
			onChange(breakerStateOf(e.OldState), breakerStateOf(e.NewState))
		})
	}
	return b.Build()
}

// Breaker is a circuit breaker for callers that guard their own calls, such as
// one unit id behind a shared gateway connection: ask [Breaker.Allow] before a
// call, then record its outcome with [Breaker.Success] or [Breaker.Failure]. It
// is failsafe-go's count-based breaker with the semantics of [BreakerConfig].
// A Breaker is safe for concurrent use.
type Breaker struct {
	cb    circuitbreaker.CircuitBreaker[any] // nil when the config disables the breaker
	opens atomic.Uint64
	fails atomic.Int64 // failures in a row
}

// NewBreaker returns a closed breaker configured by c. A c that disables the
// breaker (negative FailureThreshold) gives a Breaker that allows every call.
func NewBreaker(c BreakerConfig) (*Breaker, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	b := &Breaker{}
	b.cb = newBreaker[any](c, nil, 0, func(_, to BreakerState) {
		if to == BreakerOpen {
			b.opens.Add(1)
		}
	})
	return b, nil
}

// Allow reports whether a call may go ahead: true while the breaker is closed,
// and for the trial calls of a half-open breaker. A caller that was allowed
// must record the outcome with Success or Failure.
func (b *Breaker) Allow() bool { return b.cb == nil || b.cb.TryAcquirePermit() }

// Success records a successful call.
func (b *Breaker) Success() {
	b.fails.Store(0)
	if b.cb != nil {
		b.cb.RecordSuccess()
	}
}

// Failure records a failed call.
func (b *Breaker) Failure() {
	b.fails.Add(1)
	if b.cb != nil {
		b.cb.RecordFailure()
	}
}

// State returns the breaker's state; a disabled breaker is always closed.
func (b *Breaker) State() BreakerState {
	if b.cb == nil {
		return BreakerClosed
	}
	return breakerStateOf(b.cb.State())
}

// Opens returns how many times the breaker has opened.
func (b *Breaker) Opens() uint64 { return b.opens.Load() }

// ConsecutiveFailures returns the failures recorded since the last success.
func (b *Breaker) ConsecutiveFailures() int { return int(b.fails.Load()) }
