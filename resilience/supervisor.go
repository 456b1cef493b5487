package resilience

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/failsafe-go/failsafe-go"
	"github.com/failsafe-go/failsafe-go/circuitbreaker"
	"github.com/failsafe-go/failsafe-go/retrypolicy"
)

// Defaults of [SupervisorConfig] for zero-valued fields.
const (
	// DefaultHealthyAfter is how long a connection must stay up not to count
	// as short (see SupervisorConfig.HealthyAfter).
	DefaultHealthyAfter = 30 * time.Second
	// DefaultPermanentDelay is the wait after a permanent refusal (see
	// SupervisorConfig.IsPermanent).
	DefaultPermanentDelay = time.Minute
)

// ErrStarted is returned by [Supervisor.Run] when the Supervisor was already run:
// Run may be called once. Not retryable: make a new Supervisor.
var ErrStarted = errors.New("resilience: supervisor already started")

// errEnded stands for a run function that returned nil although its context had
// not ended: the connection closed without saying why.
var errEnded = errors.New("connection ended without an error")

// State is the state of a [Supervisor].
type State int

// The states of a Supervisor. A Supervisor starts Idle, moves between
// Connecting, Connected, BackingOff, BreakerOpen and Refused while it runs,
// and ends Stopped.
const (
	StateIdle        State = iota // Run has not been called
	StateConnecting               // run was called and has not reported a connection yet
	StateConnected                // run reported a connection and is serving it
	StateBackingOff               // run failed; waiting before the next attempt
	StateBreakerOpen              // too many consecutive failed attempts; waiting for the breaker's delay
	StateStopped                  // Run returned
	// StateRefused: the last attempt was refused permanently (see
	// SupervisorConfig.IsPermanent); waiting PermanentDelay before trying again.
	StateRefused
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
	case StateRefused:
		return "refused"
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
	// StateBackingOff, StateBreakerOpen or StateRefused.
	NextAttempt time.Time
	// LastError is the last error run returned, with secrets redacted (see
	// [Redact]); empty if it never failed.
	LastError   string
	LastErrorAt time.Time
	// Permanent reports that LastError is a permanent refusal
	// (SupervisorConfig.IsPermanent): the cause an operator has to fix. A
	// connection clears it.
	Permanent bool
	Attempts  int64 // calls of run so far
	// Reconnects counts connections made after the first: how often a lost
	// connection was made again.
	Reconnects int64
	// ConsecutiveFailures counts the failures since the last connection was
	// made: 0 while connected, 1 once that connection ended, one more for
	// every attempt after it that did not connect. The backoff grows with it.
	ConsecutiveFailures int
	// ShortConnections counts the connections in a row that ended before
	// HealthyAfter; a connection that lasted HealthyAfter resets it.
	ShortConnections int
	Breaker          BreakerState
}

// SupervisorConfig configures a [Supervisor]. Zero-valued fields take
// documented defaults.
type SupervisorConfig struct {
	// Name identifies the supervised connection in Status and logs.
	Name string
	// Backoff sets the delays between attempts; its zero value has defaults
	// (500ms doubling to 60s, ±20% jitter).
	Backoff Backoff
	// Breaker opens after consecutive attempts that failed to connect, so a
	// dead device is tried only every Breaker.Delay; its zero value has
	// defaults (5 failures, 30s). An attempt that connected is a success for
	// the breaker the moment it connects (a half-open breaker closes then),
	// and its ending is not a failure: the breaker protects a server that
	// refuses connections now, not one that did before. Permanent refusals
	// (IsPermanent) are not counted either: they have their own delay.
	Breaker BreakerConfig
	// HealthyAfter is how long a connection must stay up not to count as
	// short. A connection resets the backoff: after it ends, the next attempt
	// waits about Backoff.Initial. Only when connections keep ending before
	// HealthyAfter (a server that accepts and then drops at once) does each
	// further short connection double that first delay, up to Backoff.Max, so
	// such a server is not hammered. Default 30s.
	HealthyAfter time.Duration
	// IsPermanent, if not nil, tells a permanent refusal (credentials the
	// server rejects, an untrusted certificate, a configuration the server
	// refuses) from a failure that retrying may fix. After a permanent
	// refusal the state is StateRefused, Status.Permanent is set, and the next
	// attempt waits PermanentDelay instead of the backoff, in case an
	// operator fixes the cause. It is called from Run's goroutine.
	IsPermanent func(error) bool
	// PermanentDelay is the wait after a permanent refusal, varied by
	// Backoff.Jitter. Default 1 min. Servers that lock an account after
	// repeated failed logins may need more.
	PermanentDelay time.Duration
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
	if c.PermanentDelay < 0 {
		errs = append(errs, fmt.Errorf("resilience: PermanentDelay %v is negative", c.PermanentDelay))
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

	mu          sync.Mutex // guards the fields below
	st          Status
	attempt     int64 // id of the current attempt
	connects    int64
	connectedAt time.Time // when the current attempt connected; zero if it has not
	breaker     circuitbreaker.CircuitBreaker[any]
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
	if cfg.PermanentDelay == 0 {
		cfg.PermanentDelay = DefaultPermanentDelay
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
	case StateRefused:
		s.log.Error("refused permanently", "error", st.LastError, "next_attempt", st.NextAttempt)
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
		var e *attemptError
		if errors.As(err, &e) && (e.connected || e.permanent) {
			return false
		}
		return live(err)
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

// attemptError is the error of one attempt with what the breaker needs to
// know about it: an attempt that connected, or was refused permanently, is not
// a failure of the breaker.
type attemptError struct {
	err                  error
	connected, permanent bool
}

func (e *attemptError) Error() string { return e.err.Error() }
func (e *attemptError) Unwrap() error { return e.err }

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
	permanent := s.cfg.IsPermanent != nil && s.cfg.IsPermanent(err)
	s.mu.Lock()
	now := s.now()
	connected := !s.connectedAt.IsZero()
	if connected {
		if now.Sub(s.connectedAt) >= s.cfg.HealthyAfter {
			s.st.ShortConnections = 0
		} else {
			s.st.ShortConnections++
		}
		s.st.ConsecutiveFailures = 1
	} else {
		s.st.ConsecutiveFailures++
	}
	s.attempt++ // later connected calls from this attempt are ignored
	s.connectedAt = time.Time{}
	s.st.LastError = msg
	s.st.LastErrorAt = now
	s.st.Permanent = permanent
	s.mu.Unlock()
	return &attemptError{err: err, connected: connected, permanent: permanent}
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

// connected records that attempt id is connected: a success for the breaker
// (a half-open one closes) and for the backoff, at once rather than when the
// connection ends.
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
		st.ConsecutiveFailures = 0
		st.Permanent = false
		s.connectedAt = now
		if s.breaker != nil {
			s.breaker.RecordSuccess()
		}
		return true
	})
}

// nextDelay returns how long to wait before the next attempt: PermanentDelay
// after a permanent refusal, the breaker's remaining delay when it is open,
// else the backoff for the failures and short connections so far.
func (s *Supervisor) nextDelay() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	var open time.Duration
	if s.breaker != nil && s.breaker.IsOpen() {
		open = s.breaker.RemainingDelay()
	}
	if s.st.Permanent {
		d := float64(s.cfg.PermanentDelay)
		if j := s.backoff.Jitter; j > 0 {
			d *= 1 + (2*rand.Float64()-1)*j
		}
		return max(time.Duration(d), open)
	}
	if open > 0 {
		return open
	}
	return s.backoff.Delay(s.st.ConsecutiveFailures - 1 + max(s.st.ShortConnections-1, 0))
}

// waiting records that the next attempt is due after delay.
func (s *Supervisor) waiting(delay time.Duration) {
	s.transition(func(st *Status) bool {
		switch {
		case st.Permanent:
			st.State = StateRefused
		case s.breaker != nil && s.breaker.IsOpen():
			st.State = StateBreakerOpen
		default:
			st.State = StateBackingOff
		}
		st.ConnectedSince = time.Time{}
		st.NextAttempt = s.now().Add(delay)
		return true
	})
}
