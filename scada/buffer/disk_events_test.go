package buffer

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/greenlang/gl001/scada"
)

func seqEvents(seq, n int) []scada.Event {
	evs := make([]scada.Event, n)
	for i := range evs {
		k := seq + i
		evs[i] = scada.Event{Source: "s", Time: time.Unix(int64(1e9+k), 0), Message: fmt.Sprintf("e%d", k), Severity: 500,
			Fields: map[string]any{"seq": float64(k)}}
	}
	return evs
}

func eventSegFiles(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, eventDir, "*"+eventSegSuffix))
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(m)
	return m
}

// readEvents reads everything consumer has, committing, and returns the seq
// numbers and the total Missed.
func readEvents(t *testing.T, b EventLog, consumer string) (seqs []int, missed uint64, errs []error) {
	t.Helper()
	ctx := readTimeout(t)
	for b.EventStats().Durable > cursorOf(b, consumer) {
		eb, err := b.ReadEvents(ctx, consumer, 1000)
		if err != nil {
			errs = append(errs, err)
			if len(errs) > 5 {
				t.Fatalf("ReadEvents keeps failing: %v", errs)
			}
			continue
		}
		missed += eb.Missed
		for _, ev := range eb.Events {
			seqs = append(seqs, int(ev.Fields["seq"].(float64)))
		}
		if err := b.CommitEvents(ctx, consumer, eb.Next()); err != nil {
			t.Fatal(err)
		}
	}
	return seqs, missed, errs
}

func cursorOf(b EventLog, consumer string) Offset {
	for _, c := range b.EventStats().Consumers {
		if c.Name == consumer {
			return c.Cursor
		}
	}
	return 0
}

// fillEventSegments writes 5 batches of 10 events, a segment each, and
// closes the buffer.
func fillEventSegments(t *testing.T, dir string) {
	t.Helper()
	b, err := OpenDisk(DiskConfig{Dir: dir, EventSegmentBytes: 1})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if _, err := b.AppendEvents(context.Background(), seqEvents(i*10, 10)); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
}

type dropLog struct {
	mu    sync.Mutex
	drops []DropEvent
}

func (d *dropLog) add(e DropEvent) {
	d.mu.Lock()
	d.drops = append(d.drops, e)
	d.mu.Unlock()
}

func (d *dropLog) get() []DropEvent {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.drops)
}

func flipByte(t *testing.T, path string, at int64) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if at < 0 {
		at += int64(len(data))
	}
	data[at] ^= 0x40
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestDiskEventsCorruptSegment: a flipped byte in a sealed event segment is
// found when opening, the segment quarantined, its events reported once as
// DropCorrupt, and every other event read back.
func TestDiskEventsCorruptSegment(t *testing.T) {
	dir := t.TempDir()
	fillEventSegments(t, dir)
	segs := eventSegFiles(t, dir)
	flipByte(t, segs[1], -3) // inside the events of batch 1 (offsets 10-19)
	var dl dropLog
	b := openDisk(t, DiskConfig{Dir: dir, OnDrop: dl.add})
	st := b.EventStats()
	if st.Dropped.Corrupt != 10 || len(st.Quarantined) != 1 || st.Next != 50 {
		t.Fatalf("EventStats: %+v", st)
	}
	d := dl.get()
	if len(d) != 1 || !d[0].Events || d[0].Reason != DropCorrupt || d[0].From != 10 || d[0].To != 20 || !errors.Is(d[0].Err, ErrCorrupt) {
		t.Fatalf("drops %+v", d)
	}
	seqs, missed, errs := readEvents(t, b, "c")
	if len(errs) != 0 || missed != 10 || len(seqs) != 40 || seqs[9] != 9 || seqs[10] != 20 {
		t.Fatalf("read %v, missed %d, errs %v", seqs, missed, errs)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	// Reported once: the next open is quiet.
	var dl2 dropLog
	b = openDisk(t, DiskConfig{Dir: dir, OnDrop: dl2.add})
	if d := dl2.get(); len(d) != 0 {
		t.Fatalf("drops on the second open: %+v", d)
	}
	if off, err := b.AppendEvents(context.Background(), seqEvents(50, 1)); err != nil || off != 50 {
		t.Fatalf("AppendEvents at %d, %v", off, err)
	}
}

// TestDiskEventsCorruptNewest: damage to the newest records, which a clean
// Close made durable, is reported, not taken for a torn tail silently.
func TestDiskEventsCorruptNewest(t *testing.T) {
	dir := t.TempDir()
	fillEventSegments(t, dir)
	segs := eventSegFiles(t, dir)
	// A segment a batch: the newest holds batch 4.
	if len(segs) != 5 {
		t.Fatalf("segments %v", segs)
	}
	flipByte(t, segs[4], -3)
	var dl dropLog
	b := openDisk(t, DiskConfig{Dir: dir, OnDrop: dl.add})
	st := b.EventStats()
	if st.Dropped.Corrupt != 10 || st.Next != 50 || st.Truncated == 0 {
		t.Fatalf("EventStats: %+v", st)
	}
	if d := dl.get(); len(d) != 1 || d[0].Reason != DropCorrupt || d[0].From != 40 || d[0].To != 50 {
		t.Fatalf("drops %+v", d)
	}
	if off, err := b.AppendEvents(context.Background(), seqEvents(50, 1)); err != nil || off != 50 {
		t.Fatalf("AppendEvents at %d, %v: an offset given out twice", off, err)
	}
}

// TestDiskEventsTornTail: bytes after the last durable record (a write cut
// by a crash) are cut and counted, and nothing is reported lost.
func TestDiskEventsTornTail(t *testing.T) {
	dir := t.TempDir()
	fillEventSegments(t, dir)
	segs := eventSegFiles(t, dir)
	f, err := os.OpenFile(segs[len(segs)-1], os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	torn := appendFrame(nil, func(b []byte) []byte { return append(b, 50, 3, 0, 1, 2, 3) })
	if _, err := f.Write(torn[:len(torn)-2]); err != nil {
		t.Fatal(err)
	}
	f.Close()
	var dl dropLog
	b := openDisk(t, DiskConfig{Dir: dir, OnDrop: dl.add})
	st := b.EventStats()
	if st.Dropped.Total() != 0 || st.Truncated != int64(len(torn)-2) || st.Next != 50 || len(st.Quarantined) != 0 {
		t.Fatalf("EventStats: %+v", st)
	}
	if d := dl.get(); len(d) != 0 {
		t.Fatalf("drops %+v", d)
	}
	if seqs, missed, errs := readEvents(t, b, "c"); len(seqs) != 50 || missed != 0 || len(errs) != 0 {
		t.Fatalf("read %d events, missed %d, %v", len(seqs), missed, errs)
	}
}

// TestDiskEventsMissingSegment: a deleted segment is reported once as
// DropMissing; a deleted state file loses only the cursors.
func TestDiskEventsMissingSegment(t *testing.T) {
	dir := t.TempDir()
	fillEventSegments(t, dir)
	segs := eventSegFiles(t, dir)
	if err := os.Remove(segs[2]); err != nil {
		t.Fatal(err)
	}
	var dl dropLog
	b := openDisk(t, DiskConfig{Dir: dir, OnDrop: dl.add})
	if d := dl.get(); len(d) != 1 || d[0].Reason != DropMissing || d[0].From != 20 || d[0].To != 30 {
		t.Fatalf("drops %+v", d)
	}
	if err := b.CommitEvents(context.Background(), "c", 35); err != nil {
		t.Fatal(err)
	}
	b.Close()
	var dl2 dropLog
	b = openDisk(t, DiskConfig{Dir: dir, OnDrop: dl2.add})
	if d := dl2.get(); len(d) != 0 {
		t.Fatalf("drops on the second open: %+v", d)
	}
	if c := cursorOf(b, "c"); c != 35 {
		t.Fatalf("cursor %d after reopen, want 35", c)
	}
	b.Close()
	if err := os.Remove(filepath.Join(dir, eventDir, eventStateFile)); err != nil {
		t.Fatal(err)
	}
	b = openDisk(t, DiskConfig{Dir: dir})
	st := b.EventStats()
	if st.Next != 50 || len(st.Consumers) != 0 || st.Faults.CursorLog != 1 {
		t.Fatalf("EventStats without the state file: %+v", st)
	}
	if seqs, missed, _ := readEvents(t, b, "c"); len(seqs) != 40 || missed != 10 {
		t.Fatalf("read %d events, missed %d", len(seqs), missed)
	}
}

// TestDiskEventsCorruptWhileOpen: damage found by a read quarantines the
// segment; the read fails with a CorruptError, the next goes on past it.
func TestDiskEventsCorruptWhileOpen(t *testing.T) {
	dir := t.TempDir()
	var dl dropLog
	b := openDisk(t, DiskConfig{Dir: dir, EventSegmentBytes: 1, OnDrop: dl.add})
	for i := range 3 {
		if _, err := b.AppendEvents(context.Background(), seqEvents(i*10, 10)); err != nil {
			t.Fatal(err)
		}
	}
	flipByte(t, eventSegFiles(t, dir)[0], -3)
	ctx := readTimeout(t)
	if _, err := b.ReadEvents(ctx, "c", 100); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("ReadEvents of a corrupt segment: %v", err)
	}
	eb, err := b.ReadEvents(ctx, "c", 100)
	if err != nil || eb.First != 10 || eb.Missed != 10 || len(eb.Events) != 20 {
		t.Fatalf("ReadEvents after the corruption: First %d, Missed %d, %d events, %v", eb.First, eb.Missed, len(eb.Events), err)
	}
	if st := b.EventStats(); st.Dropped.Corrupt != 10 || len(st.Quarantined) != 1 {
		t.Fatalf("EventStats: %+v", st)
	}
	if d := dl.get(); len(d) != 1 || d[0].Reason != DropCorrupt || !d[0].Events {
		t.Fatalf("drops %+v", d)
	}
}

// FuzzDecodeEvent feeds the event decoder arbitrary bytes: an error or an
// event that encodes back to the same bytes, never a panic.
func FuzzDecodeEvent(f *testing.F) {
	for _, ev := range append(seqEvents(0, 2), scada.Event{
		ID: []byte{1}, Condition: &scada.Condition{Name: "x", Active: true},
		Fields: map[string]any{"t": time.Unix(5, 6), "b": []byte{1}, "j": []any{1.0}, "n": nil, "z": time.Time{}, "f": false},
	}) {
		enc, err := encodeEvent(nil, &ev)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(enc)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		ev, err := decodeEvent(data)
		if err != nil {
			return
		}
		if _, err := encodeEvent(nil, &ev); err != nil {
			t.Fatalf("a decoded event does not encode: %v", err)
		}
	})
}
