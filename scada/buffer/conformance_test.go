package buffer_test

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/greenlang/gl001/scada/buffer"
	"github.com/greenlang/gl001/scada/buffer/buffertest"
)

func TestMemoryConformance(t *testing.T) {
	buffertest.TestBuffer(t, buffertest.Harness{
		Open: func(t *testing.T, _ string, cfg buffertest.Config) (buffer.Buffer, error) {
			return buffer.NewMemory(buffer.MemoryConfig{MaxAge: cfg.MaxAge, MaxBytes: cfg.MaxBytes, EventMaxBytes: cfg.EventMaxBytes, Now: cfg.Now, OnDrop: cfg.OnDrop})
		},
		Features: buffertest.Features{Events: true},
	})
}

func openDiskHarness(t *testing.T, store string, cfg buffertest.Config) (buffer.Buffer, error) {
	b, err := buffer.OpenDisk(buffer.DiskConfig{
		Dir: store, MaxAge: cfg.MaxAge, MaxBytes: cfg.MaxBytes, EventMaxBytes: cfg.EventMaxBytes, Now: cfg.Now, OnDrop: cfg.OnDrop,
		SegmentBytes: 1, // a segment per Append, so retention goes batch by batch
	})
	if err != nil {
		return nil, err
	}
	return b, nil
}

func TestDiskConformance(t *testing.T) {
	buffertest.TestBuffer(t, buffertest.Harness{
		Open:     openDiskHarness,
		Inject:   injectDisk,
		Features: buffertest.Features{Persistent: true, Faults: buffertest.AllFaults, Events: true},
	})
}

// TestDiskFollowsActiveSegment has a consumer follow the writer inside one
// segment (the default segment size), so that its cached reader reads up to
// the durable end again and again while the writer fills the preallocated
// space after it.
func TestDiskFollowsActiveSegment(t *testing.T) {
	for _, sync := range []buffer.SyncPolicy{buffer.SyncGroupCommit, buffer.SyncInterval} {
		t.Run(sync.String(), func(t *testing.T) {
			b, err := buffer.OpenDisk(buffer.DiskConfig{Dir: t.TempDir(), Sync: sync, SyncInterval: time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			buffertest.TestConsumerKeepsUp(t, b)
		})
	}
}

// injectDisk makes fault f in the closed disk buffer in dir. With one
// segment per Append, a batch is a segment file; the newest file is the
// empty active segment, so "the newest batch" is the newest file with
// records.
func injectDisk(t *testing.T, dir string, f buffertest.Fault) {
	t.Helper()
	segs, err := filepath.Glob(filepath.Join(dir, "*.seg"))
	if err != nil || len(segs) < 4 {
		t.Fatalf("segments %v, %v", segs, err)
	}
	slices.Sort(segs)
	newest := ""
	for _, s := range segs {
		// The active segment is a header and preallocated zeros.
		if data, err := os.ReadFile(s); err == nil && len(bytes.TrimRight(data, "\x00")) > buffer.SegHeaderSize {
			newest = s
		}
	}
	middle := segs[1]
	edit := func(path string, change func([]byte)) {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		change(data)
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	switch f {
	case buffertest.FlipNewest:
		edit(newest, func(d []byte) { d[buffer.SegHeaderSize+buffer.FrameHeaderSize+10] ^= 0x40 })
	case buffertest.GarbleNewestHeader:
		edit(newest, func(d []byte) { copy(d, strings.Repeat("\xa5garbage", buffer.SegHeaderSize/8)) })
	case buffertest.DeleteBatch:
		err = os.Remove(middle)
	case buffertest.DirectoryForBatch:
		if err = os.Remove(middle); err == nil {
			err = os.Mkdir(middle, 0o755)
		}
	case buffertest.RenameBatch:
		err = os.Rename(middle, filepath.Join(dir, buffer.SegName(1_000_000)))
	case buffertest.DeleteCursors:
		err = os.Remove(filepath.Join(dir, buffer.CursorFile))
	case buffertest.DeleteID:
		err = os.Remove(filepath.Join(dir, buffer.IDFile))
	default:
		t.Fatalf("unknown fault %v", f)
	}
	if err != nil {
		t.Fatal(err)
	}
}
