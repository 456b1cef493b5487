package buffer

import (
	"encoding/binary"
	"hash/crc32"
	"math"
	"math/bits"
	"time"

	"github.com/greenlang/gl001/scada"
)

// The record codec of the disk buffer.
//
// A segment file is a header, then records, then (once the segment is sealed)
// a 56-byte trailer. The header of version 2 is 48 bytes:
//
//	"GLSB", version byte 2, three zero bytes
//	u64 LE  base offset (the offset of the segment's first point)
//	16 bytes  the buffer's ID (see [Disk.ID])
//	u32 LE  CRC32-C of the 32 bytes above
//	u64 LE  durable mark: every point of the log before this offset was
//	        durable (fsynced) when the mark was written
//	u32 LE  CRC32-C of the mark
//
// The mark is rewritten in place while the segment is the active one (see
// [Disk]): it is what tells a torn tail from damaged durable records after a
// crash. Version 1 (before scores) has a 16-byte header (the first 16 bytes
// above) and no mark; it is still read.
//
// A record is one frame:
//
//	u32 LE  payload length
//	u32 LE  CRC32-C of the length bytes and the payload
//	payload:
//	  uvarint  offset of the first point, relative to the segment's base
//	  uvarint  number of points (1..maxRecordPoints)
//	  varint   append time, Unix nanoseconds
//	  points
//
// Each point starts with a flag byte, followed by the fields the flags call for:
//
//	bits 0-1  value: 0 same as the tag's previous value; 1 decimal, same scale,
//	          zigzag delta of the scaled integer; 2 decimal, new scale: scale byte
//	          and zigzag scaled integer; 3 XOR with the previous bits: a byte
//	          (trailing zero bytes << 4 | significant bytes) and those bytes
//	bit 2     time is the predicted one (no time field); otherwise a zigzag
//	          varint residual from the prediction follows
//	bit 3     the tag is the one after the previous point's tag (no tag field)
//	bit 4     status changed: an intern reference follows
//	bit 5     unit changed: an intern reference follows
//	bit 6     source changed: an intern reference follows
//	bit 7     wide time: varint seconds and uvarint nanoseconds instead of the
//	          time field, for the zero Time and times outside 1678..2262
//
// Field order: tag, time, value, status, unit, source. A tag field is a uvarint:
// 0 defines a new tag (uvarint length, bytes) with the next id, n>0 is tag n-1.
// Units and sources share one string table whose entry 0 is ""; statuses (the
// quality with the quality score) have a table whose entry 0 is Good and not
// scored; references are 0 plus a new entry or index+1. A new string is a
// uvarint length and the bytes; a new status is the uvarint quality, then (from
// version 2) the uvarint Reasons<<9 | Score<<1 | Scored. A point that is not
// scored therefore costs nothing more than before, and a scored one only when
// its score or reasons differ from its tag's previous point. Tables and per-tag state (previous time, time
// delta, value, scale, quality, unit, source) live for one segment, so records
// decode in order from the segment's start. The time prediction of a tag is its
// previous time plus its previous delta (delta of delta), or the record's append
// time for the tag's first point in the segment.
//
// Sensor values are usually decimals with a fixed resolution (a scaled Modbus
// register, a rounded reading), which the decimal modes store in a byte or two;
// anything else (float32 readings, noise in every bit) falls back to XOR.

const (
	segMagic        = "GLSB"
	segVersion      = 2
	segHeaderSize   = 48 // version 2
	segHeaderSizeV1 = 16
	segMarkAt       = 36 // the durable mark and its checksum
	segIDLen        = 16
	frameHeaderSize = 8
	trailerMagic    = "GLSBSEAL"
	trailerSize     = 56
	maxRecordPoints = 4096
	maxFrameLen     = 1 << 28
	maxDecimalScale = 9
)

const (
	flagValueMask = 0x03
	flagTimePred  = 0x04
	flagTagSeq    = 0x08
	flagQuality   = 0x10
	flagUnit      = 0x20
	flagSource    = 0x40
	flagWideTime  = 0x80

	valueSame       = 0
	valueDecimal    = 1
	valueDecimalNew = 2
	valueXOR        = 3
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

var pow10 = [maxDecimalScale + 1]float64{1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9}

// Times whose Unix seconds lie strictly between these fit in int64 nanoseconds.
const (
	minNanoSec = math.MinInt64/1_000_000_000 + 1
	maxNanoSec = math.MaxInt64/1_000_000_000 - 1
	// maxWideSec bounds the seconds of a wide time a decoder accepts.
	maxWideSec = 1 << 62
)

// timeNanos returns t as Unix nanoseconds when it fits and is not the zero Time.
func timeNanos(t time.Time) (int64, bool) {
	if t.IsZero() {
		return 0, false
	}
	s := t.Unix()
	if s <= minNanoSec || s >= maxNanoSec {
		return 0, false
	}
	return t.UnixNano(), true
}

// timeKey orders times for segment metadata: the zero Time and times before the
// nanosecond range sort first, times after it last.
func timeKey(t time.Time) int64 {
	if ns, ok := timeNanos(t); ok {
		return ns
	}
	if t.IsZero() || t.Unix() <= minNanoSec {
		return math.MinInt64
	}
	return math.MaxInt64
}

// decimal returns n such that float64(n)/10^k has exactly the bits of v.
func decimal(v float64, vbits uint64, k int8) (int64, bool) {
	p := pow10[k]
	f := v * p
	if !(f > -(1<<53) && f < 1<<53) {
		return 0, false
	}
	n := int64(math.Round(f))
	if math.Float64bits(float64(n)/p) != vbits {
		return 0, false
	}
	return n, true
}

// status is what a point carries besides its value: the quality code and the
// quality score. Points of a tag usually repeat their status, so it is interned.
type status struct {
	quality scada.Quality
	score   uint8
	scored  bool
	reasons scada.Reason
}

func statusOf(p *scada.Point) status {
	return status{quality: p.Quality, score: p.Score, scored: p.Scored, reasons: p.Reasons}
}

// word packs the score fields for the segment format.
func (s status) word() uint64 {
	w := uint64(s.reasons)<<9 | uint64(s.score)<<1
	if s.scored {
		w |= 1
	}
	return w
}

// maxStatusWord bounds what a decoder accepts.
const maxStatusWord = 1<<25 - 1

func (s *status) setWord(w uint64) {
	s.scored = w&1 != 0
	s.score = uint8(w >> 1)
	s.reasons = scada.Reason(w >> 9)
}

type tagState struct {
	prevTime, prevDelta   int64
	bits                  uint64
	scaled                int64
	scale                 int8 // -1: the previous value was not decimal
	hasTime               bool
	quality, unit, source uint32
}

func newTagState() tagState { return tagState{scale: -1} }

// segCodec is the state that encoder and decoder of one segment share.
type segCodec struct {
	tags    []tagState
	prevTag int
	strs    []string
	quals   []status
}

func (c *segCodec) reset() {
	c.tags = c.tags[:0]
	c.prevTag = -1
	c.strs = append(c.strs[:0], "")
	c.quals = append(c.quals[:0], status{quality: scada.Good})
}

// segEncoder encodes records for one segment.
type segEncoder struct {
	segCodec
	tagNames []string
	tagIDs   map[string]uint32
	strIDs   map[string]uint32
	qualIDs  map[status]uint32
}

func newSegEncoder() *segEncoder {
	e := &segEncoder{}
	e.reset()
	return e
}

func (e *segEncoder) reset() {
	e.segCodec.reset()
	e.tagNames = e.tagNames[:0]
	e.tagIDs = make(map[string]uint32)
	e.strIDs = map[string]uint32{"": 0}
	e.qualIDs = map[status]uint32{{quality: scada.Good}: 0}
}

func appendUvarint(b []byte, v uint64) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

func appendVarint(b []byte, v int64) []byte {
	return appendUvarint(b, uint64(v<<1)^uint64(v>>63))
}

func appendString(b []byte, s string) []byte {
	b = appendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// appendRecord appends one framed record holding pts, whose first point has
// offset rel relative to the segment's base.
func (e *segEncoder) appendRecord(dst []byte, rel uint64, appendTime int64, pts []scada.Point) []byte {
	start := len(dst)
	dst = append(dst, make([]byte, frameHeaderSize)...)
	dst = appendUvarint(dst, rel)
	dst = appendUvarint(dst, uint64(len(pts)))
	dst = appendVarint(dst, appendTime)
	for i := range pts {
		dst = e.appendPoint(dst, &pts[i], appendTime)
	}
	n := len(dst) - start - frameHeaderSize
	binary.LittleEndian.PutUint32(dst[start:], uint32(n))
	crc := crc32.Update(0, castagnoli, dst[start:start+4])
	crc = crc32.Update(crc, castagnoli, dst[start+frameHeaderSize:])
	binary.LittleEndian.PutUint32(dst[start+4:], crc)
	return dst
}

func (e *segEncoder) appendPoint(dst []byte, p *scada.Point, recTime int64) []byte {
	hpos := len(dst)
	dst = append(dst, 0)
	var h byte

	// Tag.
	var id uint32
	if next := e.prevTag + 1; next < len(e.tagNames) && e.tagNames[next] == p.Tag {
		id = uint32(next)
		h |= flagTagSeq
	} else if got, ok := e.tagIDs[p.Tag]; ok {
		id = got
		dst = appendUvarint(dst, uint64(id)+1)
	} else {
		id = uint32(len(e.tagNames))
		e.tagNames = append(e.tagNames, p.Tag)
		e.tagIDs[p.Tag] = id
		e.tags = append(e.tags, newTagState())
		dst = append(dst, 0)
		dst = appendString(dst, p.Tag)
	}
	e.prevTag = int(id)
	st := &e.tags[id]

	// Time.
	if ns, ok := timeNanos(p.Time); ok {
		pred := recTime
		if st.hasTime {
			pred = st.prevTime + st.prevDelta
		}
		if ns == pred {
			h |= flagTimePred
		} else {
			dst = appendVarint(dst, ns-pred)
		}
		if st.hasTime {
			st.prevDelta = ns - st.prevTime
		}
		st.prevTime, st.hasTime = ns, true
	} else {
		h |= flagWideTime
		dst = appendVarint(dst, p.Time.Unix())
		dst = appendUvarint(dst, uint64(p.Time.Nanosecond()))
	}

	// Value.
	vbits := math.Float64bits(p.Value)
	switch {
	case vbits == st.bits:
		h |= valueSame
	default:
		done := false
		if st.scale >= 0 {
			if n, ok := decimal(p.Value, vbits, st.scale); ok {
				h |= valueDecimal
				dst = appendVarint(dst, n-st.scaled)
				st.scaled = n
				done = true
			}
		}
		if !done {
			for k := int8(0); k <= maxDecimalScale; k++ {
				if k == st.scale {
					continue
				}
				if n, ok := decimal(p.Value, vbits, k); ok {
					h |= valueDecimalNew
					dst = append(dst, byte(k))
					dst = appendVarint(dst, n)
					st.scaled, st.scale = n, k
					done = true
					break
				}
			}
		}
		if !done {
			h |= valueXOR
			x := vbits ^ st.bits
			trail := bits.TrailingZeros64(x) / 8
			sig := 8 - bits.LeadingZeros64(x)/8 - trail
			dst = append(dst, byte(trail<<4|sig))
			x >>= 8 * trail
			for range sig {
				dst = append(dst, byte(x))
				x >>= 8
			}
			st.scale = -1
		}
		st.bits = vbits
	}

	// Status, unit, source.
	if ps := statusOf(p); ps != e.quals[st.quality] {
		h |= flagQuality
		q, ok := e.qualIDs[ps]
		if ok {
			dst = appendUvarint(dst, uint64(q)+1)
		} else {
			q = uint32(len(e.quals))
			e.quals = append(e.quals, ps)
			e.qualIDs[ps] = q
			dst = append(dst, 0)
			dst = appendUvarint(dst, uint64(ps.quality))
			dst = appendUvarint(dst, ps.word())
		}
		st.quality = q
	}
	if p.Unit != e.strs[st.unit] {
		h |= flagUnit
		dst, st.unit = e.appendStr(dst, p.Unit)
	}
	if p.Source != e.strs[st.source] {
		h |= flagSource
		dst, st.source = e.appendStr(dst, p.Source)
	}
	dst[hpos] = h
	return dst
}

func (e *segEncoder) appendStr(dst []byte, s string) ([]byte, uint32) {
	if id, ok := e.strIDs[s]; ok {
		return appendUvarint(dst, uint64(id)+1), id
	}
	id := uint32(len(e.strs))
	e.strs = append(e.strs, s)
	e.strIDs[s] = id
	dst = append(dst, 0)
	return appendString(dst, s), id
}

// errCodec is a decoding failure; the segment layer wraps it in a CorruptError.
type errCodec string

func (e errCodec) Error() string { return string(e) }

const (
	errShort      = errCodec("record truncated")
	errVarint     = errCodec("malformed varint")
	errCount      = errCodec("bad point count")
	errTagRef     = errCodec("reference to an undefined tag")
	errStrRef     = errCodec("reference to an undefined string")
	errQualRef    = errCodec("reference to an undefined quality")
	errStrLen     = errCodec("string too long")
	errScale      = errCodec("bad decimal scale")
	errXOR        = errCodec("bad XOR value header")
	errWideTime   = errCodec("bad wide time")
	errTrailing   = errCodec("bytes after the last point")
	errChecksum   = errCodec("checksum mismatch")
	errFrameLen   = errCodec("frame length out of range")
	errContinuity = errCodec("record offset does not follow the previous record")
	errQuality    = errCodec("quality out of range")
	errScore      = errCodec("quality score out of range")
)

// segDecoder decodes the records of one segment in order.
type segDecoder struct {
	segCodec
	tagNames []string
	version  byte // of the segment format
}

func newSegDecoder() *segDecoder {
	d := &segDecoder{version: segVersion}
	d.reset()
	return d
}

func (d *segDecoder) reset() {
	d.segCodec.reset()
	d.tagNames = d.tagNames[:0]
}

type decBuf struct {
	b   []byte
	i   int
	err error
}

func (r *decBuf) uvarint() uint64 {
	if r.i < len(r.b) && r.b[r.i] < 0x80 {
		v := uint64(r.b[r.i])
		r.i++
		return v
	}
	v, n := binary.Uvarint(r.b[r.i:])
	if n <= 0 {
		if r.err == nil {
			r.err = errVarint
			if n == 0 {
				r.err = errShort
			}
		}
		r.i = len(r.b)
		return 0
	}
	r.i += n
	return v
}

func (r *decBuf) varint() int64 {
	u := r.uvarint()
	return int64(u>>1) ^ -int64(u&1)
}

func (r *decBuf) byte() byte {
	if r.i >= len(r.b) {
		if r.err == nil {
			r.err = errShort
		}
		return 0
	}
	c := r.b[r.i]
	r.i++
	return c
}

func (r *decBuf) string() string {
	n := r.uvarint()
	if n > MaxStringLen {
		if r.err == nil {
			r.err = errStrLen
		}
		r.i = len(r.b)
		return ""
	}
	if uint64(len(r.b)-r.i) < n {
		if r.err == nil {
			r.err = errShort
		}
		r.i = len(r.b)
		return ""
	}
	s := string(r.b[r.i : r.i+int(n)])
	r.i += int(n)
	return s
}

func (r *decBuf) fail(err error) {
	if r.err == nil {
		r.err = err
	}
	r.i = len(r.b)
}

// decodeRecord decodes the payload of one record, appending its points to dst.
// It returns the record's first offset relative to the segment base and its
// append time. On error the decoder's state is undefined: the segment cannot be
// read further.
func (d *segDecoder) decodeRecord(payload []byte, dst []scada.Point) (rel uint64, appendTime int64, _ []scada.Point, _ error) {
	r := decBuf{b: payload}
	rel = r.uvarint()
	count := r.uvarint()
	appendTime = r.varint()
	if r.err != nil {
		return 0, 0, dst, r.err
	}
	if count == 0 || count > maxRecordPoints || count > uint64(len(payload)-r.i) {
		return 0, 0, dst, errCount
	}
	for range count {
		var p scada.Point
		d.decodePoint(&r, &p, appendTime)
		if r.err != nil {
			return 0, 0, dst, r.err
		}
		dst = append(dst, p)
	}
	if r.i != len(payload) {
		return 0, 0, dst, errTrailing
	}
	return rel, appendTime, dst, nil
}

func (d *segDecoder) decodePoint(r *decBuf, p *scada.Point, recTime int64) {
	h := r.byte()

	var id int
	if h&flagTagSeq != 0 {
		id = d.prevTag + 1
		if id >= len(d.tagNames) {
			r.fail(errTagRef)
			return
		}
	} else {
		v := r.uvarint()
		if v == 0 {
			s := r.string()
			if r.err != nil {
				return
			}
			id = len(d.tagNames)
			d.tagNames = append(d.tagNames, s)
			d.tags = append(d.tags, newTagState())
		} else {
			if v-1 >= uint64(len(d.tagNames)) {
				r.fail(errTagRef)
				return
			}
			id = int(v - 1)
		}
	}
	d.prevTag = id
	st := &d.tags[id]
	p.Tag = d.tagNames[id]

	if h&flagWideTime != 0 {
		if h&flagTimePred != 0 {
			r.fail(errWideTime)
			return
		}
		sec := r.varint()
		nsec := r.uvarint()
		if nsec >= 1e9 || sec > maxWideSec || sec < -maxWideSec {
			r.fail(errWideTime)
			return
		}
		p.Time = time.Unix(sec, int64(nsec)).UTC()
	} else {
		pred := recTime
		if st.hasTime {
			pred = st.prevTime + st.prevDelta
		}
		ns := pred
		if h&flagTimePred == 0 {
			ns += r.varint()
		}
		if st.hasTime {
			st.prevDelta = ns - st.prevTime
		}
		st.prevTime, st.hasTime = ns, true
		p.Time = time.Unix(0, ns).UTC()
	}

	switch h & flagValueMask {
	case valueSame:
	case valueDecimal:
		if st.scale < 0 {
			r.fail(errScale)
			return
		}
		st.scaled += r.varint()
		st.bits = math.Float64bits(float64(st.scaled) / pow10[st.scale])
	case valueDecimalNew:
		k := r.byte()
		if k > maxDecimalScale {
			r.fail(errScale)
			return
		}
		st.scale = int8(k)
		st.scaled = r.varint()
		st.bits = math.Float64bits(float64(st.scaled) / pow10[k])
	case valueXOR:
		c := r.byte()
		trail, sig := int(c>>4), int(c&0x0f)
		if sig == 0 || trail+sig > 8 {
			r.fail(errXOR)
			return
		}
		if len(r.b)-r.i < sig {
			r.fail(errShort)
			return
		}
		var x uint64
		for j := sig - 1; j >= 0; j-- {
			x = x<<8 | uint64(r.b[r.i+j])
		}
		r.i += sig
		st.bits ^= x << (8 * trail)
		st.scale = -1
	}
	p.Value = math.Float64frombits(st.bits)

	if h&flagQuality != 0 {
		v := r.uvarint()
		if v == 0 {
			q := r.uvarint()
			if q > math.MaxUint32 {
				r.fail(errQuality)
				return
			}
			s := status{quality: scada.Quality(q)}
			if d.version >= 2 {
				w := r.uvarint()
				if w > maxStatusWord {
					r.fail(errScore)
					return
				}
				s.setWord(w)
			}
			st.quality = uint32(len(d.quals))
			d.quals = append(d.quals, s)
		} else {
			if v-1 >= uint64(len(d.quals)) {
				r.fail(errQualRef)
				return
			}
			st.quality = uint32(v - 1)
		}
	}
	ps := &d.quals[st.quality]
	p.Quality, p.Score, p.Scored, p.Reasons = ps.quality, ps.score, ps.scored, ps.reasons
	if h&flagUnit != 0 {
		st.unit = d.strRef(r)
	}
	if h&flagSource != 0 {
		st.source = d.strRef(r)
	}
	if r.err != nil {
		return
	}
	p.Unit = d.strs[st.unit]
	p.Source = d.strs[st.source]
}

func (d *segDecoder) strRef(r *decBuf) uint32 {
	v := r.uvarint()
	if v == 0 {
		s := r.string()
		if r.err != nil {
			return 0
		}
		d.strs = append(d.strs, s)
		return uint32(len(d.strs) - 1)
	}
	if v-1 >= uint64(len(d.strs)) {
		r.fail(errStrRef)
		return 0
	}
	return uint32(v - 1)
}

// checkFrame validates a frame header and payload checksum.
func checkFrame(hdr, payload []byte) error {
	crc := crc32.Update(0, castagnoli, hdr[:4])
	crc = crc32.Update(crc, castagnoli, payload)
	if crc != binary.LittleEndian.Uint32(hdr[4:]) {
		return errChecksum
	}
	return nil
}
