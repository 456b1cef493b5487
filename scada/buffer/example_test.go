package buffer_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/greenlang/gl001/scada"
	"github.com/greenlang/gl001/scada/buffer"
)

// A disk buffer keeps points and consumer cursors across a restart: the
// historian forwarded two points, committed, and the process stopped; after
// reopening it resumes at the third.
func ExampleOpenDisk() {
	dir, err := os.MkdirTemp("", "buffer-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	ctx := context.Background()
	t0 := time.Date(2026, 6, 1, 8, 0, 0, 0, time.UTC)

	buf, err := buffer.OpenDisk(buffer.DiskConfig{Dir: dir})
	if err != nil {
		fmt.Println(err)
		return
	}
	// With the default group commit, Append returns once the points are on disk.
	first, err := buf.Append(ctx, []scada.Point{
		{Tag: "boiler1.steam_temp", Value: 181.5, Unit: "degC", Time: t0},
		{Tag: "boiler1.steam_temp", Value: 182.0, Unit: "degC", Time: t0.Add(time.Second)},
		{Tag: "boiler1.steam_temp", Value: 182.25, Unit: "degC", Time: t0.Add(2 * time.Second)},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("appended at offset", first)
	batch, err := buf.Read(ctx, "historian", 2)
	if err != nil {
		fmt.Println(err)
		return
	}
	// ... forward batch.Points to the historian, then:
	if err := buf.Commit(ctx, "historian", batch.Next()); err != nil {
		fmt.Println(err)
		return
	}
	buf.Close()

	buf, err = buffer.OpenDisk(buffer.DiskConfig{Dir: dir})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer buf.Close()
	batch, err = buf.Read(ctx, "historian", 100)
	if err != nil {
		fmt.Println(err)
		return
	}
	for i, p := range batch.Points {
		fmt.Println(batch.First+buffer.Offset(i), p.Tag, p.Value, p.Unit, p.Time.Format(time.TimeOnly))
	}
	// Output:
	// appended at offset 0
	// 2 boiler1.steam_temp 182.25 degC 08:00:02
}

// Recent answers "the last 60 minutes" by the points' source time.
func ExampleMemory_Recent() {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	buf, err := buffer.NewMemory(buffer.MemoryConfig{Now: func() time.Time { return now }})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer buf.Close()
	ctx := context.Background()
	var pts []scada.Point
	for m := 180; m >= 0; m -= 30 { // a reading every 30 minutes for 3 hours
		pts = append(pts, scada.Point{Tag: "stack.o2", Value: 3 + float64(m)/100, Unit: "%", Time: now.Add(-time.Duration(m) * time.Minute)})
	}
	if _, err := buf.Append(ctx, pts); err != nil {
		fmt.Println(err)
		return
	}
	for p, err := range buf.Recent(ctx, 60*time.Minute) {
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(p.Time.Format(time.TimeOnly), p.Tag, p.Value)
	}
	// Output:
	// 11:00:00 stack.o2 3.6
	// 11:30:00 stack.o2 3.3
	// 12:00:00 stack.o2 3
}

// Retention never drops silently: every drop is counted in Stats and reported
// to OnDrop with how many of the points each consumer had not committed.
func ExampleMemoryConfig_onDrop() {
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	buf, err := buffer.NewMemory(buffer.MemoryConfig{
		MaxAge: 24 * time.Hour,
		Now:    func() time.Time { return now },
		OnDrop: func(e buffer.DropEvent) {
			fmt.Printf("dropped %d points [%d, %d) by %s; unread: %v\n", e.Points, e.From, e.To, e.Reason, e.Unread)
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer buf.Close()
	ctx := context.Background()
	buf.Append(ctx, make([]scada.Point, 10))
	buf.Commit(ctx, "historian", 4) // the historian forwarded 4 of the 10
	now = now.Add(25 * time.Hour)   // then was away for a day
	buf.Append(ctx, make([]scada.Point, 5))

	st := buf.Stats()
	fmt.Println("retained", st.Points, "dropped by age", st.Dropped.Age)
	b, _ := buf.Read(ctx, "historian", 100)
	fmt.Println("historian reads from", b.First, "having missed", b.Missed)
	// Output:
	// dropped 10 points [0, 10) by age; unread: map[historian:6]
	// retained 5 dropped by age 10
	// historian reads from 10 having missed 6
}

// Points that disappear from a disk buffer's directory (here a segment file
// deleted by hand) are reported when the buffer opens, with their offsets,
// once: the next open is quiet. The log goes on after them.
func ExampleDiskConfig_onDrop() {
	dir, err := os.MkdirTemp("", "buffer-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	ctx := context.Background()
	cfg := buffer.DiskConfig{
		Dir:          dir,
		SegmentBytes: 1, // a segment per Append, to have one to delete
		OnDrop: func(e buffer.DropEvent) {
			fmt.Printf("dropped %d points [%d, %d): %s\n", e.Points, e.From, e.To, e.Reason)
		},
	}
	buf, err := buffer.OpenDisk(cfg)
	if err != nil {
		fmt.Println(err)
		return
	}
	for range 3 {
		buf.Append(ctx, make([]scada.Point, 10))
	}
	buf.Close()

	segs, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	sort.Strings(segs)
	os.Remove(segs[1]) // the points [10, 20)

	for range 2 {
		buf, err = buffer.OpenDisk(cfg)
		if err != nil {
			fmt.Println(err)
			return
		}
		st := buf.Stats()
		fmt.Println("opened: next offset", st.Next, "missing", st.Dropped.Missing)
		buf.Close()
	}
	// Output:
	// dropped 10 points [10, 20): missing
	// opened: next offset 30 missing 10
	// opened: next offset 30 missing 0
}
