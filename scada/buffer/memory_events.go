package buffer

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/greenlang/gl001/scada"
)

// memEventOverhead is what a Memory accounts for each event besides its
// encoding.
const memEventOverhead = 32

var _ EventLog = (*Memory)(nil)

type memEventRec struct {
	first      Offset
	evs        [][]byte // the encoding of each event
	bytes      int64
	appendTime int64
}

// memEvents is the event log of a Memory. Events are kept encoded (see
// [EventLog]), so that a Memory keeps exactly what a Disk keeps and its byte
// accounting is honest.
type memEvents struct {
	maxAge   time.Duration
	maxBytes int64
	now      func() time.Time
	report   func([]DropEvent)

	mu      sync.Mutex
	closed  bool
	recs    []memEventRec
	next    Offset
	bytes   int64
	cursors map[string]Offset
	notify  chan struct{}

	appended, batches, rejected uint64
	dropped                     DropCounts
	droppedBytes                int64
}

func newMemEvents(cfg MemoryConfig, report func([]DropEvent)) *memEvents {
	maxBytes := cfg.EventMaxBytes
	if maxBytes == 0 {
		maxBytes = cfg.MaxBytes / 8
		if cfg.MaxBytes < 0 {
			maxBytes = -1
		}
	}
	return &memEvents{
		maxAge: cfg.MaxAge, maxBytes: maxBytes, now: cfg.Now, report: report,
		cursors: make(map[string]Offset), notify: make(chan struct{}),
	}
}

// DeliverEvents appends batch, so a Memory can be the EventSink of a Source.
func (b *Memory) DeliverEvents(ctx context.Context, batch []scada.Event) error {
	_, err := b.AppendEvents(ctx, batch)
	return err
}

// AppendEvents implements [EventLog].
func (b *Memory) AppendEvents(ctx context.Context, batch []scada.Event) (Offset, error) {
	l := b.ev
	encs := make([][]byte, len(batch))
	var size int64
	for i := range batch {
		enc, err := encodeEvent(nil, &batch[i])
		if err != nil {
			l.mu.Lock()
			l.rejected++
			l.mu.Unlock()
			return 0, fmt.Errorf("buffer: event %d: %w", i, err)
		}
		encs[i] = enc
		size += int64(len(enc)) + memEventOverhead
	}
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return 0, scada.ErrClosed
	}
	first := l.next
	if len(batch) == 0 {
		l.mu.Unlock()
		return first, nil
	}
	now := l.now()
	l.recs = append(l.recs, memEventRec{first: first, evs: encs, bytes: size, appendTime: now.UnixNano()})
	l.next += Offset(len(encs))
	l.bytes += size
	l.appended += uint64(len(encs))
	l.batches++
	drops := l.retainLocked(now)
	close(l.notify)
	l.notify = make(chan struct{})
	l.mu.Unlock()
	l.report(drops)
	return first, nil
}

func (l *memEvents) firstLocked() Offset {
	if len(l.recs) == 0 {
		return l.next
	}
	return l.recs[0].first
}

func (l *memEvents) retainLocked(now time.Time) []DropEvent {
	var drops []DropEvent
	cutoff := now.Add(-l.maxAge).UnixNano()
	n := 0
	for ; n < len(l.recs); n++ {
		r := l.recs[n]
		var reason DropReason
		switch {
		case l.maxAge > 0 && r.appendTime < cutoff:
			reason = DropAge
		case l.maxBytes > 0 && l.bytes > l.maxBytes:
			reason = DropBytes
		}
		if reason == 0 {
			break
		}
		to := r.first + Offset(len(r.evs))
		at := time.Unix(0, r.appendTime).UTC()
		if k := len(drops) - 1; k >= 0 && drops[k].Reason == reason && drops[k].To == r.first {
			d := &drops[k]
			d.To, d.Points, d.Bytes, d.Newest = to, d.Points+uint64(len(r.evs)), d.Bytes+r.bytes, at
		} else {
			drops = append(drops, DropEvent{Events: true, Reason: reason, From: r.first, To: to, Points: uint64(len(r.evs)), Bytes: r.bytes, Oldest: at, Newest: at})
		}
		l.bytes -= r.bytes
		l.dropped.add(reason, uint64(len(r.evs)))
		l.droppedBytes += r.bytes
	}
	if n == 0 {
		return nil
	}
	l.recs = l.recs[n:]
	if cap(l.recs) > 2*len(l.recs)+64 {
		l.recs = append([]memEventRec(nil), l.recs...)
	}
	for i := range drops {
		drops[i].Unread = dropUnread(l.cursors, drops[i].From, drops[i].To)
	}
	return drops
}

// ReadEvents implements [EventLog].
func (b *Memory) ReadEvents(ctx context.Context, consumer string, max int) (EventBatch, error) {
	if err := checkConsumer(consumer); err != nil {
		return EventBatch{}, err
	}
	if max <= 0 {
		max = DefaultReadMax
	}
	l := b.ev
	for {
		l.mu.Lock()
		if l.closed {
			l.mu.Unlock()
			return EventBatch{}, scada.ErrClosed
		}
		drops := l.retainLocked(l.now())
		cur, ok := l.cursors[consumer]
		if !ok {
			cur = l.firstLocked()
			l.cursors[consumer] = cur
		}
		var batch EventBatch
		if first := l.firstLocked(); cur < first {
			batch.Missed, cur = uint64(first-cur), first
		}
		if cur < l.next {
			batch.First = cur
			var encs [][]byte
			i := sort.Search(len(l.recs), func(i int) bool { return l.recs[i].first+Offset(len(l.recs[i].evs)) > cur })
			for ; i < len(l.recs) && len(encs) < max; i++ {
				r := l.recs[i]
				evs := r.evs[cur-r.first:]
				evs = evs[:min(len(evs), max-len(encs))]
				encs = append(encs, evs...)
				cur += Offset(len(evs))
			}
			l.mu.Unlock()
			l.report(drops)
			batch.Events = make([]scada.Event, len(encs))
			for i, enc := range encs {
				ev, err := decodeEvent(enc)
				if err != nil {
					// Only this package encodes them: a failure is a bug.
					return EventBatch{}, fmt.Errorf("buffer: memory event at %d: %w", batch.First+Offset(i), err)
				}
				batch.Events[i] = ev
			}
			return batch, nil
		}
		ch := l.notify
		l.mu.Unlock()
		l.report(drops)
		if err := waitCh(ctx, ch); err != nil {
			return EventBatch{}, err
		}
	}
}

// CommitEvents implements [EventLog].
func (b *Memory) CommitEvents(ctx context.Context, consumer string, next Offset) error {
	if err := checkConsumer(consumer); err != nil {
		return err
	}
	l := b.ev
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return scada.ErrClosed
	}
	if next > l.next {
		return fmt.Errorf("%w: event commit of %d for %q, the event log ends at %d", ErrOutOfRange, next, consumer, l.next)
	}
	l.cursors[consumer] = next
	return nil
}

// ForgetEvents implements [EventLog].
func (b *Memory) ForgetEvents(ctx context.Context, consumer string) error {
	if err := checkConsumer(consumer); err != nil {
		return err
	}
	l := b.ev
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return scada.ErrClosed
	}
	delete(l.cursors, consumer)
	return nil
}

// EventStats implements [EventLog].
func (b *Memory) EventStats() EventStats {
	l := b.ev
	l.mu.Lock()
	defer l.mu.Unlock()
	first := l.firstLocked()
	return EventStats{
		First: first, Next: l.next, Durable: l.next,
		Events: uint64(l.next - first), Bytes: l.bytes,
		Appended: l.appended, Batches: l.batches, Rejected: l.rejected,
		Dropped: l.dropped, DroppedBytes: l.droppedBytes,
		Consumers: consumerStats(l.cursors, first, func(from Offset) uint64 { return uint64(l.next - min(from, l.next)) }),
	}
}

func (l *memEvents) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return
	}
	l.closed = true
	l.recs = nil
	close(l.notify)
}
