package buffer

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Opening a disk buffer's directory: what is there, what it says about the
// log, and what is missing.
//
// Four things tell where the log ends, and each survives the loss of the
// others: the segments themselves (and the trailer of each sealed one), the
// durable mark in the header of the active segment (every point before it was
// fsynced), the state record of the cursor log (written on Close, on
// retention and on quarantine), and the consumer cursors (a consumer never
// commits past the end). The log resumes at the highest of them, so an offset
// once given to a point is never given to another.
//
// Every offset between the oldest retained point and that end that no segment
// holds, and that the state record does not list as reported already, is
// reported once: DropCorrupt when a quarantined segment held it, DropMissing
// when nothing did. The state record then lists it, so the next open is quiet.

// segFileEntry is a directory entry named like a segment.
type segFileEntry struct {
	name    string
	base    Offset // from the name
	regular bool
}

// claim is what a segment quarantined while opening held, as far as it can
// be told: the offsets [from, to) and the error.
type claim struct {
	from, to Offset
	bytes    int64
	err      *CorruptError
}

// recover reads the cursor log, the identity and the segments, cuts a torn
// tail, quarantines damaged segments, and works out the end of the log and
// what was lost. It sets b.segs, b.next, b.durable, b.cursors, b.id, b.lost.
func (b *Disk) recover() ([]DropEvent, error) {
	// The cursor log and its state record.
	curData, err := os.ReadFile(filepath.Join(b.dir, cursorFile))
	haveCursors := err == nil
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("buffer: disk: %w", err)
	}
	cursors, state, good := parseCursors(curData)
	if tail := bytes.TrimRight(curData[good:], "\x00"); len(tail) > 0 {
		// Zeros are preallocated space; anything else is a torn commit.
		b.log.Warn("buffer: disk buffer cut a torn tail of the cursor file", "bytes", len(tail))
	}
	b.cursors = cursors

	// The segments, and what their headers and trailers say.
	entries, err := os.ReadDir(b.dir)
	if err != nil {
		return nil, fmt.Errorf("buffer: disk: %w", err)
	}
	var files []segFileEntry
	var markers []Offset // bases of files quarantined or marked missing before
	for _, e := range entries {
		if base, ok := parseSegName(e.Name()); ok {
			files = append(files, segFileEntry{e.Name(), base, e.Type().IsRegular()})
		} else if base, ok := parseMarkerName(e.Name()); ok {
			markers = append(markers, base)
		}
	}
	sort.Slice(files, func(i, j int) bool { return files[i].base < files[j].base })
	probes := make([]probe, len(files))
	var mark Offset // the highest durable mark
	for i, f := range files {
		if !f.regular {
			continue
		}
		p, err := probeSegment(filepath.Join(b.dir, f.name))
		if err != nil {
			return nil, fmt.Errorf("buffer: disk: %w", err)
		}
		probes[i] = p
		if p.hdrErr == nil && p.hdr.hasMark {
			mark = max(mark, p.hdr.mark)
		}
	}

	// The identity.
	id, haveID, err := readID(b.dir)
	if err != nil {
		return nil, err
	}
	existing := len(files) > 0 || haveCursors || len(markers) > 0
	if !haveID {
		// The identity most segment headers hold (a segment copied in from
		// another buffer does not outvote the log's own).
		votes := make(map[[segIDLen]byte]int)
		best := 0
		for i, p := range probes {
			if files[i].regular && p.hdrErr == nil && p.hdr.version >= 2 && p.hdr.base == files[i].base {
				votes[p.hdr.id]++
				if n := votes[p.hdr.id]; n > best {
					best, id = n, hex.EncodeToString(p.hdr.id[:])
				}
			}
		}
		switch {
		case id != "":
			b.faults.IDFile++
			b.log.Error("buffer: disk buffer identity file was missing; restored it from the segment headers", "file", idFile, "id", id)
		case existing:
			id = newID()
			b.faults.IDFile++
			b.log.Error("buffer: disk buffer identity file was missing and no segment holds the identity; the log gets a new one, and a downstream target sees it as a new log", "file", idFile, "id", id)
		default:
			id = newID()
		}
		if err := writeID(b.dir, id); err != nil {
			return nil, err
		}
	}
	b.id, b.idb = id, idBytes(id)

	// Check the segments.
	var claims []claim
	for i, f := range files {
		path := filepath.Join(b.dir, f.name)
		last := i == len(files)-1
		if !f.regular {
			// Something else in the segment's place: move it aside so the
			// name is free. Its points, if it held any, are missing.
			q := asideName(b.dir, f.name, ".missing")
			if err := os.Rename(path, filepath.Join(b.dir, q)); err != nil {
				return nil, fmt.Errorf("buffer: disk: moving aside %s: %w", path, err)
			}
			b.log.Error("buffer: disk buffer found something that is not a file in a segment's place; moved it aside", "file", path, "renamed", q)
			b.quarantined = append(b.quarantined, q)
			continue
		}
		p := probes[i]
		bad := func(reason string, from Offset, count uint64) error {
			ce := &CorruptError{File: path, Reason: reason}
			if err := b.quarantineFile(f.name, ce); err != nil {
				return err
			}
			claims = append(claims, claim{from: from, to: from + Offset(count), bytes: p.size, err: ce})
			return nil
		}
		switch {
		case p.hdrErr != nil:
			if last && f.base >= mark && (errors.Is(p.hdrErr, errShort) || zeroFile(path)) {
				// Created but never written: a crash while starting a segment.
				if err := os.Remove(path); err != nil {
					return nil, fmt.Errorf("buffer: disk: %w", err)
				}
				b.log.Info("buffer: disk buffer removed an empty segment left by a crash", "file", path)
				continue
			}
			count := max(countFrames(path, segHeaderSize), countFrames(path, segHeaderSizeV1))
			if p.hasTrailer {
				count = max(count, p.trailer.count)
			}
			if err := bad(p.hdrErr.Error(), f.base, count); err != nil {
				return nil, err
			}
			continue
		case p.hdr.base != f.base:
			// Renamed: its points are those of its header's offsets.
			count := countFrames(path, p.hdr.size)
			if p.hasTrailer {
				count = max(count, p.trailer.count)
			}
			if err := bad(fmt.Sprintf("header says base offset %d, the name %d", p.hdr.base, f.base), p.hdr.base, count); err != nil {
				return nil, err
			}
			continue
		case p.hdr.version >= 2 && p.hdr.id != b.idb:
			count := countFrames(path, p.hdr.size)
			if err := bad(fmt.Sprintf("segment of another buffer (id %x)", p.hdr.id[:]), f.base, count); err != nil {
				return nil, err
			}
			continue
		case !last && p.hasTrailer:
			// Sealed: its records are checked when read.
			b.addSealed(f.name, f.base, p.trailer, p.size)
			continue
		}
		res, err := scanSegment(path)
		if err != nil {
			return nil, fmt.Errorf("buffer: disk: %w", err)
		}
		switch {
		case res.bad == nil && res.sealed:
			b.addSealed(f.name, f.base, res.meta, res.size)
			continue
		case res.bad == nil:
			// Clean but unsealed: the process stopped without Close.
			if err := truncateAndSeal(path, res.end, res.meta); err != nil {
				return nil, fmt.Errorf("buffer: disk: recovering %s: %w", path, err)
			}
			b.addSealed(f.name, f.base, res.meta, res.end+trailerSize)
			continue
		}
		at := f.base + Offset(res.meta.count) // the first point of the bad record
		if last && !res.hasTrailer && at >= mark {
			// A torn tail: records never reported durable. Cut them, then
			// seal what is good.
			cut := dataEnd(path, res.end) - res.end
			if err := truncateAndSeal(path, res.end, res.meta); err != nil {
				return nil, fmt.Errorf("buffer: disk: recovering %s: %w", path, err)
			}
			b.truncated += cut
			b.log.Warn("buffer: disk buffer cut a torn tail after a crash", "file", path, "at", res.end, "bytes", cut, "reason", res.bad.Reason)
			b.addSealed(f.name, f.base, res.meta, res.end+trailerSize)
			continue
		}
		// Damage to durable records (before the durable mark, or in a sealed
		// segment): quarantine the file, and keep the good records before the
		// damage in a sealed copy under the segment's name.
		ce := res.bad
		if err := b.quarantineFile(f.name, ce); err != nil {
			return nil, err
		}
		to := at
		if res.hasTrailer {
			to = max(to, f.base+Offset(res.trailer.count))
		}
		kept := int64(0)
		if res.meta.count > 0 {
			if err := salvage(b.dir, ce.Quarantine, f.name, res.end, res.meta); err != nil {
				return nil, fmt.Errorf("buffer: disk: recovering %s: %w", path, err)
			}
			kept = res.end + trailerSize
			b.addSealed(f.name, f.base, res.meta, kept)
			b.log.Warn("buffer: disk buffer kept the records before the damage", "file", path, "from", uint64(f.base), "to", uint64(at))
		}
		claims = append(claims, claim{from: at, to: to, bytes: max(res.size-kept, 0), err: ce})
	}

	// Segments that retention had dropped already (the state record was
	// durable before the file was removed; a crash came between): go now.
	if state != nil {
		keep := b.segs[:0]
		for _, s := range b.segs {
			if s.end() <= state.first && s.meta.count > 0 {
				if err := os.Remove(filepath.Join(b.dir, s.name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
					return nil, fmt.Errorf("buffer: disk: %w", err)
				}
				b.bytes -= s.bytes
				continue
			}
			keep = append(keep, s)
		}
		b.segs = keep
	}

	// The end of the log: the highest offset anything says was given out.
	end := mark
	if n := len(b.segs); n > 0 {
		end = max(end, b.segs[n-1].end())
	}
	for _, c := range claims {
		end = max(end, c.to, c.from)
	}
	if state != nil {
		end = max(end, state.next)
	}
	for _, c := range cursors {
		end = max(end, c)
	}

	// The oldest offset the log still accounts for.
	lo := end
	if len(b.segs) > 0 {
		lo = b.segs[0].base
	}
	for _, c := range claims {
		lo = min(lo, c.from)
	}
	var reported []span
	if state != nil {
		lo = min(lo, state.first)
		reported = state.lost
	}

	// What no segment holds and was not reported before.
	var events []DropEvent
	for _, g := range b.gaps(lo, end) {
		for _, piece := range subtract(g, reported) {
			if state == nil && slices.ContainsFunc(markers, func(m Offset) bool { return m >= g.from && m < g.to }) {
				// No state record (lost, or a log from before them): the file
				// aside is the report. The new state record lists it.
				b.lost = addSpan(b.lost, piece)
				continue
			}
			e := DropEvent{Reason: DropMissing, From: piece.from, To: piece.to, Points: uint64(piece.to - piece.from),
				Unread: dropUnread(b.cursors, piece.from, piece.to)}
			for i := range claims {
				c := &claims[i]
				if c.from < piece.to && max(c.to, c.from+1) > piece.from {
					if e.Err == nil {
						e.Reason, e.Err = DropCorrupt, c.err
					}
					e.Bytes += c.bytes
					c.bytes = 0
				}
			}
			if e.Reason == DropMissing {
				// A marker beside the segments, for a log whose state record
				// is lost later (see markers above).
				if err := writeFileSync(b.dir, asideName(b.dir, segName(piece.from), ".missing"), nil); err != nil {
					return nil, fmt.Errorf("buffer: disk: %w", err)
				}
			}
			b.dropped.add(e.Reason, e.Points)
			b.droppedBytes += e.Bytes
			events = append(events, e)
			b.lost = addSpan(b.lost, piece)
		}
	}
	for _, r := range reported {
		b.lost = addSpan(b.lost, r)
	}
	b.next, b.durable = end, end

	if !haveCursors && existing {
		b.faults.CursorLog++
		b.log.Error("buffer: disk buffer cursor log was missing: every consumer starts again at the oldest retained point",
			"file", cursorFile, "first", uint64(b.firstLocked()), "next", uint64(end))
	}
	return events, nil
}

// gaps returns the offsets in [lo, hi) that no segment holds.
func (b *Disk) gaps(lo, hi Offset) []span {
	var out []span
	at := lo
	for _, s := range b.segs {
		if s.base > at && at < hi {
			out = append(out, span{at, min(s.base, hi)})
		}
		at = max(at, s.end())
	}
	if at < hi {
		out = append(out, span{at, hi})
	}
	return out
}

// subtract returns the parts of g that none of the sorted spans covers.
func subtract(g span, spans []span) []span {
	var out []span
	at := g.from
	for _, s := range spans {
		if s.to <= at || s.from >= g.to {
			continue
		}
		if s.from > at {
			out = append(out, span{at, s.from})
		}
		at = max(at, s.to)
	}
	if at < g.to {
		out = append(out, span{at, g.to})
	}
	return out
}

// addSpan adds s to the sorted, disjoint spans, merging neighbours.
func addSpan(spans []span, s span) []span {
	if s.from >= s.to {
		return spans
	}
	out := make([]span, 0, len(spans)+1)
	for _, r := range spans {
		switch {
		case r.to < s.from:
			out = append(out, r)
		case r.from > s.to:
			out = append(out, s)
			s = r
		default:
			s = span{min(s.from, r.from), max(s.to, r.to)}
		}
	}
	return append(out, s)
}

// pruneSpans drops the spans before first: retention has passed them.
func pruneSpans(spans []span, first Offset) []span {
	i := 0
	for i < len(spans) && spans[i].to <= first {
		i++
	}
	return spans[i:]
}

func (b *Disk) addSealed(name string, base Offset, meta segMeta, size int64) {
	b.segs = append(b.segs, &segment{
		name: name, base: base, meta: meta, bytes: size, sealed: true,
		durCount: meta.count, durEnd: size - trailerSize,
	})
	b.bytes += size
}

func truncateAndSeal(path string, end int64, meta segMeta) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Truncate(end); err != nil {
		return err
	}
	if _, err := f.WriteAt(appendTrailer(nil, meta), end); err != nil {
		return err
	}
	return f.Sync()
}

// salvage writes the first end bytes of the quarantined file q, sealed, as
// the segment name.
func salvage(dir, q, name string, end int64, meta segMeta) error {
	f, err := os.Open(filepath.Join(dir, q))
	if err != nil {
		return err
	}
	data := make([]byte, end, end+trailerSize)
	_, err = f.ReadAt(data, 0)
	f.Close()
	if err != nil {
		return err
	}
	return writeFileSync(dir, name, appendTrailer(data, meta))
}

// quarantineFile renames a corrupt segment aside and records it.
func (b *Disk) quarantineFile(name string, ce *CorruptError) error {
	q := asideName(b.dir, name, ".corrupt")
	if err := os.Rename(filepath.Join(b.dir, name), filepath.Join(b.dir, q)); err != nil {
		return fmt.Errorf("buffer: disk: quarantining %s: %w", name, err)
	}
	if err := syncDir(b.dir); err != nil {
		return fmt.Errorf("buffer: disk: %w", err)
	}
	ce.Quarantine = q
	b.quarantined = append(b.quarantined, q)
	b.log.Error("buffer: disk buffer quarantined a corrupt segment", "file", ce.File, "at", ce.Offset, "reason", ce.Reason, "renamed", q)
	return nil
}

// asideName returns name+suffix, or name+suffix+".N" if that is taken.
func asideName(dir, name, suffix string) string {
	q := name + suffix
	for i := 1; ; i++ {
		if _, err := os.Lstat(filepath.Join(dir, q)); errors.Is(err, fs.ErrNotExist) {
			return q
		}
		q = fmt.Sprintf("%s%s.%d", name, suffix, i)
	}
}

// parseMarkerName parses the base offset of a segment file moved aside
// (NAME.seg.corrupt, NAME.seg.missing, with a number after them or not).
func parseMarkerName(name string) (Offset, bool) {
	i := strings.Index(name, segSuffix+".")
	if i != 20 {
		return 0, false
	}
	rest := name[i+len(segSuffix):]
	if !strings.HasPrefix(rest, ".corrupt") && !strings.HasPrefix(rest, ".missing") {
		return 0, false
	}
	v, err := strconv.ParseUint(name[:20], 10, 64)
	return Offset(v), err == nil
}

// zeroFile reports whether the file at path holds only zero bytes.
func zeroFile(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return false
	}
	zero, err := allZero(f, 0, fi.Size())
	return err == nil && zero
}

// stateLocked returns the state record of the log as it is now, with next
// as its end.
func (b *Disk) stateLocked(next Offset) logState {
	first := b.firstLocked()
	b.lost = pruneSpans(b.lost, first)
	return logState{first: first, next: next, lost: slices.Clone(b.lost)}
}

// writeCursorLog rewrites the cursor log compactly, with the cursors and the
// state of the log, and opens it for appending. Only while opening.
func (b *Disk) writeCursorLog() error {
	compact := encodeCursors(b.cursors, b.stateLocked(b.next))
	if err := writeFileSync(b.dir, cursorFile, compact); err != nil {
		return fmt.Errorf("buffer: disk: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(b.dir, cursorFile), os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("buffer: disk: %w", err)
	}
	b.curFile = &segFile{f: f, wpos: int64(len(compact)), alloc: int64(len(compact))}
	return nil
}
