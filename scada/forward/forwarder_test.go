package forward_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/greenlang/gl001/resilience"
	"github.com/greenlang/gl001/scada"
	"github.com/greenlang/gl001/scada/buffer"
	"github.com/greenlang/gl001/scada/forward"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// store is a Target for unit tests that behaves like a stream with a
// duplicate window: a batch whose (First, Next) it has seen is acknowledged
// and dropped. It can fail sends on demand and answer Resume.
type store struct {
	mu       sync.Mutex
	seen     map[[2]buffer.Offset]bool
	points   []scada.Point
	offsets  []buffer.Offset
	batches  int
	fail     func(b forward.Batch, attempt int) error
	attempts map[buffer.Offset]int
	changed  chan struct{}
}

func newStore() *store {
	return &store{seen: map[[2]buffer.Offset]bool{}, attempts: map[buffer.Offset]int{}, changed: make(chan struct{}, 1)}
}

func (s *store) Send(ctx context.Context, b forward.Batch) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.attempts[b.First]++
	if s.fail != nil {
		if err := s.fail(b, s.attempts[b.First]); err != nil {
			return err
		}
	}
	id := [2]buffer.Offset{b.First, b.Next()}
	if s.seen[id] {
		return nil
	}
	s.seen[id] = true
	s.batches++
	for i, p := range b.Points {
		s.points = append(s.points, p)
		s.offsets = append(s.offsets, b.First+buffer.Offset(i))
	}
	select {
	case s.changed <- struct{}{}:
	default:
	}
	return nil
}

func (s *store) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.points)
}

// waitFor waits until the store holds n points.
func (s *store) waitFor(t *testing.T, n int) {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for s.count() < n {
		select {
		case <-s.changed:
		case <-time.After(10 * time.Millisecond):
		case <-deadline:
			t.Fatalf("store holds %d points, want %d", s.count(), n)
		}
	}
}

// checkExactlyOnce checks that the store holds the offsets [0, n) each once,
// and that every tag's values count up by one in store order.
func (s *store) checkExactlyOnce(t *testing.T, n int, inOrder bool) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	seen := make(map[buffer.Offset]int)
	for _, o := range s.offsets {
		seen[o]++
	}
	for o := range buffer.Offset(n) {
		if seen[o] != 1 {
			t.Fatalf("offset %d stored %d times", o, seen[o])
		}
	}
	if len(s.offsets) != n {
		t.Fatalf("%d points stored, want %d", len(s.offsets), n)
	}
	if inOrder {
		last := map[string]float64{}
		for _, p := range s.points {
			if v, ok := last[p.Tag]; ok && p.Value != v+1 {
				t.Fatalf("tag %s: %v after %v", p.Tag, p.Value, v)
			}
			last[p.Tag] = p.Value
		}
	}
}

type resumingStore struct{ *store }

func (r resumingStore) Resume(ctx context.Context, s forward.Stream) (buffer.Offset, bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.offsets) == 0 {
		return 0, false, nil
	}
	return r.offsets[len(r.offsets)-1] + 1, true, nil
}

func newMemory(t *testing.T) *buffer.Memory {
	t.Helper()
	b, err := buffer.NewMemory(buffer.MemoryConfig{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// appendPoints appends n points over tags tags; tag k's values count up
// from its number of points so far.
func appendPoints(t *testing.T, b buffer.Buffer, from, n, tags int) {
	t.Helper()
	pts := make([]scada.Point, n)
	for i := range pts {
		j := from + i
		pts[i] = scada.Point{Tag: fmt.Sprintf("t%d", j%tags), Value: float64(j / tags), Time: time.Now(), Source: "plc"}
	}
	if _, err := b.Append(context.Background(), pts); err != nil {
		t.Fatal(err)
	}
}

func run(t *testing.T, f *forward.Forwarder) (stop func() error) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() {
			cancel()
			err = <-done
		})
		return err
	}
	t.Cleanup(func() { stop() })
	return stop
}

var fastBackoff = resilience.Backoff{Initial: time.Millisecond, Max: 5 * time.Millisecond}

func TestForwardsEveryPointOnceInOrder(t *testing.T) {
	b := newMemory(t)
	s := newStore()
	f, err := forward.New(forward.Config{Buffer: b, Consumer: "fwd", Edge: "e1", Target: s, MaxPoints: 100, Window: 4, MaxDelay: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	stop := run(t, f)
	for i := range 50 {
		appendPoints(t, b, i*97, 97, 7)
	}
	s.waitFor(t, 50*97)
	if err := stop(); !errors.Is(err, context.Canceled) {
		t.Fatalf("Run: %v", err)
	}
	// A plain Target gets concurrent Sends with Window 4: every point once,
	// in no particular order.
	s.checkExactlyOnce(t, 50*97, false)
	st := f.Stats()
	if st.Committed != 50*97 || st.Points != 50*97 || st.InFlight != 0 || st.State != forward.StateStopped {
		t.Fatalf("stats %+v", st)
	}
	if c, _ := cursor(b, "fwd"); c != 50*97 {
		t.Fatalf("cursor %d", c)
	}
}

func cursor(b buffer.Buffer, name string) (buffer.Offset, bool) {
	for _, c := range b.Stats().Consumers {
		if c.Name == name {
			return c.Cursor, true
		}
	}
	return 0, false
}

// pipeStore is a store whose batches arrive in the order they were started,
// as on a message stream, with up to Window of them in flight.
type pipeStore struct{ *store }

type pipePending struct {
	done chan struct{}
	err  error
}

func (p *pipePending) Wait(ctx context.Context) error {
	select {
	case <-p.done:
		return p.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (p pipeStore) Start(ctx context.Context, b forward.Batch) (forward.Pending, error) {
	pp := &pipePending{done: make(chan struct{})}
	pp.err = p.Send(ctx, b) // stored now, in Start order
	close(pp.done)
	return pp, nil
}

func TestPipelinedWindowKeepsOrder(t *testing.T) {
	b := newMemory(t)
	s := newStore()
	f, err := forward.New(forward.Config{Buffer: b, Consumer: "fwd", Edge: "e1", Target: pipeStore{s}, MaxPoints: 100, Window: 8, MaxDelay: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	stop := run(t, f)
	for i := range 40 {
		appendPoints(t, b, i*333, 333, 11)
	}
	s.waitFor(t, 40*333)
	stop()
	s.checkExactlyOnce(t, 40*333, true)
}

func TestFailedSendsAreRetriedWithTheirBoundaries(t *testing.T) {
	b := newMemory(t)
	s := newStore()
	// Every third batch fails twice before it is stored; every fifth is
	// stored but its acknowledgement is lost once.
	s.fail = func(bt forward.Batch, attempt int) error {
		n := int(bt.First) / 50
		switch {
		case n%3 == 1 && attempt <= 2:
			return errors.New("link down")
		case n%5 == 2 && attempt == 1:
			id := [2]buffer.Offset{bt.First, bt.Next()}
			if !s.seen[id] {
				s.seen[id] = true
				s.batches++
				for i, p := range bt.Points {
					s.points = append(s.points, p)
					s.offsets = append(s.offsets, bt.First+buffer.Offset(i))
				}
			}
			return errors.New("ack lost")
		}
		return nil
	}
	var acks, redelivered int
	var mu sync.Mutex
	f, err := forward.New(forward.Config{Buffer: b, Consumer: "fwd", Edge: "e1", Target: s, MaxPoints: 50, Window: 1, MaxDelay: time.Millisecond,
		Backoff: fastBackoff, Breaker: resilience.BreakerConfig{FailureThreshold: -1},
		OnAck: func(a forward.Ack) {
			mu.Lock()
			acks++
			if a.Redelivered {
				redelivered++
			}
			mu.Unlock()
		}})
	if err != nil {
		t.Fatal(err)
	}
	appendPoints(t, b, 0, 2000, 3)
	stop := run(t, f)
	s.waitFor(t, 2000)
	stop()
	s.checkExactlyOnce(t, 2000, true)
	st := f.Stats()
	if st.Failures == 0 || st.Redelivered == 0 || uint64(redelivered) != st.Redelivered || st.Committed != 2000 {
		t.Fatalf("stats %+v, %d redelivered acks", st, redelivered)
	}
}

func TestResumeSkipsWhatTheTargetHolds(t *testing.T) {
	b := newMemory(t)
	s := newStore()
	appendPoints(t, b, 0, 1000, 1)
	// The target already holds [0, 600) though the cursor was never
	// committed (a crash after the acknowledgement).
	s.offsets = make([]buffer.Offset, 600)
	for i := range s.offsets {
		s.offsets[i] = buffer.Offset(i)
		s.points = append(s.points, scada.Point{Tag: "t0", Value: float64(i)})
	}
	f, err := forward.New(forward.Config{Buffer: b, Consumer: "fwd", Edge: "e1", Target: resumingStore{s}, MaxPoints: 64, Window: 1, MaxDelay: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	stop := run(t, f)
	s.waitFor(t, 1000)
	stop()
	s.checkExactlyOnce(t, 1000, true)
	if st := f.Stats(); !st.ResumeFound || st.Resumed != 600 || st.Skipped != 600 {
		t.Fatalf("stats %+v", st)
	}
}

func TestRejectedBatchIsSkippedAndCounted(t *testing.T) {
	b := newMemory(t)
	s := newStore()
	s.fail = func(bt forward.Batch, attempt int) error {
		if bt.First == 10 {
			return fmt.Errorf("refused: %w", scada.ErrBadInput)
		}
		return nil
	}
	appendPoints(t, b, 0, 30, 1)
	f, err := forward.New(forward.Config{Buffer: b, Consumer: "fwd", Edge: "e1", Target: s, MaxPoints: 10, MaxDelay: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	stop := run(t, f)
	s.waitFor(t, 20)
	for f.Stats().Committed != 30 {
		time.Sleep(time.Millisecond)
	}
	stop()
	if st := f.Stats(); st.Rejected != 1 || st.RejectedPoints != 10 {
		t.Fatalf("stats %+v", st)
	}
}

func TestBreakerOpensAndRecovers(t *testing.T) {
	b := newMemory(t)
	s := newStore()
	var down sync.Mutex
	broken := true
	s.fail = func(forward.Batch, int) error {
		down.Lock()
		defer down.Unlock()
		if broken {
			return errors.New("unreachable")
		}
		return nil
	}
	states := make(chan forward.State, 100)
	f, err := forward.New(forward.Config{Buffer: b, Consumer: "fwd", Edge: "e1", Target: s, MaxDelay: time.Millisecond,
		Backoff: fastBackoff, Breaker: resilience.BreakerConfig{FailureThreshold: 2, Delay: 20 * time.Millisecond},
		OnStateChange: func(st forward.Stats) {
			select {
			case states <- st.State:
			default:
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	appendPoints(t, b, 0, 10, 1)
	stop := run(t, f)
	for st := range states {
		if st == forward.StateBreakerOpen {
			break
		}
	}
	down.Lock()
	broken = false
	down.Unlock()
	s.waitFor(t, 10)
	stop()
	s.checkExactlyOnce(t, 10, true)
}

func TestValidate(t *testing.T) {
	err := forward.Config{MaxPoints: -1, Backfill: forward.Backfill{After: 10}}.Validate()
	for _, want := range []string{"Buffer", "Consumer", "Edge", "Target", "negative", "Rate"} {
		if err == nil || !contains(err.Error(), want) {
			t.Errorf("Validate: %v, want it to mention %s", err, want)
		}
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}
