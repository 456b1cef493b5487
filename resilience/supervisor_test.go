package resilience

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// recorder keeps every Status a Supervisor reports.
type recorder struct {
	mu   sync.Mutex
	seen []Status
}

func (r *recorder) hook(s Status) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seen = append(r.seen, s)
}

func (r *recorder) all() []Status {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Status(nil), r.seen...)
}

func (r *recorder) states() []State {
	var out []State
	for _, s := range r.all() {
		out = append(out, s.State)
	}
	return out
}

func (r *recorder) has(st State) bool {
	for _, s := range r.all() {
		if s.State == st {
			return true
		}
	}
	return false
}

// started runs s in a goroutine and returns a function that cancels it and
// waits for Run to return, checking that it returns ctx.Err().
func started(t *testing.T, s *Supervisor) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; !errors.Is(err, context.Canceled) {
				t.Errorf("Run returned %v, want context.Canceled", err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

func TestSupervisorReconnects(t *testing.T) {
	rec := &recorder{}
	var mu sync.Mutex
	calls := 0
	s, err := NewSupervisor(SupervisorConfig{
		Name: "boiler-1", Backoff: fast, Breaker: BreakerConfig{FailureThreshold: -1},
		OnStateChange: rec.hook,
	}, func(ctx context.Context, connected func()) error {
		mu.Lock()
		calls++
		n := calls
		mu.Unlock()
		if n < 3 {
			return fmt.Errorf("dial 10.0.0.%d: connection refused", n)
		}
		connected()
		connected() // later calls are ignored
		<-ctx.Done()
		return ctx.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	if st := s.Status(); st.State != StateIdle || st.Name != "boiler-1" {
		t.Fatalf("before Run: %+v", st)
	}
	stop := started(t, s)
	waitFor(t, "connected", func() bool { return s.Status().State == StateConnected })
	st := s.Status()
	if st.Attempts != 3 || st.Reconnects != 0 || st.ConsecutiveFailures != 0 {
		t.Errorf("status = %+v, want 3 attempts, 0 reconnects, 0 consecutive failures once connected", st)
	}
	if st.LastError != "dial 10.0.0.2: connection refused" || st.ConnectedSince.IsZero() {
		t.Errorf("status = %+v", st)
	}
	stop()
	want := []State{StateConnecting, StateBackingOff, StateConnecting, StateBackingOff, StateConnecting, StateConnected, StateStopped}
	if got := rec.states(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("transitions = %v, want %v", got, want)
	}
	if st := s.Status(); st.State != StateStopped || !st.ConnectedSince.IsZero() {
		t.Errorf("after stop: %+v", st)
	}
	if err := s.Run(context.Background()); !errors.Is(err, ErrStarted) {
		t.Errorf("second Run = %v, want ErrStarted", err)
	}
}

// TestSupervisorBackoffGrowsAndResets checks the delays, read from the status
// with a clock that moves only when the test moves it.
func TestSupervisorBackoffGrowsAndResets(t *testing.T) {
	clock := newTestClock()
	rec := &recorder{}
	var mu sync.Mutex
	calls := 0
	// Attempts 1-3 fail at once; 4 connects and stays up an hour; 5 fails;
	// 6 connects and blocks.
	s, err := NewSupervisor(SupervisorConfig{
		Backoff:       Backoff{Initial: time.Millisecond, Max: 3 * time.Millisecond, Jitter: -1},
		Breaker:       BreakerConfig{FailureThreshold: -1},
		HealthyAfter:  time.Hour,
		OnStateChange: rec.hook,
	}, func(ctx context.Context, connected func()) error {
		mu.Lock()
		calls++
		n := calls
		mu.Unlock()
		switch n {
		case 4:
			connected()
			clock.Advance(time.Hour)
			return errors.New("session lost")
		case 6:
			connected()
			<-ctx.Done()
			return nil
		}
		return errors.New("refused")
	})
	if err != nil {
		t.Fatal(err)
	}
	s.now = clock.Now
	started(t, s)
	waitFor(t, "6th attempt", func() bool { return s.Status().Attempts == 6 && s.Status().State == StateConnected })

	var delays []time.Duration
	var failures []int
	for _, st := range rec.all() {
		if st.State == StateBackingOff {
			delays = append(delays, st.NextAttempt.Sub(st.Since))
			failures = append(failures, st.ConsecutiveFailures)
		}
	}
	ms := time.Millisecond
	if want := []time.Duration{ms, 2 * ms, 3 * ms, ms, 2 * ms}; fmt.Sprint(delays) != fmt.Sprint(want) {
		t.Errorf("delays = %v, want %v (doubling, capped, reset after the healthy connection)", delays, want)
	}
	if want := []int{1, 2, 3, 1, 2}; fmt.Sprint(failures) != fmt.Sprint(want) {
		t.Errorf("consecutive failures = %v, want %v", failures, want)
	}
	if st := s.Status(); st.Reconnects != 1 {
		t.Errorf("reconnects = %d, want 1", st.Reconnects)
	}
}

func TestSupervisorConnectionShowsNoFailures(t *testing.T) {
	var mu sync.Mutex
	calls := 0
	s, err := NewSupervisor(SupervisorConfig{Backoff: fast, HealthyAfter: time.Hour},
		func(ctx context.Context, connected func()) error {
			mu.Lock()
			calls++
			n := calls
			mu.Unlock()
			if n == 1 {
				return errors.New("refused")
			}
			connected()
			<-ctx.Done()
			return nil
		})
	if err != nil {
		t.Fatal(err)
	}
	started(t, s)
	waitFor(t, "connected", func() bool { return s.Status().State == StateConnected })
	// A connection is a success at once, not after HealthyAfter.
	if st := s.Status(); st.ConsecutiveFailures != 0 || st.Breaker != BreakerClosed || st.LastError != "refused" {
		t.Errorf("just connected: %+v, want 0 consecutive failures, breaker closed, the last error kept", st)
	}
}

// TestSupervisorConnectionClosesTheBreaker is the restart of a server that
// had refused long enough to open the breaker: the probe that connects closes
// the breaker the moment it connects, the health says so while it is
// connected, and when that connection ends (before HealthyAfter) the next
// attempt backs off from Backoff.Initial instead of waiting for the breaker.
func TestSupervisorConnectionClosesTheBreaker(t *testing.T) {
	rec := &recorder{}
	var mu sync.Mutex
	calls := 0
	release := make(chan struct{})
	s, err := NewSupervisor(SupervisorConfig{
		Backoff: fast, Breaker: BreakerConfig{FailureThreshold: 2, Delay: time.Millisecond},
		HealthyAfter: time.Hour, OnStateChange: rec.hook,
	}, func(ctx context.Context, connected func()) error {
		mu.Lock()
		calls++
		n := calls
		mu.Unlock()
		switch {
		case n <= 2:
			return errors.New("refused")
		case n == 3: // the breaker's probe: the server is back
			connected()
			select {
			case <-release:
			case <-ctx.Done():
				return ctx.Err()
			}
			return errors.New("reset by peer") // a short connection: the server restarts again
		case n == 4:
			return errors.New("refused")
		}
		connected()
		<-ctx.Done()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	started(t, s)
	waitFor(t, "the probe connected", func() bool { return s.Status().State == StateConnected })
	if !rec.has(StateBreakerOpen) {
		t.Fatalf("transitions %v never show the breaker open", rec.states())
	}
	st := s.Status()
	if st.Breaker != BreakerClosed || st.ConsecutiveFailures != 0 || st.Attempts != 3 {
		t.Errorf("connected after the breaker opened: %+v, want breaker closed and 0 consecutive failures", st)
	}
	all := rec.all()
	if last := all[len(all)-1]; last.State != StateConnected || last.Breaker != BreakerClosed || last.ConsecutiveFailures != 0 {
		t.Errorf("the hook saw the connection as %+v", last)
	}
	close(release)
	waitFor(t, "connected again", func() bool { st := s.Status(); return st.Attempts == 5 && st.State == StateConnected })
	// Attempt 4 was refused once: one failure, not enough to open a breaker
	// that the connection had reset.
	for _, st := range rec.all()[len(all):] {
		if st.State == StateBreakerOpen || st.Breaker != BreakerClosed {
			t.Errorf("after the connection: %+v, want the breaker closed throughout", st)
		}
		if st.State == StateBackingOff && st.ShortConnections != 1 {
			t.Errorf("backing off after a short connection: %+v, want ShortConnections 1", st)
		}
	}
	if st := s.Status(); st.Reconnects != 1 || st.ConsecutiveFailures != 0 {
		t.Errorf("status %+v", st)
	}
}

// TestSupervisorShortConnectionsBackOff checks that connections that end at
// once (a server that accepts and drops) never open the breaker, but back off
// like failures, and that a connection that lasted HealthyAfter resets that.
func TestSupervisorShortConnectionsBackOff(t *testing.T) {
	clock := newTestClock()
	rec := &recorder{}
	var mu sync.Mutex
	calls := 0
	s, err := NewSupervisor(SupervisorConfig{
		Backoff:      Backoff{Initial: time.Millisecond, Max: 4 * time.Millisecond, Jitter: -1},
		Breaker:      BreakerConfig{FailureThreshold: 2, Delay: time.Hour},
		HealthyAfter: time.Minute, OnStateChange: rec.hook,
	}, func(ctx context.Context, connected func()) error {
		mu.Lock()
		calls++
		n := calls
		mu.Unlock()
		connected()
		switch {
		case n <= 5:
			return errors.New("closed by server") // at once: the clock does not move
		case n == 6:
			clock.Advance(time.Minute)
			return errors.New("closed by server")
		}
		<-ctx.Done()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	s.now = clock.Now
	started(t, s)
	waitFor(t, "7th attempt", func() bool { st := s.Status(); return st.Attempts == 7 && st.State == StateConnected })
	var delays []time.Duration
	var short []int
	for _, st := range rec.all() {
		if st.State == StateBreakerOpen {
			t.Fatalf("short connections opened the breaker: %+v", st)
		}
		if st.State == StateBackingOff {
			delays = append(delays, st.NextAttempt.Sub(st.Since))
			short = append(short, st.ShortConnections)
		}
	}
	ms := time.Millisecond
	if want := []time.Duration{ms, 2 * ms, 4 * ms, 4 * ms, 4 * ms, ms}; fmt.Sprint(delays) != fmt.Sprint(want) {
		t.Errorf("delays = %v, want %v", delays, want)
	}
	if want := []int{1, 2, 3, 4, 5, 0}; fmt.Sprint(short) != fmt.Sprint(want) {
		t.Errorf("short connections = %v, want %v", short, want)
	}
}

// TestSupervisorPermanentRefusal checks that a refusal IsPermanent matches
// waits PermanentDelay in StateRefused, shows the cause, and never opens the
// breaker; a transient failure after it backs off as usual.
func TestSupervisorPermanentRefusal(t *testing.T) {
	clock := newTestClock()
	rec := &recorder{}
	errDenied := errors.New("BadUserAccessDenied")
	var mu sync.Mutex
	calls := 0
	s, err := NewSupervisor(SupervisorConfig{
		Backoff:        Backoff{Initial: 2 * time.Millisecond, Max: 2 * time.Millisecond, Jitter: -1},
		Breaker:        BreakerConfig{FailureThreshold: 2, Delay: time.Hour},
		IsPermanent:    func(err error) bool { return errors.Is(err, errDenied) },
		PermanentDelay: time.Millisecond,
		OnStateChange:  rec.hook,
	}, func(ctx context.Context, connected func()) error {
		mu.Lock()
		calls++
		n := calls
		mu.Unlock()
		switch {
		case n <= 4:
			return fmt.Errorf("session: %w", errDenied)
		case n == 5:
			return errors.New("refused")
		}
		connected()
		<-ctx.Done()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	s.now = clock.Now
	started(t, s)
	waitFor(t, "connected", func() bool { return s.Status().State == StateConnected })
	var refused, backoff []Status
	for _, st := range rec.all() {
		switch st.State {
		case StateRefused:
			refused = append(refused, st)
		case StateBackingOff:
			backoff = append(backoff, st)
		case StateBreakerOpen:
			t.Errorf("permanent refusals opened the breaker: %+v", st)
		}
	}
	if len(refused) != 4 || len(backoff) != 1 {
		t.Fatalf("transitions %v, want 4 refused and 1 backing off", rec.states())
	}
	for _, st := range refused {
		if !st.Permanent || st.LastError != "session: BadUserAccessDenied" || st.NextAttempt.Sub(st.Since) != time.Millisecond {
			t.Errorf("refused: %+v, want the cause and PermanentDelay", st)
		}
	}
	if st := backoff[0]; st.Permanent || st.NextAttempt.Sub(st.Since) != 2*time.Millisecond || st.ConsecutiveFailures != 5 {
		t.Errorf("after a transient failure: %+v, want the backoff", st)
	}
	if st := s.Status(); st.Permanent || st.Breaker != BreakerClosed || st.ConsecutiveFailures != 0 {
		t.Errorf("connected: %+v", st)
	}
	if StateRefused.String() != "refused" {
		t.Errorf("StateRefused = %q", StateRefused.String())
	}
}

func TestSupervisorBreakerOpens(t *testing.T) {
	rec := &recorder{}
	s, err := NewSupervisor(SupervisorConfig{
		Backoff: fast, Breaker: BreakerConfig{FailureThreshold: 3, Delay: time.Hour},
		OnStateChange: rec.hook,
	}, func(ctx context.Context, connected func()) error { return errors.New("no route to host") })
	if err != nil {
		t.Fatal(err)
	}
	stop := started(t, s)
	waitFor(t, "breaker open", func() bool { return s.Status().State == StateBreakerOpen })
	st := s.Status()
	if st.Attempts != 3 || st.ConsecutiveFailures != 3 || st.Breaker != BreakerOpen {
		t.Errorf("status = %+v, want 3 attempts, 3 failures, breaker open", st)
	}
	if d := st.NextAttempt.Sub(st.Since); d < 30*time.Minute {
		t.Errorf("next attempt in %v, want about the breaker delay (1h)", d)
	}
	// Run returns promptly while waiting out the breaker.
	stop()
	if st := s.Status(); st.Attempts != 3 || st.State != StateStopped {
		t.Errorf("after stop: %+v", st)
	}
	want := []State{StateConnecting, StateBackingOff, StateConnecting, StateBackingOff, StateConnecting, StateBreakerOpen, StateStopped}
	if got := rec.states(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("transitions = %v, want %v", got, want)
	}
}

func TestSupervisorBreakerProbesAndCloses(t *testing.T) {
	rec := &recorder{}
	var mu sync.Mutex
	calls := 0
	s, err := NewSupervisor(SupervisorConfig{
		Backoff: fast, Breaker: BreakerConfig{FailureThreshold: 2, Delay: time.Millisecond},
		HealthyAfter:  time.Nanosecond,
		OnStateChange: rec.hook,
	}, func(ctx context.Context, connected func()) error {
		mu.Lock()
		calls++
		n := calls
		mu.Unlock()
		switch {
		case n <= 2:
			return errors.New("refused")
		case n == 3: // the probe: connects, stays healthy, then drops
			connected()
			return errors.New("reset by peer")
		}
		connected()
		<-ctx.Done()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	started(t, s)
	waitFor(t, "4th attempt connected", func() bool { st := s.Status(); return st.Attempts == 4 && st.State == StateConnected })
	if !rec.has(StateBreakerOpen) {
		t.Errorf("transitions %v never show the breaker open", rec.states())
	}
	// The healthy probe closed the breaker: the drop after it backed off
	// instead of reopening the breaker.
	all := rec.all()
	last := all[len(all)-3] // ... backing off, connecting, connected
	if last.State != StateBackingOff || last.ConsecutiveFailures != 1 {
		t.Errorf("after the healthy probe dropped: %+v, want backing off with 1 failure", last)
	}
	if st := s.Status(); st.Breaker != BreakerClosed || st.Reconnects != 1 {
		t.Errorf("status = %+v, want breaker closed, 1 reconnect", st)
	}
}

func TestSupervisorStopsWhileConnected(t *testing.T) {
	s, err := NewSupervisor(SupervisorConfig{}, func(ctx context.Context, connected func()) error {
		connected()
		<-ctx.Done()
		return ctx.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	stop := started(t, s)
	waitFor(t, "connected", func() bool { return s.Status().State == StateConnected })
	stop()
	if st := s.Status(); st.State != StateStopped || st.LastError != "" || st.Attempts != 1 {
		t.Errorf("after stop: %+v", st)
	}
}

func TestSupervisorRedactsErrors(t *testing.T) {
	var logs bytes.Buffer
	var logMu sync.Mutex
	logger := slog.New(slog.NewTextHandler(lockedWriter{&logMu, &logs}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s, err := NewSupervisor(SupervisorConfig{
		Name: "mqtt", Backoff: Backoff{Initial: time.Hour, Max: time.Hour}, Logger: logger,
		Secrets: []string{"tok-9f8e"},
	}, func(ctx context.Context, connected func()) error {
		return errors.New(`connect mqtts://plant:hunter2@broker:8883 with token tok-9f8e: not authorized`)
	})
	if err != nil {
		t.Fatal(err)
	}
	stop := started(t, s)
	waitFor(t, "backing off", func() bool { return s.Status().State == StateBackingOff })
	stop()
	got := s.Status().LastError
	if got != `connect mqtts://plant:xxxxx@broker:8883 with token xxxxx: not authorized` {
		t.Errorf("LastError = %q", got)
	}
	logMu.Lock()
	defer logMu.Unlock()
	if strings.Contains(logs.String(), "hunter2") || strings.Contains(logs.String(), "tok-9f8e") {
		t.Errorf("logs leak a secret:\n%s", logs.String())
	}
	if !strings.Contains(logs.String(), "connection failed") {
		t.Errorf("logs miss the failure:\n%s", logs.String())
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func TestSupervisorRunEndingCleanlyIsAFailure(t *testing.T) {
	s, err := NewSupervisor(SupervisorConfig{Backoff: Backoff{Initial: time.Hour, Max: time.Hour}},
		func(ctx context.Context, connected func()) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	started(t, s)
	waitFor(t, "backing off", func() bool { return s.Status().State == StateBackingOff })
	if st := s.Status(); st.LastError != errEnded.Error() || st.ConsecutiveFailures != 1 {
		t.Errorf("status = %+v", st)
	}
}

func TestSupervisorHookMayReadStatus(t *testing.T) {
	var s *Supervisor
	var mu sync.Mutex
	var seen []State
	s, err := NewSupervisor(SupervisorConfig{
		OnStateChange: func(st Status) {
			// Reading the status from the hook must not deadlock.
			cur := s.Status()
			mu.Lock()
			seen = append(seen, cur.State)
			mu.Unlock()
		},
	}, func(ctx context.Context, connected func()) error {
		connected()
		<-ctx.Done()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	stop := started(t, s)
	waitFor(t, "connected", func() bool { return s.Status().State == StateConnected })
	stop()
	mu.Lock()
	defer mu.Unlock()
	if fmt.Sprint(seen) != fmt.Sprint([]State{StateConnecting, StateConnected, StateStopped}) {
		t.Errorf("hook saw %v", seen)
	}
}

func TestNewSupervisorValidates(t *testing.T) {
	_, err := NewSupervisor(SupervisorConfig{HealthyAfter: -1, PermanentDelay: -1, Backoff: Backoff{Jitter: 3}, Breaker: BreakerConfig{Delay: -1}}, nil)
	if err == nil {
		t.Fatal("want an error")
	}
	for _, want := range []string{"HealthyAfter", "PermanentDelay", "Jitter", "Delay", "run function"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
	s, err := NewSupervisor(SupervisorConfig{}, func(context.Context, func()) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Run(ctx); !errors.Is(err, context.Canceled) || s.Status().State != StateStopped {
		t.Fatalf("Run on a done context = %v, status %v", err, s.Status().State)
	}
}

func TestStateString(t *testing.T) {
	for s, want := range map[State]string{StateIdle: "idle", StateConnecting: "connecting", StateConnected: "connected",
		StateBackingOff: "backing off", StateBreakerOpen: "breaker open", StateStopped: "stopped", 42: "State(42)"} {
		if s.String() != want {
			t.Errorf("%d: %q, want %q", int(s), s.String(), want)
		}
	}
}

func TestSupervisorSurvivesAPanic(t *testing.T) {
	var mu sync.Mutex
	calls := 0
	s, err := NewSupervisor(SupervisorConfig{Backoff: fast}, func(ctx context.Context, connected func()) error {
		mu.Lock()
		calls++
		n := calls
		mu.Unlock()
		if n == 1 {
			var dev *struct{ registers []uint16 }
			_ = dev.registers[0] // a bug in the connection's code
		}
		connected()
		<-ctx.Done()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	started(t, s)
	waitFor(t, "connected after the panic", func() bool { return s.Status().State == StateConnected })
	if st := s.Status(); !strings.Contains(st.LastError, "run panicked: runtime error: invalid memory address or nil pointer dereference") || st.Attempts != 2 {
		t.Errorf("status %+v", st)
	}
	pe := &PanicError{Value: "x"}
	if pe.Error() != "run panicked: x" {
		t.Error(pe.Error())
	}
}

// TestSupervisorIgnoresStaleConnected checks that a connected callback kept
// from an attempt that already ended does not mark a later attempt connected.
func TestSupervisorIgnoresStaleConnected(t *testing.T) {
	var mu sync.Mutex
	var first func()
	calls := 0
	s, err := NewSupervisor(SupervisorConfig{Backoff: fast}, func(ctx context.Context, connected func()) error {
		mu.Lock()
		calls++
		n := calls
		if n == 1 {
			first = connected
		}
		mu.Unlock()
		if n == 1 {
			return errors.New("refused")
		}
		<-ctx.Done() // the second attempt never connects
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	started(t, s)
	waitFor(t, "the second attempt", func() bool { st := s.Status(); return st.Attempts == 2 && st.State == StateConnecting })
	mu.Lock()
	stale := first
	mu.Unlock()
	stale()
	if st := s.Status(); st.State != StateConnecting || !st.ConnectedSince.IsZero() {
		t.Errorf("a stale connected callback changed the status: %+v", st)
	}
}
