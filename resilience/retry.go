package resilience

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/failsafe-go/failsafe-go"
	"github.com/failsafe-go/failsafe-go/retrypolicy"
)

// DefaultMaxAttempts is the number of attempts [Retry] makes when
// RetryConfig.MaxAttempts is zero.
const DefaultMaxAttempts = 3

// ErrExceeded matches every [ExceededError]: a call was retried as often as
// allowed and still failed. Whether another retry later is safe depends on the
// last error, which the ExceededError unwraps to.
var ErrExceeded = errors.New("resilience: retries exceeded")

// ExceededError is returned by [Retry] when every attempt failed. It matches
// [ErrExceeded] and unwraps to the last attempt's error, so errors.Is and
// errors.As see through it.
type ExceededError struct {
	Attempts int   // how many attempts were made
	Err      error // the last attempt's error
}

func (e *ExceededError) Error() string {
	return fmt.Sprintf("resilience: %d attempts failed, last: %v", e.Attempts, e.Err)
}

// Is reports whether target is ErrExceeded.
func (e *ExceededError) Is(target error) bool { return target == ErrExceeded }

// Unwrap returns the last attempt's error.
func (e *ExceededError) Unwrap() error { return e.Err }

// RetryConfig configures [Retry]. Only idempotent calls may be retried: a call
// that failed after its effect took place runs again.
type RetryConfig struct {
	// MaxAttempts is the total number of attempts, the first included. Zero means
	// DefaultMaxAttempts (3); negative means no limit (until ctx ends).
	MaxAttempts int
	// Backoff sets the delay before each retry; its zero value has defaults.
	Backoff Backoff
	// Retryable reports whether an error is worth another attempt. Nil means every
	// error except context.Canceled and context.DeadlineExceeded. An error for
	// which it returns false is returned at once, unwrapped.
	Retryable func(error) bool
	// OnRetry, if not nil, is called before each retry's delay with the attempt
	// that failed (counting from 1), its error and the delay.
	OnRetry func(attempt int, err error, delay time.Duration)
}

// Validate reports every problem of c, joined with errors.Join.
func (c RetryConfig) Validate() error { return c.Backoff.Validate() }

// Retry calls fn until it returns nil, returns an error Retryable rejects, the
// attempts are used up or ctx ends, waiting as Backoff says between attempts.
// When the attempts are used up it returns an [*ExceededError] wrapping the last
// error; when ctx ends during a wait, an error that matches ctx.Err() and wraps
// the last error.
func Retry(ctx context.Context, cfg RetryConfig, fn func(context.Context) error) error {
	_, err := RetryValue(ctx, cfg, func(ctx context.Context) (struct{}, error) {
		return struct{}{}, fn(ctx)
	})
	return err
}

// RetryValue is [Retry] for a function that returns a value. The value of the
// successful attempt is returned; on failure, the zero value.
func RetryValue[T any](ctx context.Context, cfg RetryConfig, fn func(context.Context) (T, error)) (T, error) {
	var zero T
	if err := cfg.Validate(); err != nil {
		return zero, err
	}
	if err := ctx.Err(); err != nil {
		return zero, err
	}
	retryable := cfg.Retryable
	if retryable == nil {
		retryable = func(err error) bool {
			return !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded)
		}
	}
	backoff := cfg.Backoff.WithDefaults()
	maxAttempts := cfg.MaxAttempts
	if maxAttempts == 0 {
		maxAttempts = DefaultMaxAttempts
	} else if maxAttempts < 0 {
		maxAttempts = -1
	}
	var lastErr error
	attempts := 0
	rp := retrypolicy.NewBuilder[T]().
		HandleIf(func(_ T, err error) bool { return err != nil && ctx.Err() == nil && retryable(err) }).
		WithMaxAttempts(maxAttempts).
		ReturnLastFailure().
		WithDelayFunc(func(exec failsafe.ExecutionAttempt[T]) time.Duration {
			return backoff.Delay(exec.Attempts() - 1)
		}).
		OnRetryScheduled(func(e failsafe.ExecutionScheduledEvent[T]) {
			lastErr = e.LastError()
			if cfg.OnRetry != nil {
				cfg.OnRetry(e.Attempts(), e.LastError(), e.Delay)
			}
		}).
		Build()
	v, err := failsafe.With(rp).WithContext(ctx).GetWithExecution(func(exec failsafe.Execution[T]) (T, error) {
		attempts = exec.Attempts()
		return fn(exec.Context())
	})
	switch {
	case err == nil:
		return v, nil
	case ctx.Err() != nil && lastErr != nil && errors.Is(err, ctx.Err()):
		return zero, fmt.Errorf("%w after %d attempts, last: %w", ctx.Err(), attempts, lastErr)
	case maxAttempts > 0 && attempts >= maxAttempts && ctx.Err() == nil && retryable(err):
		return zero, &ExceededError{Attempts: attempts, Err: err}
	}
	return zero, err
}
