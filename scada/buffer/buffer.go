package buffer

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"time"
	"unicode/utf8"

	"github.com/greenlang/gl001/scada"
)

// Offset is the position of a point in a [Buffer]: the first point ever appended
// has offset 0, and every appended point gets the next one. Offsets are never
// reused, so an Offset names one point for the life of the buffer's directory
// (or, in memory, of the process).
type Offset uint64

// Buffer is a store-and-forward log of points: what a Source delivered while the
// consumer was away is kept, in order, until the consumer has taken it or the
// retention drops it.
//
// Writers store batches with [Buffer.Append] (a Buffer is also a [scada.Sink], so a
// [scada.Collector] can feed it directly). Each named consumer reads from its own cursor with
// [Buffer.Read] and moves the cursor with [Buffer.Commit] once the points are
// delivered downstream; a consumer that was offline, or a process that
// restarted, resumes where the last commit left it. Delivery is at least once:
// a consumer that crashes between delivering and committing sees the same
// points again.
//
// Retention drops the oldest points when they are older than the maximum age
// or the buffer is over its byte cap. What it drops is counted in
// [Stats] and reported to the OnDrop hook of the configuration, with how
// many of the dropped points each consumer had not committed yet; a consumer
// whose cursor fell behind the oldest retained point sees the gap in
// [Batch.Missed].
//
// Readers see only durable points (see [DiskConfig.Sync]): a consumer
// never forwards a point that a crash could take back.
//
// Two implementations: [Memory] keeps the log in memory, [Disk]
// keeps it in segmented append-only files that survive a crash of the process
// or of the machine. All methods are safe for concurrent use.
type Buffer interface {
	scada.Sink

	// Append stores batch and returns the offset of its first point; the points
	// get the offsets [first, first+len(batch)). An empty batch stores nothing
	// and returns the next offset. Times are kept to the nanosecond and returned
	// in UTC. When Append returns nil the points are durable; a disk buffer in
	// interval mode is the exception, see [SyncInterval].
	Append(ctx context.Context, batch []scada.Point) (first Offset, err error)

	// Read returns up to max points (at least one) from the committed cursor of
	// consumer, waiting until there is a point to return or ctx ends. Read does
	// not move the cursor: call Commit with [Batch.Next] once the points are
	// delivered, or Read returns them again. A consumer is known from its
	// first Read or Commit; one that never committed starts at the oldest
	// retained point. The returned slice is the caller's.
	Read(ctx context.Context, consumer string, max int) (Batch, error)

	// Commit moves the cursor of consumer to next, the offset of the first point
	// it has not delivered yet (usually [Batch.Next]). Committing an earlier
	// offset rewinds the consumer, so it reads again what is still retained.
	// Offsets beyond the end fail with [ErrOutOfRange].
	Commit(ctx context.Context, consumer string, next Offset) error

	// Forget removes the cursor of a consumer that is gone for good, so it no
	// longer shows in Stats or in DropEvent.Unread. Forgetting an unknown
	// consumer does nothing. If it reads again it starts at the oldest point.
	Forget(ctx context.Context, consumer string) error

	// Scan yields the retained durable points from offset from to the end of
	// the log as it is when Scan starts, in batches, in order. It moves no
	// cursor. The Points of each yielded Batch are valid only until the next
	// iteration and must not be modified.
	Scan(ctx context.Context, from Offset) iter.Seq2[Batch, error]

	// Recent yields the retained durable points whose source Time is not older
	// than window (relative to the buffer's clock), in log order: Recent(ctx,
	// time.Hour) answers "the last 60 minutes".
	Recent(ctx context.Context, window time.Duration) iter.Seq2[scada.Point, error]

	// ID returns the identity of the log: the same for as long as its offsets
	// name the same points (across restarts, for a disk buffer), and different
	// for any other log. A Forwarder pairs it with offsets to name a point
	// downstream, so a target can drop what it already has.
	ID() string

	// Stats returns a snapshot of the counters.
	Stats() Stats

	// Close flushes what was appended, makes it durable and releases the
	// buffer; blocked Reads return [scada.ErrClosed]. Calls after the first return
	// ErrClosed, as do all other methods but Stats, which keeps reporting the
	// final counters.
	Close() error
}

// StableScanner is an optional capability of a Buffer whose Scan yields the
// points it stores, which never change once appended: when ScanStable
// reports true, a reader may keep the Points of a yielded Batch after the
// iteration moved on (read-only, without appending to them), instead of
// copying them. A Forwarder uses it to send a batch without a copy.
// [Memory] implements it; [Disk] decodes into a buffer it reuses and does
// not.
type StableScanner interface {
	ScanStable() bool
}

// Batch is a run of consecutive points read from a [Buffer].
type Batch struct {
	// First is the offset of Points[0].
	First Offset
	// Points are the points at offsets [First, First+len(Points)).
	Points []scada.Point
	// Missed counts the points between the requested offset and First that are
	// no longer there: retention dropped them, or they were in a corrupt segment,
	// before the reader got to them. Zero in the normal case.
	Missed uint64
}

// Next returns the offset just after the batch: what to Commit once it is delivered.
func (b Batch) Next() Offset { return b.First + Offset(len(b.Points)) }

// DropReason says why points left a [Buffer] without being read.
type DropReason int

// The reasons for dropping points.
const (
	// DropAge: the points were older than the maximum age.
	DropAge DropReason = iota + 1
	// DropBytes: the buffer was over its byte cap.
	DropBytes
	// DropCorrupt: the points were in a segment that failed its checksum or
	// could not be decoded; the segment was quarantined.
	DropCorrupt
	// DropMissing: the points' segment file was gone when the buffer
	// opened (deleted, or something that is not a file in its place), or
	// the log's own records show points that no segment holds.
	DropMissing
)

// String returns "age", "bytes", "corrupt" or "missing".
func (r DropReason) String() string {
	switch r {
	case DropAge:
		return "age"
	case DropBytes:
		return "bytes"
	case DropCorrupt:
		return "corrupt"
	case DropMissing:
		return "missing"
	}
	return fmt.Sprintf("DropReason(%d)", int(r))
}

// DropEvent reports points a [Buffer] dropped. It goes to the OnDrop hook of the
// configuration.
type DropEvent struct {
	// Events is true when the drop is of the event log (see [EventLog]):
	// From, To and Points then count events, in the event log's offsets.
	Events   bool
	Reason   DropReason
	From, To Offset // the dropped offsets are [From, To)
	Points   uint64 // how many points (or events) were dropped (To-From unless part of the range was already gone)
	Bytes    int64  // the storage they used, when known
	// Oldest and Newest are the append times of the dropped points; zero
	// when they are not known (DropMissing, and DropCorrupt when opening).
	Oldest, Newest time.Time
	// Unread maps each consumer that had not committed past all of the dropped
	// points to how many of them it never committed. Empty when every consumer
	// had delivered them.
	Unread map[string]uint64
	// Err is the *CorruptError for DropCorrupt, nil otherwise.
	Err error
}

// DropCounts counts dropped points by reason.
type DropCounts struct {
	Age, Bytes, Corrupt, Missing uint64 // points
}

// Total returns the sum of the counts.
func (d DropCounts) Total() uint64 { return d.Age + d.Bytes + d.Corrupt + d.Missing }

func (d *DropCounts) add(r DropReason, n uint64) {
	switch r {
	case DropAge:
		d.Age += n
	case DropBytes:
		d.Bytes += n
	case DropCorrupt:
		d.Corrupt += n
	case DropMissing:
		d.Missing += n
	}
}

// Faults counts damage a disk buffer found in its directory when it opened,
// other than lost points (those are in [DropCounts] and reported to OnDrop).
// Each fault is logged once at Error level, and repaired so that the next
// open does not report it again.
type Faults struct {
	// CursorLog counts a cursor log that was missing beside existing
	// segments: the cursors are lost, so every consumer starts again at the
	// oldest retained point and may receive [Stats].First to Next again.
	CursorLog uint64
	// IDFile counts an identity file that was missing beside existing
	// segments. The ID is restored from the segment headers, which carry
	// it; only a log written entirely before they did gets a new ID (and
	// a downstream target sees it as a new log).
	IDFile uint64
}

// ConsumerStats is the state of one consumer of a [Buffer].
type ConsumerStats struct {
	Name   string
	Cursor Offset // the committed offset: the next point the consumer reads
	// Lag is how many retained durable points lie at or after the cursor.
	Lag uint64
	// Behind is how many points between the cursor and the oldest retained point
	// are gone: what the consumer will see as [Batch.Missed] on its next Read.
	Behind uint64
}

// Stats is a snapshot of a [Buffer]'s state and counters. Counters count
// since the buffer was opened.
type Stats struct {
	First   Offset // the oldest retained point
	Next    Offset // the offset the next appended point gets
	Durable Offset // every point before it is durable and readable
	Points  uint64 // points retained
	Bytes   int64  // storage used: file bytes on disk, an estimate in memory
	// Segments is the number of segment files (0 for a memory buffer).
	Segments int

	Appended uint64 // points appended
	Batches  uint64 // Append calls that stored at least one point
	// Rejected counts Append calls refused as bad input (see
	// [MaxStringLen]); they stored nothing.
	Rejected uint64
	Dropped  DropCounts // points dropped, by reason
	// DroppedBytes is the storage the dropped points used.
	DroppedBytes int64
	// Syncs counts group commits (fsync rounds) of a disk buffer.
	Syncs uint64
	// Truncated counts bytes of torn records cut off the tail when the buffer
	// was opened after a crash: records never reported durable (see
	// [Disk] for the one exception).
	Truncated int64
	// Quarantined lists the corrupt segment files renamed aside, as renamed.
	Quarantined []string
	// Faults counts damage found when a disk buffer opened.
	Faults Faults

	Consumers []ConsumerStats // sorted by name
}

// Errors of a Buffer besides [scada.ErrClosed].
var (
	// ErrCorrupt marks stored data that failed its checksum or could not be
	// decoded. Errors that match it are *CorruptError values naming the file and
	// byte offset. Retrying reads the rest of the log: the corrupt segment is
	// quarantined and its points counted as dropped.
	ErrCorrupt = errors.New("buffer: corrupt buffer data")
	// ErrOutOfRange is returned by Commit for an offset beyond the end of the
	// log. Not retryable with the same offset.
	ErrOutOfRange = errors.New("buffer: offset out of range")
)

// CorruptError says where stored buffer data is corrupt. It matches
// [ErrCorrupt] with errors.Is.
type CorruptError struct {
	File   string // the segment file, as it was named before quarantine
	Offset int64  // the byte offset in the file where the bad record starts
	Reason string // what is wrong, e.g. "checksum mismatch"
	// Quarantine is the name the file was renamed to, or empty.
	Quarantine string
}

// Error says which file is corrupt, where, and where it was moved.
func (e *CorruptError) Error() string {
	s := fmt.Sprintf("buffer: corrupt buffer segment %s at byte %d: %s", e.File, e.Offset, e.Reason)
	if e.Quarantine != "" {
		s += " (quarantined as " + e.Quarantine + ")"
	}
	return s
}

// Is reports whether target is ErrCorrupt.
func (e *CorruptError) Is(target error) bool { return target == ErrCorrupt }

// Limits on what a Buffer stores. Append rejects a batch that breaks one with an
// error matching [scada.ErrBadInput] and stores none of it.
const (
	// MaxStringLen is the longest Tag, Unit or Source a Buffer stores, in bytes.
	MaxStringLen = 1<<16 - 1
	// MaxConsumerNameLen is the longest consumer name, in bytes.
	MaxConsumerNameLen = 255
)

func checkBatch(batch []scada.Point) error {
	for i := range batch {
		p := &batch[i]
		if len(p.Tag) > MaxStringLen || len(p.Unit) > MaxStringLen || len(p.Source) > MaxStringLen {
			return fmt.Errorf("%w: point %d: tag, unit or source longer than %d bytes", scada.ErrBadInput, i, MaxStringLen)
		}
	}
	return nil
}

func checkConsumer(name string) error {
	if name == "" || len(name) > MaxConsumerNameLen || !utf8.ValidString(name) {
		return fmt.Errorf("buffer: consumer name must be 1 to %d bytes of UTF-8, got %q", MaxConsumerNameLen, name)
	}
	return nil
}

// dropUnread computes DropEvent.Unread for dropping [from, to) given the cursors.
// A consumer without a cursor reads from the oldest point, so it counts too.
func dropUnread(cursors map[string]Offset, from, to Offset) map[string]uint64 {
	var m map[string]uint64
	for name, c := range cursors {
		if c >= to {
			continue
		}
		lo := max(c, from)
		if m == nil {
			m = make(map[string]uint64)
		}
		m[name] = uint64(to - lo)
	}
	return m
}

// waitCh returns when ch is closed or ctx ends.
func waitCh(ctx context.Context, ch <-chan struct{}) error {
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
