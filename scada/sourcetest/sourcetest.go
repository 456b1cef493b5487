// Package sourcetest is the conformance suite every [scada.Source] passes:
// points for every configured tag with the right names and a Good quality,
// changes on the server arriving, prompt return on cancellation without
// leaked goroutines, a typed error when the server goes away and delivery
// again when it is back, the documented handling of a failing sink, and life
// under a [scada.Collector] across a server restart.
//
// It is an ordinary package rather than a helper inside each protocol's tests
// so that scada/opcua, scada/modbus, scada/mqtt and any Source written outside
// this module run exactly the same checks against a simulator of their
// protocol:
//
//	func TestConformance(t *testing.T) {
//		sim := startMySimulator(t)
//		sourcetest.TestSource(t, sourcetest.Harness{
//			Name:  "plc1",
//			Tags:  []string{"boiler1.temp", "boiler1.flow"},
//			New:   func(t *testing.T) scada.Source { return newMySource(t, sim.Addr()) },
//			Set:   sim.Set,
//			Stop:  sim.Stop,
//			Start: sim.Start,
//		})
//	}
//
// The suite waits on conditions, never on sleeps, and its timeouts are
// generous (a passing run never reaches them), so it holds on a loaded CI
// machine and under the race detector.
package sourcetest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/greenlang/gl001/resilience"
	"github.com/greenlang/gl001/scada"
)

// wait bounds every wait for something that should happen soon. It is
// generous because CI machines are loaded; a passing run never waits this
// long.
const wait = 30 * time.Second

// earliest is the earliest plausible source timestamp: anything before was
// decoded with a wrong epoch or unit.
var earliest = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// retrigger is the longest the suite waits for a changed value before
// changing it again, where a Source may legitimately miss a change (right
// after it connected, while it may still be subscribing). It starts at
// retriggerFirst and doubles.
const (
	retriggerFirst = 50 * time.Millisecond
	retrigger      = time.Second
)

// Harness is what the suite needs from one protocol: a simulator of its
// server holding the tags, and a way to build a Source reading them.
//
// The suite runs its subtests one after another against the same simulator;
// it leaves the simulator started when a subtest ends, whatever happened.
type Harness struct {
	// Name is the Source name the Source stamps on its points
	// (scada.Point.Source). It is also the name the suite gives the Source
	// in a Collector.
	Name string
	// Tags are the tag names the Source is configured with, as its points
	// name them. Each must hold a number that can take the whole values the
	// suite sets: 1000 to 30000, which 16-bit registers and every numeric
	// type of OPC UA above a byte hold exactly.
	Tags []string

	// New returns a new Source reading the simulator's Tags, not yet
	// running. The suite calls it once per subtest and calls Run on it
	// (again after a failure, as a Collector does). New may register
	// t.Cleanup to close what it made.
	New func(t *testing.T) scada.Source
	// Set changes a tag's value on the simulator, as the device would. The
	// Source must deliver it with that Value (the harness does any scaling).
	Set func(tag string, value float64) error
	// Stop takes the server away as far as its clients can tell: open
	// connections are cut and new ones refused.
	Stop func() error
	// Start brings the server back on the same address after Stop.
	Start func() error

	// Features say what the protocol legitimately does differently.
	Features Features
	// IgnoreGoroutines name goroutines of the simulator that a subtest may
	// leave behind: a listener that Start runs anew, server-side state that
	// outlives a client's connection. The leak checks ignore them (use
	// goleak.IgnoreAnyFunction with a function of the simulator's library).
	// A Source's own goroutines must never need this.
	IgnoreGoroutines []goleak.Option
}

// Features describe what a protocol legitimately does not do, or does its own
// way. The zero value is the common behaviour of a [scada.Source]: current
// values at connect, Run returns on a lost connection, a sink error ends Run.
type Features struct {
	// ChangeDriven means Run delivers a tag only when its value changes (an
	// MQTT topic without retained messages): there is no current value to
	// read at connect. The suite then changes every tag with Set instead of
	// waiting for the current values.
	ChangeDriven bool
	// RidesOutReconnects means Run does not return when the server goes
	// away but reconnects by itself, as the documentation of such a Source
	// must say. The suite then checks that points resume after Start without
	// a new Run, instead of checking that Run returns scada.ErrConnection.
	// Under a Collector such a Source counts no reconnect in its health.
	RidesOutReconnects bool
	// MarksConnectionLoss means Run delivers a Bad point for every tag when
	// the connection is lost, so consumers see the gap (OPC UA's
	// BadNoCommunication). The suite then checks that every tag got one.
	MarksConnectionLoss bool
	// SinkError is what Run does when the sink returns an error.
	SinkError SinkErrorPolicy
}

// SinkErrorPolicy is what a Source's Run does when its sink returns an error.
type SinkErrorPolicy int

const (
	// SinkErrorEndsRun: Run returns promptly with an error that wraps the
	// sink's (errors.Is finds it). A Source that acknowledges upstream
	// leaves the failed points unacknowledged, so the next Run may bring
	// them again. This is the zero value.
	SinkErrorEndsRun SinkErrorPolicy = iota
	// SinkErrorRetried: Run keeps running and delivers the refused points
	// again until the sink takes them.
	SinkErrorRetried
	// SinkErrorDropped: Run keeps running, drops the refused batch (counting
	// it, as the Source documents) and delivers what comes after.
	SinkErrorDropped
)

// String names the policy.
func (p SinkErrorPolicy) String() string {
	switch p {
	case SinkErrorEndsRun:
		return "SinkErrorEndsRun"
	case SinkErrorRetried:
		return "SinkErrorRetried"
	case SinkErrorDropped:
		return "SinkErrorDropped"
	}
	return fmt.Sprintf("SinkErrorPolicy(%d)", int(p))
}

func (h Harness) validate() error {
	var errs []error
	if h.Name == "" {
		errs = append(errs, errors.New("sourcetest: Harness.Name is empty"))
	}
	if len(h.Tags) == 0 {
		errs = append(errs, errors.New("sourcetest: Harness.Tags is empty"))
	}
	if h.New == nil || h.Set == nil || h.Stop == nil || h.Start == nil {
		errs = append(errs, errors.New("sourcetest: Harness.New, Set, Stop and Start are all required"))
	}
	if p := h.Features.SinkError; p < SinkErrorEndsRun || p > SinkErrorDropped {
		errs = append(errs, fmt.Errorf("sourcetest: unknown %v", p))
	}
	return errors.Join(errs...)
}

// TestSource runs the suite against h. Each check is a subtest:
//
//   - Delivers: Run delivers points for every tag, named as configured, with
//     the Source's name, a Good quality, a source timestamp and a finite
//     value; it names no other tag.
//   - Change: a value set on the simulator arrives.
//   - Cancel: Run returns nil or ctx.Err() soon after ctx ends, while
//     connected, while connecting, and when ctx has already ended.
//   - ServerLoss: when the server goes away Run ends with an error matching
//     scada.ErrConnection (Features.RidesOutReconnects: points resume after
//     Start without a new Run), a Run while it is away fails the same way,
//     and a new Run after Start delivers again.
//   - SinkError: a sink that fails is handled as Features.SinkError says.
//   - Collector: under a scada.Collector, points resume after the server
//     went away and came back, and the health counts a reconnect.
//
// Every subtest checks at its end that the Source left no goroutine behind
// (goleak, against the goroutines running when the subtest started).
func TestSource(t *testing.T, h Harness) {
	if err := h.validate(); err != nil {
		t.Fatal(err)
	}
	s := &suite{h: h, last: make(map[string]float64), next: 1000 + float64(time.Now().UnixNano()%10000)}
	tests := []struct {
		name string
		fn   func(t *testing.T)
	}{
		{"Delivers", s.testDelivers},
		{"Change", s.testChange},
		{"Cancel", s.testCancel},
		{"ServerLoss", s.testServerLoss},
		{"SinkError", s.testSinkError},
		{"Collector", s.testCollector},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s.noLeaks(t)
			tc.fn(t)
		})
	}
}

type suite struct {
	h Harness

	mu      sync.Mutex
	last    map[string]float64 // the last value set per tag
	next    float64
	stopped bool // the simulator is stopped: a cleanup starts it
}

// noLeaks registers, first, the cleanup that runs last: every goroutine
// started during the subtest must be gone.
func (s *suite) noLeaks(t *testing.T) {
	opts := append([]goleak.Option{goleak.IgnoreCurrent()}, s.h.IgnoreGoroutines...)
	t.Cleanup(func() {
		// Give the other side of closed connections time to wind down,
		// then let goleak report what is left.
		deadline := time.Now().Add(wait)
		for goleak.Find(opts...) != nil && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		goleak.VerifyNone(t, opts...)
	})
}

// value returns a new value for tag, within 1000-30000: each call gives the
// next whole number (wrapping around), never the tag's previous value.
func (s *suite) value(tag string) float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.next++
	if s.next > 30000 {
		s.next = 1000
	}
	if s.next == s.last[tag] {
		s.next++
	}
	s.last[tag] = s.next
	return s.next
}

func (s *suite) set(t *testing.T, tag string) float64 {
	t.Helper()
	v := s.value(tag)
	if err := s.h.Set(tag, v); err != nil {
		t.Fatalf("Set(%q, %v): %v", tag, v, err)
	}
	return v
}

func (s *suite) stop(t *testing.T) {
	t.Helper()
	if err := s.h.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	s.mu.Lock()
	s.stopped = true
	s.mu.Unlock()
	t.Cleanup(func() {
		s.mu.Lock()
		stopped := s.stopped
		s.mu.Unlock()
		if stopped {
			if err := s.h.Start(); err != nil {
				t.Errorf("Start: %v", err)
			}
		}
	})
}

func (s *suite) start(t *testing.T) {
	t.Helper()
	if err := s.h.Start(); err != nil {
		t.Fatalf("Start: %v", err)
	}
	s.mu.Lock()
	s.stopped = false
	s.mu.Unlock()
}

// checkPoint reports what is wrong with a point delivered while the server
// was up and nothing failed.
func (s *suite) checkPoint(p scada.Point) error {
	var errs []error
	if !slices.Contains(s.h.Tags, p.Tag) {
		errs = append(errs, fmt.Errorf("tag %q is not one of the configured tags %q", p.Tag, s.h.Tags))
	}
	if p.Source != s.h.Name {
		errs = append(errs, fmt.Errorf("source name %q, want %q", p.Source, s.h.Name))
	}
	if !p.Quality.IsGood() {
		errs = append(errs, fmt.Errorf("quality %v, want Good", p.Quality))
	}
	if p.Time.IsZero() {
		errs = append(errs, errors.New("zero source timestamp"))
	} else if p.Time.Before(earliest) || p.Time.After(time.Now().Add(time.Hour)) {
		errs = append(errs, fmt.Errorf("implausible source timestamp %v (a wrong epoch or unit?)", p.Time))
	}
	if math.IsNaN(p.Value) || math.IsInf(p.Value, 0) {
		errs = append(errs, fmt.Errorf("value %v is not finite", p.Value))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("point %+v: %w", p, err)
	}
	return nil
}

// checkAll fails t for every point of ps that checkPoint rejects (the first
// few only).
func (s *suite) checkAll(t *testing.T, ps []scada.Point) {
	t.Helper()
	n := 0
	for _, p := range ps {
		if err := s.checkPoint(p); err != nil {
			if n++; n <= 5 {
				t.Error(err)
			}
		}
	}
	if n > 5 {
		t.Errorf("... %d bad points in all", n)
	}
}

// allTags waits until r holds a Good point of every tag, changing them first
// when the protocol delivers only changes.
func (s *suite) allTags(t *testing.T, r *recorder, what string) {
	t.Helper()
	if s.h.Features.ChangeDriven {
		for _, tag := range s.h.Tags {
			s.changeUntilSeen(t, r, tag, what)
		}
		return
	}
	r.waitFor(t, what+": a Good point of every tag", func(ps []scada.Point) bool {
		seen := make(map[string]bool, len(s.h.Tags))
		for _, p := range ps {
			if p.Quality.IsGood() {
				seen[p.Tag] = true
			}
		}
		for _, tag := range s.h.Tags {
			if !seen[tag] {
				return false
			}
		}
		return true
	})
}

// changeUntilSeen sets new values of tag until one of them arrives, Good:
// right after a (re)connection a Source may still be subscribing and miss a
// change, which is no fault.
func (s *suite) changeUntilSeen(t *testing.T, r *recorder, tag, what string) {
	t.Helper()
	deadline := time.Now().Add(wait)
	var set []float64
	from := r.len()
	every := retriggerFirst
	for {
		set = append(set, s.set(t, tag))
		until := time.Now().Add(every)
		every = min(2*every, retrigger)
		for {
			if r.hasValue(from, tag, set) {
				return
			}
			r.checkRunning(t, what)
			now := time.Now()
			if now.After(deadline) {
				t.Fatalf("%s: none of the values %v set on %q arrived within %v; last points: %v", what, set, tag, wait, r.tail(5))
			}
			if now.After(until) {
				break
			}
			r.wake(until.Sub(now))
		}
	}
}

// running is one call of Run in its own goroutine.
type running struct {
	cancel context.CancelFunc
	done   chan struct{}
	err    error
}

// run calls src.Run(ctx, sink) in a goroutine. A cleanup cancels it and waits
// for it, so a failed subtest leaves nothing running.
func run(t *testing.T, ctx context.Context, src scada.Source, sink scada.Sink) *running {
	ctx, cancel := context.WithCancel(ctx)
	r := &running{cancel: cancel, done: make(chan struct{})}
	switch rec := sink.(type) {
	case *recorder:
		rec.run = r
	case *failingSink:
		rec.recorder.run = r
	}
	go func() {
		defer close(r.done)
		r.err = src.Run(ctx, sink)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-r.done:
		case <-time.After(wait):
			t.Errorf("Run did not return within %v of its context ending", wait)
		}
	})
	return r
}

// result waits for Run to return on its own and returns its error.
func (r *running) result(t *testing.T, what string) error {
	t.Helper()
	select {
	case <-r.done:
		return r.err
	case <-time.After(wait):
		t.Fatalf("%s: Run did not return within %v", what, wait)
		return nil
	}
}

// ended reports whether Run has returned.
func (r *running) ended() bool {
	select {
	case <-r.done:
		return true
	default:
		return false
	}
}

// stop cancels Run and checks that it returns nil or ctx.Err() promptly.
func (r *running) stop(t *testing.T, what string) {
	t.Helper()
	r.cancel()
	if err := r.result(t, what+": after cancel"); err != nil && !errors.Is(err, context.Canceled) {
		t.Errorf("%s: Run returned %v after its context was cancelled, want nil or context.Canceled", what, err)
	}
}

func (s *suite) testDelivers(t *testing.T) {
	src := s.h.New(t)
	rec := newRecorder()
	r := run(t, context.Background(), src, rec)
	s.allTags(t, rec, "first Run")
	if r.ended() {
		t.Fatalf("Run returned %v while the server was up", r.err)
	}
	r.stop(t, "first Run")
	s.checkAll(t, rec.snapshot())
}

func (s *suite) testChange(t *testing.T) {
	src := s.h.New(t)
	rec := newRecorder()
	r := run(t, context.Background(), src, rec)
	s.allTags(t, rec, "before the change")
	// The Source is connected and has delivered: one change must arrive,
	// for every tag, with no second chance.
	for _, tag := range s.h.Tags {
		from := rec.len()
		v := s.set(t, tag)
		rec.waitFor(t, fmt.Sprintf("%q changed to %v", tag, v), func(ps []scada.Point) bool {
			return hasValue(ps[min(from, len(ps)):], tag, []float64{v})
		})
	}
	r.stop(t, "Run")
	s.checkAll(t, rec.snapshot())
}

func (s *suite) testCancel(t *testing.T) {
	src := s.h.New(t)

	// Already ended.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r := run(t, ctx, src, newRecorder())
	if err := r.result(t, "Run with an ended context"); err != nil && !errors.Is(err, context.Canceled) {
		t.Errorf("Run with an ended context = %v, want nil or context.Canceled", err)
	}

	// Ended while connecting (or just after): no wait for anything.
	r = run(t, context.Background(), src, newRecorder())
	r.stop(t, "Run cancelled at once")

	// Ended while delivering.
	rec := newRecorder()
	r = run(t, context.Background(), src, rec)
	s.allTags(t, rec, "Run")
	r.stop(t, "Run cancelled while delivering")

	// Ended while the sink holds a batch: Deliver gets a context that ends
	// with Run's, and Run returns once the sink gives up.
	bs := &blockingSink{entered: make(chan struct{})}
	r = run(t, context.Background(), src, bs)
	s.untilDelivered(t, r, bs.called, "a sink that blocks")
	r.stop(t, "Run cancelled while the sink blocks")

	// The Source can run again after a cancelled Run.
	rec = newRecorder()
	r = run(t, context.Background(), src, rec)
	s.allTags(t, rec, "Run after a cancelled Run")
	r.stop(t, "Run after a cancelled Run")
}

func (s *suite) testServerLoss(t *testing.T) {
	src := s.h.New(t)
	rec := newRecorder()
	r := run(t, context.Background(), src, rec)
	s.allTags(t, rec, "before the server went away")
	s.checkAll(t, rec.snapshot())
	lossAt := rec.len()
	s.stop(t)

	if s.h.Features.RidesOutReconnects {
		s.start(t)
		s.changeUntilSeen(t, rec, s.h.Tags[0], "after Start, same Run")
		if r.ended() {
			t.Fatalf("Run of a Source that rides out reconnects returned %v", r.err)
		}
		r.stop(t, "Run")
		return
	}

	err := r.result(t, "after the server went away")
	if !errors.Is(err, scada.ErrConnection) {
		t.Fatalf("Run returned %v when the server went away, want an error matching scada.ErrConnection", err)
	}
	if s.h.Features.MarksConnectionLoss {
		after := rec.snapshot()[lossAt:]
		for _, tag := range s.h.Tags {
			if !slices.ContainsFunc(after, func(p scada.Point) bool { return p.Tag == tag && p.Quality.IsBad() }) {
				t.Errorf("no Bad point for %q after the connection was lost", tag)
			}
		}
		for _, p := range after {
			if p.Quality.IsBad() && p.Value != 0 {
				t.Errorf("Bad point %+v carries a value", p)
			}
		}
	}

	// While the server is away, Run fails the same way, and soon.
	r = run(t, context.Background(), src, newRecorder())
	if err := r.result(t, "Run while the server is away"); !errors.Is(err, scada.ErrConnection) {
		t.Errorf("Run while the server is away = %v, want an error matching scada.ErrConnection", err)
	}

	s.start(t)
	rec = newRecorder()
	r = run(t, context.Background(), src, rec)
	s.changeUntilSeen(t, rec, s.h.Tags[0], "new Run after Start")
	if !s.h.Features.ChangeDriven {
		s.allTags(t, rec, "new Run after Start")
	}
	r.stop(t, "new Run after Start")
	s.checkAll(t, rec.snapshot())
}

// blockingSink holds every Deliver until its context ends.
type blockingSink struct {
	once    sync.Once
	entered chan struct{}
}

func (b *blockingSink) Deliver(ctx context.Context, _ []scada.Point) error {
	b.once.Do(func() { close(b.entered) })
	<-ctx.Done()
	return ctx.Err()
}

func (b *blockingSink) called() bool {
	select {
	case <-b.entered:
		return true
	default:
		return false
	}
}

// untilDelivered waits until the Source called its sink (called reports it),
// changing a tag now and then for a change-driven Source, or until Run
// ended.
func (s *suite) untilDelivered(t *testing.T, r *running, called func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for !called() && !r.ended() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: the Source never called the sink within %v", what, wait)
		}
		if s.h.Features.ChangeDriven {
			s.set(t, s.h.Tags[0])
		}
		select {
		case <-r.done:
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// errSink is what the failing sink returns.
var errSink = errors.New("sourcetest: the sink refuses this batch")

// failingSink refuses its first Deliver (Features.SinkError says whether the
// Source then ends Run) and records the rest.
type failingSink struct {
	*recorder
	mu      sync.Mutex
	calls   int
	refused []scada.Point
}

func (f *failingSink) Deliver(ctx context.Context, batch []scada.Point) error {
	f.mu.Lock()
	f.calls++
	first := f.calls == 1
	if first {
		f.refused = slices.Clone(batch)
	}
	f.mu.Unlock()
	if first {
		return errSink
	}
	return f.recorder.Deliver(ctx, batch)
}

func (s *suite) testSinkError(t *testing.T) {
	src := s.h.New(t)
	sink := &failingSink{recorder: newRecorder()}
	r := run(t, context.Background(), src, sink)
	s.untilDelivered(t, r, sink.refusedOnce, "a sink that fails")

	switch s.h.Features.SinkError {
	case SinkErrorEndsRun:
		err := r.result(t, "after the sink failed")
		if !errors.Is(err, errSink) {
			t.Fatalf("Run returned %v after the sink failed, want an error wrapping the sink's", err)
		}
		// The Source runs again with a sink that works.
		rec := newRecorder()
		r = run(t, context.Background(), src, rec)
		s.changeUntilSeen(t, rec, s.h.Tags[0], "Run after the sink failed")
		r.stop(t, "Run after the sink failed")
		s.checkAll(t, rec.snapshot())

	case SinkErrorRetried:
		s.changeUntilSeen(t, sink.recorder, s.h.Tags[0], "after the sink failed")
		refused := sink.refusedPoints()
		sink.waitFor(t, "the refused points delivered again", func(ps []scada.Point) bool {
			for _, want := range refused {
				if !slices.ContainsFunc(ps, func(p scada.Point) bool { return samePoint(p, want) }) {
					return false
				}
			}
			return true
		})
		if r.ended() {
			t.Fatalf("Run returned %v after the sink failed, but the Source says it retries", r.err)
		}
		r.stop(t, "Run")

	case SinkErrorDropped:
		s.changeUntilSeen(t, sink.recorder, s.h.Tags[0], "after the sink failed")
		if r.ended() {
			t.Fatalf("Run returned %v after the sink failed, but the Source says it drops the batch", r.err)
		}
		r.stop(t, "Run")
	}
	if sink.refusedOnce() && len(sink.refusedPoints()) == 0 {
		t.Error("the Source delivered an empty batch")
	}
}

func (f *failingSink) refusedOnce() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls > 0
}

func (f *failingSink) refusedPoints() []scada.Point {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.refused
}

func samePoint(a, b scada.Point) bool {
	return a.Tag == b.Tag && a.Value == b.Value && a.Quality == b.Quality && a.Time.Equal(b.Time) && a.Source == b.Source
}

func (s *suite) testCollector(t *testing.T) {
	rec := newRecorder()
	col, err := scada.NewCollector(scada.CollectorConfig{
		Sink: rec,
		// Short delays so the test does not wait for the defaults (500 ms
		// doubling to a minute, a breaker open for 30 s).
		Backoff:      resilience.Backoff{Initial: 20 * time.Millisecond, Max: 500 * time.Millisecond},
		Breaker:      resilience.BreakerConfig{FailureThreshold: -1},
		HealthyAfter: time.Hour,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := col.Close(); err != nil {
			t.Errorf("Collector.Close: %v", err)
		}
	})
	if err := col.Add(s.h.Name, s.h.New(t)); err != nil {
		t.Fatal(err)
	}
	health := func() scada.SourceHealth {
		h, ok := col.HealthOf(s.h.Name)
		if !ok {
			t.Fatalf("the Collector has no source %q", s.h.Name)
		}
		return h
	}
	s.allTags(t, rec, "under the Collector")
	eventually(t, "health: connected", func() bool { return health().State == resilience.StateConnected })
	s.checkAll(t, rec.snapshot())

	s.stop(t)
	if !s.h.Features.RidesOutReconnects {
		eventually(t, "health: the lost connection noticed", func() bool {
			h := health()
			return h.State != resilience.StateConnected && h.LastError != ""
		})
	}
	s.start(t)
	s.changeUntilSeen(t, rec, s.h.Tags[0], "under the Collector after Start")
	if !s.h.Features.RidesOutReconnects {
		eventually(t, "health: a reconnect counted", func() bool {
			h := health()
			return h.State == resilience.StateConnected && h.Reconnects >= 1
		})
	}
	h := health()
	if h.Points == 0 || h.LastPointTime.IsZero() {
		t.Errorf("health after the reconnect: %+v, want points counted", h)
	}
}

// eventually waits until cond holds.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", wait, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
