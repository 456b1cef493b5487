package forward_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/greenlang/gl001/scada"
	"github.com/greenlang/gl001/scada/buffer"
	"github.com/greenlang/gl001/scada/forward"
)

// addrStore records, besides the points, where each batch's points lie.
type addrStore struct {
	*store
	mu    sync.Mutex
	first map[buffer.Offset]*scada.Point
}

func (a *addrStore) Send(ctx context.Context, b forward.Batch) error {
	a.mu.Lock()
	a.first[b.First] = &b.Points[0]
	a.mu.Unlock()
	return a.store.Send(ctx, b)
}

// TestMemoryBatchesWithoutCopy forwards from a Memory buffer, whose Scan
// points a lane may keep (buffer.StableScanner): batches that start at an
// append's first point are sent as the Buffer's own points, the others are
// copied, and the Buffer's points are left as they were (the lane reuses
// only slices of its own).
func TestMemoryBatchesWithoutCopy(t *testing.T) {
	b := newMemory(t)
	s := &addrStore{store: newStore(), first: map[buffer.Offset]*scada.Point{}}
	// Appends of 100 points (a batch each), of 30 (batches of several
	// appends) and of 250 (an append cut in batches).
	sizes := []int{100, 100, 30, 30, 30, 250, 100, 30}
	total := 0
	for _, n := range sizes {
		appendPoints(t, b, total, n, 7)
		total += n
	}
	want := scanAll(t, b)
	f, err := forward.New(forward.Config{Buffer: b, Consumer: "fwd", Edge: "e1", Target: s, MaxPoints: 100, Window: 1, MaxDelay: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	stop := run(t, f)
	s.waitFor(t, total)
	stop()
	s.checkExactlyOnce(t, total, true)

	got := scanAll(t, b)
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("the Buffer's point %d changed: %+v, was %+v", i, got[i], want[i])
		}
	}
	// Which batches were the Buffer's own points.
	shared := 0
	for r := range b.Scan(context.Background(), 0) {
		for first, p := range s.first {
			if first >= r.First && first < r.First+buffer.Offset(len(r.Points)) && p == &r.Points[first-r.First] {
				shared++
			}
		}
	}
	if shared == 0 {
		t.Fatalf("no batch was sent without a copy (%d batches)", len(s.first))
	}
	t.Logf("%d of %d batches sent without a copy", shared, len(s.first))
}

func scanAll(t *testing.T, b buffer.Buffer) []scada.Point {
	t.Helper()
	var out []scada.Point
	for bt, err := range b.Scan(context.Background(), 0) {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, bt.Points...)
	}
	return out
}
