package scada_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/greenlang/gl001/resilience"
	"github.com/greenlang/gl001/scada"
	"github.com/greenlang/gl001/transform"
)

// failingSink fails its first fails Deliver calls, then keeps every point.
type failingSink struct {
	mu     sync.Mutex
	fails  int
	calls  int
	points []scada.Point
}

func (s *failingSink) Deliver(_ context.Context, batch []scada.Point) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if s.calls <= s.fails {
		return errors.New("historian unreachable")
	}
	s.points = append(s.points, batch...)
	return nil
}

func (s *failingSink) got() []scada.Point {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]scada.Point(nil), s.points...)
}

// onceSource delivers one batch, then serves until ctx ends.
type onceSource struct{ batch []scada.Point }

func (s onceSource) Run(ctx context.Context, sink scada.Sink) error {
	if err := sink.Deliver(ctx, s.batch); err != nil {
		return err
	}
	<-ctx.Done()
	return ctx.Err()
}

// A Sink that fails twice and then recovers gets every point of the batch
// exactly once, although the Processor holds a stateful Deadband that leaves
// out redeliveries: the Collector runs the Processor once and retries only the
// delivery of its output.
func TestCollectorRetriesOnlyTheDelivery(t *testing.T) {
	deadband, err := transform.NewDeadband(transform.DeadbandConfig{})
	if err != nil {
		t.Fatal(err)
	}
	validator, err := transform.NewValidator(transform.ValidateConfig{Stale: -1, FutureSkew: -1})
	if err != nil {
		t.Fatal(err)
	}
	base := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	batch := make([]scada.Point, 20)
	for i := range batch {
		batch[i] = scada.Point{Tag: fmt.Sprintf("boiler1.t%02d", i), Value: float64(100 + i), Unit: "degC",
			Quality: scada.Good, Time: base.Add(time.Duration(i) * time.Millisecond), Source: "plc1"}
	}
	sink := &failingSink{fails: 2}
	c, err := scada.NewCollector(scada.CollectorConfig{
		Sink:        sink,
		Processor:   transform.Chain(validator, deadband),
		SinkBackoff: resilience.Backoff{Initial: time.Millisecond, Max: time.Millisecond, Jitter: -1},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := c.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	}()
	if err := c.Add("plc1", onceSource{batch: batch}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for c.Stats().Delivered+c.Stats().Rejected+c.Stats().Lost < uint64(len(batch)) {
		if time.Now().After(deadline) {
			t.Fatalf("batch not handled: %+v", c.Stats())
		}
		time.Sleep(time.Millisecond)
	}
	got := sink.got()
	seen := map[string]int{}
	for _, p := range got {
		seen[p.Tag]++
		if !p.Scored || p.Score != 100 {
			t.Errorf("%s arrived unscored or scored %d (%v)", p.Tag, p.Score, p.Reasons)
		}
	}
	for _, p := range batch {
		if seen[p.Tag] != 1 {
			t.Errorf("%s arrived %d times, want once", p.Tag, seen[p.Tag])
		}
	}
	st := c.Stats()
	if st.SinkErrors != 2 || st.Delivered != uint64(len(batch)) || st.Batches != 1 || st.Rejected != 0 || st.Lost != 0 {
		t.Errorf("stats %+v", st)
	}
	if ds := deadband.Stats(); ds.Passed != uint64(len(batch)) || ds.Duplicates != 0 {
		t.Errorf("deadband %+v, want %d passed and no duplicates: the Processor ran more than once", ds, len(batch))
	}
}
