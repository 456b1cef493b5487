package guard

import (
	"context"
	"fmt"
	"sync"

	"github.com/greenlang/gl001/scada"
)

// Latest is a [scada.Sink] that keeps the latest point of every tag and
// passes each batch on to Next (when set). It is a [scada.Reader] over a
// Source's stream, and an [Awaiter]: a [Guard] reading back through it
// waits for the subscription to report the written value, without a read
// request of its own. Feed it from the Collector (or the Source's Run) in
// front of the Sink that takes the points further.
//
// A tag whose connection was lost reads as the Bad point the Source
// delivered for it (BadNoCommunication), so the guard refuses the write as
// Disconnected.
type Latest struct {
	// Next, if set, receives every batch after Latest has recorded it; its
	// error is Deliver's.
	Next scada.Sink

	mu      sync.Mutex
	points  map[string]scada.Point
	changed chan struct{} // closed and replaced on every delivery
}

// NewLatest returns a Latest that passes batches on to next (nil: none).
func NewLatest(next scada.Sink) *Latest {
	return &Latest{Next: next, points: map[string]scada.Point{}, changed: make(chan struct{})}
}

// Deliver records the batch's points and passes the batch to Next.
func (l *Latest) Deliver(ctx context.Context, batch []scada.Point) error {
	l.mu.Lock()
	for _, p := range batch {
		l.points[p.Tag] = p // a Source delivers in order: the last is the latest
	}
	close(l.changed)
	l.changed = make(chan struct{})
	l.mu.Unlock()
	if l.Next != nil {
		return l.Next.Deliver(ctx, batch)
	}
	return nil
}

// Read returns the latest point of tag; a tag no batch carried yet fails
// with an error matching scada.ErrUnknownTag.
func (l *Latest) Read(_ context.Context, tag string) (scada.Point, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	p, ok := l.points[tag]
	if !ok {
		return scada.Point{Tag: tag, Quality: scada.BadWaitingForInitialData}, fmt.Errorf("guard: no point of %q yet: %w", tag, scada.ErrUnknownTag)
	}
	return p, nil
}

// Await waits until the latest point of tag satisfies ok and returns it.
// When ctx ends first it returns the latest point (zero Time if none) and
// ctx.Err().
func (l *Latest) Await(ctx context.Context, tag string, ok func(scada.Point) bool) (scada.Point, error) {
	for {
		l.mu.Lock()
		p, seen := l.points[tag]
		ch := l.changed
		l.mu.Unlock()
		if seen && ok(p) {
			return p, nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			if !seen {
				p = scada.Point{Tag: tag, Quality: scada.BadWaitingForInitialData}
			}
			return p, ctx.Err()
		}
	}
}
