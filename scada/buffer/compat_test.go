package buffer

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/greenlang/gl001/scada"
)

// compatPoints returns the points stored in testdata/v1: n points numbered
// from seq, with a few qualities, units and sources.
func compatPoints(seq, n int) []scada.Point {
	t0 := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	quals := []scada.Quality{scada.Good, scada.GoodClamped, scada.UncertainLastUsableValue, scada.BadSensorFailure}
	pts := make([]scada.Point, n)
	for i := range pts {
		k := seq + i
		pts[i] = scada.Point{
			Tag:     fmt.Sprintf("boiler%d.t%d", k%3, k%11),
			Value:   float64(k)/4 + 20,
			Unit:    []string{"degC", "kPa", ""}[k%3],
			Quality: quals[(k/17)%len(quals)],
			Time:    t0.Add(time.Duration(k) * 250 * time.Millisecond),
			Source:  []string{"opcua-1", "modbus-2"}[k%2],
		}
	}
	return pts
}

// TestDiskBufferReadsVersion1 opens a directory written by the format
// version 1 (before scores: 16-byte headers, no durable mark, no state
// record in the cursor log), kept in testdata/v1 as that code wrote it: the
// points, the cursor and the ID are all there, new points go to version 2
// segments after them, and nothing is reported dropped or damaged.
func TestDiskBufferReadsVersion1(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join("testdata", "v1")
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	idb, _ := os.ReadFile(filepath.Join(src, idFile))
	var events []DropEvent
	onDrop := func(e DropEvent) { events = append(events, e) }
	b := openDisk(t, DiskConfig{Dir: dir, MaxAge: -1, OnDrop: onDrop})
	st := b.Stats()
	if st.Next != 900 || st.Points != 900 || st.Dropped.Total() != 0 || st.Faults != (Faults{}) || len(st.Quarantined) != 0 || len(events) != 0 {
		t.Fatalf("after opening version 1: %+v, events %+v", st, events)
	}
	if b.ID() != strings.TrimSpace(string(idb)) {
		t.Fatalf("ID %s, the file says %s", b.ID(), idb)
	}
	want := compatPoints(0, 900)
	_, got, _ := scanAll(t, b, 0)
	if len(got) != len(want) {
		t.Fatalf("%d points, want %d", len(got), len(want))
	}
	for i := range want {
		if !samePoint(got[i], want[i]) {
			t.Fatalf("point %d: %+v, want %+v", i, got[i], want[i])
		}
	}
	ctx := readTimeout(t)
	batch, err := b.Read(ctx, "historian", 1000)
	if err != nil || batch.First != 400 || len(batch.Points) != 500 {
		t.Fatalf("historian resumes at %d with %d points (%v), want 400 and 500", batch.First, len(batch.Points), err)
	}
	more := compatPoints(900, 100)
	for i := range more {
		more[i].Score, more[i].Scored, more[i].Reasons = uint8(i), true, scada.Reason(i)
	}
	if off := mustAppend(t, b, more); off != 900 {
		t.Fatalf("Append at %d, want 900", off)
	}
	b.Close()
	b = openDisk(t, DiskConfig{Dir: dir, MaxAge: -1, OnDrop: onDrop})
	_, got, _ = scanAll(t, b, 0)
	want = append(want, more...)
	if len(got) != len(want) || len(events) != 0 {
		t.Fatalf("after reopen: %d points, want %d; events %+v", len(got), len(want), events)
	}
	for i := range want {
		if !samePoint(got[i], want[i]) {
			t.Fatalf("point %d: %+v, want %+v", i, got[i], want[i])
		}
	}
}
