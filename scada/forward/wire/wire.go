package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"slices"
	"time"
	"unsafe"

	"github.com/greenlang/gl001/scada"
	"github.com/greenlang/gl001/scada/buffer"
)

// Version is the version of the format this package writes and the only one
// it reads.
const Version = 1

// ContentType names the format and its version, as a MIME type; transports
// that carry headers send it with every message.
const ContentType = "application/vnd.gl001.points+protobuf; version=1"

// MaxPoints is the most points one message may hold; a decoder refuses more.
const MaxPoints = 1 << 20

// Field numbers of the PointBatch message (see the package documentation).
const (
	fVersion = 1
	fEdge    = 2
	fBuffer  = 3
	fSource  = 4
	fFirst   = 5
	fLast    = 6
	fTags    = 7
	fUnits   = 8
	fOffsets = 9
	fTag     = 10
	fUnit    = 11
	fValue   = 12
	fQuality = 13
	fTime    = 14
	fScore   = 15
	fReasons = 16
	fCount   = 17
	fCRC     = 18
)

// Protobuf wire types.
const (
	wtVarint = 0
	wtI64    = 1
	wtLen    = 2
	wtI32    = 5
)

// noTime is the time column's value for a point without a timestamp (the
// zero time.Time).
const noTime = math.MinInt64

// Header is what a message says about itself besides its points.
type Header struct {
	Version uint32 // always [Version]
	Edge    string // the edge that read the points from its Buffer
	Buffer  string // the Buffer's ID
	Source  string // the scada.Point.Source of every point of the message
	// First and Last are the Buffer offsets of the first and the last point
	// of the forwarded batch this message is part of (inclusive). The points
	// of the message lie between them; a batch with points of several
	// sources travels as one message per source, all with the same First
	// and Last.
	First, Last buffer.Offset
	Count       int // the number of points
}

// ErrDecode matches every error of [Decode]: the message is not a point
// batch of a version this package reads. Retrying the same bytes fails the
// same way; the message should be set aside (JetStream: terminated) and
// counted. It wraps [scada.ErrBadInput].
var ErrDecode = fmt.Errorf("wire: undecodable point batch: %w", scada.ErrBadInput)

// ErrVersion matches a *DecodeError for a message of a version this package
// does not read.
var ErrVersion = errors.New("wire: unknown version")

// DecodeError says why a message could not be decoded. It matches
// [ErrDecode] (and so scada.ErrBadInput), and [ErrVersion] when the version
// is unknown.
type DecodeError struct {
	Field  int    // the protobuf field number where decoding failed, 0 if none
	Offset int    // the byte position in the message
	Reason string // what is wrong
	// Version is the version the message claims, if it got that far.
	Version uint32
}

// Error describes the problem, never the payload.
func (e *DecodeError) Error() string {
	if e.Field != 0 {
		return fmt.Sprintf("wire: undecodable point batch: field %d at byte %d: %s", e.Field, e.Offset, e.Reason)
	}
	return fmt.Sprintf("wire: undecodable point batch at byte %d: %s", e.Offset, e.Reason)
}

// Is reports whether target is ErrDecode, scada.ErrBadInput, or ErrVersion
// for a version error.
func (e *DecodeError) Is(target error) bool {
	switch target {
	case ErrDecode, scada.ErrBadInput:
		return true
	case ErrVersion:
		return e.Version != Version && e.Version != 0
	}
	return false
}

// Encoder writes point batches. The zero Encoder is ready; reuse one to save
// allocations (its dictionaries and column buffers are kept between
// messages). An Encoder is not safe for concurrent use.
type Encoder struct {
	m      message
	bySrc  []*message // AppendBySource's messages, by source in order
	srcIdx map[string]int
}

// message is one message being written: its dictionaries and its packed
// columns, filled one point at a time.
type message struct {
	source      string
	tags, units dict
	n           int
	prevOff     uint64
	prevT       int64
	first       uint64
	// The packed columns.
	offCol, tagCol, unitCol, valCol, qCol, tCol, sCol, rCol column
	anyUnit, anyQuality, anyScore, anyReason                bool
}

// column is a packed column being written. Its length is an int beside
// the slice, so that writing a value stores no pointer: a store of a
// pointer in the heap costs a write barrier whenever the garbage
// collector is marking, which in a busy process is much of the time.
type column struct {
	b []byte
	n int
}

// room makes room for k more bytes.
func (c *column) room(k int) {
	if c.n+k > len(c.b) {
		nb := make([]byte, max(2*len(c.b), c.n+k, 256))
		copy(nb, c.b[:c.n])
		c.b = nb
	}
}

func (c *column) uvarint(v uint64) {
	c.room(binary.MaxVarintLen64)
	if v < 0x80 {
		c.b[c.n] = byte(v)
		c.n++
		return
	}
	c.n += binary.PutUvarint(c.b[c.n:], v)
}

func (c *column) fixed64(v uint64) {
	c.room(8)
	binary.LittleEndian.PutUint64(c.b[c.n:], v)
	c.n += 8
}

func (c *column) bytes() []byte { return c.b[:c.n] }

func (m *message) reset(first uint64) {
	m.tags.reset()
	m.units.reset()
	m.n, m.prevOff, m.prevT, m.first = 0, first, 0, first
	m.offCol.n, m.tagCol.n, m.unitCol.n, m.valCol.n = 0, 0, 0, 0
	m.qCol.n, m.tCol.n, m.sCol.n, m.rCol.n = 0, 0, 0, 0
	m.anyUnit, m.anyQuality, m.anyScore, m.anyReason = false, false, false, false
}

// add appends p, at Buffer offset off, to every column.
func (m *message) add(p *scada.Point, off uint64) {
	m.n++
	m.offCol.uvarint(off - m.prevOff)
	m.prevOff = off
	m.tagCol.uvarint(uint64(m.tags.index(p.Tag)))
	if p.Unit != "" {
		m.anyUnit = true
	}
	m.unitCol.uvarint(uint64(m.units.index(p.Unit)))
	m.valCol.fixed64(math.Float64bits(p.Value))
	if p.Quality != 0 {
		m.anyQuality = true
	}
	m.qCol.uvarint(uint64(p.Quality))
	t := timeValue(p.Time)
	m.tCol.uvarint(zigzag(t - m.prevT))
	m.prevT = t
	var sc uint64
	if p.Scored {
		sc, m.anyScore = uint64(p.Score)+1, true
	}
	m.sCol.uvarint(sc)
	if p.Reasons != 0 {
		m.anyReason = true
	}
	m.rCol.uvarint(uint64(p.Reasons))
}

// size bounds the bytes appendTo writes besides the header's strings.
func (m *message) size() int {
	n := 128 + m.offCol.n + m.tagCol.n + m.unitCol.n + m.valCol.n + m.qCol.n + m.tCol.n + m.sCol.n + m.rCol.n
	for _, s := range m.tags.list {
		n += len(s) + 12
	}
	for _, s := range m.units.list {
		n += len(s) + 12
	}
	return n
}

// appendTo appends the message with header h to dst.
func (m *message) appendTo(dst []byte, h Header) []byte {
	msgStart := len(dst)
	dst = slices.Grow(dst, m.size()+len(h.Edge)+len(h.Buffer)+len(h.Source))
	dst = appendVarintField(dst, fVersion, Version)
	dst = appendStringField(dst, fEdge, h.Edge)
	dst = appendStringField(dst, fBuffer, h.Buffer)
	dst = appendStringField(dst, fSource, h.Source)
	dst = appendVarintField(dst, fFirst, uint64(h.First))
	dst = appendVarintField(dst, fLast, uint64(h.Last))
	dst = appendVarintField(dst, fCount, uint64(m.n))
	for _, s := range m.tags.list {
		dst = appendKey(dst, fTags, wtLen)
		dst = binary.AppendUvarint(dst, uint64(len(s)))
		dst = append(dst, s...)
	}
	if m.anyUnit {
		for _, s := range m.units.list {
			dst = appendKey(dst, fUnits, wtLen)
			dst = binary.AppendUvarint(dst, uint64(len(s)))
			dst = append(dst, s...)
		}
	}
	if m.n == 0 {
		return appendCRC(dst, msgStart)
	}
	dst = appendColumn(dst, fOffsets, m.offCol.bytes())
	if len(m.tags.list) > 1 {
		dst = appendColumn(dst, fTag, m.tagCol.bytes())
	}
	if m.anyUnit && len(m.units.list) > 1 {
		dst = appendColumn(dst, fUnit, m.unitCol.bytes())
	}
	dst = appendColumn(dst, fValue, m.valCol.bytes())
	if m.anyQuality {
		dst = appendColumn(dst, fQuality, m.qCol.bytes())
	}
	dst = appendColumn(dst, fTime, m.tCol.bytes())
	if m.anyScore {
		dst = appendColumn(dst, fScore, m.sCol.bytes())
	}
	if m.anyReason {
		dst = appendColumn(dst, fReasons, m.rCol.bytes())
	}
	return appendCRC(dst, msgStart)
}

// dict numbers the distinct strings of one message in order of first
// appearance. It gives every distinct text it has seen an id that lasts
// across messages, and finds the id of a string by the address of its
// bytes in a small table: the tags and units of a Buffer's points mostly
// share their bytes with earlier ones, so most points cost no hashing of
// text. A string found in the table has the very bytes of the one stored
// there (which the table keeps alive), hence the same text; any other goes
// through a map by text.
type dict struct {
	slots []dictSlot
	ids   map[string]uint32 // text to id
	local []uint32          // id to its number in the message, if stamp says so
	stamp []uint32          // id to the message it was last numbered in
	gen   uint32            // the message
	bits  uint              // len(slots) is 1<<bits
	list  []string          // the message's strings by number
	// The string seen last (the address and length of its bytes, not the
	// string: no write barrier) and its number. The caller's points keep
	// it alive for as long as it is compared with, within one message.
	lastP uintptr
	lastN int
	lastI uint32
}

type dictSlot struct {
	s   string
	id  uint32
	set bool
}

const (
	// The table has at least twice as many slots as there are ids, between
	// 1<<dictMinBits and 1<<dictMaxBits.
	dictMinBits, dictMaxBits = 5, 14
	// dictMaxIDs bounds the ids kept across messages; beyond it the
	// dictionary starts afresh at the next message.
	dictMaxIDs = 1 << 16
)

func (d *dict) reset() {
	d.gen++
	if d.slots == nil || d.gen == 0 || len(d.ids) > dictMaxIDs {
		d.bits = dictMinBits
		d.slots = make([]dictSlot, 1<<d.bits)
		d.ids = make(map[string]uint32)
		d.local, d.stamp = d.local[:0], d.stamp[:0]
		d.gen = 1
	}
	if len(d.local)*2 > len(d.slots) && d.bits < dictMaxBits {
		for len(d.local)*2 > 1<<d.bits && d.bits < dictMaxBits {
			d.bits++
		}
		d.slots = make([]dictSlot, 1<<d.bits)
	}
	d.list = d.list[:0]
	d.lastP, d.lastN, d.lastI = 0, -1, 0
}

func sameBytes(a, b string) bool {
	return len(a) == len(b) && unsafe.StringData(a) == unsafe.StringData(b)
}

// index returns the number of s in the message, adding it if new.
func (d *dict) index(s string) uint32 {
	if len(s) == d.lastN && uintptr(unsafe.Pointer(unsafe.StringData(s))) == d.lastP {
		return d.lastI
	}
	h := uint64(uintptr(unsafe.Pointer(unsafe.StringData(s))))*0x9e3779b97f4a7c15 + uint64(len(s))
	sl := &d.slots[h>>(64-d.bits)]
	var id uint32
	if sl.set && sameBytes(sl.s, s) {
		id = sl.id
	} else {
		var ok bool
		id, ok = d.ids[s]
		if !ok {
			id = uint32(len(d.local))
			d.ids[s] = id
			d.local = append(d.local, 0)
			d.stamp = append(d.stamp, 0)
		}
		*sl = dictSlot{s: s, id: id, set: true}
	}
	if d.stamp[id] != d.gen {
		d.stamp[id] = d.gen
		d.local[id] = uint32(len(d.list))
		d.list = append(d.list, s)
	}
	i := d.local[id]
	d.lastP, d.lastN, d.lastI = uintptr(unsafe.Pointer(unsafe.StringData(s))), len(s), i
	return i
}

// Append appends to dst the message holding the points pts[i] for each i in
// sel (all of pts, in order, when sel is nil), whose Buffer offsets are
// h.First+i. The points must all have the Source h.Source (Append does not
// check); h.Count is ignored and set from sel. Times outside the years 1678
// to 2262 are clamped to those bounds.
func (e *Encoder) Append(dst []byte, h Header, pts []scada.Point, sel []int32) []byte {
	m := &e.m
	m.reset(uint64(h.First))
	if sel == nil {
		for i := range pts {
			m.add(&pts[i], uint64(h.First)+uint64(i))
		}
	} else {
		for _, i := range sel {
			m.add(&pts[i], uint64(h.First)+uint64(i))
		}
	}
	return m.appendTo(dst, h)
}

// AppendBySource writes the messages of a batch whose points have several
// sources: one message per source, in order of the sources' first
// appearance, each holding that source's points as Append with the
// selection of their indexes would (the same bytes), in one pass over pts.
// For each message it calls emit with the source, the message's place
// (0-based) and the count of messages, and the message appended to
// dst(size), where size bounds its length; h.Source is ignored.
func (e *Encoder) AppendBySource(h Header, pts []scada.Point, dst func(size int) []byte, emit func(source string, part, parts int, msg []byte)) {
	if e.srcIdx == nil {
		e.srcIdx = make(map[string]int)
	}
	clear(e.srcIdx)
	used := 0
	k := -1
	for i := range pts {
		p := &pts[i]
		if k < 0 || p.Source != e.bySrc[k].source {
			k = -1
			if used > 16 {
				if j, ok := e.srcIdx[p.Source]; ok {
					k = j
				}
			} else {
				for j := range used {
					if e.bySrc[j].source == p.Source {
						k = j
						break
					}
				}
			}
			if k < 0 {
				k = used
				if k == len(e.bySrc) {
					e.bySrc = append(e.bySrc, new(message))
				}
				e.bySrc[k].reset(uint64(h.First))
				e.bySrc[k].source = p.Source
				used++
				if used == 17 {
					for j := range used {
						e.srcIdx[e.bySrc[j].source] = j
					}
				} else if used > 17 {
					e.srcIdx[p.Source] = k
				}
			}
		}
		e.bySrc[k].add(p, uint64(h.First)+uint64(i))
	}
	for j := range used {
		m := e.bySrc[j]
		mh := h
		mh.Source = m.source
		emit(m.source, j, used, m.appendTo(dst(m.size()+len(h.Edge)+len(h.Buffer)+len(m.source)), mh))
	}
	// Let go of the strings of sources no longer in use.
	for j := used; j < len(e.bySrc); j++ {
		e.bySrc[j].source = ""
	}
}

// appendColumn frames a packed column.
func appendColumn(dst []byte, field int, col []byte) []byte {
	dst = appendKey(dst, field, wtLen)
	dst = binary.AppendUvarint(dst, uint64(len(col)))
	return append(dst, col...)
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// appendCRC appends the checksum field over dst[start:].
func appendCRC(dst []byte, start int) []byte {
	sum := crc32.Checksum(dst[start:], castagnoli)
	dst = appendKey(dst, fCRC, wtI32)
	return binary.LittleEndian.AppendUint32(dst, sum)
}

// timeValue is the time column's absolute value of t: Unix nanoseconds,
// clamped, or noTime for the zero Time.
func timeValue(t time.Time) int64 {
	if t.IsZero() {
		return noTime
	}
	s := t.Unix()
	switch {
	case s <= math.MinInt64/1_000_000_000+1:
		return noTime + 1
	case s >= math.MaxInt64/1_000_000_000-1:
		return math.MaxInt64
	}
	return t.UnixNano()
}

func zigzag(v int64) uint64   { return uint64(v<<1) ^ uint64(v>>63) }
func unzigzag(u uint64) int64 { return int64(u>>1) ^ -int64(u&1) }

func appendKey(b []byte, field, wt int) []byte {
	return binary.AppendUvarint(b, uint64(field)<<3|uint64(wt))
}

func appendVarintField(b []byte, field int, v uint64) []byte {
	b = appendKey(b, field, wtVarint)
	return binary.AppendUvarint(b, v)
}

func appendStringField(b []byte, field int, s string) []byte {
	if s == "" {
		return b
	}
	b = appendKey(b, field, wtLen)
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// set stores a header field that point and event messages number alike
// (edge, buffer, source, first and last offset) in h.
func (h *Header) set(f int, v uint64, b []byte) {
	switch f {
	case fEdge:
		h.Edge = string(b)
	case fBuffer:
		h.Buffer = string(b)
	case fSource:
		h.Source = string(b)
	case fFirst:
		h.First = buffer.Offset(v)
	case fLast:
		h.Last = buffer.Offset(v)
	}
}

// Decoded is one decoded message: its header, its points and their Buffer
// offsets (Offsets[i] belongs to Points[i]).
type Decoded struct {
	Header
	Points  []scada.Point
	Offsets []buffer.Offset
}

// Decode decodes the message data into d, reusing d's slices. Every point
// gets the Source of the header. Errors are *DecodeError values; d holds
// nothing usable after an error. Fields this version does not know are
// skipped, as protobuf's rules say.
func Decode(data []byte, d *Decoded) error {
	*d = Decoded{Points: d.Points[:0], Offsets: d.Offsets[:0]}
	var (
		tags, units                                             []string
		offCol, tagCol, unitCol, valCol, qCol, tCol, sCol, rCol []byte
		haveCount, haveVersion, haveCRC                         bool
		count                                                   uint64
	)
	fail := func(field, at int, format string, args ...any) error {
		return &DecodeError{Field: field, Offset: at, Reason: fmt.Sprintf(format, args...), Version: d.Version}
	}
	i := 0
	for i < len(data) {
		at := i
		key, n := binary.Uvarint(data[i:])
		if n <= 0 {
			return fail(0, at, "bad field key")
		}
		i += n
		field, wt := key>>3, int(key&7)
		if field == 0 || field > math.MaxInt32 {
			return fail(0, at, "field number %d out of range", field)
		}
		f := int(field)
		var v uint64
		var b []byte
		switch wt {
		case wtVarint:
			v, n = binary.Uvarint(data[i:])
			if n <= 0 {
				return fail(f, at, "bad varint")
			}
			i += n
		case wtI64:
			if len(data)-i < 8 {
				return fail(f, at, "truncated fixed64")
			}
			i += 8
		case wtI32:
			if len(data)-i < 4 {
				return fail(f, at, "truncated fixed32")
			}
			i += 4
		case wtLen:
			l, n := binary.Uvarint(data[i:])
			if n <= 0 || l > uint64(len(data)-i-n) {
				return fail(f, at, "truncated length-delimited field")
			}
			i += n
			b = data[i : i+int(l)]
			i += int(l)
		default:
			return fail(f, at, "unsupported wire type %d", wt)
		}
		want := -1
		switch f {
		case fVersion, fFirst, fLast, fCount:
			want = wtVarint
		case fCRC:
			want = wtI32
		case fEdge, fBuffer, fSource, fTags, fUnits, fOffsets, fTag, fUnit, fValue, fQuality, fTime, fScore, fReasons:
			want = wtLen
		}
		if want >= 0 && wt != want {
			return fail(f, at, "wire type %d, want %d", wt, want)
		}
		switch f {
		case fVersion:
			if v != Version {
				d.Version = otherVersion(v)
				return fail(f, at, "version %d, this decoder reads %d", v, Version)
			}
			d.Version, haveVersion = Version, true
		case fEdge, fBuffer, fSource, fFirst, fLast:
			d.Header.set(f, v, b)
		case fCount:
			count, haveCount = v, true
		case fCRC:
			if i != len(data) {
				return fail(f, at, "checksum is not the last field")
			}
			if got, want := crc32.Checksum(data[:at], castagnoli), binary.LittleEndian.Uint32(data[i-4:]); got != want {
				return fail(f, at, "checksum mismatch")
			}
			haveCRC = true
		case fTags:
			tags = append(tags, string(b))
		case fUnits:
			units = append(units, string(b))
		case fOffsets:
			offCol = b
		case fTag:
			tagCol = b
		case fUnit:
			unitCol = b
		case fValue:
			valCol = b
		case fQuality:
			qCol = b
		case fTime:
			tCol = b
		case fScore:
			sCol = b
		case fReasons:
			rCol = b
		}
	}
	if !haveVersion {
		return fail(fVersion, 0, "no version")
	}
	if !haveCRC {
		return fail(fCRC, len(data), "no checksum: truncated")
	}
	if !haveCount {
		return fail(fCount, 0, "no point count")
	}
	if d.Last < d.First {
		return fail(fLast, 0, "last offset %d before first %d", d.Last, d.First)
	}
	// Every point takes at least one byte of the offsets column, so the
	// count is bounded by the message size before anything is allocated.
	if count > MaxPoints || count > uint64(len(offCol)) {
		return fail(fCount, 0, "%d points in a message of %d bytes", count, len(data))
	}
	n := int(count)
	d.Count = n
	if n > 0 && len(tags) == 0 {
		return fail(fTags, 0, "points but no tag")
	}
	d.Points = growPoints(d.Points, n)
	d.Offsets = growOffsets(d.Offsets, n)

	// Offsets: strictly increasing within [First, Last].
	r := colReader{b: offCol}
	prev := uint64(d.First)
	for j := range n {
		delta, ok := r.uvarint()
		if !ok || (j > 0 && delta == 0) {
			return fail(fOffsets, 0, "bad offset of point %d", j)
		}
		off := prev + delta
		if off < prev || off > uint64(d.Last) {
			return fail(fOffsets, 0, "offset of point %d outside [%d, %d]", j, d.First, d.Last)
		}
		d.Offsets[j] = buffer.Offset(off)
		prev = off
	}
	if !r.done() {
		return fail(fOffsets, 0, "column longer than %d points", n)
	}
	if err := dictColumn(tagCol, n, len(tags), func(j int, k uint64) { d.Points[j].Tag = tags[k] }); err != "" {
		return fail(fTag, 0, "%s", err)
	}
	if len(units) == 0 && len(unitCol) > 0 {
		return fail(fUnit, 0, "unit indexes but no units")
	}
	if len(units) > 0 {
		if err := dictColumn(unitCol, n, len(units), func(j int, k uint64) { d.Points[j].Unit = units[k] }); err != "" {
			return fail(fUnit, 0, "%s", err)
		}
	}
	if valCol != nil {
		if len(valCol) != 8*n {
			return fail(fValue, 0, "%d bytes for %d values", len(valCol), n)
		}
		for j := range n {
			d.Points[j].Value = math.Float64frombits(binary.LittleEndian.Uint64(valCol[8*j:]))
		}
	}
	if err := varintColumn(qCol, n, math.MaxUint32, func(j int, v uint64) { d.Points[j].Quality = scada.Quality(v) }); err != "" {
		return fail(fQuality, 0, "%s", err)
	}
	var t int64
	if err := varintColumn(tCol, n, math.MaxUint64, func(j int, v uint64) {
		t += unzigzag(v)
		if t != noTime {
			d.Points[j].Time = time.Unix(0, t).UTC()
		}
	}); err != "" {
		return fail(fTime, 0, "%s", err)
	}
	if err := varintColumn(sCol, n, 101, func(j int, v uint64) {
		if v > 0 {
			d.Points[j].Score, d.Points[j].Scored = uint8(v-1), true
		}
	}); err != "" {
		return fail(fScore, 0, "%s", err)
	}
	if err := varintColumn(rCol, n, math.MaxUint16, func(j int, v uint64) { d.Points[j].Reasons = scada.Reason(v) }); err != "" {
		return fail(fReasons, 0, "%s", err)
	}
	for j := range n {
		d.Points[j].Source = d.Source
	}
	return nil
}

func growPoints(s []scada.Point, n int) []scada.Point {
	if cap(s) < n {
		return make([]scada.Point, n)
	}
	s = s[:n]
	clear(s)
	return s
}

func growOffsets(s []buffer.Offset, n int) []buffer.Offset {
	if cap(s) < n {
		return make([]buffer.Offset, n)
	}
	return s[:n]
}

// dictColumn decodes a column of dictionary indexes; an absent column means
// index 0 for every point.
func dictColumn(col []byte, n, size int, set func(j int, k uint64)) string {
	if col == nil {
		if size == 0 {
			return ""
		}
		for j := range n {
			set(j, 0)
		}
		return ""
	}
	return varintColumn(col, n, uint64(size-1), set)
}

// varintColumn decodes n varints no greater than maxv; an absent column
// means zero for every point, and set is not called.
func varintColumn(col []byte, n int, maxv uint64, set func(j int, v uint64)) string {
	if col == nil {
		return ""
	}
	r := colReader{b: col}
	for j := range n {
		v, ok := r.uvarint()
		if !ok {
			return fmt.Sprintf("column ends at point %d of %d", j, n)
		}
		if v > maxv {
			return fmt.Sprintf("point %d: %d out of range", j, v)
		}
		set(j, v)
	}
	if !r.done() {
		return fmt.Sprintf("column longer than %d points", n)
	}
	return ""
}

type colReader struct {
	b []byte
	i int
}

func (r *colReader) uvarint() (uint64, bool) {
	if r.i < len(r.b) && r.b[r.i] < 0x80 {
		v := uint64(r.b[r.i])
		r.i++
		return v, true
	}
	v, n := binary.Uvarint(r.b[r.i:])
	if n <= 0 {
		return 0, false
	}
	r.i += n
	return v, true
}

func (r *colReader) done() bool { return r.i == len(r.b) }

// otherVersion is the Version a decoder reports for a message that claims
// version v, not this package's: v clamped to 32 bits, and never 0, so a
// caller can tell "another version" from "no version field".
func otherVersion(v uint64) uint32 {
	if v == 0 || v > math.MaxUint32 {
		return math.MaxUint32
	}
	return uint32(v)
}
