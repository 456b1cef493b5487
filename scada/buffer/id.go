package buffer

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// idFile holds a disk buffer's identity beside its segments. Every segment
// header (format version 2) carries the identity too, so a lost idFile is
// restored from them rather than replaced by a new identity: a new one would
// make a downstream target take the same offsets for other points.
const idFile = "buffer.id"

// newID returns 16 random bytes in hex: the identity of a new log.
func newID() string {
	var b [segIDLen]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// idBytes returns the raw bytes of a hex identity.
func idBytes(id string) [segIDLen]byte {
	var b [segIDLen]byte
	hex.Decode(b[:], []byte(id))
	return b
}

// readID reads the identity of the log in dir; ok is false when there is
// no identity file.
func readID(dir string) (id string, ok bool, err error) {
	b, err := os.ReadFile(filepath.Join(dir, idFile))
	switch {
	case err == nil:
		id := strings.TrimSpace(string(b))
		if _, err := hex.DecodeString(id); err != nil || len(id) != 2*segIDLen {
			return "", false, fmt.Errorf("buffer: disk: %s holds %q, not a buffer id", idFile, id)
		}
		return id, true, nil
	case errors.Is(err, fs.ErrNotExist):
		return "", false, nil
	default:
		return "", false, fmt.Errorf("buffer: disk: %w", err)
	}
}

// writeID stores id in dir, durably.
func writeID(dir, id string) error {
	if err := writeFileSync(dir, idFile, []byte(id+"\n")); err != nil {
		return fmt.Errorf("buffer: disk: writing %s: %w", idFile, err)
	}
	return nil
}
