package buffer

import (
	"context"
	"fmt"
	"iter"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/greenlang/gl001/scada"
)

// Defaults of the buffer configurations.
const (
	DefaultBufferMaxAge       = 24 * time.Hour
	DefaultMemoryBufferBytes  = 256 << 20
	DefaultDiskBufferBytes    = 10 << 30
	DefaultBufferSegmentBytes = 64 << 20
	DefaultBufferSyncInterval = 100 * time.Millisecond
	DefaultBufferMaxPending   = 16 << 20
	// DefaultReadMax is the batch size Read uses when asked for max <= 0.
	DefaultReadMax = 1024
)

// memPointBytes is the memory a Memory accounts for each point: the Point
// itself and its share of the record and string headers. Strings are usually
// shared by many points and are not counted.
const memPointBytes = 96

// MemoryConfig configures a [Memory]. The zero value is usable.
type MemoryConfig struct {
	// MaxAge drops points appended longer ago than this, checked on every
	// Append, Read, Scan and Recent. Zero means DefaultBufferMaxAge (24 h);
	// negative means no age limit.
	MaxAge time.Duration
	// MaxBytes drops the oldest points while the buffer accounts for more than
	// this many bytes (96 bytes a point). Zero means DefaultMemoryBufferBytes
	// (256 MiB); negative means no cap.
	MaxBytes int64
	// OnDrop, if set, is called with every drop retention makes, after the
	// buffer's lock is released (it may call Stats), from the goroutine that
	// caused the drop. It must return quickly.
	OnDrop func(DropEvent)
	// EventMaxBytes caps the event log (see [EventLog]) like MaxBytes caps
	// the points, counting each event's encoding and 32 bytes. Zero means
	// MaxBytes/8; negative means no cap.
	EventMaxBytes int64
	// Now is the clock for append times, retention and Recent; nil means
	// time.Now. Tests and simulations set it.
	Now func() time.Time
	// Logger receives drops at Warn when a consumer lost unread points, at
	// Debug otherwise. Nil discards.
	Logger *slog.Logger
}

// Validate reports every problem of c.
func (c MemoryConfig) Validate() error {
	return nil
}

func (c MemoryConfig) withDefaults() MemoryConfig {
	if c.MaxAge == 0 {
		c.MaxAge = DefaultBufferMaxAge
	}
	if c.MaxBytes == 0 {
		c.MaxBytes = DefaultMemoryBufferBytes
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

type memRecord struct {
	first      Offset
	pts        []scada.Point
	appendTime int64
	maxTime    int64
}

// Memory is a [Buffer] that keeps its log in memory: fast, bounded by
// MaxBytes, lost when the process ends. Its points are durable as soon as
// Append returns, for the life of the process. Its event log (see
// [EventLog]) keeps events encoded, exactly as a [Disk] stores them, capped
// by EventMaxBytes.
type Memory struct {
	cfg MemoryConfig
	id  string
	ev  *memEvents

	mu      sync.Mutex
	closed  bool
	recs    []memRecord // never modified in place, so snapshots read it unlocked
	next    Offset
	bytes   int64
	cursors map[string]Offset
	notify  chan struct{} // closed and replaced when points arrive or on Close

	appended, batches, rejected uint64
	dropped                     DropCounts
	droppedBytes                int64
}

var (
	_ Buffer        = (*Memory)(nil)
	_ StableScanner = (*Memory)(nil)
)

// NewMemory returns an empty Memory.
func NewMemory(cfg MemoryConfig) (*Memory, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	b := &Memory{
		cfg:     cfg.withDefaults(),
		id:      newID(),
		cursors: make(map[string]Offset),
		notify:  make(chan struct{}),
	}
	b.ev = newMemEvents(b.cfg, b.report)
	return b, nil
}

// Deliver appends batch, so a Memory can be the Sink of a Collector.
func (b *Memory) Deliver(ctx context.Context, batch []scada.Point) error {
	_, err := b.Append(ctx, batch)
	return err
}

// Append implements [Buffer].
func (b *Memory) Append(ctx context.Context, batch []scada.Point) (Offset, error) {
	if err := checkBatch(batch); err != nil {
		b.mu.Lock()
		b.rejected++
		b.mu.Unlock()
		return 0, err
	}
	pts := make([]scada.Point, len(batch))
	maxTime := int64(-1 << 63)
	for i, p := range batch {
		p.Time = p.Time.UTC()
		pts[i] = p
		maxTime = max(maxTime, timeKey(p.Time))
	}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return 0, scada.ErrClosed
	}
	first := b.next
	if len(pts) == 0 {
		b.mu.Unlock()
		return first, nil
	}
	now := b.cfg.Now()
	b.recs = append(b.recs, memRecord{first: first, pts: pts, appendTime: now.UnixNano(), maxTime: maxTime})
	b.next += Offset(len(pts))
	b.bytes += int64(len(pts)) * memPointBytes
	b.appended += uint64(len(pts))
	b.batches++
	events := b.retainLocked(now)
	close(b.notify)
	b.notify = make(chan struct{})
	b.mu.Unlock()
	b.report(events)
	return first, nil
}

func (b *Memory) firstLocked() Offset {
	if len(b.recs) == 0 {
		return b.next
	}
	return b.recs[0].first
}

// retainLocked drops what is too old or over the cap, whole records at a time.
func (b *Memory) retainLocked(now time.Time) []DropEvent {
	var events []DropEvent
	cutoff := now.Add(-b.cfg.MaxAge).UnixNano()
	n := 0
	for n < len(b.recs) {
		r := b.recs[n]
		var reason DropReason
		switch {
		case b.cfg.MaxAge > 0 && r.appendTime < cutoff:
			reason = DropAge
		case b.cfg.MaxBytes > 0 && b.bytes > b.cfg.MaxBytes:
			reason = DropBytes
		default:
		}
		if reason == 0 {
			break
		}
		size := int64(len(r.pts)) * memPointBytes
		to := r.first + Offset(len(r.pts))
		// Merge with the previous event of the same reason.
		if k := len(events) - 1; k >= 0 && events[k].Reason == reason && events[k].To == r.first {
			e := &events[k]
			e.To, e.Points, e.Bytes = to, e.Points+uint64(len(r.pts)), e.Bytes+size
			e.Newest = time.Unix(0, r.appendTime).UTC()
		} else {
			events = append(events, DropEvent{
				Reason: reason, From: r.first, To: to, Points: uint64(len(r.pts)), Bytes: size,
				Oldest: time.Unix(0, r.appendTime).UTC(), Newest: time.Unix(0, r.appendTime).UTC(),
			})
		}
		b.bytes -= size
		b.dropped.add(reason, uint64(len(r.pts)))
		b.droppedBytes += size
		n++
	}
	if n == 0 {
		return nil
	}
	b.recs = b.recs[n:]
	if cap(b.recs) > 2*len(b.recs)+64 {
		b.recs = append([]memRecord(nil), b.recs...)
	}
	for i := range events {
		events[i].Unread = dropUnread(b.cursors, events[i].From, events[i].To)
	}
	return events
}

func (b *Memory) report(events []DropEvent) { reportDrops(b.cfg.Logger, b.cfg.OnDrop, events) }

// reportDrops logs each drop and passes it to onDrop, if set. The caller
// holds no buffer lock.
func reportDrops(l *slog.Logger, onDrop func(DropEvent), events []DropEvent) {
	for _, e := range events {
		logDrop(l, e)
		if onDrop != nil {
			onDrop(e)
		}
	}
}

func logDrop(l *slog.Logger, e DropEvent) {
	level := slog.LevelDebug
	if len(e.Unread) > 0 || e.Reason == DropCorrupt || e.Reason == DropMissing {
		level = slog.LevelWarn
	}
	attrs := []any{"reason", e.Reason.String(), "from", uint64(e.From), "to", uint64(e.To), "points", e.Points, "bytes", e.Bytes}
	for name, n := range e.Unread {
		attrs = append(attrs, slog.Uint64("unread."+name, n))
	}
	if e.Err != nil {
		attrs = append(attrs, "err", e.Err)
	}
	l.Log(context.Background(), level, "buffer: buffer dropped "+logDropKind(e), attrs...)
}

// find returns the index of the record holding off, or the first record after it.
func findRecord(recs []memRecord, off Offset) int {
	return sort.Search(len(recs), func(i int) bool {
		return recs[i].first+Offset(len(recs[i].pts)) > off
	})
}

// Read implements [Buffer].
func (b *Memory) Read(ctx context.Context, consumer string, max int) (Batch, error) {
	if err := checkConsumer(consumer); err != nil {
		return Batch{}, err
	}
	if max <= 0 {
		max = DefaultReadMax
	}
	for {
		b.mu.Lock()
		if b.closed {
			b.mu.Unlock()
			return Batch{}, scada.ErrClosed
		}
		events := b.retainLocked(b.cfg.Now())
		cur, ok := b.cursors[consumer]
		if !ok {
			cur = b.firstLocked()
			b.cursors[consumer] = cur
		}
		var batch Batch
		if first := b.firstLocked(); cur < first {
			batch.Missed, cur = uint64(first-cur), first
		}
		if cur < b.next {
			i := findRecord(b.recs, cur)
			batch.First = cur
			for ; i < len(b.recs) && len(batch.Points) < max; i++ {
				r := b.recs[i]
				pts := r.pts[cur-r.first:]
				pts = pts[:min(len(pts), max-len(batch.Points))]
				batch.Points = append(batch.Points, pts...)
				cur += Offset(len(pts))
			}
			b.mu.Unlock()
			b.report(events)
			return batch, nil
		}
		ch := b.notify
		b.mu.Unlock()
		b.report(events)
		if err := waitCh(ctx, ch); err != nil {
			return Batch{}, err
		}
	}
}

// Commit implements [Buffer].
func (b *Memory) Commit(ctx context.Context, consumer string, next Offset) error {
	if err := checkConsumer(consumer); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return scada.ErrClosed
	}
	if next > b.next {
		return fmt.Errorf("%w: commit of %d for %q, the log ends at %d", ErrOutOfRange, next, consumer, b.next)
	}
	b.cursors[consumer] = next
	return nil
}

// Forget implements [Buffer].
func (b *Memory) Forget(ctx context.Context, consumer string) error {
	if err := checkConsumer(consumer); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return scada.ErrClosed
	}
	delete(b.cursors, consumer)
	return nil
}

// snapshot returns the records to read, after retention.
func (b *Memory) snapshot() ([]memRecord, Offset, error) {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil, 0, scada.ErrClosed
	}
	events := b.retainLocked(b.cfg.Now())
	recs, first := b.recs, b.firstLocked()
	b.mu.Unlock()
	b.report(events)
	return recs, first, nil
}

// ScanStable implements [StableScanner]: Scan yields the stored points,
// which Memory never changes.
func (b *Memory) ScanStable() bool { return true }

// Scan implements [Buffer].
func (b *Memory) Scan(ctx context.Context, from Offset) iter.Seq2[Batch, error] {
	return func(yield func(Batch, error) bool) {
		recs, first, err := b.snapshot()
		if err != nil {
			yield(Batch{}, err)
			return
		}
		var missed uint64
		if from < first {
			missed, from = uint64(first-from), first
		}
		for i := findRecord(recs, from); i < len(recs); i++ {
			if err := ctx.Err(); err != nil {
				yield(Batch{}, err)
				return
			}
			r := recs[i]
			off := max(from, r.first)
			if !yield(Batch{First: off, Points: r.pts[off-r.first:], Missed: missed}, nil) {
				return
			}
			missed = 0
		}
	}
}

// Recent implements [Buffer].
func (b *Memory) Recent(ctx context.Context, window time.Duration) iter.Seq2[scada.Point, error] {
	return func(yield func(scada.Point, error) bool) {
		recs, _, err := b.snapshot()
		if err != nil {
			yield(scada.Point{}, err)
			return
		}
		cutoff := b.cfg.Now().Add(-window).UnixNano()
		for _, r := range recs {
			if err := ctx.Err(); err != nil {
				yield(scada.Point{}, err)
				return
			}
			if r.maxTime < cutoff {
				continue
			}
			for _, p := range r.pts {
				if timeKey(p.Time) >= cutoff && !yield(p, nil) {
					return
				}
			}
		}
	}
}

// ID returns the identity of this log: random, new with every Memory, since
// its offsets start again at 0 in the next process.
func (b *Memory) ID() string { return b.id }

// Stats implements [Buffer].
func (b *Memory) Stats() Stats {
	b.mu.Lock()
	defer b.mu.Unlock()
	first := b.firstLocked()
	return Stats{
		First: first, Next: b.next, Durable: b.next,
		Points: uint64(b.next - first), Bytes: b.bytes,
		Appended: b.appended, Batches: b.batches, Rejected: b.rejected,
		Dropped: b.dropped, DroppedBytes: b.droppedBytes,
		Consumers: consumerStats(b.cursors, first, func(from Offset) uint64 { return uint64(b.next - min(from, b.next)) }),
	}
}

// consumerStats reports each cursor; lag(from) counts the retained durable
// points at or after from.
func consumerStats(cursors map[string]Offset, first Offset, lag func(Offset) uint64) []ConsumerStats {
	out := make([]ConsumerStats, 0, len(cursors))
	for name, c := range cursors {
		cs := ConsumerStats{Name: name, Cursor: c}
		from := c
		if c < first {
			cs.Behind, from = uint64(first-c), first
		}
		cs.Lag = lag(from)
		out = append(out, cs)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Close implements [Buffer]. It wakes blocked Reads, which return ErrClosed.
func (b *Memory) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return scada.ErrClosed
	}
	b.closed = true
	b.recs = nil
	close(b.notify)
	b.ev.close()
	return nil
}
