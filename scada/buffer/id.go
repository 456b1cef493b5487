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

// idFile holds a disk buffer's identity beside its segments.
const idFile = "buffer.id"

// newID returns 16 random bytes in hex: the identity of a new log.
func newID() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// loadOrCreateID reads the identity of the log in dir, creating it (durably)
// when the directory holds none yet.
func loadOrCreateID(dir string) (string, error) {
	b, err := os.ReadFile(filepath.Join(dir, idFile))
	switch {
	case err == nil:
		id := strings.TrimSpace(string(b))
		if len(id) != 32 {
			return "", fmt.Errorf("buffer: disk: %s holds %q, not a buffer id", idFile, id)
		}
		if _, err := hex.DecodeString(id); err != nil {
			return "", fmt.Errorf("buffer: disk: %s holds %q, not a buffer id", idFile, id)
		}
		return id, nil
	case errors.Is(err, fs.ErrNotExist):
		id := newID()
		if err := writeFileSync(dir, idFile, []byte(id+"\n")); err != nil {
			return "", fmt.Errorf("buffer: disk: writing %s: %w", idFile, err)
		}
		return id, nil
	default:
		return "", fmt.Errorf("buffer: disk: %w", err)
	}
}
