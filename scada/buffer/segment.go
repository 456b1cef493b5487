package buffer

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"os"
	"strconv"
	"strings"

	"github.com/greenlang/gl001/scada"
)

const segSuffix = ".seg"

func segName(base Offset) string { return fmt.Sprintf("%020d%s", uint64(base), segSuffix) }

func parseSegName(name string) (Offset, bool) {
	s, ok := strings.CutSuffix(name, segSuffix)
	if !ok || len(s) != 20 {
		return 0, false
	}
	v, err := strconv.ParseUint(s, 10, 64)
	return Offset(v), err == nil
}

// segHeader is what a segment's header says.
type segHeader struct {
	version byte
	base    Offset
	id      [segIDLen]byte // zero in version 1
	mark    Offset         // the durable mark; valid when hasMark
	hasMark bool
	size    int64 // bytes of the header: where the records start
}

func headerSize(version byte) int64 {
	if version == 1 {
		return segHeaderSizeV1
	}
	return segHeaderSize
}

// appendSegHeader appends a version 2 header.
func appendSegHeader(b []byte, base Offset, id [segIDLen]byte, mark Offset) []byte {
	start := len(b)
	b = append(b, segMagic...)
	b = append(b, segVersion, 0, 0, 0)
	b = binary.LittleEndian.AppendUint64(b, uint64(base))
	b = append(b, id[:]...)
	b = binary.LittleEndian.AppendUint32(b, crc32.Checksum(b[start:], castagnoli))
	return appendMark(b, mark)
}

// appendMark appends the durable mark part of a header (bytes 36 to 48).
func appendMark(b []byte, mark Offset) []byte {
	start := len(b)
	b = binary.LittleEndian.AppendUint64(b, uint64(mark))
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b[start:], castagnoli))
}

// parseSegHeader parses the start of a segment file. It needs the first 16
// bytes to learn the version, and headerSize(version) bytes in all; with
// fewer it returns errShort. A mark that fails its checksum (torn while it
// was rewritten) is not an error: hasMark is false.
func parseSegHeader(b []byte) (segHeader, error) {
	var h segHeader
	if len(b) < segHeaderSizeV1 {
		return h, errShort
	}
	if string(b[:4]) != segMagic {
		return h, errCodec("not a buffer segment (bad magic)")
	}
	h.version = b[4]
	if h.version != 1 && h.version != 2 {
		return h, errCodec(fmt.Sprintf("unsupported segment version %d", b[4]))
	}
	h.size = headerSize(h.version)
	if int64(len(b)) < h.size {
		return h, errShort
	}
	h.base = Offset(binary.LittleEndian.Uint64(b[8:]))
	if h.version == 1 {
		return h, nil
	}
	if crc32.Checksum(b[:32], castagnoli) != binary.LittleEndian.Uint32(b[32:]) {
		return h, errCodec("header checksum mismatch")
	}
	copy(h.id[:], b[16:32])
	if crc32.Checksum(b[36:44], castagnoli) == binary.LittleEndian.Uint32(b[44:]) {
		h.mark, h.hasMark = Offset(binary.LittleEndian.Uint64(b[36:])), true
	}
	return h, nil
}

// readSegHeader reads and parses the header of an open segment file.
func readSegHeader(f *os.File) (segHeader, error) {
	var b [segHeaderSize]byte
	n, err := f.ReadAt(b[:], 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return segHeader{}, err
	}
	return parseSegHeader(b[:n])
}

// segMeta is what a segment's trailer records, and what the buffer keeps in
// memory about each segment.
type segMeta struct {
	count                uint64
	minAppend, maxAppend int64 // append times, Unix ns
	minTime, maxTime     int64 // point times, timeKey
}

func (m *segMeta) add(appendTime int64, pts []scada.Point) {
	if m.count == 0 {
		m.minAppend, m.maxAppend = appendTime, appendTime
		m.minTime, m.maxTime = math.MaxInt64, math.MinInt64
	}
	m.minAppend = min(m.minAppend, appendTime)
	m.maxAppend = max(m.maxAppend, appendTime)
	for i := range pts {
		k := timeKey(pts[i].Time)
		m.minTime = min(m.minTime, k)
		m.maxTime = max(m.maxTime, k)
	}
	m.count += uint64(len(pts))
}

func appendTrailer(b []byte, m segMeta) []byte {
	start := len(b)
	b = append(b, trailerMagic...)
	b = binary.LittleEndian.AppendUint64(b, m.count)
	b = binary.LittleEndian.AppendUint64(b, uint64(m.minAppend))
	b = binary.LittleEndian.AppendUint64(b, uint64(m.maxAppend))
	b = binary.LittleEndian.AppendUint64(b, uint64(m.minTime))
	b = binary.LittleEndian.AppendUint64(b, uint64(m.maxTime))
	b = append(b, 0, 0, 0, 0)
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b[start:], castagnoli))
}

func parseTrailer(b []byte) (segMeta, bool) {
	if len(b) != trailerSize || string(b[:8]) != trailerMagic ||
		crc32.Checksum(b[:52], castagnoli) != binary.LittleEndian.Uint32(b[52:]) {
		return segMeta{}, false
	}
	u := func(i int) uint64 { return binary.LittleEndian.Uint64(b[i:]) }
	return segMeta{
		count:     u(8),
		minAppend: int64(u(16)), maxAppend: int64(u(24)),
		minTime: int64(u(32)), maxTime: int64(u(40)),
	}, true
}

// segment is the buffer's record of one segment file.
type segment struct {
	name string // base name in the buffer's directory
	base Offset
	meta segMeta // every encoded point, written or not
	// bytes is the file's size once every queued write is done (trailer included
	// when sealed).
	bytes  int64
	sealed bool // no more records; the trailer is written or queued

	// Durable state, set by the sync loop after fsync: readers read up to here.
	durCount uint64
	durEnd   int64 // end of the durable records (before any trailer)

	enc *segEncoder // nil once sealed
}

func (s *segment) end() Offset          { return s.base + Offset(s.meta.count) }
func (s *segment) durEndOffset() Offset { return s.base + Offset(s.durCount) }

// windowReader reads a file sequentially but never past limit: bytes beyond
// it may be preallocated zeros that a writer is about to overwrite, and must
// not end up in a read buffer.
type windowReader struct {
	f     *os.File
	off   int64
	limit int64
}

func (w *windowReader) Read(p []byte) (int, error) {
	if w.off >= w.limit {
		return 0, io.EOF
	}
	if int64(len(p)) > w.limit-w.off {
		p = p[:w.limit-w.off]
	}
	n, err := w.f.ReadAt(p, w.off)
	w.off += int64(n)
	if n > 0 && err == io.EOF {
		err = nil
	}
	return n, err
}

// segReader reads the records of one segment in order.
type segReader struct {
	path    string
	base    Offset
	f       *os.File
	src     *windowReader
	r       *bufio.Reader
	pos     int64  // file position of the next frame
	next    Offset // offset of the first point of the next record
	dec     *segDecoder
	hdr     segHeader
	fhdr    [frameHeaderSize]byte
	payload []byte

	// The last decoded record: pts[i:] are not consumed yet.
	pts        []scada.Point
	first      Offset
	i          int
	appendTime int64
}

func openSegReader(path string) (*segReader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	sr := &segReader{path: path, f: f, dec: newSegDecoder()}
	h, err := readSegHeader(f)
	if err != nil {
		f.Close()
		if errors.Is(err, errShort) {
			return nil, sr.corrupt(0, "segment header truncated")
		}
		var ce errCodec
		if errors.As(err, &ce) {
			return nil, sr.corrupt(0, err.Error())
		}
		return nil, fmt.Errorf("buffer: reading buffer segment %s: %w", path, err)
	}
	sr.hdr = h
	sr.dec.version = h.version
	sr.src = &windowReader{f: f, off: h.size, limit: h.size}
	sr.r = bufio.NewReaderSize(sr.src, 256<<10)
	sr.base, sr.next, sr.first, sr.pos = h.base, h.base, h.base, h.size
	return sr, nil
}

func (sr *segReader) close() {
	if sr.f != nil {
		sr.f.Close()
		sr.f = nil
	}
}

func (sr *segReader) corrupt(at int64, reason string) *CorruptError {
	return &CorruptError{File: sr.path, Offset: at, Reason: reason}
}

// nextRecord decodes the next record if one starts before limit. It returns
// false at limit. Any failure is a *CorruptError (or an I/O error).
func (sr *segReader) nextRecord(limit int64) (bool, error) {
	if sr.pos >= limit {
		return false, nil
	}
	sr.src.limit = max(sr.src.limit, limit)
	at := sr.pos
	if limit-at < frameHeaderSize {
		return false, sr.corrupt(at, "frame header truncated")
	}
	if _, err := io.ReadFull(sr.r, sr.fhdr[:]); err != nil {
		return false, sr.ioErr(at, err)
	}
	n := int64(binary.LittleEndian.Uint32(sr.fhdr[:]))
	if n == 0 || n > maxFrameLen || n > limit-at-frameHeaderSize {
		return false, sr.corrupt(at, fmt.Sprintf("%s: %d", errFrameLen, n))
	}
	if int64(cap(sr.payload)) < n {
		sr.payload = make([]byte, n)
	}
	sr.payload = sr.payload[:n]
	if _, err := io.ReadFull(sr.r, sr.payload); err != nil {
		return false, sr.ioErr(at, err)
	}
	if err := checkFrame(sr.fhdr[:], sr.payload); err != nil {
		return false, sr.corrupt(at, err.Error())
	}
	rel, at2, pts, err := sr.dec.decodeRecord(sr.payload, sr.pts[:0])
	sr.pts = pts
	if err != nil {
		sr.pts, sr.i = sr.pts[:0], 0
		return false, sr.corrupt(at, err.Error())
	}
	if sr.base+Offset(rel) != sr.next {
		sr.pts, sr.i = sr.pts[:0], 0
		return false, sr.corrupt(at, errContinuity.Error())
	}
	sr.first, sr.i, sr.appendTime = sr.next, 0, at2
	sr.next += Offset(len(pts))
	sr.pos = at + frameHeaderSize + n
	return true, nil
}

func (sr *segReader) ioErr(at int64, err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return sr.corrupt(at, "file shorter than expected")
	}
	return fmt.Errorf("buffer: reading buffer segment %s: %w", sr.path, err)
}

// scanResult is what scanning a whole segment found.
type scanResult struct {
	hdr     segHeader
	base    Offset
	meta    segMeta
	end     int64 // byte position after the last good record
	size    int64
	sealed  bool // a valid trailer follows the last record
	bad     *CorruptError
	trailer segMeta
	// hasTrailer: the file ends with a valid trailer, whether or not the
	// records before it are good. A trailer is written only when the
	// segment is sealed, after every record of it.
	hasTrailer bool
}

// scanSegment reads a segment file from the start, validating every record,
// and stops at the first bad one (reported in bad, nil when the file is clean).
func scanSegment(path string) (scanResult, error) {
	var res scanResult
	fi, err := os.Stat(path)
	if err != nil {
		return res, err
	}
	res.size = fi.Size()
	sr, err := openSegReader(path)
	if err != nil {
		var ce *CorruptError
		if errors.As(err, &ce) {
			res.bad = ce
			return res, nil
		}
		return res, err
	}
	defer sr.close()
	res.hdr = sr.hdr
	res.base = sr.base
	res.end = sr.hdr.size
	limit := res.size
	// A sealed file ends with a trailer: stop there when it is valid.
	if tm, ok := readTrailer(sr.f, res.size, sr.hdr.size); ok {
		res.trailer = tm
		limit = res.size - trailerSize
		res.sealed, res.hasTrailer = true, true
	}
	for {
		ok, err := sr.nextRecord(limit)
		if err != nil {
			var ce *CorruptError
			if !errors.As(err, &ce) {
				return res, err
			}
			res.sealed = false
			// Zeros after the records are the preallocated space of a
			// segment that was being written: a clean end.
			if zero, zerr := allZero(sr.f, res.end, res.size); zerr != nil {
				return res, zerr
			} else if !zero {
				res.bad = ce
			}
			return res, nil
		}
		if !ok {
			break
		}
		res.meta.add(sr.appendTime, sr.pts)
		res.end = sr.pos
	}
	if res.sealed && res.trailer.count != res.meta.count {
		res.bad = sr.corrupt(limit, "trailer disagrees with the records")
		res.sealed = false
	}
	return res, nil
}

func readTrailer(f *os.File, size, hdrSize int64) (segMeta, bool) {
	if size < hdrSize+trailerSize {
		return segMeta{}, false
	}
	var b [trailerSize]byte
	if _, err := f.ReadAt(b[:], size-trailerSize); err != nil {
		return segMeta{}, false
	}
	return parseTrailer(b[:])
}

// probe is what a segment file says about itself without reading its records.
type probe struct {
	hdr        segHeader
	hdrErr     error // the header is not a valid segment header
	size       int64
	trailer    segMeta
	hasTrailer bool
}

// probeSegment reads the header and the trailer of a segment file. The error
// is an I/O error; damage is in the result.
func probeSegment(path string) (probe, error) {
	var p probe
	f, err := os.Open(path)
	if err != nil {
		return p, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return p, err
	}
	p.size = fi.Size()
	p.hdr, err = readSegHeader(f)
	if err != nil {
		var ce errCodec
		if !errors.As(err, &ce) {
			return p, err
		}
		p.hdrErr = err
	}
	hs := p.hdr.size
	if p.hdrErr != nil {
		hs = segHeaderSizeV1
	}
	p.trailer, p.hasTrailer = readTrailer(f, p.size, hs)
	return p, nil
}

// countFrames counts the points of the checksummed records that follow each
// other from byte start, without decoding them (their first fields do not
// depend on the records before). It is how many points a segment with a bad
// header held.
func countFrames(path string, start int64) uint64 {
	data, err := os.ReadFile(path)
	if err != nil || start > int64(len(data)) {
		return 0
	}
	var n uint64
	b := data[start:]
	for len(b) >= frameHeaderSize {
		l := int(binary.LittleEndian.Uint32(b))
		if l == 0 || l > len(b)-frameHeaderSize || checkFrame(b[:frameHeaderSize], b[frameHeaderSize:frameHeaderSize+l]) != nil {
			break
		}
		r := decBuf{b: b[frameHeaderSize : frameHeaderSize+l]}
		rel := r.uvarint()
		count := r.uvarint()
		if r.err != nil || rel != n || count == 0 || count > maxRecordPoints {
			break
		}
		n += count
		b = b[frameHeaderSize+l:]
	}
	return n
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// allZero reports whether f holds only zero bytes from off to size.
func allZero(f *os.File, off, size int64) (bool, error) {
	buf := make([]byte, 64<<10)
	for off < size {
		n, err := f.ReadAt(buf[:min(int64(len(buf)), size-off)], off)
		for _, c := range buf[:n] {
			if c != 0 {
				return false, nil
			}
		}
		off += int64(n)
		if err != nil && off < size {
			return false, err
		}
	}
	return true, nil
}

// dataEnd returns the offset after the last non-zero byte of the file at path,
// at least from: how much of a torn tail held data rather than preallocated zeros.
func dataEnd(path string, from int64) int64 {
	data, err := os.ReadFile(path)
	if err != nil {
		return from
	}
	end := int64(len(data))
	for end > from && data[end-1] == 0 {
		end--
	}
	return end
}
