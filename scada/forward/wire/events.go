package wire

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"math"
	"slices"
	"time"

	"github.com/greenlang/gl001/scada"
	"github.com/greenlang/gl001/scada/buffer"
)

// EventContentType names the event batch format and its version, as a MIME
// type; transports that carry headers send it with every event message.
const EventContentType = "application/vnd.gl001.events+protobuf; version=1"

// MaxEvents is the most events one event message may hold; a decoder refuses
// more.
const MaxEvents = 1 << 16

// Field numbers of the EventBatch message and its parts (see the package
// documentation).
const (
	// Fields 1 to 6 are numbered as in point messages: Header.set decodes both.
	feVersion = 1
	feEdge    = 2
	feBuffer  = 3
	feSource  = 4
	feFirst   = 5
	feLast    = 6
	feCount   = 7
	feEvents  = 8
	feCRC     = 15

	evOffset      = 1
	evTime        = 2
	evReceiveTime = 3
	evEventType   = 4
	evSourceNode  = 5
	evSourceName  = 6
	evSeverity    = 7
	evMessage     = 8
	evID          = 9
	evCondition   = 10
	evFields      = 11

	cdID           = 1
	cdName         = 2
	cdBranch       = 3
	cdRetain       = 4
	cdActive       = 5
	cdAcknowledged = 6
	cdConfirmed    = 7
	cdState        = 8

	fdName     = 1
	fdNumber   = 2
	fdBoolean  = 3
	fdText     = 4
	fdTime     = 5
	fdBytes    = 6
	fdJSON     = 7
	fdNull     = 8
	fdZeroTime = 9
)

// Header.set decodes fields 2 to 6 of both messages: a build fails if their
// numbers part.
var (
	_ = [1]struct{}{}[feEdge-fEdge]
	_ = [1]struct{}{}[feBuffer-fBuffer]
	_ = [1]struct{}{}[feSource-fSource]
	_ = [1]struct{}{}[feFirst-fFirst]
	_ = [1]struct{}{}[feLast-fLast]
)

// EventDecodeError says why an event message could not be decoded. It
// matches [ErrDecode] (and so scada.ErrBadInput), and [ErrVersion] when the
// version is unknown.
type EventDecodeError struct {
	Field   int    // the EventBatch field number where decoding failed, 0 if none
	Offset  int    // the byte position in the message
	Reason  string // what is wrong
	Version uint32 // the version the message claims, if it got that far
}

// Error describes the problem, never the payload.
func (e *EventDecodeError) Error() string {
	if e.Field != 0 {
		return fmt.Sprintf("wire: undecodable event batch: field %d at byte %d: %s", e.Field, e.Offset, e.Reason)
	}
	return fmt.Sprintf("wire: undecodable event batch at byte %d: %s", e.Offset, e.Reason)
}

// Is reports whether target is ErrDecode, scada.ErrBadInput, or ErrVersion
// for a version error.
func (e *EventDecodeError) Is(target error) bool {
	switch target {
	case ErrDecode, scada.ErrBadInput:
		return true
	case ErrVersion:
		return e.Version != Version && e.Version != 0
	}
	return false
}

// AppendEvents appends to dst the event message holding evs[i] for each i
// in sel (all of evs, in order, when sel is nil), whose event-log offsets
// are h.First+i. The events must all have the Source h.Source (it does not
// check); h.Count is ignored. A Fields value of a type other than float64,
// bool, string, time.Time, []byte and nil travels as JSON; a value JSON
// cannot encode fails with an error matching scada.ErrBadInput, and dst is
// returned unchanged. Times outside the years 1678 to 2262 are clamped.
func AppendEvents(dst []byte, h Header, evs []scada.Event, sel []int32) ([]byte, error) {
	n := len(sel)
	if sel == nil {
		n = len(evs)
	}
	start := len(dst)
	dst = appendVarintField(dst, feVersion, Version)
	dst = appendStringField(dst, feEdge, h.Edge)
	dst = appendStringField(dst, feBuffer, h.Buffer)
	dst = appendStringField(dst, feSource, h.Source)
	dst = appendVarintField(dst, feFirst, uint64(h.First))
	dst = appendVarintField(dst, feLast, uint64(h.Last))
	dst = appendVarintField(dst, feCount, uint64(n))
	var scratch []byte
	for j := range n {
		i := j
		if sel != nil {
			i = int(sel[j])
		}
		var err error
		scratch, err = appendEvent(scratch[:0], uint64(h.First)+uint64(i), &evs[i])
		if err != nil {
			return dst[:start], fmt.Errorf("wire: event %d: %w", i, err)
		}
		dst = appendKey(dst, feEvents, wtLen)
		dst = binary.AppendUvarint(dst, uint64(len(scratch)))
		dst = append(dst, scratch...)
	}
	sum := crc32.Checksum(dst[start:], castagnoli)
	dst = appendKey(dst, feCRC, wtI32)
	return binary.LittleEndian.AppendUint32(dst, sum), nil
}

func appendBoolField(b []byte, field int, v bool) []byte {
	if !v {
		return b
	}
	return appendVarintField(b, field, 1)
}

func appendBytesField(b []byte, field int, v []byte) []byte {
	b = appendKey(b, field, wtLen)
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...)
}

func appendEvent(b []byte, off uint64, ev *scada.Event) ([]byte, error) {
	b = appendVarintField(b, evOffset, off)
	if !ev.Time.IsZero() {
		b = appendVarintField(b, evTime, zigzag(timeValue(ev.Time)))
	}
	if !ev.ReceiveTime.IsZero() {
		b = appendVarintField(b, evReceiveTime, zigzag(timeValue(ev.ReceiveTime)))
	}
	b = appendStringField(b, evEventType, ev.EventType)
	b = appendStringField(b, evSourceNode, ev.SourceNode)
	b = appendStringField(b, evSourceName, ev.SourceName)
	if ev.Severity != 0 {
		b = appendVarintField(b, evSeverity, uint64(ev.Severity))
	}
	b = appendStringField(b, evMessage, ev.Message)
	if len(ev.ID) > 0 {
		b = appendBytesField(b, evID, ev.ID)
	}
	if c := ev.Condition; c != nil {
		var cb []byte
		cb = appendStringField(cb, cdID, c.ID)
		cb = appendStringField(cb, cdName, c.Name)
		cb = appendStringField(cb, cdBranch, c.Branch)
		cb = appendBoolField(cb, cdRetain, c.Retain)
		cb = appendBoolField(cb, cdActive, c.Active)
		cb = appendBoolField(cb, cdAcknowledged, c.Acknowledged)
		cb = appendBoolField(cb, cdConfirmed, c.Confirmed)
		cb = appendStringField(cb, cdState, c.State)
		b = appendBytesField(b, evCondition, cb)
	}
	names := make([]string, 0, len(ev.Fields))
	for k := range ev.Fields {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		var fb []byte
		fb = appendBytesField(fb, fdName, []byte(k))
		switch v := ev.Fields[k].(type) {
		case nil:
			fb = appendVarintField(fb, fdNull, 1)
		case float64:
			fb = appendKey(fb, fdNumber, wtI64)
			fb = binary.LittleEndian.AppendUint64(fb, math.Float64bits(v))
		case bool:
			fb = appendKey(fb, fdBoolean, wtVarint)
			if v {
				fb = append(fb, 1)
			} else {
				fb = append(fb, 0)
			}
		case string:
			fb = appendBytesField(fb, fdText, []byte(v))
		case time.Time:
			if v.IsZero() {
				fb = appendVarintField(fb, fdZeroTime, 1)
			} else {
				fb = appendVarintField(fb, fdTime, zigzag(timeValue(v)))
			}
		case []byte:
			fb = appendBytesField(fb, fdBytes, v)
		default:
			j, err := json.Marshal(v)
			if err != nil {
				return b, fmt.Errorf("%w: field %q: a %T cannot be sent: %v", scada.ErrBadInput, k, v, err)
			}
			fb = appendBytesField(fb, fdJSON, j)
		}
		b = appendBytesField(b, evFields, fb)
	}
	return b, nil
}

// DecodedEvents is one decoded event message: its header (Count is the
// number of events), its events and their event-log offsets (Offsets[i]
// belongs to Events[i]).
type DecodedEvents struct {
	Header
	Events  []scada.Event
	Offsets []buffer.Offset
}

// DecodeEvents decodes the event message data into d, reusing d's slices.
// Every event gets the Source of the header. Errors are *EventDecodeError
// values; d holds nothing usable after an error. Fields this version does
// not know are skipped, as protobuf's rules say.
func DecodeEvents(data []byte, d *DecodedEvents) error {
	*d = DecodedEvents{Events: d.Events[:0], Offsets: d.Offsets[:0]}
	fail := func(field, at int, format string, args ...any) error {
		return &EventDecodeError{Field: field, Offset: at, Reason: fmt.Sprintf(format, args...), Version: d.Version}
	}
	var haveVersion, haveCRC, haveCount bool
	var count uint64
	var prev uint64
	err := walk(data, func(f, wt, at, end int, v uint64, b []byte) error {
		if haveCRC {
			return fail(feCRC, at, "checksum is not the last field")
		}
		want := -1
		switch f {
		case feVersion, feFirst, feLast, feCount:
			want = wtVarint
		case feCRC:
			want = wtI32
		case feEdge, feBuffer, feSource, feEvents:
			want = wtLen
		}
		if want >= 0 && wt != want {
			return fail(f, at, "wire type %d, want %d", wt, want)
		}
		switch f {
		case feVersion:
			if v != Version {
				d.Version = otherVersion(v)
				return fail(f, at, "version %d, this decoder reads %d", v, Version)
			}
			d.Version, haveVersion = Version, true
		case feEdge, feBuffer, feSource, feFirst, feLast:
			d.Header.set(f, v, b)
		case feCount:
			if v > MaxEvents {
				return fail(f, at, "%d events, at most %d", v, MaxEvents)
			}
			count, haveCount = v, true
		case feCRC:
			if got, want := crc32.Checksum(data[:at], castagnoli), binary.LittleEndian.Uint32(data[end-4:end]); got != want {
				return fail(f, at, "checksum mismatch")
			}
			haveCRC = true
		case feEvents:
			if !haveCount || uint64(len(d.Events)) >= count {
				return fail(f, at, "more events than the count")
			}
			ev, off, reason := decodeEvent(b)
			if reason != "" {
				return fail(f, at, "event %d: %s", len(d.Events), reason)
			}
			if off < uint64(d.First) || off > uint64(d.Last) || (len(d.Events) > 0 && off <= prev) {
				return fail(f, at, "event %d: offset %d out of order or outside [%d, %d]", len(d.Events), off, d.First, d.Last)
			}
			prev = off
			ev.Source = d.Source
			d.Events = append(d.Events, ev)
			d.Offsets = append(d.Offsets, buffer.Offset(off))
		}
		return nil
	})
	if err != nil {
		if de, ok := err.(*EventDecodeError); ok {
			return de
		}
		if we, ok := err.(*walkError); ok {
			return fail(we.field, we.at, "%s", we.reason)
		}
		return fail(0, 0, "%v", err)
	}
	switch {
	case !haveVersion:
		return fail(feVersion, 0, "no version")
	case !haveCRC:
		return fail(feCRC, len(data), "no checksum: truncated")
	case !haveCount:
		return fail(feCount, 0, "no event count")
	case d.Last < d.First:
		return fail(feLast, 0, "last offset %d before first %d", d.Last, d.First)
	case uint64(len(d.Events)) != count:
		return fail(feCount, 0, "%d events, the count says %d", len(d.Events), count)
	}
	d.Count = len(d.Events)
	return nil
}

// walkError is a structural problem found by walk.
type walkError struct {
	field, at int
	reason    string
}

func (e *walkError) Error() string { return e.reason }

// walk calls fn for each field of the protobuf message data, in order, with
// the field's number, wire type, start and end, its varint value (varint
// fields) and its bytes (length-delimited fields).
func walk(data []byte, fn func(field, wt, at, end int, v uint64, b []byte) error) error {
	i := 0
	for i < len(data) {
		at := i
		key, n := binary.Uvarint(data[i:])
		if n <= 0 {
			return &walkError{0, at, "bad field key"}
		}
		i += n
		field, wt := key>>3, int(key&7)
		if field == 0 || field > math.MaxInt32 {
			return &walkError{0, at, fmt.Sprintf("field number %d out of range", field)}
		}
		var v uint64
		var b []byte
		switch wt {
		case wtVarint:
			v, n = binary.Uvarint(data[i:])
			if n <= 0 {
				return &walkError{int(field), at, "bad varint"}
			}
			i += n
		case wtI64:
			if len(data)-i < 8 {
				return &walkError{int(field), at, "truncated fixed64"}
			}
			v = binary.LittleEndian.Uint64(data[i:])
			i += 8
		case wtI32:
			if len(data)-i < 4 {
				return &walkError{int(field), at, "truncated fixed32"}
			}
			v = uint64(binary.LittleEndian.Uint32(data[i:]))
			i += 4
		case wtLen:
			l, n := binary.Uvarint(data[i:])
			if n <= 0 || l > uint64(len(data)-i-n) {
				return &walkError{int(field), at, "truncated length-delimited field"}
			}
			i += n
			b = data[i : i+int(l)]
			i += int(l)
		default:
			return &walkError{int(field), at, fmt.Sprintf("unsupported wire type %d", wt)}
		}
		if err := fn(int(field), wt, at, i, v, b); err != nil {
			return err
		}
	}
	return nil
}

func eventTime(v uint64) time.Time {
	t := unzigzag(v)
	if t == noTime {
		return time.Time{}
	}
	return time.Unix(0, t).UTC()
}

// decodeEvent decodes one Event message; reason is empty when it is good.
func decodeEvent(data []byte) (ev scada.Event, off uint64, reason string) {
	haveOffset := false
	wantType := func(f, wt, want int) error {
		if wt != want {
			return &walkError{f, 0, fmt.Sprintf("field %d: wire type %d, want %d", f, wt, want)}
		}
		return nil
	}
	err := walk(data, func(f, wt, at, end int, v uint64, b []byte) error {
		switch f {
		case evOffset, evTime, evReceiveTime, evSeverity:
			if err := wantType(f, wt, wtVarint); err != nil {
				return err
			}
		case evEventType, evSourceNode, evSourceName, evMessage, evID, evCondition, evFields:
			if err := wantType(f, wt, wtLen); err != nil {
				return err
			}
		}
		switch f {
		case evOffset:
			off, haveOffset = v, true
		case evTime:
			ev.Time = eventTime(v)
		case evReceiveTime:
			ev.ReceiveTime = eventTime(v)
		case evEventType:
			ev.EventType = string(b)
		case evSourceNode:
			ev.SourceNode = string(b)
		case evSourceName:
			ev.SourceName = string(b)
		case evSeverity:
			if v > math.MaxUint16 {
				return &walkError{f, at, "severity out of range"}
			}
			ev.Severity = uint16(v)
		case evMessage:
			ev.Message = string(b)
		case evID:
			ev.ID = append([]byte(nil), b...)
		case evCondition:
			c, err := decodeCondition(b)
			if err != nil {
				return err
			}
			ev.Condition = c
		case evFields:
			name, val, err := decodeField(b)
			if err != nil {
				return err
			}
			if ev.Fields == nil {
				ev.Fields = make(map[string]any)
			}
			if _, dup := ev.Fields[name]; dup {
				return &walkError{f, at, fmt.Sprintf("field %q twice", name)}
			}
			ev.Fields[name] = val
		}
		return nil
	})
	if err != nil {
		return scada.Event{}, 0, err.Error()
	}
	if !haveOffset {
		return scada.Event{}, 0, "no offset"
	}
	return ev, off, ""
}

func decodeCondition(data []byte) (*scada.Condition, error) {
	c := &scada.Condition{}
	err := walk(data, func(f, wt, at, end int, v uint64, b []byte) error {
		switch f {
		case cdID, cdName, cdBranch, cdState:
			if wt != wtLen {
				return &walkError{f, at, "condition: bad wire type"}
			}
		case cdRetain, cdActive, cdAcknowledged, cdConfirmed:
			if wt != wtVarint || v > 1 {
				return &walkError{f, at, "condition: bad Boolean"}
			}
		}
		switch f {
		case cdID:
			c.ID = string(b)
		case cdName:
			c.Name = string(b)
		case cdBranch:
			c.Branch = string(b)
		case cdState:
			c.State = string(b)
		case cdRetain:
			c.Retain = v == 1
		case cdActive:
			c.Active = v == 1
		case cdAcknowledged:
			c.Acknowledged = v == 1
		case cdConfirmed:
			c.Confirmed = v == 1
		}
		return nil
	})
	return c, err
}

func decodeField(data []byte) (name string, val any, err error) {
	haveName, haveValue := false, false
	err = walk(data, func(f, wt, at, end int, v uint64, b []byte) error {
		want := -1
		switch f {
		case fdName, fdText, fdBytes, fdJSON:
			want = wtLen
		case fdNumber:
			want = wtI64
		case fdBoolean, fdTime, fdNull, fdZeroTime:
			want = wtVarint
		}
		if want >= 0 && wt != want {
			return &walkError{f, at, "field: bad wire type"}
		}
		if f == fdName {
			name, haveName = string(b), true
			return nil
		}
		if want < 0 {
			return nil // unknown: skipped
		}
		if haveValue {
			return &walkError{f, at, "field: two values"}
		}
		haveValue = true
		switch f {
		case fdNumber:
			val = math.Float64frombits(v)
		case fdBoolean:
			if v > 1 {
				return &walkError{f, at, "field: bad Boolean"}
			}
			val = v == 1
		case fdText:
			val = string(b)
		case fdTime:
			val = eventTime(v)
		case fdBytes:
			val = append([]byte{}, b...)
		case fdJSON:
			var x any
			if err := json.Unmarshal(b, &x); err != nil {
				return &walkError{f, at, "field: bad JSON"}
			}
			val = x
		case fdNull:
			val = nil
		case fdZeroTime:
			val = time.Time{}
		}
		return nil
	})
	if err == nil && (!haveName || !haveValue) {
		err = &walkError{0, 0, "field without a name or a value"}
	}
	return name, val, err
}
