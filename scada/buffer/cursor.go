package buffer

import (
	"encoding/binary"
	"hash/crc32"
	"os"
	"path/filepath"
	"sort"
)

// The consumer cursors of a disk buffer live in one append-only file of framed
// records, each (consumer name, offset); the last record of a name wins, and
// the offset forgotten removes the name. The file is rewritten compactly when
// it grows past cursorCompactBytes (and on open); zeros after the records are
// preallocated space.
//
// The same file keeps the state of the log itself in records named stateName
// (a name no consumer can have, since it is not UTF-8): the oldest retained
// offset, the end of the log, and the ranges of offsets already reported
// lost. The last one wins. It is written when the buffer opens, when
// retention drops a segment, when a segment is quarantined, and on Close, so
// that reopening can tell points dropped and reported before from points that
// disappeared since (a deleted segment file), and never gives out an offset
// twice.

// forgotten is the offset of a cursor record that removes its consumer.
const forgotten = Offset(1<<64 - 1)

const (
	cursorFile         = "cursors.log"
	cursorCompactBytes = 1 << 20
)

// stateName names the state records of the cursor log.
const stateName = "\xff"

// maxLostRanges bounds the lost ranges a state record keeps (the oldest go).
const maxLostRanges = 1024

// logState is what the cursor log records about the log.
type logState struct {
	first, next Offset
	lost        []span // reported lost, sorted, not overlapping
}

// span is the offsets [from, to).
type span struct{ from, to Offset }

func appendStateRecord(b []byte, st logState) []byte {
	return appendFrame(b, func(b []byte) []byte {
		b = appendString(b, stateName)
		b = appendUvarint(b, uint64(st.first))
		b = appendUvarint(b, uint64(st.next))
		lost := st.lost[max(0, len(st.lost)-maxLostRanges):]
		b = appendUvarint(b, uint64(len(lost)))
		for _, r := range lost {
			b = appendUvarint(b, uint64(r.from))
			b = appendUvarint(b, uint64(r.to-r.from))
		}
		return b
	})
}

func parseState(r *decBuf) (logState, bool) {
	var st logState
	st.first = Offset(r.uvarint())
	st.next = Offset(r.uvarint())
	n := r.uvarint()
	if r.err != nil || n > maxLostRanges || st.first > st.next {
		return st, false
	}
	for range n {
		from := Offset(r.uvarint())
		l := Offset(r.uvarint())
		if r.err != nil || from+l < from {
			return st, false
		}
		st.lost = append(st.lost, span{from, from + l})
	}
	return st, r.err == nil && r.i == len(r.b)
}

// appendFrame appends a frame whose payload body appends.
func appendFrame(b []byte, body func([]byte) []byte) []byte {
	start := len(b)
	b = append(b, make([]byte, frameHeaderSize)...)
	b = body(b)
	n := len(b) - start - frameHeaderSize
	binary.LittleEndian.PutUint32(b[start:], uint32(n))
	crc := crc32.Update(0, castagnoli, b[start:start+4])
	crc = crc32.Update(crc, castagnoli, b[start+frameHeaderSize:])
	binary.LittleEndian.PutUint32(b[start+4:], crc)
	return b
}

func appendCursorRecord(b []byte, name string, off Offset) []byte {
	start := len(b)
	b = append(b, make([]byte, frameHeaderSize)...)
	b = appendString(b, name)
	b = appendUvarint(b, uint64(off))
	n := len(b) - start - frameHeaderSize
	binary.LittleEndian.PutUint32(b[start:], uint32(n))
	crc := crc32.Update(0, castagnoli, b[start:start+4])
	crc = crc32.Update(crc, castagnoli, b[start+frameHeaderSize:])
	binary.LittleEndian.PutUint32(b[start+4:], crc)
	return b
}

// parseCursors decodes a cursor file, stopping at the first bad record. It
// returns the cursors, the last state record (nil if none) and how many bytes
// were good.
func parseCursors(b []byte) (map[string]Offset, *logState, int) {
	m := make(map[string]Offset)
	var state *logState
	pos := 0
	for len(b)-pos >= frameHeaderSize {
		n := int(binary.LittleEndian.Uint32(b[pos:]))
		if n == 0 || n > len(b)-pos-frameHeaderSize {
			break
		}
		payload := b[pos+frameHeaderSize : pos+frameHeaderSize+n]
		if checkFrame(b[pos:pos+frameHeaderSize], payload) != nil {
			break
		}
		r := decBuf{b: payload}
		name := r.string()
		if name == stateName && r.err == nil {
			st, ok := parseState(&r)
			if !ok {
				break
			}
			state = &st
			pos += frameHeaderSize + n
			continue
		}
		off := r.uvarint()
		if r.err != nil || r.i != len(payload) || checkConsumer(name) != nil {
			break
		}
		if Offset(off) == forgotten {
			delete(m, name)
		} else {
			m[name] = Offset(off)
		}
		pos += frameHeaderSize + n
	}
	return m, state, pos
}

func encodeCursors(m map[string]Offset, st logState) []byte {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	b := appendStateRecord(nil, st)
	for _, n := range names {
		b = appendCursorRecord(b, n, m[n])
	}
	return b
}

// writeFileSync writes b to dir/name atomically: a temporary file, fsync,
// rename, fsync of the directory.
func writeFileSync(dir, name string, b []byte) error {
	tmp := filepath.Join(dir, name+".tmp")
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		return err
	}
	return syncDir(dir)
}
