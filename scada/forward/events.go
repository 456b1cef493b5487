package forward

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/greenlang/gl001/scada"
	"github.com/greenlang/gl001/scada/buffer"
)

// DefaultMaxEvents is the most events a Forwarder puts in one event batch.
const DefaultMaxEvents = 256

// EventBatch is a run of consecutive events of one Stream's event log (see
// buffer.EventLog) that a Forwarder hands to an [EventTarget]: Events[i] has
// the event offset First+i. Event offsets are those of the event log, not
// of the points. The events of a batch all have the same Source: the event
// lane cuts a batch where the source changes, so that a target can store a
// batch as one message and tell from the last one it holds where the
// Stream's events end.
type EventBatch struct {
	Stream Stream
	First  buffer.Offset
	Events []scada.Event
}

// Next returns the event offset just after the batch.
func (b EventBatch) Next() buffer.Offset { return b.First + buffer.Offset(len(b.Events)) }

// EventTarget is an optional capability of a [Target] that accepts events.
// When the Config's Buffer is a buffer.EventLog (both buffers of package
// buffer are) and its Target an EventTarget, Run forwards the event log
// too, in an event lane beside the points.
//
// SendEvents returns nil only once the target has durably accepted every
// event of b; the Forwarder commits its event cursor after that and never
// before. A batch that failed is sent again with the same boundaries, so a
// target that remembers (First, Next) drops a re-send it already holds; an
// error matching scada.ErrBadInput skips the batch (counted). SendEvents
// must honour ctx and may not keep b.Events after it returns.
type EventTarget interface {
	SendEvents(ctx context.Context, b EventBatch) error
}

// EventResumer is an optional capability of an [EventTarget], the event
// side of [Resumer]: ResumeEvents returns the event offset just after the
// last event of s the target holds, or found false when it holds none. The
// event lane asks before its first read and moves its cursor there.
type EventResumer interface {
	ResumeEvents(ctx context.Context, s Stream) (next buffer.Offset, found bool, err error)
}

// EventStats is a snapshot of a Forwarder's event lane. Counters count
// since New.
type EventStats struct {
	// Enabled is true when the Buffer is an event log and the Target an
	// EventTarget: events are forwarded.
	Enabled bool
	// Committed is the event cursor: every event before it is acknowledged.
	Committed buffer.Offset
	// Lag is how many durable events are not yet acknowledged.
	Lag uint64

	Batches  uint64 // event batches acknowledged
	Events   uint64 // events acknowledged
	Failures uint64 // failed send attempts (and failed reads or commits)
	// Rejected counts event batches the target refused as bad input;
	// RejectedEvents their events. They are skipped and committed.
	Rejected       uint64
	RejectedEvents uint64
	// Missed counts events that retention or damage took before they were
	// read.
	Missed uint64
	// Skipped counts events the target's EventResumer said it held beyond
	// the cursor at start.
	Skipped   uint64
	LastError string
}

// eventLane forwards the event log: read, send (again, with the same
// boundaries, until acknowledged or refused), commit, one batch at a time.
type eventLane struct {
	f      *Forwarder
	log    buffer.EventLog
	target EventTarget

	mu sync.Mutex
	st EventStats
}

// newEventLane returns the event lane of f, or nil when f forwards no events.
func newEventLane(f *Forwarder) *eventLane {
	l, ok := f.cfg.Buffer.(buffer.EventLog)
	if !ok {
		return nil
	}
	t, ok := f.cfg.Target.(EventTarget)
	if !ok {
		return nil
	}
	e := &eventLane{f: f, log: l, target: t}
	e.st.Enabled = true
	return e
}

// EventStats returns a snapshot of the event lane.
func (f *Forwarder) EventStats() EventStats {
	e := f.events
	if e == nil {
		return EventStats{}
	}
	e.mu.Lock()
	st := e.st
	e.mu.Unlock()
	if d := e.log.EventStats().Durable; d > st.Committed {
		st.Lag = uint64(d - st.Committed)
	}
	return st
}

func (e *eventLane) update(fn func(*EventStats)) {
	e.mu.Lock()
	fn(&e.st)
	e.mu.Unlock()
}

func (e *eventLane) failed(err error) {
	e.update(func(s *EventStats) { s.Failures++; s.LastError = err.Error() })
	e.f.log.Warn("forwarder: event lane", "error", err)
}

// run forwards until ctx ends or the buffer is closed.
func (e *eventLane) run(ctx context.Context) error {
	f := e.f
	consumer := f.cfg.Consumer
	cur, err := e.resume(ctx)
	if err != nil {
		return err
	}
	e.update(func(s *EventStats) { s.Committed = cur })
	for attempt := 0; ; {
		b, err := e.log.ReadEvents(ctx, consumer, DefaultMaxEvents)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, scada.ErrClosed) {
				return err
			}
			// A corrupt segment: reported by the buffer; the next read goes
			// on past it.
			e.failed(fmt.Errorf("forward: reading events: %w", err))
			if err := sleep(ctx, f.cfg.Backoff.Delay(attempt)); err != nil {
				return err
			}
			attempt++
			continue
		}
		attempt = 0
		if b.Missed > 0 {
			e.update(func(s *EventStats) { s.Missed += b.Missed })
		}
		evs := b.Events
		for i := 1; i < len(evs); i++ {
			if evs[i].Source != evs[0].Source {
				evs = evs[:i]
				break
			}
		}
		batch := EventBatch{Stream: f.stream, First: b.First, Events: evs}
		if err := e.send(ctx, batch); err != nil {
			return err
		}
		for attempt := 0; ; attempt++ {
			err := e.log.CommitEvents(ctx, consumer, batch.Next())
			if err == nil {
				break
			}
			if ctx.Err() != nil || errors.Is(err, scada.ErrClosed) {
				return err
			}
			e.failed(fmt.Errorf("forward: committing events: %w", err))
			if err := sleep(ctx, f.cfg.Backoff.Delay(attempt)); err != nil {
				return err
			}
		}
		e.update(func(s *EventStats) { s.Committed = batch.Next() })
	}
}

// send sends b until the target acknowledges or refuses it.
func (e *eventLane) send(ctx context.Context, b EventBatch) error {
	f := e.f
	for attempt := 0; ; attempt++ {
		sctx, cancel := context.WithTimeout(ctx, f.cfg.SendTimeout)
		err := e.target.SendEvents(sctx, b)
		cancel()
		switch {
		case err == nil:
			e.update(func(s *EventStats) { s.Batches++; s.Events += uint64(len(b.Events)) })
			return nil
		case ctx.Err() != nil:
			return ctx.Err()
		case isRejected(err):
			e.update(func(s *EventStats) {
				s.Rejected++
				s.RejectedEvents += uint64(len(b.Events))
				s.LastError = err.Error()
			})
			f.log.Error("forwarder: target refused an event batch; skipped", "first", uint64(b.First), "events", len(b.Events), "error", err)
			return nil
		}
		e.failed(fmt.Errorf("forward: sending events [%d, %d): %w", b.First, b.Next(), err))
		if err := sleep(ctx, f.cfg.Backoff.Delay(attempt)); err != nil {
			return err
		}
	}
}

// resume returns the event cursor to start from, moved forward to what an
// EventResumer target says it holds.
func (e *eventLane) resume(ctx context.Context) (buffer.Offset, error) {
	f := e.f
	st := e.log.EventStats()
	cur := st.First
	for _, c := range st.Consumers {
		if c.Name == f.cfg.Consumer {
			cur = c.Cursor
		}
	}
	r, ok := e.target.(EventResumer)
	if !ok {
		return cur, nil
	}
	for attempt := 0; ; attempt++ {
		rctx, cancel := context.WithTimeout(ctx, f.cfg.SendTimeout)
		next, found, err := r.ResumeEvents(rctx, f.stream)
		cancel()
		if err == nil {
			if !found || next <= cur {
				return cur, nil
			}
			if next > st.Next {
				return 0, fmt.Errorf("%w: the target holds events of %s up to offset %d, the event log ends at %d", ErrTargetAhead, f.stream.Buffer, next, st.Next)
			}
			if err := e.log.CommitEvents(ctx, f.cfg.Consumer, next); err != nil {
				return 0, err
			}
			e.update(func(s *EventStats) { s.Skipped += uint64(next - cur) })
			return next, nil
		}
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		e.failed(fmt.Errorf("forward: resume events: %w", err))
		if err := sleep(ctx, f.cfg.Backoff.Delay(attempt)); err != nil {
			return 0, err
		}
	}
}

// runWithEvents runs the point lanes (run) and, when there is one, the
// event lane beside them. The event lane ends with them; an event lane that
// stops on its own (the buffer closed, the target ahead) ends Run too.
func (f *Forwarder) runWithEvents(ctx context.Context, run func(context.Context) error) error {
	if f.events == nil {
		return run(ctx)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	evErr := make(chan error, 1)
	go func() {
		err := f.events.run(ctx)
		if ctx.Err() == nil {
			cancel() // the buffer closed or the target is ahead: stop the points too
		}
		evErr <- err
	}()
	err := run(ctx)
	cancel()
	e := <-evErr
	if e != nil && !errors.Is(e, context.Canceled) && (err == nil || errors.Is(err, context.Canceled)) {
		return e
	}
	return err
}
