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

// forgotten is the offset of a cursor record that removes its consumer.
const forgotten = Offset(1<<64 - 1)

const (
	cursorFile         = "cursors.log"
	cursorCompactBytes = 1 << 20
)

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
// returns the cursors and how many bytes were good.
func parseCursors(b []byte) (map[string]Offset, int) {
	m := make(map[string]Offset)
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
	return m, pos
}

func encodeCursors(m map[string]Offset) []byte {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	var b []byte
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
