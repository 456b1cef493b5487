package sourcetest

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/greenlang/gl001/scada"
)

// recorder is a Sink that keeps every point and lets the suite wait for a
// condition on what arrived.
type recorder struct {
	mu     sync.Mutex
	points []scada.Point
	more   chan struct{}
	run    *running // the Run delivering here, if any: waits stop when it returns
}

func newRecorder() *recorder { return &recorder{more: make(chan struct{}, 1)} }

// Deliver records a copy of batch.
func (r *recorder) Deliver(_ context.Context, batch []scada.Point) error {
	r.mu.Lock()
	r.points = append(r.points, batch...)
	r.mu.Unlock()
	select {
	case r.more <- struct{}{}:
	default:
	}
	return nil
}

func (r *recorder) snapshot() []scada.Point {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.points)
}

func (r *recorder) len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.points)
}

func (r *recorder) tail(n int) []scada.Point {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.points[max(0, len(r.points)-n):])
}

// hasValue reports whether a Good point of tag with one of values arrived
// since index from.
func (r *recorder) hasValue(from int, tag string, values []float64) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return hasValue(r.points[min(from, len(r.points)):], tag, values)
}

func hasValue(ps []scada.Point, tag string, values []float64) bool {
	return slices.ContainsFunc(ps, func(p scada.Point) bool {
		return p.Tag == tag && p.Quality.IsGood() && slices.Contains(values, p.Value)
	})
}

// wake waits until a batch arrives or d passes.
func (r *recorder) wake(d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-r.more:
	case <-t.C:
	}
}

// waitFor waits until cond holds for the points received so far, or fails t.
func (r *recorder) waitFor(t *testing.T, what string, cond func([]scada.Point) bool) []scada.Point {
	t.Helper()
	deadline := time.Now().Add(wait)
	for {
		ps := r.snapshot()
		if cond(ps) {
			return ps
		}
		r.checkRunning(t, what)
		now := time.Now()
		if now.After(deadline) {
			t.Fatalf("timed out after %v waiting for %s; %d points, the last: %v", wait, what, len(ps), ps[max(0, len(ps)-5):])
		}
		r.wake(min(deadline.Sub(now), 100*time.Millisecond))
	}
}

// checkRunning fails t if the Run delivering to r has returned: what the
// suite waits for can no longer come.
func (r *recorder) checkRunning(t *testing.T, what string) {
	t.Helper()
	if r.run != nil && r.run.ended() {
		t.Fatalf("waiting for %s: Run returned %v; the last points: %v", what, r.run.err, r.tail(5))
	}
}
