package buffer

import (
	"bytes"
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/greenlang/gl001/scada"
)

func openDisk(t *testing.T, cfg DiskConfig) *Disk {
	t.Helper()
	b, err := OpenDisk(cfg)
	if err != nil {
		t.Fatalf("OpenDisk: %v", err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func segFiles(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*"+segSuffix))
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(m)
	return m
}

// copyDir copies the files of a live buffer directory: what a crash at this
// moment would leave on disk (every file is durable after a group commit).
func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	copyTree(t, src, dst)
	return dst
}

// copyTree copies the files of src into dst, and its subdirectories (the
// event log's) with them.
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() {
			if err := os.Mkdir(filepath.Join(dst, e.Name()), 0o755); err != nil {
				t.Fatal(err)
			}
			copyTree(t, filepath.Join(src, e.Name()), filepath.Join(dst, e.Name()))
			continue
		}
		data, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestDiskBufferReopenResumes(t *testing.T) {
	dir := t.TempDir()
	ctx := readTimeout(t)
	t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	b := openDisk(t, DiskConfig{Dir: dir, SegmentBytes: 4 << 10})
	for i := range 10 {
		mustAppend(t, b, testPoints(i*300, 300, t0))
	}
	if err := b.Commit(ctx, "historian", 1234); err != nil {
		t.Fatal(err)
	}
	if err := b.Commit(ctx, "scada-archive", 3000); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}

	b = openDisk(t, DiskConfig{Dir: dir, SegmentBytes: 4 << 10})
	st := b.Stats()
	if st.First != 0 || st.Next != 3000 || st.Durable != 3000 || st.Points != 3000 || st.Segments < 3 || st.Truncated != 0 {
		t.Fatalf("after reopen: %+v", st)
	}
	batch, err := b.Read(ctx, "historian", 10000)
	if err != nil || batch.First != 1234 || len(batch.Points) != 3000-1234 {
		t.Fatalf("historian resumes at %d with %d points (%v), want 1234 and %d", batch.First, len(batch.Points), err, 3000-1234)
	}
	checkValues(t, batch.Points, 1234)
	if off := mustAppend(t, b, testPoints(3000, 10, t0)); off != 3000 {
		t.Fatalf("Append after reopen returned %d, want 3000", off)
	}
	batch, err = b.Read(ctx, "scada-archive", 100)
	if err != nil || batch.First != 3000 || len(batch.Points) != 10 {
		t.Fatalf("scada-archive: First %d, %d points, %v", batch.First, len(batch.Points), err)
	}

	// Forgetting is durable too.
	if err := b.Forget(ctx, "historian"); err != nil {
		t.Fatal(err)
	}
	b.Close()
	b = openDisk(t, DiskConfig{Dir: dir, SegmentBytes: 4 << 10})
	if cs := b.Stats().Consumers; len(cs) != 1 || cs[0].Name != "scada-archive" || cs[0].Cursor != 3000 {
		t.Fatalf("consumers after Forget and reopen: %+v", cs)
	}

	// A second buffer on the same directory is refused while this one is open.
	if _, err := OpenDisk(DiskConfig{Dir: dir}); err == nil {
		t.Fatal("a second OpenDisk on a directory in use succeeded")
	}
}

func TestDiskBufferCursorLogCompaction(t *testing.T) {
	dir := t.TempDir()
	ctx := readTimeout(t)
	b := openDisk(t, DiskConfig{Dir: dir, Sync: SyncInterval, SyncInterval: time.Hour})
	mustAppend(t, b, testPoints(0, 100, time.Now()))
	// Enough commits to pass the compaction threshold several times.
	names := []string{"a", "b", "c"}
	for i := range 150_000 {
		if err := b.Commit(ctx, names[i%3], Offset(i%100)); err != nil {
			t.Fatal(err)
		}
		if i%20_000 == 0 {
			if err := b.Sync(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, cursorFile))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() > 2*cursorCompactBytes {
		t.Fatalf("cursor file is %d bytes, compaction did not run", fi.Size())
	}
	b = openDisk(t, DiskConfig{Dir: dir})
	want := map[string]Offset{"a": 97, "b": 98, "c": 99} // the last commit of each: i = 149997..149999
	for _, cs := range b.Stats().Consumers {
		if want[cs.Name] != cs.Cursor {
			t.Errorf("consumer %s at %d, want %d", cs.Name, cs.Cursor, want[cs.Name])
		}
		delete(want, cs.Name)
	}
	if len(want) != 0 {
		t.Errorf("consumers lost across reopen: %v", want)
	}
}

func TestDiskBufferIntervalSync(t *testing.T) {
	dir := t.TempDir()
	ctx := readTimeout(t)
	b := openDisk(t, DiskConfig{Dir: dir, Sync: SyncInterval, SyncInterval: time.Hour})
	mustAppend(t, b, testPoints(0, 50, time.Now()))
	// The hour-long interval has not passed: nothing is durable, nothing readable.
	if st := b.Stats(); st.Durable != 0 || st.Next != 50 {
		t.Fatalf("before Sync: Durable %d, Next %d", st.Durable, st.Next)
	}
	if _, got, _ := scanAll(t, b, 0); len(got) != 0 {
		t.Fatalf("Scan saw %d points that are not durable", len(got))
	}
	if err := b.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if st := b.Stats(); st.Durable != 50 || st.Syncs == 0 {
		t.Fatalf("after Sync: Durable %d, Syncs %d", st.Durable, st.Syncs)
	}
	if _, got, _ := scanAll(t, b, 0); len(got) != 50 {
		t.Fatalf("Scan after Sync returned %d points", len(got))
	}
}

// holdMark keeps the sync loop of buffers opened from now on from writing
// the durable mark of the last group commit while appends pause, so that a
// copy of the directory looks like a crash right after the last Append
// returned: the newest records are durable, but nothing on disk says so yet.
func holdMark(t *testing.T) {
	old := markDelay
	markDelay = time.Hour
	t.Cleanup(func() { markDelay = old })
}

// headerMark reads the durable mark in the header of the segment file at path.
func headerMark(t *testing.T, path string) Offset {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	h, err := parseSegHeader(data)
	if err != nil || !h.hasMark {
		t.Fatalf("header of %s: %+v, %v", path, h, err)
	}
	return h.mark
}

// waitForMark waits until the newest segment's header says every point
// before want is durable.
func waitForMark(t *testing.T, dir string, want Offset) {
	t.Helper()
	ctx := readTimeout(t)
	for {
		segs := segFiles(t, dir)
		if headerMark(t, segs[len(segs)-1]) >= want {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the durable mark never reached %d", want)
		case <-time.After(time.Millisecond):
		}
	}
}

func TestDiskBufferTornTail(t *testing.T) {
	holdMark(t)
	dir := t.TempDir()
	t0 := time.Now()
	b := openDisk(t, DiskConfig{Dir: dir})
	for i := range 10 {
		mustAppend(t, b, testPoints(i*100, 100, t0))
	}
	crashed := copyDir(t, dir) // a crash now: the last segment is not sealed
	segs := segFiles(t, crashed)
	last := segs[len(segs)-1]
	data, err := os.ReadFile(last)
	if err != nil {
		t.Fatal(err)
	}

	// The segment is preallocated: its records end before the file does.
	res, err := scanSegment(last)
	if err != nil || res.bad != nil || res.meta.count != 1000 {
		t.Fatalf("scan of the crashed segment: %+v, %v", res, err)
	}
	end := int(res.end)
	for _, tc := range []struct {
		name    string
		tear    func([]byte) []byte
		want    int // points expected back
		wantCut bool
	}{
		{"half a record", func(d []byte) []byte { return d[:end-40] }, 900, true},
		{"half a frame header", func(d []byte) []byte {
			copy(d[end:], []byte{0x10, 0, 0})
			return d
		}, 1000, true},
		{"zeros after the records", func(d []byte) []byte { return d }, 1000, false},
		{"nothing after the records", func(d []byte) []byte { return d[:end] }, 1000, false},
		{"a record with a bad checksum", func(d []byte) []byte {
			d[end-5] ^= 0xFF
			return d
		}, 900, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := copyDir(t, crashed)
			torn := tc.tear(slices.Clone(data))
			if err := os.WriteFile(filepath.Join(dir, filepath.Base(last)), torn, 0o644); err != nil {
				t.Fatal(err)
			}
			b := openDisk(t, DiskConfig{Dir: dir})
			st := b.Stats()
			if st.Next != Offset(tc.want) || len(st.Quarantined) != 0 {
				t.Fatalf("after recovery: %+v", st)
			}
			if tc.wantCut != (st.Truncated > 0) || st.Truncated > 1000 {
				t.Fatalf("Truncated = %d", st.Truncated)
			}
			_, got, _ := scanAll(t, b, 0)
			if len(got) != tc.want {
				t.Fatalf("got %d points, want %d", len(got), tc.want)
			}
			checkValues(t, got, 0)
			if off := mustAppend(t, b, testPoints(tc.want, 5, t0)); off != Offset(tc.want) {
				t.Fatalf("Append after recovery at %d, want %d", off, tc.want)
			}
		})
	}
}

func TestDiskBufferCorruptSegment(t *testing.T) {
	t0 := time.Now()
	build := func(t *testing.T) (string, []string) {
		dir := t.TempDir()
		b := openDisk(t, DiskConfig{Dir: dir, SegmentBytes: 1})
		for i := range 3 {
			mustAppend(t, b, testPoints(i*100, 100, t0))
		}
		if err := b.Close(); err != nil {
			t.Fatal(err)
		}
		return dir, segFiles(t, dir)
	}

	t.Run("record", func(t *testing.T) {
		dir, segs := build(t)
		mid := segs[1]
		data, _ := os.ReadFile(mid)
		data[segHeaderSize+frameHeaderSize+20] ^= 0x55
		os.WriteFile(mid, data, 0o644)

		var events []DropEvent
		var mu sync.Mutex
		b := openDisk(t, DiskConfig{Dir: dir, OnDrop: func(e DropEvent) {
			mu.Lock()
			events = append(events, e)
			mu.Unlock()
		}})
		ctx := readTimeout(t)
		batch, err := b.Read(ctx, "historian", 1000)
		if err != nil || batch.First != 0 || len(batch.Points) != 100 {
			t.Fatalf("first Read: First %d, %d points, %v", batch.First, len(batch.Points), err)
		}
		b.Commit(ctx, "historian", batch.Next())
		_, err = b.Read(ctx, "historian", 1000)
		var ce *CorruptError
		if !errors.As(err, &ce) || !errors.Is(err, ErrCorrupt) {
			t.Fatalf("Read of the corrupt segment: %v, want a *CorruptError", err)
		}
		if ce.File != mid || ce.Offset != segHeaderSize || !strings.Contains(ce.Reason, "checksum") || ce.Quarantine == "" {
			t.Fatalf("CorruptError = %+v, want file %s at byte %d", ce, mid, segHeaderSize)
		}
		if !strings.Contains(err.Error(), mid) {
			t.Fatalf("error %q does not name the file", err)
		}
		if _, err := os.Stat(filepath.Join(dir, ce.Quarantine)); err != nil {
			t.Fatalf("quarantined file: %v", err)
		}
		if _, err := os.Stat(mid); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("corrupt segment still in place: %v", err)
		}
		batch, err = b.Read(ctx, "historian", 1000)
		if err != nil || batch.First != 200 || batch.Missed != 100 || len(batch.Points) != 100 {
			t.Fatalf("Read after quarantine: First %d, Missed %d, %d points, %v", batch.First, batch.Missed, len(batch.Points), err)
		}
		checkValues(t, batch.Points, 200)
		st := b.Stats()
		if st.Dropped.Corrupt != 100 || len(st.Quarantined) != 1 || st.Points != 200 {
			t.Fatalf("Stats after quarantine: %+v", st)
		}
		mu.Lock()
		if len(events) != 1 || events[0].Reason != DropCorrupt || events[0].From != 100 || events[0].To != 200 || !errors.Is(events[0].Err, ErrCorrupt) {
			t.Fatalf("drop events: %+v", events)
		}
		mu.Unlock()

		// Scan reads around the gap too, and a reopen does not bring it back.
		b.Close()
		b = openDisk(t, DiskConfig{Dir: dir})
		_, got, missed := scanAll(t, b, 0)
		if len(got) != 200 || missed != 100 {
			t.Fatalf("Scan after reopen: %d points, %d missed", len(got), missed)
		}
		checkValues(t, got[:100], 0)
		checkValues(t, got[100:], 200)
	})

	t.Run("scan", func(t *testing.T) {
		dir, segs := build(t)
		data, _ := os.ReadFile(segs[1])
		data[len(data)-trailerSize-3] ^= 0x01
		os.WriteFile(segs[1], data, 0o644)
		b := openDisk(t, DiskConfig{Dir: dir})
		var got []scada.Point
		var errs []error
		for batch, err := range b.Scan(context.Background(), 0) {
			if err != nil {
				errs = append(errs, err)
				continue
			}
			got = append(got, batch.Points...)
		}
		if len(errs) != 1 || !errors.Is(errs[0], ErrCorrupt) || len(got) != 200 {
			t.Fatalf("Scan: %d points, errors %v", len(got), errs)
		}
	})

	t.Run("header", func(t *testing.T) {
		dir, segs := build(t)
		data, _ := os.ReadFile(segs[1])
		copy(data, "JUNK")
		os.WriteFile(segs[1], data, 0o644)
		var events []DropEvent
		b := openDisk(t, DiskConfig{Dir: dir, OnDrop: func(e DropEvent) { events = append(events, e) }})
		st := b.Stats()
		if len(st.Quarantined) != 1 || st.Dropped.Corrupt != 100 || len(events) != 1 {
			t.Fatalf("after opening with a bad header: %+v, events %+v", st, events)
		}
		var ce *CorruptError
		if !errors.As(events[0].Err, &ce) || ce.File != segs[1] || ce.Offset != 0 {
			t.Fatalf("event error %v", events[0].Err)
		}
		_, got, missed := scanAll(t, b, 0)
		if len(got) != 200 || missed != 100 {
			t.Fatalf("Scan: %d points, %d missed", len(got), missed)
		}
	})
}

func TestDiskBufferRetentionAcrossReopen(t *testing.T) {
	dir := t.TempDir()
	clock := newFakeClock()
	b := openDisk(t, DiskConfig{Dir: dir, SegmentBytes: 1, Now: clock.Now})
	mustAppend(t, b, testPoints(0, 10, clock.Now()))
	clock.Advance(12 * time.Hour)
	mustAppend(t, b, testPoints(10, 10, clock.Now()))
	b.Close()
	clock.Advance(13 * time.Hour)
	var events []DropEvent
	b = openDisk(t, DiskConfig{Dir: dir, SegmentBytes: 1, Now: clock.Now, OnDrop: func(e DropEvent) { events = append(events, e) }})
	st := b.Stats()
	if st.First != 10 || st.Dropped.Age != 10 || len(events) != 1 || events[0].Points != 10 {
		t.Fatalf("after reopen 25 h later: %+v, events %+v", st, events)
	}
	if n := len(segFiles(t, dir)); n != st.Segments {
		t.Fatalf("%d segment files on disk, Stats says %d", n, st.Segments)
	}
}

// TestDiskBufferCursorBeyondRecoveredEnd: a cursor past the end of what the
// segments hold (here: a cursor log from a run whose last segments are gone)
// proves those offsets were given out. The log goes on after it, so the
// consumer never reads new points under offsets it committed, and the points
// nothing holds are reported missing, once.
func TestDiskBufferCursorBeyondRecoveredEnd(t *testing.T) {
	dir := t.TempDir()
	b := openDisk(t, DiskConfig{Dir: dir})
	mustAppend(t, b, testPoints(0, 10, time.Now()))
	b.Close()
	os.WriteFile(filepath.Join(dir, cursorFile), appendCursorRecord(nil, "x", 500), 0o644)
	var events []DropEvent
	b = openDisk(t, DiskConfig{Dir: dir, OnDrop: func(e DropEvent) { events = append(events, e) }})
	st := b.Stats()
	if cs := st.Consumers; len(cs) != 1 || cs[0].Cursor != 500 || st.Next != 500 {
		t.Fatalf("consumers %+v, Next %d; want x at 500 and the log going on from there", cs, st.Next)
	}
	if len(events) != 1 || events[0].Reason != DropMissing || events[0].From != 10 || events[0].To != 500 || st.Dropped.Missing != 490 {
		t.Fatalf("drop events %+v, Dropped %+v", events, st.Dropped)
	}
	if off := mustAppend(t, b, testPoints(500, 3, time.Now())); off != 500 {
		t.Fatalf("Append at %d, want 500", off)
	}
	batch, err := b.Read(readTimeout(t), "x", 10)
	if err != nil || batch.First != 500 || len(batch.Points) != 3 || batch.Missed != 0 {
		t.Fatalf("x reads First %d, %d points, Missed %d, %v", batch.First, len(batch.Points), batch.Missed, err)
	}
	b.Close()
	events = nil
	b = openDisk(t, DiskConfig{Dir: dir, OnDrop: func(e DropEvent) { events = append(events, e) }})
	if len(events) != 0 || b.Stats().Next != 503 {
		t.Fatalf("second reopen: events %+v, Next %d", events, b.Stats().Next)
	}
}

func TestDiskBufferConfigValidate(t *testing.T) {
	err := DiskConfig{SegmentBytes: 100, MaxBytes: 150, Sync: 7, SyncInterval: -1, MaxPending: -1}.Validate()
	for _, want := range []string{"Dir", "SegmentBytes", "Sync", "SyncInterval", "MaxPending"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate error %v does not mention %s", err, want)
		}
	}
	if _, err := OpenDisk(DiskConfig{}); err == nil {
		t.Error("OpenDisk without Dir succeeded")
	}
	if err := (DiskConfig{Dir: "x"}).Validate(); err != nil {
		t.Errorf("minimal config: %v", err)
	}
}

// realisticPoints generates what a plant looks like to the buffer: tags
// sampled every second in the same order each scan, values that move smoothly
// at the resolution of the instrument (two decimals), mostly Good quality.
type plantSim struct {
	tags    []string
	units   []string
	vals    []float64
	t       time.Time
	i       int
	scratch []scada.Point
}

func newPlantSim(tags int) *plantSim {
	s := &plantSim{t: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)}
	units := []string{"degC", "kPa", "kg/h", "%", "kW"}
	for i := range tags {
		s.tags = append(s.tags, "plant1.area"+string(rune('A'+i%8))+".tag"+itoa(i))
		s.units = append(s.units, units[i%len(units)])
		s.vals = append(s.vals, float64(50+i%400))
	}
	return s
}

func itoa(i int) string {
	const digits = "0123456789"
	if i < 10 {
		return digits[i : i+1]
	}
	return itoa(i/10) + digits[i%10:i%10+1]
}

// next returns the next n points (reusing its slice).
func (s *plantSim) next(n int) []scada.Point {
	s.scratch = s.scratch[:0]
	for range n {
		k := s.i % len(s.tags)
		if k == 0 && s.i > 0 {
			s.t = s.t.Add(time.Second)
		}
		// A smooth wander: a slow sine plus a small drift, at 0.01 resolution.
		step := 0.05*math.Sin(float64(s.i)/977) + 0.01*float64((s.i*7919)%5-2)
		s.vals[k] = math.Round((s.vals[k]+step)*100) / 100
		q := scada.Good
		if s.i%5000 == 0 {
			q = scada.UncertainLastUsableValue
		}
		s.scratch = append(s.scratch, scada.Point{Tag: s.tags[k], Value: s.vals[k], Unit: s.units[k], Quality: q, Time: s.t, Source: "opcua-1"})
		s.i++
	}
	return s.scratch
}

func TestDiskBufferCompactOnRealisticData(t *testing.T) {
	dir := t.TempDir()
	b := openDisk(t, DiskConfig{Dir: dir})
	sim := newPlantSim(1000)
	var want []scada.Point
	for range 100 {
		pts := sim.next(1000)
		want = append(want, pts...)
		mustAppend(t, b, pts)
	}
	st := b.Stats()
	perPoint := float64(st.Bytes) / float64(st.Points)
	t.Logf("%d points in %d bytes: %.2f bytes a point", st.Points, st.Bytes, perPoint)
	if perPoint > 12 {
		t.Fatalf("%.2f bytes a point, the format promises at most 12 on such data", perPoint)
	}
	_, got, _ := scanAll(t, b, 0)
	if len(got) != len(want) {
		t.Fatalf("got %d points back, want %d", len(got), len(want))
	}
	for i := range want {
		if !samePoint(got[i], want[i]) {
			t.Fatalf("point %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
}

// TestDiskBufferCrashWhileStartingASegment leaves the next segment file as a
// crash during a roll can: empty, or a header followed by preallocated zeros.
func TestDiskBufferCrashWhileStartingASegment(t *testing.T) {
	for name, content := range map[string][]byte{
		"empty":       nil,
		"half header": appendSegHeader(nil, 500, [segIDLen]byte{}, 0)[:7],
		"zeros":       make([]byte, 64<<10),
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			b := openDisk(t, DiskConfig{Dir: dir})
			mustAppend(t, b, testPoints(0, 500, time.Now()))
			b.Close()
			if err := os.WriteFile(filepath.Join(dir, segName(500)), content, 0o644); err != nil {
				t.Fatal(err)
			}
			b = openDisk(t, DiskConfig{Dir: dir})
			st := b.Stats()
			if st.Next != 500 || st.Truncated != 0 || len(st.Quarantined) != 0 || st.Dropped.Total() != 0 {
				t.Fatalf("after reopen: %+v", st)
			}
			if off := mustAppend(t, b, testPoints(500, 10, time.Now())); off != 500 {
				t.Fatalf("Append at %d, want 500", off)
			}
			_, got, _ := scanAll(t, b, 0)
			checkValues(t, got, 0)
			if len(got) != 510 {
				t.Fatalf("%d points, want 510", len(got))
			}
		})
	}
}

// TestDiskBufferWriteFailureIsSticky breaks the active segment's file under
// the buffer, as a failing disk would: the Append in flight and every later
// one fail with the I/O error, nothing is reported durable that is not, and a
// reopen recovers every point appended before.
func TestDiskBufferWriteFailureIsSticky(t *testing.T) {
	dir := t.TempDir()
	b := openDisk(t, DiskConfig{Dir: dir})
	ctx := readTimeout(t)
	mustAppend(t, b, testPoints(0, 100, time.Now()))
	// The sync loop is idle: Append returned after its round.
	for _, sf := range b.files {
		sf.f.Close()
	}
	_, err := b.Append(ctx, testPoints(100, 100, time.Now()))
	if !errors.Is(err, os.ErrClosed) {
		t.Fatalf("Append on a broken file: %v, want the I/O error", err)
	}
	if _, err2 := b.Append(ctx, testPoints(100, 1, time.Now())); err2 == nil || err2.Error() != err.Error() {
		t.Fatalf("second Append: %v, want %v again", err2, err)
	}
	if err := b.Commit(ctx, "c", 50); err == nil {
		t.Fatal("Commit after the failure succeeded")
	}
	if st := b.Stats(); st.Durable != 100 {
		t.Fatalf("Durable %d after the failure, want 100", st.Durable)
	}
	if err := b.Close(); err == nil {
		t.Fatal("Close did not report the failure")
	}
	b = openDisk(t, DiskConfig{Dir: dir})
	_, got, _ := scanAll(t, b, 0)
	if len(got) != 100 {
		t.Fatalf("%d points after reopen, want 100", len(got))
	}
	checkValues(t, got, 0)
}

// recorder collects DropEvents.
type recorder struct {
	mu     sync.Mutex
	events []DropEvent
}

func (r *recorder) onDrop(e DropEvent) {
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
}

func (r *recorder) take() []DropEvent {
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.events
	r.events = nil
	return e
}

// TestDiskBufferNewestSegmentDamagedAfterClose: one flipped byte in the
// newest segment after a clean Close with every point acknowledged is damage
// to durable records, not a torn tail: the segment is quarantined (the file
// kept aside as evidence), the records before the damage stay readable, the
// rest is reported once as DropCorrupt, nothing is truncated, and the log
// goes on where it ended, so a consumer that had committed the end reads only
// new points under new offsets.
func TestDiskBufferNewestSegmentDamagedAfterClose(t *testing.T) {
	dir := t.TempDir()
	ctx := readTimeout(t)
	b := openDisk(t, DiskConfig{Dir: dir})
	t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	for i := range 20 {
		mustAppend(t, b, testPoints(i*100, 100, t0))
	}
	if err := b.Commit(ctx, "all", 2000); err != nil {
		t.Fatal(err)
	}
	if err := b.Commit(ctx, "half", 1000); err != nil {
		t.Fatal(err)
	}
	b.Close()
	segs := segFiles(t, dir)
	if len(segs) != 1 {
		t.Fatalf("segments %v, want one", segs)
	}
	// Find the 13th record (points 1200..1299) and flip a byte in it.
	res, err := scanSegment(segs[0])
	if err != nil || res.bad != nil || !res.sealed || res.meta.count != 2000 {
		t.Fatalf("scan: %+v, %v", res, err)
	}
	sr, err := openSegReader(segs[0])
	if err != nil {
		t.Fatal(err)
	}
	for range 12 {
		if ok, err := sr.nextRecord(res.end); !ok || err != nil {
			t.Fatal(ok, err)
		}
	}
	at := sr.pos
	sr.close()
	data, _ := os.ReadFile(segs[0])
	data[at+frameHeaderSize+30] ^= 0x10
	os.WriteFile(segs[0], data, 0o644)

	var rec recorder
	b = openDisk(t, DiskConfig{Dir: dir, OnDrop: rec.onDrop})
	st := b.Stats()
	events := rec.take()
	if st.Next != 2000 || st.Truncated != 0 || len(st.Quarantined) != 1 || st.Dropped.Corrupt != 800 || st.Dropped.Total() != 800 {
		t.Fatalf("after reopen: %+v", st)
	}
	if len(events) != 1 || events[0].Reason != DropCorrupt || events[0].From != 1200 || events[0].To != 2000 || events[0].Points != 800 ||
		events[0].Unread["half"] != 800 || events[0].Unread["all"] != 0 {
		t.Fatalf("drop events %+v", events)
	}
	var ce *CorruptError
	if !errors.As(events[0].Err, &ce) || ce.File != segs[0] || ce.Offset != at || ce.Quarantine == "" {
		t.Fatalf("event error %v", events[0].Err)
	}
	if kept, err := os.ReadFile(filepath.Join(dir, ce.Quarantine)); err != nil || !bytes.Equal(kept, data) {
		t.Fatalf("the quarantined file is not the damaged segment: %v", err)
	}
	_, got, _ := scanAll(t, b, 0)
	if len(got) != 1200 {
		t.Fatalf("Scan: %d points; want the 1200 before the damage", len(got))
	}
	checkValues(t, got, 0)
	if off := mustAppend(t, b, testPoints(5000, 5, time.Now())); off != 2000 {
		t.Fatalf("Append at %d, want 2000", off)
	}
	batch, err := b.Read(ctx, "all", 100)
	if err != nil || batch.First != 2000 || batch.Missed != 0 || len(batch.Points) != 5 {
		t.Fatalf("all reads First %d, Missed %d, %d points, %v", batch.First, batch.Missed, len(batch.Points), err)
	}
	batch, err = b.Read(ctx, "half", 1000)
	if err != nil || batch.First != 1000 || len(batch.Points) != 200 {
		t.Fatalf("half reads First %d, %d points, %v", batch.First, len(batch.Points), err)
	}
	if err := b.Commit(ctx, "half", batch.Next()); err != nil {
		t.Fatal(err)
	}
	batch, err = b.Read(ctx, "half", 1000)
	if err != nil || batch.First != 2000 || batch.Missed != 800 {
		t.Fatalf("half reads on from First %d with Missed %d, %v; want 2000 and 800", batch.First, batch.Missed, err)
	}
	b.Close()
	b = openDisk(t, DiskConfig{Dir: dir, OnDrop: rec.onDrop})
	if events := rec.take(); len(events) != 0 || b.Stats().Dropped.Total() != 0 || b.Stats().Next != 2005 {
		t.Fatalf("second reopen: events %+v, %+v", events, b.Stats())
	}
}

// TestDiskBufferNewestHeaderGarbled: garbage over the header of the newest
// segment loses its points; the DropEvent says which and how many (from the
// segment's name and trailer), Next stays at the end, and a consumer that had
// committed into or past the segment is not moved back onto offsets that new
// points then reuse.
func TestDiskBufferNewestHeaderGarbled(t *testing.T) {
	dir := t.TempDir()
	ctx := readTimeout(t)
	b := openDisk(t, DiskConfig{Dir: dir, SegmentBytes: 4 << 10})
	t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC) // the same bytes, so the same segments, every run
	for i := range 30 {
		mustAppend(t, b, testPoints(i*100, 100, t0))
	}
	if err := b.Commit(ctx, "reader", 2950); err != nil {
		t.Fatal(err)
	}
	b.Close()
	// The newest segment with points (an Append that filled a segment
	// leaves an empty one after it).
	var newest string
	for _, s := range segFiles(t, dir) {
		if data, _ := os.ReadFile(s); len(bytes.TrimRight(data, "\x00")) > segHeaderSize {
			newest = s
		}
	}
	base, _ := parseSegName(filepath.Base(newest))
	if base == 0 || base >= 2950 {
		t.Fatalf("newest segment starts at %d", base)
	}
	data, _ := os.ReadFile(newest)
	copy(data, bytes.Repeat([]byte{0xa5}, segHeaderSize))
	os.WriteFile(newest, data, 0o644)

	var rec recorder
	b = openDisk(t, DiskConfig{Dir: dir, SegmentBytes: 4 << 10, OnDrop: rec.onDrop})
	st := b.Stats()
	events := rec.take()
	lost := uint64(3000 - base)
	if len(events) != 1 || events[0].Reason != DropCorrupt || events[0].From != base || events[0].To != 3000 || events[0].Points != lost ||
		events[0].Unread["reader"] != 50 {
		t.Fatalf("drop events %+v", events)
	}
	if st.Next != 3000 || st.Dropped.Corrupt != lost || len(st.Quarantined) != 1 {
		t.Fatalf("after reopen: %+v", st)
	}
	if cs := st.Consumers; len(cs) != 1 || cs[0].Cursor != 2950 {
		t.Fatalf("consumers %+v: the reader was moved", cs)
	}
	if off := mustAppend(t, b, testPoints(7000, 10, t0)); off != 3000 {
		t.Fatalf("Append at %d, want 3000", off)
	}
	batch, err := b.Read(ctx, "reader", 100)
	if err != nil || batch.First != 3000 || batch.Missed != 50 || len(batch.Points) != 10 {
		t.Fatalf("reader reads First %d, Missed %d, %d points, %v", batch.First, batch.Missed, len(batch.Points), err)
	}
	checkValues(t, batch.Points, 7000)
}

// TestDiskBufferCrashThenDamage: after a crash (the newest segment not
// sealed), damage to records the durable mark covers is corruption, not a
// torn tail; damage past the mark is a torn tail.
func TestDiskBufferCrashThenDamage(t *testing.T) {
	dir := t.TempDir()
	b := openDisk(t, DiskConfig{Dir: dir})
	for i := range 10 {
		mustAppend(t, b, testPoints(i*100, 100, time.Now()))
	}
	waitForMark(t, dir, 1000) // appends paused: the idle round wrote the mark
	crashed := copyDir(t, dir)
	segs := segFiles(t, crashed)
	last := segs[len(segs)-1]
	res, err := scanSegment(last)
	if err != nil || res.bad != nil || res.sealed || res.meta.count != 1000 {
		t.Fatalf("scan of the crashed segment: %+v, %v", res, err)
	}
	data, _ := os.ReadFile(last)
	data[res.end-5] ^= 0xFF // in the last record, acknowledged and covered by the mark
	os.WriteFile(last, data, 0o644)
	var rec recorder
	b2 := openDisk(t, DiskConfig{Dir: crashed, OnDrop: rec.onDrop})
	st := b2.Stats()
	events := rec.take()
	if st.Truncated != 0 || st.Next != 1000 || len(st.Quarantined) != 1 || st.Dropped.Corrupt != 100 ||
		len(events) != 1 || events[0].From != 900 || events[0].To != 1000 {
		t.Fatalf("damage under the mark: %+v, events %+v", st, events)
	}
	_, got, _ := scanAll(t, b2, 0)
	if len(got) != 900 {
		t.Fatalf("%d points kept, want 900", len(got))
	}
	checkValues(t, got, 0)
}

// TestDiskBufferDamageReportedOnce: each loss is reported on the open that
// finds it and never again, also when the cursor log (whose state record
// lists what was reported) is lost afterwards; a deleted oldest segment is
// told from retention; the identity survives its file.
func TestDiskBufferDamageReportedOnce(t *testing.T) {
	dir := t.TempDir()
	ctx := readTimeout(t)
	var rec recorder
	cfg := DiskConfig{Dir: dir, SegmentBytes: 1, OnDrop: rec.onDrop}
	b := openDisk(t, cfg)
	for i := range 6 {
		mustAppend(t, b, testPoints(i*10, 10, time.Now()))
	}
	if err := b.Commit(ctx, "c", 25); err != nil {
		t.Fatal(err)
	}
	id := b.ID()
	b.Close()
	segs := segFiles(t, dir)
	os.Remove(segs[0]) // the oldest: not retention
	os.Remove(segs[2])
	os.Remove(filepath.Join(dir, idFile))

	b = openDisk(t, cfg)
	st := b.Stats()
	events := rec.take()
	if len(events) != 2 || events[0].Reason != DropMissing || events[0].From != 0 || events[0].To != 10 ||
		events[1].Reason != DropMissing || events[1].From != 20 || events[1].To != 30 || events[1].Unread["c"] != 5 {
		t.Fatalf("drop events %+v", events)
	}
	if st.Dropped.Missing != 20 || st.Faults.IDFile != 1 || b.ID() != id {
		t.Fatalf("after reopen: Dropped %+v, Faults %+v, ID %s (was %s)", st.Dropped, st.Faults, b.ID(), id)
	}
	b.Close()
	if got, err := os.ReadFile(filepath.Join(dir, idFile)); err != nil || strings.TrimSpace(string(got)) != id {
		t.Fatalf("identity file after the restore: %q, %v", got, err)
	}

	os.Remove(filepath.Join(dir, cursorFile))
	b = openDisk(t, cfg)
	st = b.Stats()
	if events := rec.take(); len(events) != 0 || st.Dropped.Total() != 0 || st.Faults.CursorLog != 1 || st.Faults.IDFile != 0 {
		t.Fatalf("after losing the cursor log: events %+v, %+v", events, st)
	}
	b.Close()
	b = openDisk(t, cfg)
	if events, st := rec.take(), b.Stats(); len(events) != 0 || st.Dropped.Total() != 0 || st.Faults != (Faults{}) || st.Next != 60 {
		t.Fatalf("third open: events %+v, %+v", events, st)
	}
}

// TestDiskBufferForeignSegment: a segment of another buffer in this one's
// directory is quarantined; its offsets in this log are reported lost.
func TestDiskBufferForeignSegment(t *testing.T) {
	mine, theirs := t.TempDir(), t.TempDir()
	for _, dir := range []string{mine, theirs} {
		b := openDisk(t, DiskConfig{Dir: dir, SegmentBytes: 1})
		for i := range 3 {
			mustAppend(t, b, testPoints(i*10, 10, time.Now()))
		}
		b.Close()
	}
	data, err := os.ReadFile(segFiles(t, theirs)[1])
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(segFiles(t, mine)[1], data, 0o644)
	var rec recorder
	b := openDisk(t, DiskConfig{Dir: mine, OnDrop: rec.onDrop})
	events := rec.take()
	if len(events) != 1 || events[0].Reason != DropCorrupt || events[0].From != 10 || events[0].To != 20 ||
		!strings.Contains(events[0].Err.Error(), "another buffer") {
		t.Fatalf("drop events %+v", events)
	}
	_, got, _ := scanAll(t, b, 0)
	if len(got) != 20 {
		t.Fatalf("%d points, want 20", len(got))
	}
	checkValues(t, got[:10], 0)
	checkValues(t, got[10:], 20)
}
