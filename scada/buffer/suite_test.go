package buffer

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/greenlang/gl001/scada"
)

// The conformance suite every Buffer implementation passes.

// suiteConfig is what the suite asks of a Buffer; each implementation maps it
// onto its own configuration so that retention works record by record (one
// Append, one unit of retention) in both.
type suiteConfig struct {
	MaxAge   time.Duration
	MaxBytes int64
	Now      func() time.Time
	OnDrop   func(DropEvent)
}

type newBufferFunc func(t *testing.T, cfg suiteConfig) Buffer

// fakeClock is a settable clock for retention and Recent.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// testPoints returns n points numbered from seq: Value is the number, so order
// and uniqueness can be checked.
func testPoints(seq, n int, t0 time.Time) []scada.Point {
	pts := make([]scada.Point, n)
	for i := range pts {
		k := seq + i
		pts[i] = scada.Point{
			Tag:     fmt.Sprintf("plant.tag%d", k%7),
			Value:   float64(k),
			Unit:    "degC",
			Quality: scada.Good,
			Time:    t0.Add(time.Duration(k) * time.Second),
			Source:  "boiler1",
		}
	}
	return pts
}

func samePoint(a, b scada.Point) bool {
	return a.Tag == b.Tag && math.Float64bits(a.Value) == math.Float64bits(b.Value) &&
		a.Unit == b.Unit && a.Quality == b.Quality && a.Time.Equal(b.Time) && a.Source == b.Source
}

func mustAppend(t *testing.T, b Buffer, pts []scada.Point) Offset {
	t.Helper()
	off, err := b.Append(context.Background(), pts)
	if err != nil {
		t.Fatalf("Append: %v", err)
	}
	return off
}

// scanAll collects every point Scan yields from offset from.
func scanAll(t *testing.T, b Buffer, from Offset) (first Offset, pts []scada.Point, missed uint64) {
	t.Helper()
	first = math.MaxUint64
	next := Offset(math.MaxUint64)
	for batch, err := range b.Scan(context.Background(), from) {
		if err != nil {
			t.Fatalf("Scan: %v", err)
		}
		if first == math.MaxUint64 {
			first = batch.First
		} else if batch.First != next+Offset(batch.Missed) {
			t.Fatalf("Scan batch starts at %d, want %d (+%d missed)", batch.First, next, batch.Missed)
		}
		missed += batch.Missed
		next = batch.Next()
		pts = append(pts, batch.Points...)
	}
	return first, pts, missed
}

func checkValues(t *testing.T, pts []scada.Point, from int) {
	t.Helper()
	for i, p := range pts {
		if p.Value != float64(from+i) {
			t.Fatalf("point %d has value %v, want %d", i, p.Value, from+i)
		}
	}
}

func readTimeout(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func testBuffer(t *testing.T, newBuf newBufferFunc) {
	t0 := time.Date(2026, 3, 1, 11, 0, 0, 0, time.UTC)

	t.Run("AppendScanRoundTrip", func(t *testing.T) {
		b := newBuf(t, suiteConfig{})
		want := testPoints(0, 5000, t0)
		if off := mustAppend(t, b, want[:10]); off != 0 {
			t.Fatalf("first Append returned %d, want 0", off)
		}
		if off := mustAppend(t, b, want[10:]); off != 10 {
			t.Fatalf("second Append returned %d, want 10", off)
		}
		if off := mustAppend(t, b, nil); off != 5000 {
			t.Fatalf("empty Append returned %d, want 5000", off)
		}
		first, got, missed := scanAll(t, b, 0)
		if first != 0 || missed != 0 || len(got) != len(want) {
			t.Fatalf("Scan: first %d, %d points, %d missed; want 0, %d, 0", first, len(got), missed, len(want))
		}
		for i := range want {
			if !samePoint(got[i], want[i]) {
				t.Fatalf("point %d: got %+v, want %+v", i, got[i], want[i])
			}
		}
		_, got, _ = scanAll(t, b, 4321)
		checkValues(t, got, 4321)
		if len(got) != 5000-4321 {
			t.Fatalf("Scan(4321) returned %d points, want %d", len(got), 5000-4321)
		}
		st := b.Stats()
		if st.First != 0 || st.Next != 5000 || st.Durable != 5000 || st.Points != 5000 || st.Appended != 5000 || st.Batches != 2 {
			t.Fatalf("Stats = %+v", st)
		}
	})

	t.Run("EdgeValues", func(t *testing.T) {
		b := newBuf(t, suiteConfig{})
		edge := []scada.Point{
			{Tag: "a", Value: math.NaN(), Quality: scada.BadSensorFailure, Time: t0},
			{Tag: "a", Value: math.Copysign(0, -1), Time: t0.Add(time.Nanosecond)},
			{Tag: "a", Value: math.Inf(1), Unit: "kPa", Time: t0.Add(-time.Hour)},
			{Tag: "a", Value: math.Inf(-1), Source: "s"},                                        // zero time
			{Tag: "b", Value: 1e300, Time: time.Date(1, 1, 1, 0, 0, 0, 1, time.UTC)},            // before 1678
			{Tag: "b", Value: 5e-324, Time: time.Date(9999, 12, 31, 23, 59, 59, 999, time.UTC)}, // after 2262
			{Tag: "", Value: 0.1, Quality: scada.Quality(0xFFFFFFFF), Time: t0.In(time.FixedZone("X", 3600))},
			{Tag: "c", Value: 123456.789, Unit: strings.Repeat("u", MaxStringLen), Time: t0},
			{Tag: "c", Value: 123456.78, Time: t0.Add(time.Second)},
			{Tag: "c", Value: -4.5e15, Time: t0.Add(2 * time.Second)},
			{Tag: "c", Value: math.MaxFloat64, Time: t0.Add(3 * time.Second)},
			{Tag: "a", Value: 3, Quality: scada.GoodClamped, Time: t0.Add(time.Minute)},
		}
		mustAppend(t, b, edge)
		_, got, _ := scanAll(t, b, 0)
		if len(got) != len(edge) {
			t.Fatalf("got %d points, want %d", len(got), len(edge))
		}
		for i := range edge {
			if !samePoint(got[i], edge[i]) {
				t.Errorf("point %d: got %+v, want %+v", i, got[i], edge[i])
			}
			if got[i].Time.Location() != time.UTC {
				t.Errorf("point %d: time in %v, want UTC", i, got[i].Time.Location())
			}
		}
	})

	t.Run("RejectsOverlongStrings", func(t *testing.T) {
		b := newBuf(t, suiteConfig{})
		bad := testPoints(0, 3, t0)
		bad[1].Tag = strings.Repeat("t", MaxStringLen+1)
		if _, err := b.Append(context.Background(), bad); !errors.Is(err, scada.ErrBadInput) {
			t.Fatalf("Append of an overlong tag: %v, want scada.ErrBadInput", err)
		}
		if st := b.Stats(); st.Next != 0 || st.Rejected != 1 {
			t.Fatalf("after a rejected batch: Next %d, Rejected %d", st.Next, st.Rejected)
		}
	})

	t.Run("ConsumerReadCommitResume", func(t *testing.T) {
		b := newBuf(t, suiteConfig{})
		ctx := readTimeout(t)
		mustAppend(t, b, testPoints(0, 100, t0))

		batch, err := b.Read(ctx, "historian", 30)
		if err != nil {
			t.Fatal(err)
		}
		if batch.First != 0 || len(batch.Points) != 30 || batch.Missed != 0 {
			t.Fatalf("first Read: First %d, %d points, Missed %d", batch.First, len(batch.Points), batch.Missed)
		}
		checkValues(t, batch.Points, 0)
		// Without a commit, Read returns the same points again.
		again, err := b.Read(ctx, "historian", 30)
		if err != nil || again.First != 0 || len(again.Points) != 30 {
			t.Fatalf("Read without commit: First %d, %d points, %v", again.First, len(again.Points), err)
		}
		if err := b.Commit(ctx, "historian", batch.Next()); err != nil {
			t.Fatal(err)
		}
		var got []scada.Point
		for len(got) < 70 {
			batch, err := b.Read(ctx, "historian", 25)
			if err != nil {
				t.Fatal(err)
			}
			if batch.First != Offset(30+len(got)) {
				t.Fatalf("Read at %d, want %d", batch.First, 30+len(got))
			}
			got = append(got, batch.Points...)
			if err := b.Commit(ctx, "historian", batch.Next()); err != nil {
				t.Fatal(err)
			}
		}
		checkValues(t, got, 30)

		// A second consumer has its own cursor, from the oldest point.
		other, err := b.Read(ctx, "dashboard", 1000)
		if err != nil || other.First != 0 || len(other.Points) != 100 {
			t.Fatalf("second consumer: First %d, %d points, %v", other.First, len(other.Points), err)
		}
		// Rewind.
		if err := b.Commit(ctx, "historian", 95); err != nil {
			t.Fatal(err)
		}
		batch, err = b.Read(ctx, "historian", 1000)
		if err != nil || batch.First != 95 || len(batch.Points) != 5 {
			t.Fatalf("after rewind: First %d, %d points, %v", batch.First, len(batch.Points), err)
		}
		if err := b.Commit(ctx, "historian", 101); !errors.Is(err, ErrOutOfRange) {
			t.Fatalf("Commit past the end: %v, want ErrOutOfRange", err)
		}
		if err := b.Commit(ctx, "", 1); err == nil {
			t.Fatal("Commit with an empty consumer name succeeded")
		}
		st := b.Stats()
		if len(st.Consumers) != 2 || st.Consumers[0].Name != "dashboard" || st.Consumers[0].Lag != 100 ||
			st.Consumers[1].Name != "historian" || st.Consumers[1].Cursor != 95 || st.Consumers[1].Lag != 5 {
			t.Fatalf("Stats.Consumers = %+v", st.Consumers)
		}
		if err := b.Forget(ctx, "historian"); err != nil {
			t.Fatal(err)
		}
		if err := b.Forget(ctx, "never-seen"); err != nil {
			t.Fatal(err)
		}
		if cs := b.Stats().Consumers; len(cs) != 1 || cs[0].Name != "dashboard" {
			t.Fatalf("after Forget: %+v", cs)
		}
		if batch, err := b.Read(ctx, "historian", 1000); err != nil || batch.First != 0 {
			t.Fatalf("a forgotten consumer reads from %d (%v), want 0", batch.First, err)
		}
	})

	t.Run("ReadWaitsForData", func(t *testing.T) {
		b := newBuf(t, suiteConfig{})
		ctx := readTimeout(t)
		got := make(chan Batch, 1)
		errc := make(chan error, 1)
		go func() {
			batch, err := b.Read(ctx, "late", 10)
			errc <- err
			got <- batch
		}()
		mustAppend(t, b, testPoints(0, 3, t0))
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
		if batch := <-got; batch.First != 0 || len(batch.Points) != 3 {
			t.Fatalf("woken Read: First %d, %d points", batch.First, len(batch.Points))
		}

		cctx, cancel := context.WithCancel(context.Background())
		go func() {
			_, err := b.Read(cctx, "idle", 10)
			errc <- err
		}()
		if err := b.Commit(ctx, "idle", 3); err != nil {
			t.Fatal(err)
		}
		cancel()
		if err := <-errc; !errors.Is(err, context.Canceled) {
			t.Fatalf("Read after cancel: %v, want context.Canceled", err)
		}
	})

	t.Run("ConcurrentAppenders", func(t *testing.T) {
		b := newBuf(t, suiteConfig{})
		const writers, batches, size = 4, 25, 40
		var wg sync.WaitGroup
		for w := range writers {
			wg.Go(func() {
				for i := range batches {
					pts := make([]scada.Point, size)
					for j := range pts {
						pts[j] = scada.Point{Tag: fmt.Sprintf("w%d", w), Value: float64(i*size + j), Time: t0}
					}
					if _, err := b.Append(context.Background(), pts); err != nil {
						t.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
		_, got, _ := scanAll(t, b, 0)
		if len(got) != writers*batches*size {
			t.Fatalf("got %d points, want %d", len(got), writers*batches*size)
		}
		next := map[string]float64{}
		for _, p := range got {
			if p.Value != next[p.Tag] {
				t.Fatalf("writer %s: value %v, want %v: lost, duplicated or reordered", p.Tag, p.Value, next[p.Tag])
			}
			next[p.Tag]++
		}
	})

	t.Run("Recent", func(t *testing.T) {
		clock := newFakeClock()
		b := newBuf(t, suiteConfig{Now: clock.Now})
		now := clock.Now()
		var pts []scada.Point
		for i := range 120 { // one point a minute for two hours, oldest first
			pts = append(pts, scada.Point{Tag: "t", Value: float64(i), Time: now.Add(time.Duration(i-119) * time.Minute)})
		}
		mustAppend(t, b, pts[:60])
		mustAppend(t, b, pts[60:])
		mustAppend(t, b, []scada.Point{{Tag: "t", Value: -1}}) // no time: never recent
		var got []scada.Point
		for p, err := range b.Recent(context.Background(), time.Hour) {
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, p)
		}
		if len(got) != 61 { // minutes -60..0 inclusive
			t.Fatalf("Recent(1h) returned %d points, want 61", len(got))
		}
		checkValues(t, got, 59)
	})

	t.Run("RetentionByAge", func(t *testing.T) {
		clock := newFakeClock()
		var mu sync.Mutex
		var events []DropEvent
		b := newBuf(t, suiteConfig{Now: clock.Now, OnDrop: func(e DropEvent) {
			mu.Lock()
			events = append(events, e)
			mu.Unlock()
		}})
		ctx := readTimeout(t)
		mustAppend(t, b, testPoints(0, 10, t0))
		clock.Advance(time.Hour)
		mustAppend(t, b, testPoints(10, 10, t0))
		if err := b.Commit(ctx, "historian", 5); err != nil {
			t.Fatal(err)
		}
		if err := b.Commit(ctx, "done", 20); err != nil {
			t.Fatal(err)
		}
		clock.Advance(DefaultBufferMaxAge - 30*time.Minute) // the first batch is now 24.5 h old
		mustAppend(t, b, testPoints(20, 10, t0))

		st := b.Stats()
		if st.First != 10 || st.Dropped.Age != 10 || st.Dropped.Bytes != 0 || st.DroppedBytes <= 0 || st.Points != 20 {
			t.Fatalf("after age retention: %+v", st)
		}
		mu.Lock()
		if len(events) != 1 || events[0].Reason != DropAge || events[0].From != 0 || events[0].To != 10 || events[0].Points != 10 {
			t.Fatalf("drop events %+v", events)
		}
		if u := events[0].Unread; len(u) != 1 || u["historian"] != 5 {
			t.Fatalf("Unread = %v, want historian:5", u)
		}
		mu.Unlock()
		batch, err := b.Read(ctx, "historian", 100)
		if err != nil || batch.First != 10 || batch.Missed != 5 || len(batch.Points) != 20 {
			t.Fatalf("Read after retention: First %d, Missed %d, %d points, %v", batch.First, batch.Missed, len(batch.Points), err)
		}
		_, _, missed := scanAll(t, b, 0)
		if missed != 10 {
			t.Fatalf("Scan(0) missed %d, want 10", missed)
		}
		// Reads apply retention too, without an append.
		clock.Advance(time.Hour)
		if _, got, _ := scanAll(t, b, 0); len(got) != 10 {
			t.Fatalf("after another hour Scan returned %d points, want 10", len(got))
		}
		if st := b.Stats(); st.Dropped.Age != 20 {
			t.Fatalf("Dropped.Age = %d, want 20", st.Dropped.Age)
		}
	})

	t.Run("RetentionByBytes", func(t *testing.T) {
		var mu sync.Mutex
		var dropped uint64
		var droppedBytes int64
		const cap = 64 << 10
		b := newBuf(t, suiteConfig{MaxBytes: cap, OnDrop: func(e DropEvent) {
			mu.Lock()
			defer mu.Unlock()
			if e.Reason != DropBytes {
				t.Errorf("drop reason %v, want bytes", e.Reason)
			}
			dropped += e.Points
			droppedBytes += e.Bytes
		}})
		total := 0
		for i := 0; i < 400; i++ {
			pts := testPoints(total, 50, t0)
			for j := range pts {
				pts[j].Value += 0.123456789 // defeat the compact encoding a little
			}
			mustAppend(t, b, pts)
			total += 50
		}
		st := b.Stats()
		mu.Lock()
		defer mu.Unlock()
		if st.Dropped.Bytes == 0 || st.Dropped.Bytes != dropped || st.DroppedBytes != droppedBytes {
			t.Fatalf("Stats dropped %d points / %d bytes, hook saw %d / %d", st.Dropped.Bytes, st.DroppedBytes, dropped, droppedBytes)
		}
		if uint64(st.First) != dropped || st.Points != uint64(total)-dropped {
			t.Fatalf("First %d, Points %d after dropping %d of %d", st.First, st.Points, dropped, total)
		}
		if st.Bytes > cap {
			t.Fatalf("Bytes %d over the cap %d", st.Bytes, cap)
		}
		first, got, _ := scanAll(t, b, st.First)
		if first != st.First || uint64(len(got)) != st.Points {
			t.Fatalf("Scan from First: %d, %d points", first, len(got))
		}
	})

	t.Run("Close", func(t *testing.T) {
		b := newBuf(t, suiteConfig{})
		ctx := readTimeout(t)
		mustAppend(t, b, testPoints(0, 3, t0))
		if err := b.Commit(ctx, "c", 3); err != nil {
			t.Fatal(err)
		}
		errc := make(chan error, 1)
		go func() {
			_, err := b.Read(ctx, "c", 10) // waits: nothing after 3
			errc <- err
		}()
		// Whether the Read is already waiting or not, Close ends it with ErrClosed.
		if err := b.Close(); err != nil {
			t.Fatalf("first Close: %v", err)
		}
		if err := <-errc; !errors.Is(err, scada.ErrClosed) {
			t.Fatalf("Read blocked during Close: %v, want scada.ErrClosed", err)
		}
		if err := b.Close(); !errors.Is(err, scada.ErrClosed) {
			t.Fatalf("second Close: %v, want scada.ErrClosed", err)
		}
		if _, err := b.Append(ctx, testPoints(0, 1, t0)); !errors.Is(err, scada.ErrClosed) {
			t.Fatalf("Append after Close: %v", err)
		}
		if err := b.Deliver(ctx, testPoints(0, 1, t0)); !errors.Is(err, scada.ErrClosed) {
			t.Fatalf("Deliver after Close: %v", err)
		}
		if _, err := b.Read(ctx, "c", 1); !errors.Is(err, scada.ErrClosed) {
			t.Fatalf("Read after Close: %v", err)
		}
		if err := b.Commit(ctx, "c", 0); !errors.Is(err, scada.ErrClosed) {
			t.Fatalf("Commit after Close: %v", err)
		}
		if err := b.Forget(ctx, "c"); !errors.Is(err, scada.ErrClosed) {
			t.Fatalf("Forget after Close: %v", err)
		}
		for _, err := range b.Scan(ctx, 0) {
			if !errors.Is(err, scada.ErrClosed) {
				t.Fatalf("Scan after Close: %v", err)
			}
		}
		for _, err := range b.Recent(ctx, time.Hour) {
			if !errors.Is(err, scada.ErrClosed) {
				t.Fatalf("Recent after Close: %v", err)
			}
		}
	})

	t.Run("ConsumerKeepsUpWithWriter", func(t *testing.T) {
		testConsumerKeepsUp(t, newBuf(t, suiteConfig{}))
	})

	t.Run("IsASink", func(t *testing.T) {
		b := newBuf(t, suiteConfig{})
		var sink scada.Sink = b
		if err := sink.Deliver(context.Background(), testPoints(0, 7, t0)); err != nil {
			t.Fatal(err)
		}
		if _, got, _ := scanAll(t, b, 0); len(got) != 7 {
			t.Fatalf("Deliver stored %d points, want 7", len(got))
		}
	})
}

func TestMemoryBuffer(t *testing.T) {
	testBuffer(t, func(t *testing.T, cfg suiteConfig) Buffer {
		b, err := NewMemory(MemoryConfig{MaxAge: cfg.MaxAge, MaxBytes: cfg.MaxBytes, Now: cfg.Now, OnDrop: cfg.OnDrop})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { b.Close() })
		return b
	})
}

func TestDiskBuffer(t *testing.T) {
	testBuffer(t, func(t *testing.T, cfg suiteConfig) Buffer {
		b, err := OpenDisk(DiskConfig{
			Dir: t.TempDir(), MaxAge: cfg.MaxAge, MaxBytes: cfg.MaxBytes, Now: cfg.Now, OnDrop: cfg.OnDrop,
			SegmentBytes: 1, // a segment per record, so retention goes record by record
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { b.Close() })
		return b
	})
}

// testConsumerKeepsUp reads and commits while a writer appends, so reads hit
// the end of the log again and again, and checks every point arrives once, in
// order.
func testConsumerKeepsUp(t *testing.T, b Buffer) {
	ctx := readTimeout(t)
	const batches = 300
	total := 0
	sizes := make([]int, batches)
	for i := range sizes {
		sizes[i] = 1 + (i*31)%50
		total += sizes[i]
	}
	done := make(chan error, 1)
	go func() {
		seq := 0
		for _, n := range sizes {
			if _, err := b.Append(ctx, testPoints(seq, n, time.Now())); err != nil {
				done <- err
				return
			}
			seq += n
		}
		done <- nil
	}()
	var got []scada.Point
	for len(got) < total {
		batch, err := b.Read(ctx, "follower", 17)
		if err != nil {
			t.Fatal(err)
		}
		if batch.First != Offset(len(got)) || batch.Missed != 0 || len(batch.Points) == 0 || len(batch.Points) > 17 {
			t.Fatalf("Read: First %d, Missed %d, %d points; %d read so far", batch.First, batch.Missed, len(batch.Points), len(got))
		}
		got = append(got, batch.Points...)
		if err := b.Commit(ctx, "follower", batch.Next()); err != nil {
			t.Fatal(err)
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	checkValues(t, got, 0)
}
