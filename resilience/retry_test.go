package resilience

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"
)

var fast = Backoff{Initial: time.Millisecond, Max: time.Millisecond, Jitter: -1}

func TestRetrySucceedsAfterFailures(t *testing.T) {
	calls := 0
	var events []int
	err := Retry(context.Background(), RetryConfig{MaxAttempts: 5, Backoff: fast,
		OnRetry: func(attempt int, err error, delay time.Duration) {
			events = append(events, attempt)
			if delay != time.Millisecond || err == nil {
				t.Errorf("OnRetry(%d, %v, %v)", attempt, err, delay)
			}
		}}, func(context.Context) error {
		calls++
		if calls < 3 {
			return io.ErrUnexpectedEOF
		}
		return nil
	})
	if err != nil || calls != 3 {
		t.Fatalf("err = %v after %d calls, want nil after 3", err, calls)
	}
	if len(events) != 2 || events[0] != 1 || events[1] != 2 {
		t.Errorf("OnRetry attempts = %v, want [1 2]", events)
	}
}

func TestRetryExceeded(t *testing.T) {
	calls := 0
	errBusy := errors.New("slave device busy")
	err := Retry(context.Background(), RetryConfig{MaxAttempts: 4, Backoff: fast}, func(context.Context) error {
		calls++
		return errBusy
	})
	if calls != 4 {
		t.Fatalf("calls = %d, want 4", calls)
	}
	if !errors.Is(err, ErrExceeded) || !errors.Is(err, errBusy) {
		t.Fatalf("err = %v, want ErrExceeded wrapping the last error", err)
	}
	var ex *ExceededError
	if !errors.As(err, &ex) || ex.Attempts != 4 || ex.Err != errBusy {
		t.Fatalf("ExceededError = %+v", ex)
	}
	if !strings.Contains(err.Error(), "4 attempts") || !strings.Contains(err.Error(), "slave device busy") {
		t.Errorf("message %q", err)
	}
}

func TestRetryDefaultAttempts(t *testing.T) {
	calls := 0
	err := Retry(context.Background(), RetryConfig{Backoff: fast}, func(context.Context) error { calls++; return io.EOF })
	if calls != DefaultMaxAttempts || !errors.Is(err, ErrExceeded) {
		t.Fatalf("calls = %d, err = %v", calls, err)
	}
}

func TestRetryStopsOnNonRetryable(t *testing.T) {
	errAuth := errors.New("access denied")
	calls := 0
	err := Retry(context.Background(), RetryConfig{MaxAttempts: 5, Backoff: fast,
		Retryable: func(err error) bool { return !errors.Is(err, errAuth) }},
		func(context.Context) error { calls++; return errAuth })
	if err != errAuth || calls != 1 {
		t.Fatalf("err = %v after %d calls, want the error itself after 1", err, calls)
	}
	// By default, context errors are not retried.
	calls = 0
	err = Retry(context.Background(), RetryConfig{MaxAttempts: 5, Backoff: fast},
		func(context.Context) error { calls++; return context.DeadlineExceeded })
	if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ErrExceeded) || calls != 1 {
		t.Fatalf("err = %v after %d calls", err, calls)
	}
}

func TestRetryContextEndsDuringDelay(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	errDown := errors.New("down")
	err := Retry(ctx, RetryConfig{MaxAttempts: -1, Backoff: Backoff{Initial: time.Hour, Max: time.Hour},
		OnRetry: func(int, error, time.Duration) { cancel() }},
		func(context.Context) error { return errDown })
	if !errors.Is(err, context.Canceled) || !errors.Is(err, errDown) {
		t.Fatalf("err = %v, want Canceled wrapping the last error", err)
	}
	if err := Retry(ctx, RetryConfig{}, func(context.Context) error { t.Error("called after cancel"); return nil }); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
}

func TestRetryValue(t *testing.T) {
	calls := 0
	v, err := RetryValue(context.Background(), RetryConfig{Backoff: fast}, func(context.Context) (int, error) {
		calls++
		if calls == 1 {
			return 0, io.EOF
		}
		return 42, nil
	})
	if v != 42 || err != nil {
		t.Fatalf("RetryValue = %d, %v", v, err)
	}
	if _, err := RetryValue(context.Background(), RetryConfig{Backoff: Backoff{Initial: -1}}, func(context.Context) (int, error) { return 0, nil }); err == nil {
		t.Fatal("invalid config: want an error")
	}
}
