package buffer

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/greenlang/gl001/scada"
)

// EventLog is the event side of a buffer: a second log, beside the points,
// that stores [scada.Event] values with the same promises as the points.
// Both [Memory] and [Disk] implement it (test for it with a type assertion
// on a [Buffer]); a Buffer is also a [scada.EventSink] through it, so a
// Source that reports alarms delivers them straight into the buffer.
//
// The event log has its own offsets, starting at 0, unrelated to the offsets
// of points, and its own consumer cursors: a consumer named "cloud" has one
// cursor for points (Read/Commit) and another for events
// (ReadEvents/CommitEvents). Reading, committing, retention and drops work
// as for points: delivery is at least once, readers see only durable events,
// retention by age and by bytes drops the oldest events and reports them
// (counted in [EventStats] and given to OnDrop with [DropEvent].Events set),
// and a consumer that fell behind sees the gap in [EventBatch].Missed.
//
// Every field of an Event is kept: times to the nanosecond (returned in UTC),
// ID, Condition and Fields. A Fields value of one of the types the scada
// package documents (float64, bool, string, time.Time, []byte) and nil come
// back with the same type and value. Any other value is stored as its JSON
// encoding and comes back as encoding/json decodes it into an any (numbers as
// float64, objects as map[string]any, arrays as []any); a value JSON cannot
// encode is refused. An empty ID or Fields comes back nil. See [MaxEventBytes]
// for the limits.
type EventLog interface {
	scada.EventSink

	// AppendEvents stores batch and returns the event offset of its first
	// event; the events get [first, first+len(batch)). When it returns nil
	// the events are durable (for a Disk: fsynced, so they survive a crash of
	// the process or the machine). A batch breaking a limit is refused whole
	// with an error matching [scada.ErrBadInput] and counted in
	// EventStats.Rejected.
	AppendEvents(ctx context.Context, batch []scada.Event) (first Offset, err error)

	// ReadEvents returns up to max events (at least one) from the committed
	// event cursor of consumer, waiting until there is one or ctx ends. It
	// does not move the cursor. The returned slice and events are the
	// caller's.
	ReadEvents(ctx context.Context, consumer string, max int) (EventBatch, error)

	// CommitEvents moves the event cursor of consumer to next (usually
	// [EventBatch.Next]); it is durable when it returns. Offsets beyond the end
	// of the event log fail with [ErrOutOfRange].
	CommitEvents(ctx context.Context, consumer string, next Offset) error

	// ForgetEvents removes the event cursor of consumer.
	ForgetEvents(ctx context.Context, consumer string) error

	// EventStats returns a snapshot of the event log's state and counters.
	EventStats() EventStats
}

// EventBatch is a run of consecutive events read from an [EventLog].
type EventBatch struct {
	// First is the event offset of Events[0].
	First Offset
	// Events are the events at offsets [First, First+len(Events)).
	Events []scada.Event
	// Missed counts the events between the requested offset and First that
	// are no longer there (retention, or damage found on disk).
	Missed uint64
}

// Next returns the offset just after the batch: what to CommitEvents once it
// is delivered.
func (b EventBatch) Next() Offset { return b.First + Offset(len(b.Events)) }

// EventStats is a snapshot of an [EventLog]. Counters count since the buffer
// was opened.
type EventStats struct {
	First   Offset // the oldest retained event
	Next    Offset // the offset the next appended event gets
	Durable Offset // every event before it is durable and readable
	Events  uint64 // events retained
	Bytes   int64  // storage used: file bytes on disk, encoded bytes in memory
	// Segments is the number of event segment files (0 in memory).
	Segments int

	Appended uint64 // events appended
	Batches  uint64 // AppendEvents calls that stored at least one event
	Rejected uint64 // AppendEvents calls refused as bad input
	Dropped  DropCounts
	// DroppedBytes is the storage the dropped events used.
	DroppedBytes int64
	// Syncs counts fsyncs of event segments (Disk).
	Syncs uint64
	// Truncated counts bytes of a torn tail cut off the newest event segment
	// when the buffer was opened after a crash.
	Truncated int64
	// Quarantined lists corrupt event segment files renamed aside.
	Quarantined []string
	// Faults counts damage found when a disk buffer opened: CursorLog a
	// missing or damaged event state file beside existing event segments
	// (the event cursors are lost: every consumer starts again at the
	// oldest retained event).
	Faults Faults

	Consumers []ConsumerStats // sorted by name
}

// Limits on the events an [EventLog] stores. AppendEvents refuses a batch
// that breaks one.
const (
	// MaxEventBytes is the largest encoded event: its strings, ID and Fields
	// together (1 MiB). Each string, the ID, each field name and each text or
	// byte-string field value is also at most [MaxStringLen] bytes.
	MaxEventBytes = 1 << 20
	// MaxEventFields is the most Fields an event may carry.
	MaxEventFields = 1024
)

// The event codec. One event is encoded as:
//
//	byte     flags: 1 Time set, 2 ReceiveTime set, 4 Condition, 8 Fields, 16 ID
//	strings  Source, EventType, SourceNode, SourceName, Message (uvarint length, bytes)
//	uvarint  Severity
//	[Time]   varint Unix seconds, uvarint nanoseconds
//	[ReceiveTime] the same
//	[ID]     uvarint length, bytes
//	[Condition] byte (1 Retain, 2 Active, 4 Acknowledged, 8 Confirmed),
//	         strings ID, Name, Branch, State
//	[Fields] uvarint count, then per field (sorted by name): name, a type
//	         byte and the value: 0 nil; 1 float64 (8 bytes LE); 2 bool (a
//	         byte); 3 string; 4 time (varint seconds, uvarint nanoseconds);
//	         5 zero time; 6 bytes; 7 JSON text
//
// The same encoding is the payload of an event in a disk segment and the
// unit of the memory buffer's byte accounting.
const (
	evTime        = 1
	evReceiveTime = 2
	evCondition   = 4
	evFields      = 8
	evID          = 16
	evFlagsAll    = 31

	condRetain    = 1
	condActive    = 2
	condAcked     = 4
	condConfirmed = 8
	condAll       = 15

	fieldNil      = 0
	fieldFloat    = 1
	fieldBool     = 2
	fieldString   = 3
	fieldTime     = 4
	fieldZeroTime = 5
	fieldBytes    = 6
	fieldJSON     = 7
)

func appendTime(b []byte, t time.Time) []byte {
	b = appendVarint(b, t.Unix())
	return appendUvarint(b, uint64(t.Nanosecond()))
}

// encodeEvent appends the encoding of ev to dst, or fails with an error
// matching scada.ErrBadInput.
func encodeEvent(dst []byte, ev *scada.Event) ([]byte, error) {
	start := len(dst)
	for _, s := range []string{ev.Source, ev.EventType, ev.SourceNode, ev.SourceName, ev.Message} {
		if len(s) > MaxStringLen {
			return dst, fmt.Errorf("%w: event string longer than %d bytes", scada.ErrBadInput, MaxStringLen)
		}
	}
	if len(ev.ID) > MaxStringLen {
		return dst, fmt.Errorf("%w: event ID longer than %d bytes", scada.ErrBadInput, MaxStringLen)
	}
	if len(ev.Fields) > MaxEventFields {
		return dst, fmt.Errorf("%w: event has %d fields, more than %d", scada.ErrBadInput, len(ev.Fields), MaxEventFields)
	}
	var flags byte
	if !ev.Time.IsZero() {
		flags |= evTime
	}
	if !ev.ReceiveTime.IsZero() {
		flags |= evReceiveTime
	}
	if ev.Condition != nil {
		flags |= evCondition
	}
	if len(ev.Fields) > 0 {
		flags |= evFields
	}
	if len(ev.ID) > 0 {
		flags |= evID
	}
	dst = append(dst, flags)
	for _, s := range []string{ev.Source, ev.EventType, ev.SourceNode, ev.SourceName, ev.Message} {
		dst = appendString(dst, s)
	}
	dst = appendUvarint(dst, uint64(ev.Severity))
	if flags&evTime != 0 {
		dst = appendTime(dst, ev.Time)
	}
	if flags&evReceiveTime != 0 {
		dst = appendTime(dst, ev.ReceiveTime)
	}
	if flags&evID != 0 {
		dst = appendUvarint(dst, uint64(len(ev.ID)))
		dst = append(dst, ev.ID...)
	}
	if c := ev.Condition; c != nil {
		var cf byte
		if c.Retain {
			cf |= condRetain
		}
		if c.Active {
			cf |= condActive
		}
		if c.Acknowledged {
			cf |= condAcked
		}
		if c.Confirmed {
			cf |= condConfirmed
		}
		for _, s := range []string{c.ID, c.Name, c.Branch, c.State} {
			if len(s) > MaxStringLen {
				return dst[:start], fmt.Errorf("%w: condition string longer than %d bytes", scada.ErrBadInput, MaxStringLen)
			}
		}
		dst = append(dst, cf)
		for _, s := range []string{c.ID, c.Name, c.Branch, c.State} {
			dst = appendString(dst, s)
		}
	}
	if flags&evFields != 0 {
		names := make([]string, 0, len(ev.Fields))
		for k := range ev.Fields {
			names = append(names, k)
		}
		slices.Sort(names)
		dst = appendUvarint(dst, uint64(len(names)))
		for _, k := range names {
			if len(k) > MaxStringLen {
				return dst[:start], fmt.Errorf("%w: event field name longer than %d bytes", scada.ErrBadInput, MaxStringLen)
			}
			dst = appendString(dst, k)
			var err error
			if dst, err = appendField(dst, ev.Fields[k]); err != nil {
				return dst[:start], fmt.Errorf("%w: event field %q: %v", scada.ErrBadInput, k, err)
			}
		}
	}
	if len(dst)-start > MaxEventBytes {
		return dst[:start], fmt.Errorf("%w: event encodes to %d bytes, more than %d", scada.ErrBadInput, len(dst)-start, MaxEventBytes)
	}
	return dst, nil
}

func appendField(dst []byte, v any) ([]byte, error) {
	switch v := v.(type) {
	case nil:
		return append(dst, fieldNil), nil
	case float64:
		dst = append(dst, fieldFloat)
		return binary.LittleEndian.AppendUint64(dst, math.Float64bits(v)), nil
	case bool:
		b := byte(0)
		if v {
			b = 1
		}
		return append(dst, fieldBool, b), nil
	case string:
		if len(v) > MaxStringLen {
			return dst, fmt.Errorf("text longer than %d bytes", MaxStringLen)
		}
		return appendString(append(dst, fieldString), v), nil
	case time.Time:
		if v.IsZero() {
			return append(dst, fieldZeroTime), nil
		}
		return appendTime(append(dst, fieldTime), v), nil
	case []byte:
		if len(v) > MaxStringLen {
			return dst, fmt.Errorf("byte string longer than %d bytes", MaxStringLen)
		}
		dst = appendUvarint(append(dst, fieldBytes), uint64(len(v)))
		return append(dst, v...), nil
	default:
		j, err := json.Marshal(v)
		if err != nil {
			return dst, fmt.Errorf("a %T cannot be stored: %v", v, err)
		}
		if len(j) > MaxEventBytes {
			return dst, fmt.Errorf("JSON of a %T longer than %d bytes", v, MaxEventBytes)
		}
		dst = appendUvarint(append(dst, fieldJSON), uint64(len(j)))
		return append(dst, j...), nil
	}
}

// Decoding errors of events.
const (
	errEventFlags = errCodec("bad event flags")
	errEventTime  = errCodec("bad event time")
	errEventField = errCodec("bad event field")
	errEventLen   = errCodec("event length out of range")
)

func (r *decBuf) time() time.Time {
	sec := r.varint()
	nsec := r.uvarint()
	if nsec >= 1e9 || sec > maxWideSec || sec < -maxWideSec {
		r.fail(errEventTime)
		return time.Time{}
	}
	return time.Unix(sec, int64(nsec)).UTC()
}

func (r *decBuf) bytesN(limit uint64) []byte {
	n := r.uvarint()
	if n > limit || uint64(len(r.b)-r.i) < n {
		r.fail(errEventLen)
		return nil
	}
	b := append([]byte(nil), r.b[r.i:r.i+int(n)]...)
	r.i += int(n)
	return b
}

// decodeEvent decodes one event that is the whole of b.
func decodeEvent(b []byte) (scada.Event, error) {
	r := decBuf{b: b}
	var ev scada.Event
	flags := r.byte()
	if flags&^evFlagsAll != 0 {
		return ev, errEventFlags
	}
	ev.Source = r.string()
	ev.EventType = r.string()
	ev.SourceNode = r.string()
	ev.SourceName = r.string()
	ev.Message = r.string()
	sev := r.uvarint()
	if sev > math.MaxUint16 {
		r.fail(errEventField)
	}
	ev.Severity = uint16(sev)
	if flags&evTime != 0 {
		ev.Time = r.time()
	}
	if flags&evReceiveTime != 0 {
		ev.ReceiveTime = r.time()
	}
	if flags&evID != 0 {
		ev.ID = r.bytesN(MaxStringLen)
	}
	if flags&evCondition != 0 {
		cf := r.byte()
		if cf&^condAll != 0 {
			r.fail(errEventFlags)
		}
		c := &scada.Condition{
			Retain: cf&condRetain != 0, Active: cf&condActive != 0,
			Acknowledged: cf&condAcked != 0, Confirmed: cf&condConfirmed != 0,
		}
		c.ID = r.string()
		c.Name = r.string()
		c.Branch = r.string()
		c.State = r.string()
		ev.Condition = c
	}
	if flags&evFields != 0 {
		n := r.uvarint()
		if n == 0 || n > MaxEventFields || n > uint64(len(r.b)-r.i) {
			return ev, errEventField
		}
		ev.Fields = make(map[string]any, n)
		for range n {
			k := r.string()
			if r.err != nil {
				break
			}
			ev.Fields[k] = decodeField(&r)
		}
	}
	if r.err != nil {
		return scada.Event{}, r.err
	}
	if r.i != len(r.b) {
		return scada.Event{}, errTrailing
	}
	return ev, nil
}

func decodeField(r *decBuf) any {
	switch r.byte() {
	case fieldNil:
		return nil
	case fieldFloat:
		if len(r.b)-r.i < 8 {
			r.fail(errShort)
			return nil
		}
		v := math.Float64frombits(binary.LittleEndian.Uint64(r.b[r.i:]))
		r.i += 8
		return v
	case fieldBool:
		switch r.byte() {
		case 0:
			return false
		case 1:
			return true
		}
		r.fail(errEventField)
	case fieldString:
		return r.string()
	case fieldTime:
		return r.time()
	case fieldZeroTime:
		return time.Time{}
	case fieldBytes:
		return r.bytesN(MaxStringLen)
	case fieldJSON:
		j := r.bytesN(MaxEventBytes)
		if r.err != nil {
			return nil
		}
		var v any
		if err := json.Unmarshal(j, &v); err != nil {
			r.fail(errEventField)
			return nil
		}
		return v
	default:
		r.fail(errEventField)
	}
	return nil
}

// encodeEvents encodes a batch, each event as a uvarint length and its
// encoding.
func encodeEvents(batch []scada.Event) ([]byte, error) {
	var out, tmp []byte
	for i := range batch {
		var err error
		tmp, err = encodeEvent(tmp[:0], &batch[i])
		if err != nil {
			return nil, fmt.Errorf("event %d: %w", i, err)
		}
		out = appendUvarint(out, uint64(len(tmp)))
		out = append(out, tmp...)
	}
	return out, nil
}

// decodeEvents decodes n events encoded by encodeEvents from b, which must
// hold exactly them.
func decodeEvents(b []byte, n uint64, dst []scada.Event) ([]scada.Event, error) {
	r := decBuf{b: b}
	for range n {
		l := r.uvarint()
		if r.err != nil {
			return dst, r.err
		}
		if l > MaxEventBytes || uint64(len(r.b)-r.i) < l {
			return dst, errEventLen
		}
		ev, err := decodeEvent(r.b[r.i : r.i+int(l)])
		if err != nil {
			return dst, err
		}
		r.i += int(l)
		dst = append(dst, ev)
	}
	if r.i != len(r.b) {
		return dst, errTrailing
	}
	return dst, nil
}

// logDropKind names what a DropEvent dropped, for logs.
func logDropKind(e DropEvent) string {
	if e.Events {
		return "events"
	}
	return "points"
}
