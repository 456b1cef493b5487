package resilience

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/failsafe-go/failsafe-go"
	"github.com/failsafe-go/failsafe-go/circuitbreaker"
	"github.com/failsafe-go/failsafe-go/retrypolicy"
)

// DefaultHealthyAfter is how long a connection must stay up before the
// [Supervisor] resets its backoff, when SupervisorConfig.HealthyAfter is zero.
const DefaultHealthyAfter = 30 * time.Second

// ErrStarted is returned by [Supervisor.Run] when the Supervisor was already run:
// Run may be called once. Not retryable: make a new Supervisor.
var ErrStarted = errors.New("resilience: supervisor already started")

// errEnded stands for a run function that returned nil although its context had
// not ended: the connection closed without saying why.
var errEnded = errors.New("connection ended without an error")

// State is the state of a [Supervisor].
type State int

// The states of a Supervisor. A Supervisor starts Idle, moves between
// Connecting, Connected, BackingOff and BreakerOpen while it runs, and ends
// Stopped.
const (
	StateIdle        State = iota // Run has not been called
	StateConnecting               // run was called and has not reported a connection yet
	StateConnected                // run reported a connection and is serving it
	StateBackingOff               // run failed; waiting before the next attempt
	StateBreakerOpen              // too many consecutive failures; waiting for the breaker's delay
	StateStopped                  // Run returned
)

// String returns the state's name in lower case, e.g. "backing off".
func (s State) String() string {
	switch s {
	case StateIdle:
		return "idle"
	case StateConnecting:
		return "connecting"
	case StateConnected:
		return "connected"
	case StateBackingOff:
		return "backing off"
	case StateBreakerOpen:
		return "breaker open"
	case StateStopped:
		return "stopped"
	}
	return fmt.Sprintf("State(%d)", int(s))
}

// Status is a snapshot of a [Supervisor]. It is a plain value: keep it, compare
// it, export it.
type Status struct {
	Name           string
	State          State
	Since          time.Time // when State was entered
	ConnectedSince time.Time // when the current connection was made; zero unless State is StateConnected
	// NextAttempt is when the next attempt is due; zero unless State is
	// StateBackingOff or StateBreakerOpen.
	NextAttempt time.Time
	// LastError is the last error run returned, with secrets redacted (see
	// [Redact]); empty if it never failed.
	LastError   string
	LastErrorAt time.Time
	Attempts    int64 // calls of run so far
	// Reconnects counts connections made after the first: how often a lost
	// connection was made again.
	Reconnects int64
	// ConsecutiveFailures counts the attempts since the last connection that
	// stayed up HealthyAfter; the backoff grows with it.
	ConsecutiveFailures int
	Breaker             BreakerState
}

// SupervisorConfig configures a [Supervisor]. Zero-valued fields take
// documented defaults.
type SupervisorConfig struct {
	// Name identifies the supervised connection in Status and logs.
	Name string
	// Backoff sets the delays between attempts; its zero value has defaults
	// (500ms doubling to 60s, ±20% jitter).
	Backoff Backoff
	// Breaker opens after consecutive failed attempts, so a dead device is tried
	// only every Breaker.Delay; its zero value has defaults (5 failures, 30s).
	// An attempt that stayed connected HealthyAfter is not a failure.
	Breaker BreakerConfig
	// HealthyAfter is how long a connection must stay up to count as healthy:
	// the backoff then starts again from Backoff.Initial. Default 30s.
	HealthyAfter time.Duration
	// OnStateChange, if not nil, is called with the new Status after every
	// change of State, in order, from Run's goroutine or the one that called
	// connected. No lock of the Supervisor is held, so it may call Status. It
	// should return quickly and must not wait for Run to return.
	OnStateChange func(Status)
	// Logger receives the transitions; nil discards them.
	Logger *slog.Logger
	// Secrets are values (passwords, tokens) to redact from LastError and logs,
	// in addition to what [Redact] finds by itself.
	Secrets []string
}

// Validate reports every problem of c, joined with errors.Join.
func (c SupervisorConfig) Validate() error {
	var errs []error
	if err := c.Backoff.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := c.Breaker.Validate(); err != nil {
		errs = append(errs, err)
	}
	if c.HealthyAfter < 0 {
		errs = append(errs, fmt.Errorf("resilience: HealthyAfter %v is negative", c.HealthyAfter))
	}
	return errors.Join(errs...)
}

// Supervisor keeps a long-lived connection up: it calls a run function that
// connects and serves until the connection fails, and calls it again after a
// backoff, with a circuit breaker that spaces attempts out when they keep
// failing. Its Status is readable at any time and reported through
// SupervisorConfig.OnStateChange.
type Supervisor struct {
	cfg     SupervisorConfig
	backoff Backoff
	run     func(ctx context.Context, connected func()) error
	log     *slog.Logger
	now     func() time.Time
	started atomic.Bool

	hookMu sync.Mutex // serialises transitions so hooks see them in order

	mu        sync.Mutex // guards the fields below
	st        Status
	attempt   int64 // id of the current attempt
	connects  int64
	healthyAt time.Time // when the current connection counts as healthy
	breaker   circuitbreaker.CircuitBreaker[any]
}

// NewSupervisor returns a Supervisor that will keep run going once Run is
// called. run must connect, call connected once the connection is established
// (it may be called from any goroutine, more calls are ignored), serve until ctx
// ends or the connection fails, and return the reason. It must return promptly
// when ctx ends.
func NewSupervisor(cfg SupervisorConfig, run func(ctx context.Context, connected func()) error) (*Supervisor, error) {
	err := cfg.Validate()
	if run == nil {
		err = errors.Join(err, errors.New("resilience: the run function is nil"))
	}
	if err != nil {
		return nil, err
	}
	if cfg.HealthyAfter == 0 {
		cfg.HealthyAfter = DefaultHealthyAfter
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Supervisor{
		cfg:     cfg,
		backoff: cfg.Backoff.WithDefaults(),
		run:     run,
		log:     log.With("supervisor", cfg.Name),
		now:     time.Now,
	}
	s.st = Status{Name: cfg.Name, State: StateIdle, Since: s.now()}
	return s, nil
}

// Status returns a snapshot of the Supervisor's state.
func (s *Supervisor) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.snapshot()
}

// snapshot must be called with s.mu held.
func (s *Supervisor) snapshot() Status {
	st := s.st
	if st.State == StateConnected && !s.healthyAt.IsZero() && !s.now().Before(s.healthyAt) {
		st.ConsecutiveFailures = 0
	}
	if s.breaker != nil {
		st.Breaker = breakerStateOf(s.breaker.State())
	}
	return st
}

// transition applies change to the status and, if the State changed, logs it
// and calls the hook, without holding s.mu.
func (s *Supervisor) transition(change func(st *Status) bool) {
	s.hookMu.Lock()
	defer s.hookMu.Unlock()
	s.mu.Lock()
	prev := s.st.State
	if !change(&s.st) || s.st.State == prev {
		s.mu.Unlock()
		return
	}
	s.st.Since = s.now()
	st := s.snapshot()
	s.mu.Unlock()

	switch st.State {
	case StateConnected:
		s.log.Info("connected", "attempts", st.Attempts, "reconnects", st.Reconnects)
	case StateBackingOff, StateBreakerOpen:
		s.log.Warn("connection failed", "state", st.State.String(), "error", st.LastError,
			"consecutive_failures", st.ConsecutiveFailures, "next_attempt", st.NextAttempt)
	default:
		s.log.Debug("state changed", "from", prev.String(), "to", st.State.String())
	}
	if s.cfg.OnStateChange != nil {
		s.cfg.OnStateChange(st)
	}
}

// Run supervises the run function until ctx ends, then returns ctx.Err(). It
// returns as soon as ctx ends and the current run call has returned. Run may be
// called once; later calls return ErrStarted.
func (s *Supervisor) Run(ctx context.Context) error {
	if !s.started.CompareAndSwap(false, true) {
		return ErrStarted
	}
	defer s.transition(func(st *Status) bool {
		st.State = StateStopped
		st.ConnectedSince = time.Time{}
		st.NextAttempt = time.Time{}
		return true
	})
	if err := ctx.Err(); err != nil {
		return err
	}

	live := func(err error) bool { return err != nil && ctx.Err() == nil }
	policies := []failsafe.Policy[any]{
		retrypolicy.NewBuilder[any]().
			HandleIf(func(_ any, err error) bool { return live(err) }).
			WithMaxRetries(-1).
			WithDelayFunc(func(failsafe.ExecutionAttempt[any]) time.Duration { return s.nextDelay() }).
			OnRetryScheduled(func(e failsafe.ExecutionScheduledEvent[any]) { s.waiting(e.Delay) }).
			Build(),
	}
	breaker := newBreaker(s.cfg.Breaker, func(_ any, err error) bool {
		var h *endedHealthy
		return live(err) && !errors.As(err, &h)
	}, s.backoff.Jitter, nil)
	if breaker != nil {
		s.mu.Lock()
		s.breaker = breaker
		s.mu.Unlock()
		policies = append(policies, breaker)
	}
	// The retry policy retries every failure until ctx ends, so this returns
	// only then.
	_ = failsafe.With(policies...).WithContext(ctx).Run(func() error { return s.attemptOnce(ctx) })
	return ctx.Err()
}

// endedHealthy marks the error of a connection that had stayed up HealthyAfter:
// the breaker does not count it as a failure.
type endedHealthy struct{ err error }

func (e *endedHealthy) Error() string { return e.err.Error() }
func (e *endedHealthy) Unwrap() error { return e.err }

// attemptOnce calls run once and does the accounting.
func (s *Supervisor) attemptOnce(ctx context.Context) error {
	var id int64
	s.transition(func(st *Status) bool {
		s.attempt++
		id = s.attempt
		st.Attempts++
		st.State = StateConnecting
		st.NextAttempt = time.Time{}
		return true
	})
	err := s.call(ctx, id)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if err == nil {
		err = errEnded
	}
	msg := Redact(err.Error(), s.cfg.Secrets...)
	healthy := false
	s.mu.Lock()
	now := s.now()
	if !s.healthyAt.IsZero() && !now.Before(s.healthyAt) {
		healthy = true
		s.st.ConsecutiveFailures = 1
	} else {
		s.st.ConsecutiveFailures++
	}
	s.attempt++ // later connected calls from this attempt are ignored
	s.healthyAt = time.Time{}
	s.st.LastError = msg
	s.st.LastErrorAt = now
	s.mu.Unlock()
	if healthy {
		return &endedHealthy{err}
	}
	return err
}

// call runs the run function, turning a panic into a *PanicError: a bug in
// one connection's code must not bring down the process that supervises many.
func (s *Supervisor) call(ctx context.Context, id int64) (err error) {
	defer func() {
		if v := recover(); v != nil {
			stack := debug.Stack()
			err = &PanicError{Value: v, Stack: stack}
			s.log.Error("run panicked", "panic", Redact(fmt.Sprint(v), s.cfg.Secrets...), "stack", string(stack))
		}
	}()
	return s.run(ctx, func() { s.connected(id) })
}

// PanicError is the failure a [Supervisor] records when its run function
// panicked: it treats it like any other failure and tries again after the
// backoff.
type PanicError struct {
	Value any    // what was passed to panic
	Stack []byte // the stack of the goroutine that panicked
}

func (e *PanicError) Error() string { return fmt.Sprintf("run panicked: %v", e.Value) }

// connected records that attempt id is connected.
func (s *Supervisor) connected(id int64) {
	s.transition(func(st *Status) bool {
		if id != s.attempt || st.State != StateConnecting {
			return false
		}
		now := s.now()
		s.connects++
		if s.connects > 1 {
			st.Reconnects++
		}
		st.State = StateConnected
		st.ConnectedSince = now
		s.healthyAt = now.Add(s.cfg.HealthyAfter)
		return true
	})
}

// nextDelay returns how long to wait before the next attempt: the breaker's
// remaining delay when it is open, else the backoff for the failures so far.
func (s *Supervisor) nextDelay() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.breaker != nil && s.breaker.IsOpen() {
		return s.breaker.RemainingDelay()
	}
	return s.backoff.Delay(s.st.ConsecutiveFailures - 1)
}

// waiting records that the next attempt is due after delay.
func (s *Supervisor) waiting(delay time.Duration) {
	s.transition(func(st *Status) bool {
		st.State = StateBackingOff
		if s.breaker != nil && s.breaker.IsOpen() {
			st.State = StateBreakerOpen
		}
		st.ConnectedSince = time.Time{}
		st.NextAttempt = s.now().Add(delay)
		return true
	})
}
