//go:build !unix

package buffer

import (
	"fmt"
	"os"
	"path/filepath"
)

// lockDir creates dir/LOCK. Without flock, nothing stops a second process from
// opening the directory: callers must make sure only one does.
func lockDir(dir string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, "LOCK"), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("buffer: disk: %w", err)
	}
	return f, nil
}

func unlockDir(f *os.File) {
	if f != nil {
		f.Close()
	}
}
