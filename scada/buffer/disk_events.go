package buffer

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/greenlang/gl001/scada"
)

// The event log of a Disk lives in the subdirectory "events" of its
// directory:
//
//   - segment files named by the offset of their first event
//     (00000000000000000000.evs), each a 36-byte header ("GLEV", version
//     byte 1, three zero bytes, u64 LE base offset, the buffer's 16-byte ID,
//     u32 LE CRC32-C of those 32 bytes) and then records;
//   - a state file, "state", rewritten atomically (temporary file, fsync,
//     rename, fsync of the directory): one frame holding the durable end of
//     the log, its oldest retained offset, the offset spans already reported
//     lost, and the consumers' event cursors.
//
// A record is one AppendEvents batch in one frame (u32 LE payload length,
// u32 LE CRC32-C of the length bytes and the payload):
//
//	uvarint  offset of the first event
//	uvarint  number of events
//	varint   append time, Unix nanoseconds
//	events   each a uvarint length and the event's encoding (see [EventLog])
//
// AppendEvents writes the record and returns once an fsync covering it is
// done; concurrent appenders share fsyncs (group commit). Reopening after a
// crash checks every event segment record by record: a bad record at the end
// of the newest segment is a torn tail (cut and counted in Truncated); a bad
// record in an older segment quarantines it (renamed with ".corrupt", the
// records before the damage kept under the original name) and the events
// from the damage on are reported as dropped (DropCorrupt). Offsets are never
// given out twice: the log resumes at the highest of the segments' end, the
// durable end in the state file and the cursors; events that the state file
// vouches for and no segment holds are reported once (DropMissing, or
// DropCorrupt when a quarantined segment held them).
const (
	eventDir         = "events"
	eventSegSuffix   = ".evs"
	eventSegMagic    = "GLEV"
	eventSegVersion  = 1
	eventHeaderSize  = 36
	eventStateFile   = "state"
	eventStateMagic  = "GLES"
	defaultEventSeg  = 4 << 20
	maxEventFrameLen = maxFrameLen
)

func eventSegName(base Offset) string {
	return fmt.Sprintf("%020d%s", uint64(base), eventSegSuffix)
}

func parseEventSegName(name string) (Offset, bool) {
	s, ok := strings.CutSuffix(name, eventSegSuffix)
	if !ok || len(s) != 20 {
		return 0, false
	}
	v, err := strconv.ParseUint(s, 10, 64)
	return Offset(v), err == nil
}

func appendEventHeader(b []byte, base Offset, id [segIDLen]byte) []byte {
	start := len(b)
	b = append(b, eventSegMagic...)
	b = append(b, eventSegVersion, 0, 0, 0)
	b = binary.LittleEndian.AppendUint64(b, uint64(base))
	b = append(b, id[:]...)
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b[start:], castagnoli))
}

// evRec is where one record of an event segment is.
type evRec struct {
	pos   int64 // the frame's byte offset in the file
	size  int64 // the frame's bytes
	first Offset
	n     int
	at    int64 // append time
}

type evSeg struct {
	name  string
	base  Offset
	end   Offset // base + events in the records
	bytes int64  // file size
	recs  []evRec
}

func (s *evSeg) maxAppend() int64 {
	if len(s.recs) == 0 {
		return 0
	}
	return s.recs[len(s.recs)-1].at
}

// diskEvents is the event log of a Disk.
type diskEvents struct {
	dir      string
	idb      [segIDLen]byte
	segBytes int64
	maxBytes int64
	maxAge   time.Duration
	now      func() time.Time
	log      *slog.Logger
	report   func([]DropEvent)

	mu      sync.Mutex
	cond    *sync.Cond // signalled when a sync ends
	closed  bool
	failed  error
	syncing bool
	segs    []*evSeg // the last one is the active one, open as f
	f       *os.File
	retired []*os.File // files rolled while a sync was running
	next    Offset
	durable Offset
	lost    []span
	cursors map[string]Offset
	notify  chan struct{}
	bytes   int64

	appended, batches, rejected, syncs uint64
	dropped                            DropCounts
	droppedBytes, truncated            int64
	quarantined                        []string
	faults                             Faults
}

type eventState struct {
	durable, first Offset
	lost           []span
	cursors        map[string]Offset
}

func encodeEventState(st eventState) []byte {
	b := []byte(eventStateMagic)
	return appendFrame(b, func(b []byte) []byte {
		b = appendUvarint(b, uint64(st.durable))
		b = appendUvarint(b, uint64(st.first))
		b = appendUvarint(b, uint64(len(st.lost)))
		for _, s := range st.lost {
			b = appendUvarint(b, uint64(s.from))
			b = appendUvarint(b, uint64(s.to-s.from))
		}
		names := make([]string, 0, len(st.cursors))
		for n := range st.cursors {
			names = append(names, n)
		}
		slices.Sort(names)
		b = appendUvarint(b, uint64(len(names)))
		for _, n := range names {
			b = appendString(b, n)
			b = appendUvarint(b, uint64(st.cursors[n]))
		}
		return b
	})
}

func parseEventState(b []byte) (eventState, bool) {
	st := eventState{cursors: make(map[string]Offset)}
	if len(b) < len(eventStateMagic)+frameHeaderSize || string(b[:4]) != eventStateMagic {
		return st, false
	}
	b = b[4:]
	n := binary.LittleEndian.Uint32(b)
	if uint64(n) != uint64(len(b)-frameHeaderSize) || checkFrame(b[:frameHeaderSize], b[frameHeaderSize:]) != nil {
		return st, false
	}
	r := decBuf{b: b[frameHeaderSize:]}
	st.durable = Offset(r.uvarint())
	st.first = Offset(r.uvarint())
	nl := r.uvarint()
	for i := uint64(0); i < nl && r.err == nil; i++ {
		from := Offset(r.uvarint())
		st.lost = append(st.lost, span{from, from + Offset(r.uvarint())})
	}
	nc := r.uvarint()
	for i := uint64(0); i < nc && r.err == nil; i++ {
		name := r.string()
		st.cursors[name] = Offset(r.uvarint())
	}
	return st, r.err == nil && r.i == len(r.b)
}

// evClaim is a span of offsets that a quarantined segment held.
type evClaim struct {
	from, to Offset
	err      *CorruptError
}

func openDiskEvents(cfg DiskConfig, parent string, idb [segIDLen]byte, report func([]DropEvent)) (*diskEvents, []DropEvent, error) {
	segBytes := cfg.EventSegmentBytes
	if segBytes == 0 {
		segBytes = min(cfg.SegmentBytes, defaultEventSeg)
	}
	maxBytes := cfg.EventMaxBytes
	if maxBytes == 0 {
		maxBytes = cfg.MaxBytes / 8
		if cfg.MaxBytes < 0 {
			maxBytes = -1
		}
	}
	l := &diskEvents{
		dir: filepath.Join(parent, eventDir), idb: idb, segBytes: segBytes, maxBytes: maxBytes,
		maxAge: cfg.MaxAge, now: cfg.Now, log: cfg.Logger, report: report,
		cursors: make(map[string]Offset), notify: make(chan struct{}),
	}
	l.cond = sync.NewCond(&l.mu)
	if err := os.MkdirAll(l.dir, 0o755); err != nil {
		return nil, nil, fmt.Errorf("buffer: disk events: %w", err)
	}
	drops, err := l.recover()
	if err != nil {
		l.closeFiles()
		return nil, nil, err
	}
	return l, drops, nil
}

func (l *diskEvents) recover() ([]DropEvent, error) {
	var st eventState
	haveState := false
	if data, err := os.ReadFile(filepath.Join(l.dir, eventStateFile)); err == nil {
		var ok bool
		if st, ok = parseEventState(data); ok {
			haveState = true
		} else {
			l.log.Error("buffer: disk buffer found a damaged event state file: event cursors are lost", "file", filepath.Join(l.dir, eventStateFile))
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("buffer: disk events: %w", err)
	}
	if st.cursors == nil {
		st.cursors = make(map[string]Offset)
	}
	l.cursors = st.cursors
	l.lost = st.lost

	entries, err := os.ReadDir(l.dir)
	if err != nil {
		return nil, fmt.Errorf("buffer: disk events: %w", err)
	}
	type entry struct {
		name    string
		base    Offset
		regular bool
	}
	var files []entry
	for _, e := range entries {
		if base, ok := parseEventSegName(e.Name()); ok {
			files = append(files, entry{e.Name(), base, e.Type().IsRegular()})
		}
	}
	sort.Slice(files, func(i, j int) bool { return files[i].base < files[j].base })
	var claims []evClaim
	hi := st.durable
	for _, c := range st.cursors {
		hi = max(hi, c)
	}
	for i, fe := range files {
		last := i == len(files)-1
		path := filepath.Join(l.dir, fe.name)
		nextBase := hi
		if !last {
			nextBase = files[i+1].base
		}
		if !fe.regular {
			q := asideName(l.dir, fe.name, ".missing")
			if err := os.Rename(path, filepath.Join(l.dir, q)); err != nil {
				return nil, fmt.Errorf("buffer: disk events: %w", err)
			}
			continue
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("buffer: disk events: %w", err)
		}
		if haveState && !last && fe.base < st.first && nextBase <= st.first {
			// Dropped by retention; the removal did not happen before a crash.
			if err := os.Remove(path); err != nil {
				return nil, fmt.Errorf("buffer: disk events: %w", err)
			}
			continue
		}
		quarantine := func(at int64, reason string, from Offset, keep []byte) error {
			ce := &CorruptError{File: path, Offset: at, Reason: reason}
			q := asideName(l.dir, fe.name, ".corrupt")
			if err := os.Rename(path, filepath.Join(l.dir, q)); err != nil {
				return fmt.Errorf("buffer: disk events: quarantining %s: %w", path, err)
			}
			ce.Quarantine = q
			l.quarantined = append(l.quarantined, q)
			l.log.Error("buffer: disk buffer quarantined a corrupt event segment", "file", path, "at", at, "reason", reason, "renamed", q)
			claims = append(claims, evClaim{from: from, to: max(nextBase, from), err: ce})
			if keep != nil {
				if err := writeFileSync(l.dir, fe.name, keep); err != nil {
					return fmt.Errorf("buffer: disk events: recovering %s: %w", path, err)
				}
			}
			return syncDir(l.dir)
		}
		if len(data) < eventHeaderSize || string(data[:4]) != eventSegMagic || data[4] != eventSegVersion ||
			crc32.Checksum(data[:32], castagnoli) != binary.LittleEndian.Uint32(data[32:]) {
			if last && (len(data) < eventHeaderSize || allZeroBytes(data)) {
				// Created but never written: a crash while starting a segment.
				if err := os.Remove(path); err != nil {
					return nil, fmt.Errorf("buffer: disk events: %w", err)
				}
				continue
			}
			if err := quarantine(0, "bad event segment header", fe.base, nil); err != nil {
				return nil, err
			}
			continue
		}
		if base := Offset(binary.LittleEndian.Uint64(data[8:])); base != fe.base {
			if err := quarantine(0, fmt.Sprintf("header says base offset %d, the name %d", base, fe.base), fe.base, nil); err != nil {
				return nil, err
			}
			continue
		}
		if [segIDLen]byte(data[16:32]) != l.idb {
			if err := quarantine(0, "event segment of another buffer", fe.base, nil); err != nil {
				return nil, err
			}
			continue
		}
		s := &evSeg{name: fe.name, base: fe.base, end: fe.base, bytes: eventHeaderSize}
		pos := int64(eventHeaderSize)
		var bad error
		for pos < int64(len(data)) {
			rec, err := parseEventRecord(data[pos:], s.end)
			if err != nil {
				bad = err
				break
			}
			rec.pos = pos
			s.recs = append(s.recs, rec)
			s.end += Offset(rec.n)
			pos += rec.size
		}
		s.bytes = pos
		if bad != nil {
			if last {
				// A torn tail: cut it.
				if err := os.Truncate(path, pos); err != nil {
					return nil, fmt.Errorf("buffer: disk events: %w", err)
				}
				l.truncated += int64(len(data)) - pos
				claims = append(claims, evClaim{from: s.end, to: max(hi, s.end), err: &CorruptError{File: path, Offset: pos, Reason: bad.Error()}})
				l.log.Info("buffer: disk buffer cut a torn tail off the event log", "file", path, "bytes", int64(len(data))-pos)
			} else {
				if err := quarantine(pos, bad.Error(), s.end, data[:pos]); err != nil {
					return nil, err
				}
			}
		}
		l.segs = append(l.segs, s)
		l.bytes += s.bytes
	}

	if !haveState && (len(claims) > 0 || slices.ContainsFunc(l.segs, func(s *evSeg) bool { return len(s.recs) > 0 })) {
		l.faults.CursorLog++
		l.log.Error("buffer: disk buffer event state missing or damaged beside event segments: event cursors are lost", "dir", l.dir)
	}

	// Where the log resumes, and what is gone.
	end := Offset(0)
	if n := len(l.segs); n > 0 {
		end = l.segs[n-1].end
	}
	if n := len(files); n > 0 {
		end = max(end, files[n-1].base)
	}
	l.next = max(end, hi)
	for _, sp := range l.lost {
		l.next = max(l.next, sp.to)
	}
	lo := st.first
	if !haveState && len(l.segs) > 0 {
		lo = l.segs[0].base
	}
	covered := slices.Clone(l.lost)
	for _, s := range l.segs {
		covered = addSpan(covered, span{s.base, s.end})
	}
	var drops []DropEvent
	for _, g := range gaps(covered, lo, l.next) {
		e := DropEvent{Events: true, Reason: DropMissing, From: g.from, To: g.to, Points: uint64(g.to - g.from), Unread: dropUnread(l.cursors, g.from, g.to)}
		for _, c := range claims {
			if c.from < g.to && c.to > g.from {
				e.Reason, e.Err = DropCorrupt, c.err
				break
			}
		}
		l.dropped.add(e.Reason, e.Points)
		l.lost = addSpan(l.lost, g)
		drops = append(drops, e)
	}
	l.durable = l.next

	// The active segment.
	if n := len(l.segs); n > 0 && l.segs[n-1].end == l.next && len(l.segs[n-1].recs) == 0 {
		s := l.segs[n-1]
		f, err := os.OpenFile(filepath.Join(l.dir, s.name), os.O_WRONLY, 0)
		if err != nil {
			return nil, fmt.Errorf("buffer: disk events: %w", err)
		}
		l.f = f
	} else if err := l.startSegment(); err != nil {
		return nil, err
	}
	drops = append(drops, l.retainLocked(l.now())...)
	if err := l.writeStateLocked(); err != nil {
		return nil, err
	}
	return drops, nil
}

// gaps returns the parts of [from, to) that no span of covered holds.
func gaps(covered []span, from, to Offset) []span {
	slices.SortFunc(covered, func(a, b span) int {
		switch {
		case a.from < b.from:
			return -1
		case a.from > b.from:
			return 1
		}
		return 0
	})
	var out []span
	at := from
	for _, c := range covered {
		if c.to <= at {
			continue
		}
		if c.from > at {
			out = append(out, span{at, min(c.from, to)})
		}
		at = max(at, c.to)
		if at >= to {
			break
		}
	}
	if at < to {
		out = append(out, span{at, to})
	}
	k := 0
	for _, g := range out {
		if g.to > g.from {
			out[k] = g
			k++
		}
	}
	return out[:k]
}

func allZeroBytes(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// parseEventRecord checks the frame at the start of b, whose first event must
// be at offset want, and decodes its events to check them.
func parseEventRecord(b []byte, want Offset) (evRec, error) {
	if len(b) < frameHeaderSize {
		return evRec{}, errShort
	}
	n := binary.LittleEndian.Uint32(b)
	if n == 0 || n > maxEventFrameLen {
		return evRec{}, errFrameLen
	}
	if int64(len(b)-frameHeaderSize) < int64(n) {
		return evRec{}, errShort
	}
	payload := b[frameHeaderSize : frameHeaderSize+int(n)]
	if err := checkFrame(b[:frameHeaderSize], payload); err != nil {
		return evRec{}, err
	}
	first, count, at, evs, err := parseEventPayload(payload)
	if err != nil {
		return evRec{}, err
	}
	if first != want {
		return evRec{}, errContinuity
	}
	if _, err := decodeEvents(evs, count, nil); err != nil {
		return evRec{}, err
	}
	return evRec{size: frameHeaderSize + int64(n), first: first, n: int(count), at: at}, nil
}

func parseEventPayload(payload []byte) (first Offset, count uint64, at int64, evs []byte, err error) {
	r := decBuf{b: payload}
	first = Offset(r.uvarint())
	count = r.uvarint()
	at = r.varint()
	if r.err != nil {
		return 0, 0, 0, nil, r.err
	}
	if count == 0 || count > uint64(len(payload)-r.i) {
		return 0, 0, 0, nil, errCount
	}
	return first, count, at, payload[r.i:], nil
}

// startSegment creates the active segment at l.next, durably.
func (l *diskEvents) startSegment() error {
	s := &evSeg{name: eventSegName(l.next), base: l.next, end: l.next, bytes: eventHeaderSize}
	path := filepath.Join(l.dir, s.name)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err == nil {
		_, err = f.Write(appendEventHeader(nil, s.base, l.idb))
		if err == nil {
			err = f.Sync()
		}
		if err == nil {
			err = syncDir(l.dir)
		}
		if err != nil {
			f.Close()
		}
	}
	if err != nil {
		return fmt.Errorf("buffer: disk events: starting a segment: %w", err)
	}
	if n := len(l.segs); n > 0 && l.segs[n-1].base == s.base && len(l.segs[n-1].recs) == 0 {
		l.bytes -= l.segs[n-1].bytes
		l.segs = l.segs[:n-1]
	}
	l.segs = append(l.segs, s)
	l.bytes += s.bytes
	l.f = f
	return nil
}

// rollLocked makes the active segment's data durable, closes it (or leaves
// it to a running sync to close) and starts the next segment.
func (l *diskEvents) rollLocked() error {
	if l.f != nil {
		if err := fdatasync(l.f); err != nil {
			return err
		}
		l.syncs++
		if l.syncing {
			l.retired = append(l.retired, l.f)
		} else {
			l.f.Close()
		}
		l.f = nil
	}
	return l.startSegment()
}

func (l *diskEvents) stateLocked() eventState {
	first := l.next
	if len(l.segs) > 0 {
		first = l.segs[0].base
	}
	lost := l.lost[:0:0]
	for _, s := range l.lost {
		if s.to > first {
			lost = append(lost, s)
		}
	}
	l.lost = lost
	return eventState{durable: l.durable, first: first, lost: lost, cursors: l.cursors}
}

func (l *diskEvents) writeStateLocked() error {
	if err := writeFileSync(l.dir, eventStateFile, encodeEventState(l.stateLocked())); err != nil {
		return fmt.Errorf("buffer: disk events: writing the state: %w", err)
	}
	return nil
}

// retainLocked drops the oldest segments while they are too old or over
// the byte cap. The state file moves First before a file goes, so that a
// reopen tells these from segments deleted behind the buffer's back.
func (l *diskEvents) retainLocked(now time.Time) []DropEvent {
	var drops []DropEvent
	cutoff := now.Add(-l.maxAge).UnixNano()
	for len(l.segs) > 0 {
		s := l.segs[0]
		last := len(l.segs) == 1
		var reason DropReason
		switch {
		case len(s.recs) == 0 && !last:
		case len(s.recs) > 0 && l.maxAge > 0 && s.maxAppend() < cutoff:
			reason = DropAge
		case len(s.recs) > 0 && l.maxBytes > 0 && l.bytes > l.maxBytes:
			reason = DropBytes
		default:
			return drops
		}
		if last {
			if err := l.rollLocked(); err != nil {
				l.fail(err)
				return drops
			}
		}
		l.segs = l.segs[1:]
		l.bytes -= s.bytes
		if err := l.writeStateLocked(); err != nil {
			l.fail(err)
			return drops
		}
		if err := os.Remove(filepath.Join(l.dir, s.name)); err != nil && !errors.Is(err, os.ErrNotExist) {
			l.log.Error("buffer: disk buffer could not remove an event segment", "file", s.name, "err", err)
		}
		if reason == 0 {
			continue
		}
		n := uint64(s.end - s.base)
		drops = append(drops, DropEvent{
			Events: true, Reason: reason, From: s.base, To: s.end, Points: n, Bytes: s.bytes,
			Oldest: time.Unix(0, s.recs[0].at).UTC(), Newest: time.Unix(0, s.maxAppend()).UTC(),
			Unread: dropUnread(l.cursors, s.base, s.end),
		})
		l.dropped.add(reason, n)
		l.droppedBytes += s.bytes
	}
	return drops
}

// fail makes an I/O error sticky: appends and commits fail from now on,
// because the state of the files is unknown.
func (l *diskEvents) fail(err error) {
	if l.failed == nil {
		l.failed = fmt.Errorf("buffer: disk events: %w", err)
		l.log.Error("buffer: disk buffer event log failed", "err", err)
	}
}

func (l *diskEvents) append(batch []scada.Event) (Offset, error) {
	payload, err := encodeEvents(batch)
	if err != nil {
		l.mu.Lock()
		l.rejected++
		l.mu.Unlock()
		return 0, fmt.Errorf("buffer: %w", err)
	}
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return 0, scada.ErrClosed
	}
	if l.failed != nil {
		err := l.failed
		l.mu.Unlock()
		return 0, err
	}
	first := l.next
	if len(batch) == 0 {
		l.mu.Unlock()
		return first, nil
	}
	now := l.now()
	var drops []DropEvent
	if s := l.segs[len(l.segs)-1]; len(s.recs) > 0 && s.bytes >= l.segBytes {
		if err := l.rollLocked(); err != nil {
			l.fail(err)
		}
	}
	if l.failed != nil {
		err := l.failed
		l.mu.Unlock()
		l.report(drops)
		return 0, err
	}
	rec := appendFrame(nil, func(b []byte) []byte {
		b = appendUvarint(b, uint64(first))
		b = appendUvarint(b, uint64(len(batch)))
		b = appendVarint(b, now.UnixNano())
		return append(b, payload...)
	})
	s := l.segs[len(l.segs)-1]
	if _, err := l.f.WriteAt(rec, s.bytes); err != nil {
		l.fail(err)
		err := l.failed
		l.mu.Unlock()
		l.report(drops)
		return 0, err
	}
	s.recs = append(s.recs, evRec{pos: s.bytes, size: int64(len(rec)), first: first, n: len(batch), at: now.UnixNano()})
	s.bytes += int64(len(rec))
	s.end += Offset(len(batch))
	l.bytes += int64(len(rec))
	l.next += Offset(len(batch))
	l.appended += uint64(len(batch))
	l.batches++
	drops = l.retainLocked(now)
	err = l.syncLocked(first + Offset(len(batch)))
	l.mu.Unlock()
	l.report(drops)
	if err != nil {
		return 0, err
	}
	return first, nil
}

// syncLocked returns once every event before target is durable: it runs an
// fsync, or waits for the one running and then runs another if that did not
// cover target (group commit).
func (l *diskEvents) syncLocked(target Offset) error {
	for l.durable < target {
		if l.failed != nil {
			return l.failed
		}
		if l.syncing {
			l.cond.Wait()
			continue
		}
		l.syncing = true
		upto, f := l.next, l.f
		l.mu.Unlock()
		err := fdatasync(f)
		l.mu.Lock()
		l.syncing = false
		for _, r := range l.retired {
			r.Close()
		}
		l.retired = nil
		l.syncs++
		if err != nil {
			l.fail(err)
		} else if upto > l.durable {
			l.durable = upto
			close(l.notify)
			l.notify = make(chan struct{})
		}
		l.cond.Broadcast()
	}
	return nil
}

// evRef is a record to read, copied under the lock.
type evRef struct {
	seg  *evSeg
	path string
	rec  evRec
}

func (l *diskEvents) read(ctx context.Context, consumer string, limit int) (EventBatch, error) {
	if err := checkConsumer(consumer); err != nil {
		return EventBatch{}, err
	}
	if limit <= 0 {
		limit = DefaultReadMax
	}
	for {
		l.mu.Lock()
		if l.closed {
			l.mu.Unlock()
			return EventBatch{}, scada.ErrClosed
		}
		drops := l.retainLocked(l.now())
		first := l.next
		if len(l.segs) > 0 {
			first = l.segs[0].base
		}
		cur, ok := l.cursors[consumer]
		if !ok {
			cur = first
			l.cursors[consumer] = cur
		}
		refs, from := l.refsLocked(cur, limit)
		if len(refs) > 0 {
			l.mu.Unlock()
			l.report(drops)
			batch, err := l.readRefs(refs, from, limit)
			batch.Missed = uint64(from - min(cur, from))
			if errors.Is(err, os.ErrNotExist) {
				continue // dropped by retention meanwhile
			}
			if err != nil && len(batch.Events) > 0 {
				err = nil // the next Read goes on past the quarantined segment
			}
			if err != nil {
				return EventBatch{}, err
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

// refsLocked returns the durable records holding the events from cur on, up
// to max events, and the offset of the first retained event at or after cur.
func (l *diskEvents) refsLocked(cur Offset, limit int) ([]evRef, Offset) {
	var refs []evRef
	from := cur
	n := 0
	for _, s := range l.segs {
		if s.end <= cur {
			continue
		}
		for _, r := range s.recs {
			if r.first+Offset(r.n) <= cur || r.first >= l.durable {
				continue
			}
			if len(refs) == 0 {
				from = max(cur, r.first)
			} else if r.first != refs[len(refs)-1].rec.first+Offset(refs[len(refs)-1].rec.n) {
				return refs, from // a gap: the next Read reports it
			}
			refs = append(refs, evRef{seg: s, path: filepath.Join(l.dir, s.name), rec: r})
			n += r.n
			if n >= limit {
				return refs, from
			}
		}
	}
	return refs, from
}

func (l *diskEvents) readRefs(refs []evRef, from Offset, limit int) (EventBatch, error) {
	batch := EventBatch{First: from}
	var f *os.File
	var fpath string
	defer func() {
		if f != nil {
			f.Close()
		}
	}()
	var buf []byte
	for _, ref := range refs {
		if ref.path != fpath {
			if f != nil {
				f.Close()
				f = nil
			}
			var err error
			if f, err = os.Open(ref.path); err != nil {
				return batch, err
			}
			fpath = ref.path
		}
		buf = slices.Grow(buf[:0], int(ref.rec.size))[:ref.rec.size]
		if _, err := f.ReadAt(buf, ref.rec.pos); err != nil {
			if errors.Is(err, io.EOF) {
				return batch, l.quarantine(ref, ref.rec.pos, "record truncated")
			}
			return batch, fmt.Errorf("buffer: disk events: %w", err)
		}
		rec, err := parseEventRecord(buf, ref.rec.first)
		if err != nil {
			return batch, l.quarantine(ref, ref.rec.pos, err.Error())
		}
		_, _, _, evs, _ := parseEventPayload(buf[frameHeaderSize:])
		got, err := decodeEvents(evs, uint64(rec.n), nil)
		if err != nil {
			return batch, l.quarantine(ref, ref.rec.pos, err.Error())
		}
		skip := 0
		if from > rec.first {
			skip = min(int(from-rec.first), len(got))
		}
		got = got[skip:]
		got = got[:min(len(got), limit-len(batch.Events))]
		batch.Events = append(batch.Events, got...)
		from += Offset(len(got))
		if len(batch.Events) >= limit {
			break
		}
	}
	return batch, nil
}

// quarantine takes a segment found corrupt when reading out of the log and
// reports its events as dropped. It returns the CorruptError.
func (l *diskEvents) quarantine(ref evRef, at int64, reason string) error {
	ce := &CorruptError{File: ref.path, Offset: at, Reason: reason}
	l.mu.Lock()
	idx := slices.Index(l.segs, ref.seg)
	if idx < 0 || l.closed {
		l.mu.Unlock()
		return ce
	}
	if idx == len(l.segs)-1 {
		if err := l.rollLocked(); err != nil {
			l.fail(err)
		}
	}
	s := l.segs[idx]
	q := asideName(l.dir, s.name, ".corrupt")
	if err := os.Rename(filepath.Join(l.dir, s.name), filepath.Join(l.dir, q)); err != nil {
		l.log.Error("buffer: disk buffer could not quarantine a corrupt event segment", "file", ref.path, "err", err)
	} else {
		ce.Quarantine = q
		l.quarantined = append(l.quarantined, q)
	}
	l.segs = slices.Delete(l.segs, idx, idx+1)
	l.bytes -= s.bytes
	l.lost = addSpan(l.lost, span{s.base, s.end})
	if err := l.writeStateLocked(); err != nil {
		l.fail(err)
	}
	e := DropEvent{
		Events: true, Reason: DropCorrupt, From: s.base, To: s.end, Points: uint64(s.end - s.base), Bytes: s.bytes,
		Unread: dropUnread(l.cursors, s.base, s.end), Err: ce,
	}
	if len(s.recs) > 0 {
		e.Oldest, e.Newest = time.Unix(0, s.recs[0].at).UTC(), time.Unix(0, s.maxAppend()).UTC()
	}
	l.dropped.add(DropCorrupt, e.Points)
	l.droppedBytes += s.bytes
	l.mu.Unlock()
	l.log.Error("buffer: disk buffer quarantined a corrupt event segment", "file", ref.path, "at", at, "reason", reason, "renamed", ce.Quarantine)
	l.report([]DropEvent{e})
	return ce
}

// setCursor changes the cursors with change and makes the result durable.
func (l *diskEvents) setCursor(consumer string, change func() error) error {
	if err := checkConsumer(consumer); err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return scada.ErrClosed
	}
	if l.failed != nil {
		return l.failed
	}
	if err := change(); err != nil {
		return err
	}
	if err := l.writeStateLocked(); err != nil {
		l.fail(err)
		return l.failed
	}
	return nil
}

func (l *diskEvents) stats() EventStats {
	l.mu.Lock()
	defer l.mu.Unlock()
	first := l.next
	if len(l.segs) > 0 {
		first = l.segs[0].base
	}
	var events uint64
	for _, s := range l.segs {
		events += uint64(s.end - s.base)
	}
	return EventStats{
		First: first, Next: l.next, Durable: l.durable, Events: events, Bytes: l.bytes, Segments: len(l.segs),
		Appended: l.appended, Batches: l.batches, Rejected: l.rejected,
		Dropped: l.dropped, DroppedBytes: l.droppedBytes, Syncs: l.syncs, Truncated: l.truncated,
		Quarantined: slices.Clone(l.quarantined), Faults: l.faults,
		Consumers: consumerStats(l.cursors, first, func(from Offset) uint64 {
			var n uint64
			for _, s := range l.segs {
				if lo, hi := max(from, s.base), min(s.end, l.durable); hi > lo {
					n += uint64(hi - lo)
				}
			}
			return n
		}),
	}
}

// close makes everything durable, writes the state and closes the files.
func (l *diskEvents) close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return scada.ErrClosed
	}
	for l.syncing {
		l.cond.Wait()
	}
	l.closed = true
	var err error
	if l.failed == nil && l.f != nil {
		if err = fdatasync(l.f); err == nil {
			l.durable = l.next
			err = l.writeStateLocked()
		}
	}
	l.closeFiles()
	close(l.notify)
	l.cond.Broadcast()
	if err == nil {
		err = l.failed
	}
	return err
}

func (l *diskEvents) closeFiles() {
	if l.f != nil {
		l.f.Close()
		l.f = nil
	}
	for _, r := range l.retired {
		r.Close()
	}
	l.retired = nil
}

var _ EventLog = (*Disk)(nil)

// DeliverEvents appends batch, so a Disk can be the EventSink of a Source.
func (b *Disk) DeliverEvents(ctx context.Context, batch []scada.Event) error {
	_, err := b.AppendEvents(ctx, batch)
	return err
}

// AppendEvents implements [EventLog]: it returns once the batch is fsynced,
// whatever [DiskConfig.Sync] says (events are few and each one matters).
func (b *Disk) AppendEvents(ctx context.Context, batch []scada.Event) (Offset, error) {
	return b.ev.append(batch)
}

// ReadEvents implements [EventLog].
func (b *Disk) ReadEvents(ctx context.Context, consumer string, max int) (EventBatch, error) {
	return b.ev.read(ctx, consumer, max)
}

// CommitEvents implements [EventLog]. It returns once the cursor is durable.
func (b *Disk) CommitEvents(ctx context.Context, consumer string, next Offset) error {
	l := b.ev
	return l.setCursor(consumer, func() error {
		if next > l.next {
			return fmt.Errorf("%w: event commit of %d for %q, the event log ends at %d", ErrOutOfRange, next, consumer, l.next)
		}
		l.cursors[consumer] = next
		return nil
	})
}

// ForgetEvents implements [EventLog].
func (b *Disk) ForgetEvents(ctx context.Context, consumer string) error {
	l := b.ev
	return l.setCursor(consumer, func() error {
		delete(l.cursors, consumer)
		return nil
	})
}

// EventStats implements [EventLog].
func (b *Disk) EventStats() EventStats { return b.ev.stats() }
