package scada

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/greenlang/gl001/resilience"
)

// The Collector's tests drive it with synthetic Sources (mocks of our own
// interface): the protocol sources have their own tests against real servers.

var fastBackoff = resilience.Backoff{Initial: time.Millisecond, Max: time.Millisecond, Jitter: -1}

// waitUntil polls cond until it holds, failing after a generous timeout.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// newTestCollector returns a Collector closed at the end of the test, which
// then checks that no goroutine is left.
func newTestCollector(t *testing.T, cfg CollectorConfig) *Collector {
	t.Helper()
	ignore := goleak.IgnoreCurrent()
	c, err := NewCollector(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil && !errors.Is(err, ErrClosed) {
			t.Errorf("Close: %v", err)
		}
		goleak.VerifyNone(t, ignore)
	})
	return c
}

// recordingSink keeps every batch it is given.
type recordingSink struct {
	mu      sync.Mutex
	batches [][]Point
	points  int
}

func (r *recordingSink) Deliver(_ context.Context, batch []Point) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.batches = append(r.batches, append([]Point(nil), batch...))
	r.points += len(batch)
	return nil
}

func (r *recordingSink) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.points
}

func (r *recordingSink) all() [][]Point {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([][]Point(nil), r.batches...)
}

// gateSink blocks every Deliver until the gate opens (or ctx ends), then
// records.
type gateSink struct {
	recordingSink
	gate    chan struct{}
	waiting atomic.Int32
}

func newGateSink() *gateSink { return &gateSink{gate: make(chan struct{})} }

func (g *gateSink) Deliver(ctx context.Context, batch []Point) error {
	g.waiting.Add(1)
	defer g.waiting.Add(-1)
	select {
	case <-g.gate:
	case <-ctx.Done():
		return ctx.Err()
	}
	return g.recordingSink.Deliver(ctx, batch)
}

// seqSource delivers batches batches of size points, tagged name/seq with Value
// the sequence number, then serves until ctx ends.
type seqSource struct {
	batches, size int
	tag           string // default "t"
	noSource      bool   // leave Point.Source empty
	quality       func(i int) Quality
	results       chan error // if not nil, gets every Deliver's result
}

func (s *seqSource) Run(ctx context.Context, sink Sink) error {
	base := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	tag := s.tag
	if tag == "" {
		tag = "t"
	}
	seq := 0
	for range s.batches {
		batch := make([]Point, s.size)
		for i := range batch {
			q := Good
			if s.quality != nil {
				q = s.quality(seq)
			}
			batch[i] = Point{Tag: tag, Value: float64(seq), Quality: q, Time: base.Add(time.Duration(seq) * time.Second)}
			if !s.noSource {
				batch[i].Source = "self-named"
			}
			seq++
		}
		err := sink.Deliver(ctx, batch)
		if s.results != nil {
			s.results <- err
		}
		if err != nil {
			return err
		}
	}
	<-ctx.Done()
	return ctx.Err()
}

func TestCollectorFansInEverySource(t *testing.T) {
	sink := &recordingSink{}
	c := newTestCollector(t, CollectorConfig{Sink: sink, BatchSize: 64, SourceQueue: 128})
	const sources, batches, size = 120, 10, 25
	for i := range sources {
		src := &seqSource{batches: batches, size: size, noSource: true,
			quality: func(seq int) Quality {
				if seq%10 == 0 {
					return BadSensorFailure
				}
				return GoodClamped
			}}
		if err := c.Add(fmt.Sprintf("dev-%03d", i), src); err != nil {
			t.Fatal(err)
		}
	}
	// The Collector counts a batch as delivered after the sink's Deliver
	// returns, a moment after the sink has counted it.
	waitUntil(t, "every point at the sink", func() bool {
		return sink.count() == sources*batches*size && c.Stats().Delivered == sources*batches*size
	})

	// Per source, the points arrive in order, each once, named after the source.
	next := map[string]int{}
	for _, b := range sink.all() {
		if len(b) == 0 || len(b) > 64 {
			t.Fatalf("sink batch of %d points, want 1..64", len(b))
		}
		for _, p := range b {
			if !strings.HasPrefix(p.Source, "dev-") {
				t.Fatalf("point without its source's name: %+v", p)
			}
			if int(p.Value) != next[p.Source] {
				t.Fatalf("%s: got seq %v, want %d", p.Source, p.Value, next[p.Source])
			}
			next[p.Source]++
		}
	}
	if len(next) != sources {
		t.Fatalf("points from %d sources, want %d", len(next), sources)
	}

	health := c.Health()
	if len(health) != sources || health[0].Name != "dev-000" || health[sources-1].Name != fmt.Sprintf("dev-%03d", sources-1) {
		t.Fatalf("Health: %d entries, first %q", len(health), health[0].Name)
	}
	want := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC).Add((batches*size - 1) * time.Second)
	for _, h := range health {
		if h.State != resilience.StateConnected || h.ConnectedSince.IsZero() || h.Points != batches*size ||
			h.BadPoints != batches*size/10 || h.Batches != batches || !h.LastPointTime.Equal(want) || h.Queued != 0 {
			t.Fatalf("health %+v", h)
		}
	}
	st := c.Stats()
	if st.Sources != sources || st.Accepted != sources*batches*size || st.Delivered != st.Accepted || st.Queued != 0 || st.SinkErrors != 0 {
		t.Errorf("stats %+v", st)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := c.Close(); !errors.Is(err, ErrClosed) {
		t.Errorf("second Close = %v, want ErrClosed", err)
	}
}

func TestCollectorStampsSourceNames(t *testing.T) {
	sink := &recordingSink{}
	c := newTestCollector(t, CollectorConfig{Sink: sink})
	// Two sources that call themselves the same, as two MQTT sources left
	// with their default name do.
	if err := c.Add("a", &seqSource{batches: 1, size: 3, tag: "a"}); err != nil {
		t.Fatal(err)
	}
	if err := c.Add("b", &seqSource{batches: 1, size: 3, tag: "b"}); err != nil {
		t.Fatal(err)
	}
	// A relay keeps the names its points arrive with, and fills empty ones.
	if err := c.AddSource(SourceConfig{Name: "relay", Source: &seqSource{batches: 1, size: 3, tag: "relay"}, KeepPointSource: true}); err != nil {
		t.Fatal(err)
	}
	if err := c.AddSource(SourceConfig{Name: "relay-unnamed", Source: &seqSource{batches: 1, size: 3, tag: "relay-unnamed", noSource: true},
		KeepPointSource: true}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "points", func() bool { return sink.count() == 12 })
	want := map[string]string{"a": "a", "b": "b", "relay": "self-named", "relay-unnamed": "relay-unnamed"}
	for _, b := range sink.all() {
		for _, p := range b {
			if p.Source != want[p.Tag] {
				t.Errorf("point of %s: Source = %q, want %q", p.Tag, p.Source, want[p.Tag])
			}
		}
	}
}

// deadSource never connects: it blocks until ctx ends.
type deadSource struct{}

func (deadSource) Run(ctx context.Context, _ Sink) error { <-ctx.Done(); return ctx.Err() }

// failingSource fails every attempt at once.
type failingSource struct{ err error }

func (f failingSource) Run(context.Context, Sink) error { return f.err }

func TestCollectorDeadAndFailingSourcesDelayNoOther(t *testing.T) {
	sink := &recordingSink{}
	c := newTestCollector(t, CollectorConfig{Sink: sink, Backoff: fastBackoff,
		Breaker: resilience.BreakerConfig{FailureThreshold: 3, Delay: time.Millisecond}})
	for i := range 10 {
		if err := c.Add(fmt.Sprintf("dead-%d", i), deadSource{}); err != nil {
			t.Fatal(err)
		}
		if err := c.Add(fmt.Sprintf("failing-%d", i), failingSource{errors.New("connection refused")}); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Add("live", &seqSource{batches: 5, size: 100}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the live source's points", func() bool { return sink.count() == 500 })
	waitUntil(t, "the dead source to be tried", func() bool { h, _ := c.HealthOf("dead-3"); return h.Attempts == 1 })
	h, ok := c.HealthOf("dead-3")
	if !ok || h.State != resilience.StateConnecting || h.Points != 0 || !h.ConnectedSince.IsZero() {
		t.Errorf("dead source health %+v", h)
	}
	waitUntil(t, "a failing source's breaker to open", func() bool {
		h, _ := c.HealthOf("failing-0")
		return h.Attempts >= 3 && h.LastError == "connection refused"
	})
}

// TestCollectorChattySourceCannotStarveQuietOne checks the turn-taking when the
// sink is the bottleneck: the chatty source fills its queue and blocks, the
// quiet one's Deliver returns at once and its point reaches the sink within
// one round.
func TestCollectorChattySourceCannotStarveQuietOne(t *testing.T) {
	sink := newGateSink()
	c := newTestCollector(t, CollectorConfig{Sink: sink, BatchSize: 10, SourceQueue: 10})
	chatty := &seqSource{batches: 100, size: 10, results: make(chan error, 100)}
	if err := c.Add("chatty", chatty); err != nil {
		t.Fatal(err)
	}
	// The sink holds the first batch; the queue takes one more batch.
	waitUntil(t, "the sink to hold a batch and the queue to fill", func() bool {
		h, _ := c.HealthOf("chatty")
		return sink.waiting.Load() == 1 && h.Queued == 10
	})
	quiet := &seqSource{batches: 1, size: 1, tag: "quiet", results: make(chan error, 1)}
	if err := c.Add("quiet", quiet); err != nil {
		t.Fatal(err)
	}
	if err := <-quiet.results; err != nil {
		t.Fatalf("quiet source's Deliver: %v", err)
	}
	close(sink.gate)
	waitUntil(t, "every point", func() bool { return sink.count() == 1001 })
	// The batch the sink held, the chatty queue's next batch, then the quiet
	// point's turn.
	at := -1
	for i, b := range sink.all() {
		for _, p := range b {
			if p.Tag == "quiet" {
				at = i
			}
		}
	}
	if at < 0 || at > 2 {
		t.Errorf("quiet point delivered in sink batch %d, want within the first 3", at)
	}
}

func TestCollectorBackpressureReachesTheSource(t *testing.T) {
	sink := newGateSink()
	c := newTestCollector(t, CollectorConfig{Sink: sink, BatchSize: 10, SourceQueue: 20})
	src := &seqSource{batches: 100, size: 10, results: make(chan error, 100)}
	if err := c.Add("s", src); err != nil {
		t.Fatal(err)
	}
	// One batch is held by the sink, two wait in the queue; the fourth Deliver
	// must block.
	for range 3 {
		if err := <-src.results; err != nil {
			t.Fatal(err)
		}
	}
	waitUntil(t, "the queue to fill", func() bool { h, _ := c.HealthOf("s"); return h.Queued == 20 })
	if st := c.Stats(); st.Accepted != 30 {
		t.Fatalf("accepted %d points with the sink stuck, want 30 (10 at the sink, 20 queued)", st.Accepted)
	}
	// Removing the source ends its blocked Deliver with its context's error:
	// it was waiting for room, not accepted.
	if err := c.Remove(context.Background(), "s"); err != nil {
		t.Fatal(err)
	}
	if err := <-src.results; !errors.Is(err, context.Canceled) {
		t.Fatalf("4th Deliver = %v, want context.Canceled", err)
	}
	// What was accepted still reaches the sink.
	close(sink.gate)
	waitUntil(t, "the accepted points", func() bool { return sink.count() == 30 })
}

func TestCollectorSupervisesSources(t *testing.T) {
	var mu sync.Mutex
	var states []resilience.State
	sink := &recordingSink{}
	c := newTestCollector(t, CollectorConfig{
		Sink: sink, Backoff: fastBackoff, Secrets: []string{"plant-token"},
		OnHealthChange: func(h SourceHealth) {
			mu.Lock()
			states = append(states, h.State)
			mu.Unlock()
		},
	})
	var attempts atomic.Int32
	src := SourceFunc(func(ctx context.Context, sink Sink) error {
		if attempts.Add(1) <= 2 {
			return fmt.Errorf("%w: dial opc.tcp://op:hunter2@10.1.1.1:4840 with plant-token: refused", ErrConnection)
		}
		if err := sink.Deliver(ctx, []Point{{Tag: "x", Value: 1, Time: time.Unix(100, 0)}}); err != nil {
			return err
		}
		<-ctx.Done()
		return ctx.Err()
	})
	if err := c.Add("boiler", src); err != nil {
		t.Fatal(err)
	}
	// The point at the sink is the event: the source was marked connected
	// before its batch was accepted, and the batch counted before it was
	// passed on. (Waiting for the connected state alone raced with the
	// counting of the point.)
	waitUntil(t, "the point at the sink", func() bool { return sink.count() == 1 })
	h, _ := c.HealthOf("boiler")
	if h.State != resilience.StateConnected || h.Attempts != 3 || h.ConsecutiveFailures != 0 || h.Points != 1 ||
		h.Breaker != resilience.BreakerClosed {
		t.Errorf("health %+v, want connected, 3 attempts, no consecutive failures, 1 point", h)
	}
	if strings.Contains(h.LastError, "hunter2") || strings.Contains(h.LastError, "plant-token") || !strings.Contains(h.LastError, "refused") {
		t.Errorf("LastError %q", h.LastError)
	}
	if err := c.Remove(context.Background(), "boiler"); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	want := []resilience.State{resilience.StateConnecting, resilience.StateBackingOff, resilience.StateConnecting,
		resilience.StateBackingOff, resilience.StateConnecting, resilience.StateConnected, resilience.StateStopped}
	if fmt.Sprint(states) != fmt.Sprint(want) {
		t.Errorf("health changes %v, want %v", states, want)
	}
}

// SourceFunc adapts a function to a Source, for the tests.
type SourceFunc func(ctx context.Context, sink Sink) error

func (f SourceFunc) Run(ctx context.Context, sink Sink) error { return f(ctx, sink) }

func TestCollectorNotifyConnected(t *testing.T) {
	c := newTestCollector(t, CollectorConfig{Sink: &recordingSink{}})
	err := c.Add("quiet", SourceFunc(func(ctx context.Context, sink Sink) error {
		NotifyConnected(sink)
		<-ctx.Done()
		return ctx.Err()
	}))
	if err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "connected", func() bool { h, _ := c.HealthOf("quiet"); return h.State == resilience.StateConnected })
	NotifyConnected(&recordingSink{}) // a Sink that does not care: nothing happens
}

func TestCollectorAddRemove(t *testing.T) {
	sink := &recordingSink{}
	c := newTestCollector(t, CollectorConfig{Sink: sink})
	if err := c.Add("a", deadSource{}); err != nil {
		t.Fatal(err)
	}
	if err := c.Add("a", deadSource{}); !errors.Is(err, ErrSourceExists) {
		t.Errorf("duplicate Add = %v", err)
	}
	if err := c.Remove(context.Background(), "nope"); !errors.Is(err, ErrUnknownSource) {
		t.Errorf("Remove unknown = %v", err)
	}
	var running, exited atomic.Bool
	err := c.AddSource(SourceConfig{Name: "b", Source: SourceFunc(func(ctx context.Context, sink Sink) error {
		running.Store(true)
		<-ctx.Done()
		exited.Store(true)
		return ctx.Err()
	}), HealthyAfter: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "b to run", running.Load)
	if err := c.Remove(context.Background(), "b"); err != nil || !exited.Load() {
		t.Fatalf("Remove = %v, source exited %v", err, exited.Load())
	}
	if _, ok := c.HealthOf("b"); ok {
		t.Error("removed source still has health")
	}
	if err := c.Add("b", &seqSource{batches: 1, size: 2}); err != nil {
		t.Fatalf("re-adding a removed name: %v", err)
	}
	waitUntil(t, "points of the new b", func() bool { return sink.count() == 2 })
	if n := c.Stats().Sources; n != 2 {
		t.Errorf("Sources = %d, want 2", n)
	}
	for _, bad := range []SourceConfig{{Name: "", Source: deadSource{}}, {Name: "x"}, {Name: "y", Source: deadSource{}, HealthyAfter: -1},
		{Name: "z", Source: deadSource{}, Backoff: resilience.Backoff{Jitter: 5}}} {
		if err := c.AddSource(bad); err == nil {
			t.Errorf("AddSource(%+v) accepted", bad)
		}
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Add("c", deadSource{}); !errors.Is(err, ErrClosed) {
		t.Errorf("Add after Close = %v", err)
	}
	if len(c.Health()) != 0 {
		t.Error("health after Close")
	}
}

// flakySink fails its first calls, then records.
type flakySink struct {
	recordingSink
	fails atomic.Int32
	err   error
}

func (f *flakySink) Deliver(ctx context.Context, batch []Point) error {
	if f.fails.Add(-1) >= 0 {
		return f.err
	}
	return f.recordingSink.Deliver(ctx, batch)
}

func TestCollectorRetriesAFailingSink(t *testing.T) {
	sink := &flakySink{err: errors.New("downstream unavailable, token=abc")}
	sink.fails.Store(3)
	c := newTestCollector(t, CollectorConfig{Sink: sink, SinkBackoff: fastBackoff})
	if err := c.Add("s", &seqSource{batches: 1, size: 5}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "delivery", func() bool { return sink.count() == 5 && c.Stats().Delivered == 5 })
	st := c.Stats()
	if st.SinkErrors != 3 || st.Delivered != 5 || st.Batches != 1 || st.Rejected != 0 {
		t.Errorf("stats %+v", st)
	}
	if strings.Contains(st.LastSinkError, "abc") {
		t.Errorf("LastSinkError %q leaks a secret", st.LastSinkError)
	}
}

func TestCollectorDropsWhatTheSinkRejects(t *testing.T) {
	sink := &flakySink{err: fmt.Errorf("%w: tag too long", ErrBadInput)}
	sink.fails.Store(1)
	c := newTestCollector(t, CollectorConfig{Sink: sink, BatchSize: 4})
	src := &seqSource{batches: 2, size: 4, results: make(chan error, 2)}
	if err := c.Add("s", src); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "both batches handled", func() bool { st := c.Stats(); return st.Rejected+st.Delivered == 8 })
	if st := c.Stats(); st.Rejected != 4 || st.Delivered != 4 || st.SinkErrors != 1 {
		t.Errorf("stats %+v", st)
	}
}

func TestCollectorCloseDeliversWhatWasAccepted(t *testing.T) {
	sink := newGateSink()
	ignore := goleak.IgnoreCurrent()
	c, err := NewCollector(CollectorConfig{Sink: sink, BatchSize: 10, SourceQueue: 100})
	if err != nil {
		t.Fatal(err)
	}
	src := &seqSource{batches: 5, size: 10, results: make(chan error, 5)}
	if err := c.Add("s", src); err != nil {
		t.Fatal(err)
	}
	for range 5 {
		if err := <-src.results; err != nil {
			t.Fatal(err)
		}
	}
	closed := make(chan error, 1)
	go func() { closed <- c.Close() }()
	close(sink.gate)
	if err := <-closed; err != nil {
		t.Fatalf("Close: %v", err)
	}
	if sink.count() != 50 {
		t.Errorf("sink got %d points, want all 50", sink.count())
	}
	goleak.VerifyNone(t, ignore)
}

func TestCollectorCloseGivesUpOnAStuckSink(t *testing.T) {
	sink := newGateSink() // never opens
	ignore := goleak.IgnoreCurrent()
	c, err := NewCollector(CollectorConfig{Sink: sink, BatchSize: 10, CloseTimeout: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	src := &seqSource{batches: 3, size: 10, results: make(chan error, 3)}
	if err := c.Add("s", src); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := <-src.results; err != nil {
			t.Fatal(err)
		}
	}
	err = c.Close()
	if err == nil || !strings.Contains(err.Error(), "30 accepted points not delivered") {
		t.Fatalf("Close = %v", err)
	}
	if st := c.Stats(); st.Lost != 30 || st.Queued != 0 {
		t.Errorf("stats %+v", st)
	}
	goleak.VerifyNone(t, ignore)
}

func TestCollectorLingerMergesSmallBatches(t *testing.T) {
	sink := &recordingSink{}
	c := newTestCollector(t, CollectorConfig{Sink: sink, BatchSize: 100, Linger: time.Hour})
	src := &seqSource{batches: 5, size: 1, results: make(chan error, 5)}
	if err := c.Add("s", src); err != nil {
		t.Fatal(err)
	}
	for range 5 {
		if err := <-src.results; err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if b := sink.all(); len(b) != 1 || len(b[0]) != 5 {
		t.Errorf("sink batches %v, want one of 5 points", b)
	}
}

func TestCollectorLingerFlushes(t *testing.T) {
	sink := &recordingSink{}
	c := newTestCollector(t, CollectorConfig{Sink: sink, BatchSize: 100, Linger: time.Millisecond})
	if err := c.Add("s", &seqSource{batches: 3, size: 2}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the lingering batch", func() bool { return sink.count() == 6 })
}

func TestNewCollectorValidates(t *testing.T) {
	_, err := NewCollector(CollectorConfig{BatchSize: -1, SourceQueue: -1, Linger: -1, CloseTimeout: -1, HealthyAfter: -1,
		PermanentDelay: -1, Backoff: resilience.Backoff{Multiplier: 0.5}})
	if err == nil {
		t.Fatal("want an error")
	}
	for _, want := range []string{"Sink", "BatchSize", "SourceQueue", "Linger", "CloseTimeout", "HealthyAfter", "PermanentDelay", "Multiplier"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
}

// TestCollectorChurn adds and removes sources from several goroutines while
// others stream, then checks that every accepted point reached the sink once.
func TestCollectorChurn(t *testing.T) {
	sink := &recordingSink{}
	c := newTestCollector(t, CollectorConfig{Sink: sink, BatchSize: 32, SourceQueue: 64, Backoff: fastBackoff})
	for i := range 10 {
		if err := c.Add(fmt.Sprintf("steady-%d", i), &seqSource{batches: 50, size: 7}); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 25 {
				name := fmt.Sprintf("churn-%d-%d", w, i%3)
				if err := c.Add(name, &seqSource{batches: 3, size: 5}); err != nil {
					t.Error(err)
					return
				}
				_ = c.Health()
				if err := c.Remove(context.Background(), name); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	waitUntil(t, "the steady sources' points", func() bool {
		st := c.Stats()
		return st.Delivered == st.Accepted && st.Accepted >= 10*50*7
	})
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	st := c.Stats()
	if st.Delivered != st.Accepted || int(st.Delivered) != sink.count() || st.Sources != 0 {
		t.Errorf("stats %+v, sink %d", st, sink.count())
	}
}

func TestCollectorPerSourceBreaker(t *testing.T) {
	sink := &recordingSink{}
	c := newTestCollector(t, CollectorConfig{Sink: sink, Backoff: fastBackoff,
		Breaker: resilience.BreakerConfig{FailureThreshold: 3, Delay: time.Hour}})
	if err := c.Add("down", failingSource{fmt.Errorf("%w: no route to host", ErrConnection)}); err != nil {
		t.Fatal(err)
	}
	// A source with its own, disabled, breaker keeps trying.
	if err := c.AddSource(SourceConfig{Name: "stubborn", Source: failingSource{errors.New("refused")},
		Breaker: resilience.BreakerConfig{FailureThreshold: -1}}); err != nil {
		t.Fatal(err)
	}
	if err := c.Add("up", &seqSource{batches: 1, size: 1}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the breaker to open", func() bool {
		h, _ := c.HealthOf("down")
		return h.State == resilience.StateBreakerOpen
	})
	waitUntil(t, "the stubborn source to go past the threshold", func() bool {
		h, _ := c.HealthOf("stubborn")
		return h.Attempts > 5
	})
	h, _ := c.HealthOf("down")
	if h.Attempts != 3 || h.Breaker != resilience.BreakerOpen || h.NextAttempt.Sub(h.Since) < 30*time.Minute {
		t.Errorf("down: %+v", h)
	}
	if h, _ := c.HealthOf("stubborn"); h.Breaker != resilience.BreakerClosed || h.State == resilience.StateBreakerOpen {
		t.Errorf("stubborn: %+v", h)
	}
	waitUntil(t, "the healthy source's point", func() bool { return sink.count() == 1 })
}

// permanentSource is refused permanently on its first refusals attempts,
// then connects and delivers one point.
type permanentSource struct {
	refusals int32
	attempts atomic.Int32
}

func (p *permanentSource) Run(ctx context.Context, sink Sink) error {
	if p.attempts.Add(1) <= p.refusals {
		return fmt.Errorf("opc.tcp://plc: session: %w: BadUserAccessDenied", ErrPermanent)
	}
	if err := sink.Deliver(ctx, []Point{{Tag: "x", Value: 1, Time: time.Unix(100, 0)}}); err != nil {
		return err
	}
	<-ctx.Done()
	return ctx.Err()
}

func TestCollectorPermanentErrors(t *testing.T) {
	sink := &recordingSink{}
	c := newTestCollector(t, CollectorConfig{Sink: sink, Backoff: fastBackoff, PermanentDelay: time.Hour,
		Breaker: resilience.BreakerConfig{FailureThreshold: 2, Delay: time.Hour}})
	// With the Collector's PermanentDelay, the refusal holds the source an hour.
	held := &permanentSource{refusals: 1 << 30}
	if err := c.Add("held", held); err != nil {
		t.Fatal(err)
	}
	// With a short one of its own, it is retried; the refusals never open the
	// breaker, and the first connection clears the refusal.
	retried := &permanentSource{refusals: 4}
	if err := c.AddSource(SourceConfig{Name: "retried", Source: retried, PermanentDelay: time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the refusal in health", func() bool { h, _ := c.HealthOf("held"); return h.State == resilience.StateRefused })
	h, _ := c.HealthOf("held")
	if !h.Permanent || !strings.Contains(h.LastError, "BadUserAccessDenied") || h.Attempts != 1 ||
		h.Breaker != resilience.BreakerClosed || h.NextAttempt.Sub(h.Since) < 48*time.Minute {
		t.Errorf("refused source: %+v, want state refused with the cause, next attempt in about an hour", h)
	}
	waitUntil(t, "the retried source's point", func() bool { return sink.count() == 1 })
	h, _ = c.HealthOf("retried")
	if h.State != resilience.StateConnected || h.Permanent || h.Attempts != 5 || h.Breaker != resilience.BreakerClosed {
		t.Errorf("retried source: %+v, want connected after 4 refusals, breaker never opened", h)
	}
	if n := held.attempts.Load(); n != 1 {
		t.Errorf("the held source was tried %d times, want 1", n)
	}
}

// toggleServer is a stand-in for a device that goes down and comes back:
// while down, Run is refused at once; while up, Run connects and delivers a
// point for every value sent on feed until the device goes down again.
type toggleServer struct {
	mu   sync.Mutex
	up   bool
	gone chan struct{} // closed when the device goes down
	feed chan float64
}

func newToggleServer() *toggleServer {
	g := make(chan struct{})
	close(g)
	return &toggleServer{gone: g, feed: make(chan float64)}
}

func (d *toggleServer) set(up bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if up == d.up {
		return
	}
	d.up = up
	if up {
		d.gone = make(chan struct{})
	} else {
		close(d.gone)
	}
}

func (d *toggleServer) Run(ctx context.Context, sink Sink) error {
	d.mu.Lock()
	up, gone := d.up, d.gone
	d.mu.Unlock()
	if !up {
		return fmt.Errorf("%w: connection refused", ErrConnection)
	}
	NotifyConnected(sink)
	for {
		select {
		case v := <-d.feed:
			if err := sink.Deliver(ctx, []Point{{Tag: "t", Value: v, Time: time.Now()}}); err != nil {
				return err
			}
		case <-gone:
			return fmt.Errorf("%w: connection reset by peer", ErrConnection)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// TestCollectorRecoversWhateverTheHistory replays issue's field pattern with
// a stand-in device: restarts in a row, each connection shorter than
// HealthyAfter, then an outage long enough to open the breaker. Each time
// the device is back, a fresh value must arrive, and while it flows the health
// says connected, breaker closed, no consecutive failures.
func TestCollectorRecoversWhateverTheHistory(t *testing.T) {
	sink := &recordingSink{}
	c := newTestCollector(t, CollectorConfig{Sink: sink,
		Backoff:      resilience.Backoff{Initial: time.Millisecond, Max: 20 * time.Millisecond},
		Breaker:      resilience.BreakerConfig{FailureThreshold: 3, Delay: 50 * time.Millisecond},
		HealthyAfter: time.Hour, // every connection of the test is short
	})
	dev := newToggleServer()
	if err := c.Add("dev", dev); err != nil {
		t.Fatal(err)
	}
	health := func() SourceHealth { h, _ := c.HealthOf("dev"); return h }
	value := 0.0
	serve := func(what string) {
		t.Helper()
		value++
		dev.set(true)
		// The send completes only once a connected Run takes the value: the
		// event that the device is being read again.
		dev.feed <- value
		waitUntil(t, what+": the fresh value at the sink", func() bool {
			all := sink.all()
			return len(all) > 0 && all[len(all)-1][0].Value == value
		})
		if h := health(); h.State != resilience.StateConnected || h.Breaker != resilience.BreakerClosed || h.ConsecutiveFailures != 0 {
			t.Fatalf("%s: health while data flows %+v, want connected, breaker closed, 0 consecutive failures", what, h)
		}
	}
	serve("first connection")
	for i := range 6 {
		dev.set(false)
		waitUntil(t, "the loss noticed", func() bool { return health().State != resilience.StateConnected })
		serve(fmt.Sprintf("restart %d", i+1))
	}
	if h := health(); h.ShortConnections != 6 || h.Reconnects != 6 {
		t.Errorf("after 6 restarts: %+v, want 6 short connections, 6 reconnects", h)
	}
	// An outage long enough for the breaker to open, and more than its delay.
	dev.set(false)
	waitUntil(t, "the breaker open", func() bool { return health().State == resilience.StateBreakerOpen })
	opened := health().Attempts
	waitUntil(t, "the breaker's probe refused", func() bool {
		h := health()
		return h.State == resilience.StateBreakerOpen && h.Attempts > opened
	})
	serve("after the breaker opened")
	// The connection that ended after the breaker had opened once is not
	// held against the next one.
	dev.set(false)
	waitUntil(t, "the loss noticed", func() bool { return health().State != resilience.StateConnected })
	serve("after the recovery")
}

func TestCollectorSourceDefaults(t *testing.T) {
	b := sourceBackoff(resilience.Backoff{}, resilience.Backoff{})
	if b.Initial != DefaultSourceBackoffInitial || b.Max != DefaultSourceBackoffMax {
		t.Errorf("default backoff %+v", b)
	}
	// A source's field beats the Collector's, which beats the default, one
	// field at a time; a negative value (disabled) is kept.
	b = sourceBackoff(resilience.Backoff{Initial: time.Second}, resilience.Backoff{Initial: 2 * time.Second, Jitter: -1})
	if b.Initial != time.Second || b.Max != DefaultSourceBackoffMax || b.Jitter != -1 {
		t.Errorf("merged backoff %+v", b)
	}
	if b := sourceBackoff(resilience.Backoff{Initial: 10 * time.Second}, resilience.Backoff{}); b.Max != 10*time.Second {
		t.Errorf("a first delay above the default cap: %+v, want the cap raised to it", b)
	}
	br := sourceBreaker(resilience.BreakerConfig{}, resilience.BreakerConfig{})
	if br.FailureThreshold != DefaultSourceBreakerThreshold || br.Delay != DefaultSourceBreakerDelay {
		t.Errorf("default breaker %+v", br)
	}
	br = sourceBreaker(resilience.BreakerConfig{Delay: time.Minute}, resilience.BreakerConfig{FailureThreshold: -1, Delay: time.Hour})
	if br.FailureThreshold != -1 || br.Delay != time.Minute {
		t.Errorf("merged breaker %+v", br)
	}
	// The documented worst case between two attempts: the larger of the
	// backoff cap and the breaker delay with its jitter.
	if worst := max(DefaultSourceBackoffMax, time.Duration(float64(DefaultSourceBreakerDelay)*(1+resilience.DefaultBackoffJitter))); worst != 6*time.Second {
		t.Errorf("worst wait between attempts with the defaults = %v, the docs say 6s", worst)
	}
}
