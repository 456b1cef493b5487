package buffertest

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
	"github.com/greenlang/gl001/scada/buffer"
)

// Config is what the suite asks of a Buffer. Each implementation maps it onto
// its own configuration so that retention works batch by batch: one Append is
// one unit of retention (for a disk buffer: one segment per Append).
type Config struct {
	MaxAge   time.Duration // zero: the buffer's default
	MaxBytes int64         // zero: the buffer's default
	// EventMaxBytes caps the event log (Features.Events); zero: the
	// buffer's default. Retention of events goes batch by batch too.
	EventMaxBytes int64
	Now           func() time.Time
	OnDrop        func(buffer.DropEvent)
}

// Features says what a buffer does beyond the basic contract.
type Features struct {
	// Persistent: a buffer opened again on the same store after Close has
	// the same log: points, cursors, ID and next offset.
	Persistent bool
	// Faults lists the faults Harness.Inject can make in a closed store
	// (requires Persistent). The suite runs TestFault for each.
	Faults []Fault
	// Events: the buffer implements [buffer.EventLog]; the suite runs
	// [TestEventLog].
	Events bool
}

// Fault is damage to a closed buffer's store, as a failing disk or a careless
// operator would do it. What each means for a particular store is the
// harness's business; "a batch" is the storage unit of one Append (with
// Config's one-segment-per-Append).
type Fault int

// The faults.
const (
	// FlipNewest flips one byte inside the stored points of the newest batch.
	FlipNewest Fault = iota + 1
	// GarbleNewestHeader overwrites the header of the newest batch's unit of
	// storage with garbage.
	GarbleNewestHeader
	// DeleteBatch deletes the storage of a batch in the middle of the log.
	DeleteBatch
	// DirectoryForBatch replaces the storage of a batch in the middle of the
	// log with a directory of the same name.
	DirectoryForBatch
	// RenameBatch moves the storage of a batch in the middle of the log to
	// the name of another, later offset that no batch uses.
	RenameBatch
	// DeleteCursors deletes the stored consumer cursors.
	DeleteCursors
	// DeleteID deletes the stored identity of the log.
	DeleteID
)

// AllFaults lists every Fault.
var AllFaults = []Fault{FlipNewest, GarbleNewestHeader, DeleteBatch, DirectoryForBatch, RenameBatch, DeleteCursors, DeleteID}

// String returns the fault's name.
func (f Fault) String() string {
	switch f {
	case FlipNewest:
		return "FlipNewest"
	case GarbleNewestHeader:
		return "GarbleNewestHeader"
	case DeleteBatch:
		return "DeleteBatch"
	case DirectoryForBatch:
		return "DirectoryForBatch"
	case RenameBatch:
		return "RenameBatch"
	case DeleteCursors:
		return "DeleteCursors"
	case DeleteID:
		return "DeleteID"
	}
	return fmt.Sprintf("Fault(%d)", int(f))
}

// Harness is how the suite opens a buffer.
type Harness struct {
	// Open opens the buffer kept in store with cfg. store is a fresh empty
	// directory for each test (t.TempDir()); a Persistent buffer opened
	// again on the same store after Close has the same log. A buffer that
	// keeps nothing may ignore store. The suite closes what Open returns.
	Open func(t *testing.T, store string, cfg Config) (buffer.Buffer, error)
	// Inject makes fault f in the closed store (Features.Faults).
	Inject func(t *testing.T, store string, f Fault)
	// Features says what the buffer does beyond the basic contract.
	Features Features
}

func (h Harness) validate() error {
	var errs []error
	if h.Open == nil {
		errs = append(errs, errors.New("buffertest: Harness.Open is required"))
	}
	if len(h.Features.Faults) > 0 && (h.Inject == nil || !h.Features.Persistent) {
		errs = append(errs, errors.New("buffertest: Features.Faults needs Harness.Inject and Features.Persistent"))
	}
	return errors.Join(errs...)
}

// TestBuffer runs the suite against h. Each check is a subtest, and an
// exported function that runs it alone:
//
//   - AppendScanRoundTrip, EdgeValues, Scores: points come back unchanged,
//     at the offsets Append returned, with every field (the quality score
//     included) and times in UTC.
//   - RejectsOverlongStrings: bad input is refused, counted, stores nothing.
//   - ConsumerReadCommitResume, ReadWaitsForData, ConsumerKeepsUpWithWriter:
//     cursors, rewinds, Forget, blocking reads.
//   - ConcurrentAppenders: nothing lost, doubled or reordered.
//   - Recent, RetentionByAge, RetentionByBytes: windows and retention, with
//     every drop counted and reported with the unread points per consumer.
//   - Close, IsASink.
//   - Reopen (Features.Persistent): the log, its cursors and ID survive.
//   - Fault/NAME (Features.Faults): see [TestFault].
//   - Events* (Features.Events): the event log, see [TestEventLog].
func TestBuffer(t *testing.T, h Harness) {
	if err := h.validate(); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		fn   func(t *testing.T, h Harness)
	}{
		{"AppendScanRoundTrip", TestAppendScanRoundTrip},
		{"EdgeValues", TestEdgeValues},
		{"Scores", TestScores},
		{"RejectsOverlongStrings", TestRejectsOverlongStrings},
		{"ConsumerReadCommitResume", TestConsumerReadCommitResume},
		{"ReadWaitsForData", TestReadWaitsForData},
		{"ConcurrentAppenders", TestConcurrentAppenders},
		{"Recent", TestRecent},
		{"RetentionByAge", TestRetentionByAge},
		{"RetentionByBytes", TestRetentionByBytes},
		{"Close", TestClose},
		{"ConsumerKeepsUpWithWriter", TestConsumerKeepsUpWithWriter},
		{"IsASink", TestIsASink},
	}
	if h.Features.Persistent {
		tests = append(tests, struct {
			name string
			fn   func(t *testing.T, h Harness)
		}{"Reopen", TestReopen})
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, h) })
	}
	for _, f := range h.Features.Faults {
		t.Run("Fault/"+f.String(), func(t *testing.T) { TestFault(t, h, f) })
	}
	if h.Features.Events {
		TestEventLog(t, h)
	}
}

// open opens a buffer on a fresh store and closes it when the test ends.
func open(t *testing.T, h Harness, cfg Config) buffer.Buffer {
	t.Helper()
	return openStore(t, h, t.TempDir(), cfg)
}

func openStore(t *testing.T, h Harness, store string, cfg Config) buffer.Buffer {
	t.Helper()
	b, err := h.Open(t, store, cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// t0 is the source time the suite's points start from.
var t0 = time.Date(2026, 3, 1, 11, 0, 0, 0, time.UTC)

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
// and uniqueness can be checked. Every third point carries a quality score.
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
		if k%3 == 0 {
			pts[i].Score, pts[i].Scored, pts[i].Reasons = uint8(60+k%41), true, scada.Reason(k%5)
		}
	}
	return pts
}

// SamePoint reports whether a and b are the same point: every field equal,
// the value to the bit (NaN included) and the time to the instant.
func SamePoint(a, b scada.Point) bool {
	return a.Tag == b.Tag && math.Float64bits(a.Value) == math.Float64bits(b.Value) &&
		a.Unit == b.Unit && a.Quality == b.Quality && a.Time.Equal(b.Time) && a.Source == b.Source &&
		a.Score == b.Score && a.Scored == b.Scored && a.Reasons == b.Reasons
}

func samePoint(a, b scada.Point) bool { return SamePoint(a, b) }

func mustAppend(t *testing.T, b buffer.Buffer, pts []scada.Point) buffer.Offset {
	t.Helper()
	off, err := b.Append(context.Background(), pts)
	if err != nil {
		t.Fatalf("Append: %v", err)
	}
	return off
}

// scanAll collects every point Scan yields from offset from.
func scanAll(t *testing.T, b buffer.Buffer, from buffer.Offset) (first buffer.Offset, pts []scada.Point, missed uint64) {
	t.Helper()
	first = math.MaxUint64
	next := buffer.Offset(math.MaxUint64)
	for batch, err := range b.Scan(context.Background(), from) {
		if err != nil {
			t.Fatalf("Scan: %v", err)
		}
		if first == math.MaxUint64 {
			first = batch.First
		} else if batch.First != next+buffer.Offset(batch.Missed) {
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

// TestConsumerKeepsUp reads and commits while a writer appends to b, so that
// reads hit the end of the log again and again, and checks that every point
// arrives once, in order. b must be empty.
func TestConsumerKeepsUp(t *testing.T, b buffer.Buffer) {
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
		if batch.First != buffer.Offset(len(got)) || batch.Missed != 0 || len(batch.Points) == 0 || len(batch.Points) > 17 {
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

func TestAppendScanRoundTrip(t *testing.T, h Harness) {
	b := open(t, h, Config{})
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
}

func TestEdgeValues(t *testing.T, h Harness) {
	b := open(t, h, Config{})
	edge := []scada.Point{
		{Tag: "a", Value: math.NaN(), Quality: scada.BadSensorFailure, Time: t0},
		{Tag: "a", Value: math.Copysign(0, -1), Time: t0.Add(time.Nanosecond)},
		{Tag: "a", Value: math.Inf(1), Unit: "kPa", Time: t0.Add(-time.Hour)},
		{Tag: "a", Value: math.Inf(-1), Source: "s"},                                        // zero time
		{Tag: "b", Value: 1e300, Time: time.Date(1, 1, 1, 0, 0, 0, 1, time.UTC)},            // before 1678
		{Tag: "b", Value: 5e-324, Time: time.Date(9999, 12, 31, 23, 59, 59, 999, time.UTC)}, // after 2262
		{Tag: "", Value: 0.1, Quality: scada.Quality(0xFFFFFFFF), Time: t0.In(time.FixedZone("X", 3600))},
		{Tag: "c", Value: 123456.789, Unit: strings.Repeat("u", buffer.MaxStringLen), Time: t0},
		{Tag: "c", Value: 123456.78, Time: t0.Add(time.Second)},
		{Tag: "c", Value: -4.5e15, Time: t0.Add(2 * time.Second)},
		{Tag: "c", Value: math.MaxFloat64, Time: t0.Add(3 * time.Second)},
		{Tag: "a", Value: 3, Quality: scada.GoodClamped, Time: t0.Add(time.Minute)},
		{Tag: "a", Value: 4, Score: 100, Scored: true, Reasons: math.MaxUint16, Time: t0.Add(2 * time.Minute)},
		{Tag: "a", Value: 5, Score: 255, Reasons: 1, Time: t0.Add(3 * time.Minute)}, // not scored: kept as it is
		{Tag: "a", Value: 6, Scored: true, Quality: scada.BadSensorFailure, Time: t0.Add(4 * time.Minute)},
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
}

func TestRejectsOverlongStrings(t *testing.T, h Harness) {
	b := open(t, h, Config{})
	bad := testPoints(0, 3, t0)
	bad[1].Tag = strings.Repeat("t", buffer.MaxStringLen+1)
	if _, err := b.Append(context.Background(), bad); !errors.Is(err, scada.ErrBadInput) {
		t.Fatalf("Append of an overlong tag: %v, want scada.ErrBadInput", err)
	}
	if st := b.Stats(); st.Next != 0 || st.Rejected != 1 {
		t.Fatalf("after a rejected batch: Next %d, Rejected %d", st.Next, st.Rejected)
	}
}

func TestConsumerReadCommitResume(t *testing.T, h Harness) {
	b := open(t, h, Config{})
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
		if batch.First != buffer.Offset(30+len(got)) {
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
	if err := b.Commit(ctx, "historian", 101); !errors.Is(err, buffer.ErrOutOfRange) {
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
}

func TestReadWaitsForData(t *testing.T, h Harness) {
	b := open(t, h, Config{})
	ctx := readTimeout(t)
	got := make(chan buffer.Batch, 1)
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

	// The consumer is at the end before its Read starts, so the Read can
	// only wait; had it started first, it would have read the three points.
	if err := b.Commit(ctx, "idle", 3); err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithCancel(context.Background())
	go func() {
		_, err := b.Read(cctx, "idle", 10)
		errc <- err
	}()
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("Read after cancel: %v, want context.Canceled", err)
	}
}

func TestConcurrentAppenders(t *testing.T, h Harness) {
	b := open(t, h, Config{})
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
}

func TestRecent(t *testing.T, h Harness) {
	clock := newFakeClock()
	b := open(t, h, Config{Now: clock.Now})
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
}

func TestRetentionByAge(t *testing.T, h Harness) {
	clock := newFakeClock()
	var mu sync.Mutex
	var events []buffer.DropEvent
	b := open(t, h, Config{Now: clock.Now, OnDrop: func(e buffer.DropEvent) {
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
	clock.Advance(buffer.DefaultBufferMaxAge - 30*time.Minute) // the first batch is now 24.5 h old
	mustAppend(t, b, testPoints(20, 10, t0))

	st := b.Stats()
	if st.First != 10 || st.Dropped.Age != 10 || st.Dropped.Bytes != 0 || st.DroppedBytes <= 0 || st.Points != 20 {
		t.Fatalf("after age retention: %+v", st)
	}
	mu.Lock()
	if len(events) != 1 || events[0].Reason != buffer.DropAge || events[0].From != 0 || events[0].To != 10 || events[0].Points != 10 {
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
}

func TestRetentionByBytes(t *testing.T, h Harness) {
	var mu sync.Mutex
	var dropped uint64
	var droppedBytes int64
	const cap = 64 << 10
	b := open(t, h, Config{MaxBytes: cap, OnDrop: func(e buffer.DropEvent) {
		mu.Lock()
		defer mu.Unlock()
		if e.Reason != buffer.DropBytes {
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
}

func TestClose(t *testing.T, h Harness) {
	b := open(t, h, Config{})
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
}

func TestConsumerKeepsUpWithWriter(t *testing.T, h Harness) {
	TestConsumerKeepsUp(t, open(t, h, Config{}))
}

func TestIsASink(t *testing.T, h Harness) {
	b := open(t, h, Config{})
	var sink scada.Sink = b
	if err := sink.Deliver(context.Background(), testPoints(0, 7, t0)); err != nil {
		t.Fatal(err)
	}
	if _, got, _ := scanAll(t, b, 0); len(got) != 7 {
		t.Fatalf("Deliver stored %d points, want 7", len(got))
	}
}

// TestScores: the quality score, its Scored flag and its reasons come back
// unchanged through Scan, Read and Recent, whether they change from point to
// point, stay put, or are absent.
func TestScores(t *testing.T, h Harness) {
	clock := newFakeClock()
	b := open(t, h, Config{Now: clock.Now})
	ctx := readTimeout(t)
	now := clock.Now()
	var want []scada.Point
	for i := range 300 {
		p := scada.Point{Tag: fmt.Sprintf("t%d", i%4), Value: float64(i), Quality: scada.Good, Time: now.Add(time.Duration(i-300) * time.Second)}
		switch {
		case i < 100: // not scored
		case i < 200: // one score for a while
			p.Score, p.Scored, p.Reasons = 88, true, 0x0004
		default: // a new score every point, the reasons too
			p.Score, p.Scored, p.Reasons = uint8(i%101), true, scada.Reason(i*37)
			if i%10 == 0 {
				p.Quality = scada.UncertainLastUsableValue
			}
		}
		want = append(want, p)
	}
	mustAppend(t, b, want[:150])
	mustAppend(t, b, want[150:])
	_, got, _ := scanAll(t, b, 0)
	if len(got) != len(want) {
		t.Fatalf("Scan: %d points, want %d", len(got), len(want))
	}
	for i := range want {
		if !samePoint(got[i], want[i]) {
			t.Fatalf("Scan point %d: %+v, want %+v", i, got[i], want[i])
		}
	}
	var read []scada.Point
	for len(read) < len(want) {
		batch, err := b.Read(ctx, "c", 77)
		if err != nil {
			t.Fatal(err)
		}
		read = append(read, batch.Points...)
		if err := b.Commit(ctx, "c", batch.Next()); err != nil {
			t.Fatal(err)
		}
	}
	for i := range want {
		if !samePoint(read[i], want[i]) {
			t.Fatalf("Read point %d: %+v, want %+v", i, read[i], want[i])
		}
	}
	i := 0
	for p, err := range b.Recent(ctx, time.Hour) {
		if err != nil {
			t.Fatal(err)
		}
		if i >= len(want) || !samePoint(p, want[i]) {
			t.Fatalf("Recent point %d: %+v", i, p)
		}
		i++
	}
	if i != len(want) {
		t.Fatalf("Recent: %d points, want %d", i, len(want))
	}
}

// TestReopen (Features.Persistent): after Close, Open on the same store gives
// the same log: the points with every field, the offsets, the cursors, the
// ID; appends go on at the next offset, and opening reports no drop and no
// fault.
func TestReopen(t *testing.T, h Harness) {
	store := t.TempDir()
	ctx := readTimeout(t)
	b := openStore(t, h, store, Config{})
	var want []scada.Point
	for i := range 5 {
		pts := testPoints(i*120, 120, t0)
		want = append(want, pts...)
		mustAppend(t, b, pts)
	}
	if err := b.Commit(ctx, "historian", 250); err != nil {
		t.Fatal(err)
	}
	if err := b.Commit(ctx, "done", 600); err != nil {
		t.Fatal(err)
	}
	id := b.ID()
	if err := b.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	var events []buffer.DropEvent
	var mu sync.Mutex
	b = openStore(t, h, store, Config{OnDrop: func(e buffer.DropEvent) {
		mu.Lock()
		events = append(events, e)
		mu.Unlock()
	}})
	if b.ID() != id {
		t.Fatalf("ID %q after reopen, was %q", b.ID(), id)
	}
	st := b.Stats()
	if st.Next != 600 || st.First != 0 || st.Points != 600 || st.Dropped.Total() != 0 || st.Faults != (buffer.Faults{}) {
		t.Fatalf("Stats after reopen: %+v", st)
	}
	mu.Lock()
	if len(events) != 0 {
		t.Fatalf("drop events on a clean reopen: %+v", events)
	}
	mu.Unlock()
	_, got, missed := scanAll(t, b, 0)
	if len(got) != len(want) || missed != 0 {
		t.Fatalf("Scan after reopen: %d points, %d missed", len(got), missed)
	}
	for i := range want {
		if !samePoint(got[i], want[i]) {
			t.Fatalf("point %d after reopen: %+v, want %+v", i, got[i], want[i])
		}
	}
	cs := st.Consumers
	if len(cs) != 2 || cs[0].Name != "done" || cs[0].Cursor != 600 || cs[1].Name != "historian" || cs[1].Cursor != 250 {
		t.Fatalf("consumers after reopen: %+v", cs)
	}
	batch, err := b.Read(ctx, "historian", 1000)
	if err != nil || batch.First != 250 || len(batch.Points) != 350 {
		t.Fatalf("historian resumes: First %d, %d points, %v", batch.First, len(batch.Points), err)
	}
	if off := mustAppend(t, b, testPoints(600, 5, t0)); off != 600 {
		t.Fatalf("Append after reopen at %d, want 600", off)
	}
	batch, err = b.Read(ctx, "done", 1000)
	if err != nil || batch.First != 600 || len(batch.Points) != 5 || batch.Missed != 0 {
		t.Fatalf("done reads: First %d, Missed %d, %d points, %v", batch.First, batch.Missed, len(batch.Points), err)
	}
	checkValues(t, batch.Points, 600)
}

// faultLog is the log TestFault builds before the fault: faultBatches
// Appends of faultBatch points each.
const (
	faultBatches = 6
	faultBatch   = 50
)

// TestFault (Features.Faults) builds a log of six batches with three
// consumers (one committed at the end, one in the second batch, one never),
// closes it, has the harness make fault f in the store, opens it again and
// checks that nothing is lost silently:
//
//   - Next never moves back, and appends after the fault get offsets past
//     everything given out before: an offset never names two points.
//   - Every point before the fault is either read back (Scan) unchanged at
//     its offset, or reported exactly once in a DropEvent (DropCorrupt or
//     DropMissing) and counted in Stats.Dropped; a corruption found only when
//     the points are read is reported then.
//   - Faults that destroy points (FlipNewest, GarbleNewestHeader,
//     DeleteBatch, DirectoryForBatch) report some; DeleteCursors and
//     DeleteID lose no point and count the fault in Stats.Faults (and a lost
//     ID is restored, or the new one is counted).
//   - A cursor is never moved back onto offsets given out again: the
//     consumer committed at the end reads the new points, without a gap
//     unless the end itself was lost; the one behind sees what it lost as
//     Batch.Missed.
//   - Opening the store once more reports nothing new.
func TestFault(t *testing.T, h Harness, f Fault) {
	store := t.TempDir()
	ctx := readTimeout(t)
	clock := newFakeClock()
	b := openStore(t, h, store, Config{Now: clock.Now})
	want := make(map[buffer.Offset]scada.Point)
	for i := range faultBatches {
		pts := testPoints(i*faultBatch, faultBatch, t0)
		off := mustAppend(t, b, pts)
		for j, p := range pts {
			want[off+buffer.Offset(j)] = p
		}
	}
	end := b.Stats().Next
	if err := b.Commit(ctx, "ahead", end); err != nil {
		t.Fatal(err)
	}
	const behindAt = faultBatch + 10
	if err := b.Commit(ctx, "behind", behindAt); err != nil {
		t.Fatal(err)
	}
	id := b.ID()
	if err := b.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	h.Inject(t, store, f)

	var mu sync.Mutex
	var events []buffer.DropEvent
	collect := func(e buffer.DropEvent) {
		mu.Lock()
		events = append(events, e)
		mu.Unlock()
	}
	b = openStore(t, h, store, Config{Now: clock.Now, OnDrop: collect})
	st := b.Stats()
	if st.Next < end {
		t.Fatalf("Next moved back from %d to %d", end, st.Next)
	}

	// Read everything; a corruption found now is reported now.
	got := make(map[buffer.Offset]scada.Point)
	for batch, err := range b.Scan(ctx, 0) {
		if err != nil {
			if !errors.Is(err, buffer.ErrCorrupt) {
				t.Fatalf("Scan: %v", err)
			}
			continue
		}
		for i, p := range batch.Points {
			off := batch.First + buffer.Offset(i)
			w, ok := want[off]
			if !ok {
				t.Fatalf("Scan returned offset %d, which was never appended", off)
			}
			if !samePoint(p, w) {
				t.Fatalf("offset %d now holds %+v, was %+v", off, p, w)
			}
			got[off] = p
		}
	}
	var missing []buffer.Offset
	for off := range end {
		if _, ok := got[off]; !ok {
			missing = append(missing, off)
		}
	}
	mu.Lock()
	reported := make(map[buffer.Offset]int)
	for _, e := range events {
		if e.Reason != buffer.DropCorrupt && e.Reason != buffer.DropMissing {
			t.Errorf("drop event %+v: reason %v, want corrupt or missing", e, e.Reason)
		}
		if e.Points != uint64(e.To-e.From) {
			t.Errorf("drop event [%d, %d) says %d points", e.From, e.To, e.Points)
		}
		if e.Reason == buffer.DropCorrupt && !errors.Is(e.Err, buffer.ErrCorrupt) {
			t.Errorf("corrupt drop event without a corrupt error: %+v", e)
		}
		for off := e.From; off < e.To; off++ {
			reported[off]++
		}
	}
	mu.Unlock()
	for _, off := range missing {
		if reported[off] != 1 {
			t.Fatalf("offset %d is gone and was reported %d times; drop events %+v", off, reported[off], events)
		}
	}
	for off := range reported {
		if _, ok := got[off]; ok {
			t.Fatalf("offset %d was reported dropped but is still there", off)
		}
		if off >= end {
			t.Fatalf("offset %d was reported dropped but was never appended", off)
		}
	}
	st = b.Stats()
	if n := st.Dropped.Corrupt + st.Dropped.Missing; n != uint64(len(missing)) || st.Dropped.Total() != n {
		t.Fatalf("Stats.Dropped %+v for %d points gone", st.Dropped, len(missing))
	}
	switch f {
	case FlipNewest, GarbleNewestHeader, DeleteBatch, DirectoryForBatch:
		if len(missing) == 0 {
			t.Fatalf("%v destroyed no point: the harness did not make the fault", f)
		}
	case DeleteCursors:
		if len(missing) != 0 || st.Faults.CursorLog != 1 {
			t.Fatalf("after %v: %d points gone, Faults %+v; want none gone and the fault counted", f, len(missing), st.Faults)
		}
	case DeleteID:
		if len(missing) != 0 || st.Faults.IDFile != 1 {
			t.Fatalf("after %v: %d points gone, Faults %+v; want none gone and the fault counted", f, len(missing), st.Faults)
		}
	}
	if f != DeleteID && b.ID() != id {
		t.Fatalf("ID changed from %q to %q after %v", id, b.ID(), f)
	}

	// Cursors: never moved back, never onto offsets given out again.
	cursors := make(map[string]buffer.Offset)
	for _, c := range st.Consumers {
		cursors[c.Name] = c.Cursor
	}
	if f == DeleteCursors {
		if len(cursors) != 0 {
			t.Fatalf("cursors after they were deleted: %v", cursors)
		}
	} else if cursors["ahead"] < end || cursors["behind"] != behindAt {
		t.Fatalf("cursors after %v: %v; want ahead at %d or later, behind at %d", f, cursors, end, behindAt)
	}
	off := mustAppend(t, b, testPoints(1000, 10, t0))
	if off < end {
		t.Fatalf("Append after %v at offset %d, which was given out before (the log ended at %d)", f, off, end)
	}
	if f != DeleteCursors {
		batch, err := b.Read(ctx, "ahead", 100)
		if err != nil {
			t.Fatal(err)
		}
		if batch.First < end || batch.First != off || len(batch.Points) != 10 {
			t.Fatalf("ahead reads First %d, %d points (Missed %d); the new points are at %d", batch.First, len(batch.Points), batch.Missed, off)
		}
		checkValues(t, batch.Points, 1000)
	}
	batch, err := b.Read(ctx, "behind", 1000)
	if err != nil {
		t.Fatal(err)
	}
	start := buffer.Offset(behindAt)
	if f == DeleteCursors {
		start = 0
	}
	var lost uint64
	for o := start; o < batch.First; o++ {
		if _, ok := got[o]; ok {
			t.Fatalf("behind skipped offset %d, which is still there (Read First %d)", o, batch.First)
		}
		if o < end {
			lost++
		}
	}
	if batch.Missed != uint64(batch.First-start) || batch.Missed < lost {
		t.Fatalf("behind reads from %d with Missed %d, starting at %d", batch.First, batch.Missed, start)
	}
	for i, p := range batch.Points {
		if w, ok := want[batch.First+buffer.Offset(i)]; ok && !samePoint(p, w) {
			t.Fatalf("behind reads %+v at %d, was %+v", p, batch.First+buffer.Offset(i), w)
		}
	}
	if err := b.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	// Once more: nothing new to report.
	mu.Lock()
	events = nil
	mu.Unlock()
	b = openStore(t, h, store, Config{Now: clock.Now, OnDrop: collect})
	st = b.Stats()
	_, again, _ := scanAll(t, b, 0)
	mu.Lock()
	defer mu.Unlock()
	if len(events) != 0 || st.Dropped.Total() != 0 || st.Faults != (buffer.Faults{}) {
		t.Fatalf("second reopen after %v reports again: events %+v, Dropped %+v, Faults %+v", f, events, st.Dropped, st.Faults)
	}
	if len(again) != len(got)+10 {
		t.Fatalf("second reopen: %d points, want %d", len(again), len(got)+10)
	}
}
