//go:build !linux

package buffer

import "os"

// fdatasync is a full fsync where the system offers nothing lighter through
// the standard library.
func fdatasync(f *os.File) error { return f.Sync() }
