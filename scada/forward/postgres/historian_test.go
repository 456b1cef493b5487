package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/greenlang/gl001/scada"
	"github.com/greenlang/gl001/scada/buffer"
	"github.com/greenlang/gl001/scada/forward"
	"github.com/greenlang/gl001/scada/forward/postgres"
)

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// openHistorian opens a Historian on c in a schema of the test's own,
// dropped at the end.
func openHistorian(t testing.TB, c *cluster, mod func(*postgres.Config)) (*postgres.Historian, postgres.Config) {
	t.Helper()
	cfg := postgres.Config{DSN: c.superDSN(), Schema: schemaName(t)}
	if mod != nil {
		mod(&cfg)
	}
	c.exec(t, "DROP SCHEMA IF EXISTS "+cfg.Schema+" CASCADE")
	h, err := postgres.New(testCtx(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		h.Close()
		c.exec(t, "DROP SCHEMA IF EXISTS "+cfg.Schema+" CASCADE")
	})
	return h, cfg
}

var t0 = time.Date(2026, 3, 1, 23, 0, 0, 0, time.UTC)

// genPoints returns n points over tags tags, each tag's points 1 ms apart
// in time, values unique per point, scored on every third.
func genPoints(from, n, tags int) []scada.Point {
	ps := make([]scada.Point, n)
	for i := range ps {
		k := from + i
		ps[i] = scada.Point{
			Tag: fmt.Sprintf("plant.tag%03d", k%tags), Value: float64(k) + 0.25, Unit: "degC",
			Quality: scada.Good, Time: t0.Add(time.Duration(k) * time.Millisecond), Source: "sim",
		}
		if k%3 == 0 {
			ps[i].Scored, ps[i].Score, ps[i].Reasons = true, uint8(k%101), scada.Reason(k%7)
		}
		if k%10 == 9 {
			ps[i].Quality = scada.UncertainLastUsableValue
		}
	}
	return ps
}

func collect[T any](t testing.TB, seq func(func(T, error) bool)) []T {
	t.Helper()
	var out []T
	for v, err := range seq {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, v)
	}
	return out
}

// checkStored compares what h holds between from and to with want: every
// tag's count, and every point's value, quality, score and time in order.
func checkStored(t testing.TB, h *postgres.Historian, want []scada.Point) {
	t.Helper()
	byTag := map[string][]scada.Point{}
	for _, p := range want {
		byTag[p.Tag] = append(byTag[p.Tag], p)
	}
	tags := make([]string, 0, len(byTag))
	for tag := range byTag {
		tags = append(tags, tag)
	}
	slices.Sort(tags)
	got := map[string][]postgres.Sample{}
	for s, err := range h.Raw(testCtx(t), tags, time.Unix(0, 0), time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC)) {
		if err != nil {
			t.Fatal(err)
		}
		got[s.Tag] = append(got[s.Tag], s)
	}
	total := 0
	for _, tag := range tags {
		w := byTag[tag]
		slices.SortStableFunc(w, func(a, b scada.Point) int { return a.Time.Compare(b.Time) })
		g := got[tag]
		total += len(g)
		if len(g) != len(w) {
			t.Fatalf("tag %.40q: %d points stored, want %d", tag, len(g), len(w))
		}
		for i := range w {
			if !samePoint(g[i], w[i]) {
				t.Fatalf("tag %.40q point %d: got %+v, want %+v", tag, i, g[i].Point, w[i])
			}
		}
	}
	if total != len(want) {
		t.Fatalf("%d points stored, want %d", total, len(want))
	}
}

func samePoint(g postgres.Sample, w scada.Point) bool {
	sameValue := (g.Value == w.Value && math.Signbit(g.Value) == math.Signbit(w.Value)) || (math.IsNaN(g.Value) && math.IsNaN(w.Value))
	return sameValue && g.Quality == w.Quality && g.Scored == w.Scored && (!w.Scored || g.Score == w.Score) &&
		g.Reasons == w.Reasons && g.Time.Equal(w.Time.Truncate(time.Microsecond)) &&
		(!w.Scored || g.Grade == scada.GradeOf(float64(w.Score)))
}

func TestSendDropsOverlapAndResumes(t *testing.T) {
	c := sharedCluster(t)
	h, _ := openHistorian(t, c, nil)
	ctx := testCtx(t)
	s := forward.Stream{Edge: "edge-1", Buffer: "buf-a"}

	if _, found, err := h.Resume(ctx, s); err != nil || found {
		t.Fatalf("Resume of a new stream: found %v, %v", found, err)
	}
	ps := genPoints(0, 300, 7)
	if err := h.Send(ctx, forward.Batch{Stream: s, First: 0, Points: ps[:200]}); err != nil {
		t.Fatal(err)
	}
	// A crash after commit: the same points again, then overlapping ones.
	if err := h.Send(ctx, forward.Batch{Stream: s, First: 0, Points: ps[:200]}); err != nil {
		t.Fatal(err)
	}
	if err := h.Send(ctx, forward.Batch{Stream: s, First: 150, Points: ps[150:]}); err != nil {
		t.Fatal(err)
	}
	next, found, err := h.Resume(ctx, s)
	if err != nil || !found || next != 300 {
		t.Fatalf("Resume = %d, %v, %v; want 300", next, found, err)
	}
	// Another stream's offsets are its own.
	other := forward.Stream{Edge: "edge-2", Buffer: "buf-a"}
	extra := genPoints(1000, 10, 3)
	if err := h.Send(ctx, forward.Batch{Stream: other, First: 0, Points: extra}); err != nil {
		t.Fatal(err)
	}
	checkStored(t, h, append(slices.Clone(ps), extra...))
	st := h.Stats()
	if st.Points != 310 || st.Duplicates != 250 || st.Batches != 3 || st.Failures != 0 {
		t.Fatalf("Stats = %+v", st)
	}

	// A backfill batch, older than the stored position, is refused rather
	// than taken for points already stored: the Buffer keeps it.
	late := genPoints(2000, 5, 3)
	err = h.Send(ctx, forward.Batch{Stream: s, First: 300, Points: late, Backfill: true})
	if !errors.Is(err, postgres.ErrConfig) {
		t.Fatalf("backfill batch: %v, want ErrConfig", err)
	}
	if next, _, _ := h.Resume(ctx, s); next != 300 {
		t.Fatalf("Resume after a refused backfill batch = %d, want 300", next)
	}
	checkStored(t, h, append(slices.Clone(ps), extra...))
}

func TestRoundTripOddValuesAndNames(t *testing.T) {
	c := sharedCluster(t)
	h, _ := openHistorian(t, c, nil)
	ctx := testCtx(t)
	names := []string{
		`it's "quoted"; DROP TABLE x; --`,
		"Kessel 3 Dampftemperatur °C – ßäöü 蒸汽温度 🔥",
		strings.Repeat("a", 1000),
		strings.Repeat("蒸", 1000), // 3,000 bytes: longer than a btree entry may be
		strings.Repeat("é", 999) + "x",
	}
	values := []float64{math.NaN(), math.Inf(1), math.Inf(-1), math.Copysign(0, -1), math.MaxFloat64, math.SmallestNonzeroFloat64, 1e-300}
	var ps []scada.Point
	for i, n := range names {
		for j, v := range values {
			ps = append(ps, scada.Point{Tag: n, Value: v, Unit: "m³/h", Quality: scada.Quality(0x80000000 | uint32(j)<<16),
				Time: t0.Add(time.Duration(i*100+j)*time.Second + 123456789), Source: "src 'q'",
				Scored: j%2 == 0, Score: uint8(j * 16), Reasons: scada.Reason(0xFFFF >> j)})
		}
	}
	ps = append(ps, scada.Point{Tag: "full", Quality: scada.Quality(0xFFFFFFFF), Value: 1, Time: t0, Scored: true, Score: 100, Reasons: 0xFFFF})
	if err := h.Send(ctx, forward.Batch{Stream: forward.Stream{Edge: "e", Buffer: "b"}, Points: ps}); err != nil {
		t.Fatal(err)
	}
	checkStored(t, h, ps)
	// The tag keeps the unit and source of its points.
	var found int
	for tag, err := range h.Tags(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		if slices.Contains(names, tag.Name) {
			found++
			if tag.Unit != "m³/h" || tag.Source != "src 'q'" {
				t.Fatalf("tag %.30q: unit %q source %q", tag.Name, tag.Unit, tag.Source)
			}
		}
	}
	if found != len(names) {
		t.Fatalf("Tags: %d of %d names", found, len(names))
	}
}

func TestBadTextIsSanitizedNotBlocking(t *testing.T) {
	c := sharedCluster(t)
	h, _ := openHistorian(t, c, nil)
	ctx := testCtx(t)
	ps := []scada.Point{
		{Tag: "good.before", Value: 1, Time: t0},
		{Tag: "bad\xff\xfename\x00", Value: 2, Time: t0, Unit: "k\x00W"},
		{Tag: "too.late", Value: 3, Time: time.Date(12000, 1, 1, 0, 0, 0, 0, time.UTC)},
		{Tag: "good.after", Value: 4, Time: t0},
	}
	s := forward.Stream{Edge: "e", Buffer: "b"}
	if err := h.Send(ctx, forward.Batch{Stream: s, Points: ps}); err != nil {
		t.Fatal(err)
	}
	got := collect(t, h.Raw(ctx, []string{"good.before", "bad\uFFFDname\uFFFD", "good.after", "too.late"}, t0, t0.Add(time.Second)))
	if len(got) != 3 || got[0].Value != 1 || got[1].Value != 2 || got[1].Unit != "k\uFFFDW" || got[2].Value != 4 {
		t.Fatalf("Raw = %+v", got)
	}
	if next, _, _ := h.Resume(ctx, s); next != 4 {
		t.Fatalf("Resume = %d, want 4: the rejected point must not hold the stream", next)
	}
	if st := h.Stats(); st.Sanitized != 1 || st.Rejected != 1 || st.Points != 3 {
		t.Fatalf("Stats = %+v", st)
	}
}

func TestMigrateFromVersion1AndRefuseNewer(t *testing.T) {
	c := sharedCluster(t)
	ctx := testCtx(t)
	schema := schemaName(t)
	c.exec(t, "DROP SCHEMA IF EXISTS "+schema+" CASCADE")
	t.Cleanup(func() { c.exec(t, "DROP SCHEMA IF EXISTS "+schema+" CASCADE") })
	// A database left at version 1 by an older release, with points in it.
	c.exec(t, "CREATE SCHEMA "+schema+"; CREATE TABLE "+schema+".schema_version (version integer PRIMARY KEY, applied timestamptz NOT NULL DEFAULT now());"+
		strings.ReplaceAll(postgres.Migrations[0], "{s}", schema)+"; INSERT INTO "+schema+".schema_version VALUES (1)")
	c.exec(t, "CREATE TABLE "+schema+".points_old PARTITION OF "+schema+".points FOR VALUES FROM ('2026-01-01') TO ('2026-01-02');"+
		"INSERT INTO "+schema+".tags (name) VALUES ('old.tag'); INSERT INTO "+schema+".points (tag_id, time, value, quality) VALUES (1, '2026-01-01 12:00Z', 42, 0)")
	h, err := postgres.New(ctx, postgres.Config{DSN: c.superDSN(), Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	got := collect(t, h.Raw(ctx, []string{"old.tag"}, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)))
	if len(got) != 1 || got[0].Value != 42 {
		t.Fatalf("old point after migration: %+v", got)
	}
	if _, err := h.StoreEnergy(ctx); err != nil { // the version 2 table exists
		t.Fatal(err)
	}
	h.Close()
	// New is idempotent, and refuses a schema newer than the code.
	h, err = postgres.New(ctx, postgres.Config{DSN: c.superDSN(), Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	h.Close()
	c.exec(t, "INSERT INTO "+schema+".schema_version VALUES ($1)", postgres.SchemaVersion+1)
	_, err = postgres.New(ctx, postgres.Config{DSN: c.superDSN(), Schema: schema})
	if !errors.Is(err, postgres.ErrSchema) || !strings.Contains(err.Error(), "newer") {
		t.Fatalf("New on a newer schema: %v", err)
	}
}

func TestPartitionsAndRetention(t *testing.T) {
	c := sharedCluster(t)
	h, cfg := openHistorian(t, c, nil)
	ctx := testCtx(t)
	days := []time.Time{
		time.Date(2026, 5, 1, 23, 59, 59, 999999000, time.UTC),
		time.Date(2026, 5, 2, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 5, 3, 12, 0, 0, 0, time.UTC),
	}
	var ps []scada.Point
	for i, d := range days {
		ps = append(ps, scada.Point{Tag: "t", Value: float64(i), Time: d})
	}
	if err := h.Send(ctx, forward.Batch{Stream: forward.Stream{Edge: "e", Buffer: "b"}, Points: ps}); err != nil {
		t.Fatal(err)
	}
	parts, err := h.Partitions(ctx)
	if err != nil || len(parts) != 3 || !parts[0].Equal(time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("Partitions = %v, %v", parts, err)
	}
	// Each point sits in its day's partition.
	for i, d := range days {
		var n int
		if err := h.QueryRowForTest(ctx, fmt.Sprintf("SELECT count(*) FROM %s.points_p%s WHERE value = %d", cfg.Schema, d.Format("20060102"), i), &n); err != nil || n != 1 {
			t.Fatalf("partition of %v holds %d of its point: %v", d, n, err)
		}
	}
	// Their (tag_id, time) indexes do not deduplicate: the entries are unique.
	var opts string
	if err := h.QueryRowForTest(ctx, `SELECT coalesce(array_to_string(ci.reloptions, ','), '') FROM pg_index x
		JOIN pg_class ci ON ci.oid = x.indexrelid WHERE x.indrelid = '`+cfg.Schema+`.points_p20260501'::regclass`, &opts); err != nil || opts != "deduplicate_items=off" {
		t.Fatalf("the partition's index has options %q (%v), want deduplicate_items=off", opts, err)
	}
	dropped, err := h.DropBefore(ctx, time.Date(2026, 5, 3, 0, 0, 0, 0, time.UTC))
	if err != nil || len(dropped) != 2 {
		t.Fatalf("DropBefore = %v, %v", dropped, err)
	}
	got := collect(t, h.Raw(ctx, []string{"t"}, days[0], days[2].Add(time.Hour)))
	if len(got) != 1 || got[0].Value != 2 {
		t.Fatalf("after retention: %+v", got)
	}
	// Points for a dropped day come back into a new partition.
	if err := h.Send(ctx, forward.Batch{Stream: forward.Stream{Edge: "e", Buffer: "b"}, First: 3, Points: ps[:1]}); err != nil {
		t.Fatal(err)
	}
	if got := collect(t, h.Raw(ctx, []string{"t"}, days[0], days[2].Add(time.Hour))); len(got) != 2 {
		t.Fatalf("after re-send: %+v", got)
	}
	// A partition dropped behind the historian's back (an operator, the
	// retention of another process): Send COPYs into the day's partition,
	// finds it gone, creates it again and stores the points once.
	c.exec(t, "DROP TABLE "+cfg.Schema+".points_p20260503")
	late := []scada.Point{{Tag: "t", Value: 7, Time: days[2].Add(time.Minute)}, {Tag: "u", Value: 8, Time: days[2]}}
	if err := h.Send(ctx, forward.Batch{Stream: forward.Stream{Edge: "e", Buffer: "b"}, First: 4, Points: late}); err != nil {
		t.Fatalf("Send after the partition was dropped elsewhere: %v", err)
	}
	got = collect(t, h.Raw(ctx, []string{"t", "u"}, days[2], days[2].Add(time.Hour)))
	if len(got) != 2 || got[0].Value != 7 || got[1].Value != 8 {
		t.Fatalf("after the partition came back: %+v", got)
	}
}

// The drive loop over a memory Buffer stores what the Buffer holds, once.
func TestDriveMemoryBuffer(t *testing.T) {
	c := sharedCluster(t)
	h, _ := openHistorian(t, c, nil)
	ctx := testCtx(t)
	buf, err := buffer.NewMemory(buffer.MemoryConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer buf.Close()
	ps := genPoints(0, 5000, 13)
	for i := 0; i < len(ps); i += 700 {
		if _, err := buf.Append(ctx, ps[i:min(i+700, len(ps))]); err != nil {
			t.Fatal(err)
		}
	}
	if err := drive(ctx, buf, h, "edge", "historian", 1000, nil); err != nil {
		t.Fatal(err)
	}
	// A restarted forwarder that lost its cursor resumes from the historian.
	if err := buf.Forget(ctx, "historian"); err != nil {
		t.Fatal(err)
	}
	if err := drive(ctx, buf, h, "edge", "historian", 1000, nil); err != nil {
		t.Fatal(err)
	}
	checkStored(t, h, ps)
	if st := h.Stats(); st.Duplicates != 0 || st.Points != 5000 {
		t.Fatalf("Stats = %+v", st)
	}
}

// Compact sorts closed days by tag: one tag's points then sit on a few
// pages instead of one page each; the data stays the same.
func TestCompact(t *testing.T) {
	c := sharedCluster(t)
	h, cfg := openHistorian(t, c, nil)
	ctx := testCtx(t)
	day1 := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
	var ps []scada.Point
	for i := range 20000 { // 100 tags interleaved, two days
		ps = append(ps, scada.Point{Tag: fmt.Sprintf("c.tag%03d", i%100), Value: float64(i), Quality: scada.Good,
			Time: day1.Add(time.Duration(i/100) * 864 * time.Second)})
	}
	// Batches of one point per tag: Send sorts a batch by tag, so only
	// many small batches leave a tag's points on a page each.
	for i := 0; i < len(ps); i += 100 {
		if err := h.Send(ctx, forward.Batch{Stream: forward.Stream{Edge: "c", Buffer: "c"}, First: buffer.Offset(i), Points: ps[i : i+100]}); err != nil {
			t.Fatal(err)
		}
	}
	pages := func() int {
		var n int
		if err := h.QueryRowForTest(ctx, `SELECT count(DISTINCT (p.ctid::text::point)[0]) FROM `+cfg.Schema+`.points_p20260701 p
			JOIN `+cfg.Schema+`.tags t ON t.id = p.tag_id WHERE t.name = 'c.tag042'`, &n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := pages()
	done, err := h.Compact(ctx, day1.AddDate(0, 0, 1))
	if err != nil || len(done) != 1 || !done[0].Equal(day1) {
		t.Fatalf("Compact = %v, %v; want the first day only", done, err)
	}
	after := pages()
	t.Logf("pages holding one tag's day: %d before, %d after", before, after)
	if after*10 > before {
		t.Fatalf("one tag's day is on %d pages after Compact, %d before", after, before)
	}
	if done, err := h.Compact(ctx, day1.AddDate(0, 0, 1)); err != nil || len(done) != 0 {
		t.Fatalf("second Compact = %v, %v; want nothing", done, err)
	}
	checkStored(t, h, ps)
}

// Two forwarders of the same stream, each with its own connections, send
// the same batches at the same time: the row lock on the stream and the
// overlap check store every point once.
func TestTwoForwardersOneStream(t *testing.T) {
	c := sharedCluster(t)
	h1, cfg := openHistorian(t, c, nil)
	h2, err := postgres.New(testCtx(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer h2.Close()
	ctx := testCtx(t)
	ps := genPoints(0, 20000, 17)
	s := forward.Stream{Edge: "twin", Buffer: "b"}
	errc := make(chan error, 2)
	for i, h := range []*postgres.Historian{h1, h2} {
		go func() {
			for first := 0; first < len(ps); first += 700 + 300*i { // different batch bounds
				end := min(first+700+300*i, len(ps))
				if err := h.Send(ctx, forward.Batch{Stream: s, First: buffer.Offset(first), Points: ps[first:end]}); err != nil {
					errc <- err
					return
				}
			}
			errc <- nil
		}()
	}
	for range 2 {
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	}
	checkStored(t, h1, ps)
	st1, st2 := h1.Stats(), h2.Stats()
	if st1.Points+st2.Points != uint64(len(ps)) || st1.Duplicates+st2.Duplicates != uint64(len(ps)) {
		t.Fatalf("stored %d+%d, dropped %d+%d; want %d each", st1.Points, st2.Points, st1.Duplicates, st2.Duplicates, len(ps))
	}
}

// Raw decodes rows of the binary layout it expects itself and scans any
// other through pgx: over the simple protocol (as behind PgBouncer's
// transaction pooling) the rows come as text and read back the same.
func TestRawTextRows(t *testing.T) {
	c := sharedCluster(t)
	h, cfg := openHistorian(t, c, nil)
	ctx := testCtx(t)
	ps := genPoints(0, 3000, 7)
	ps = append(ps, scada.Point{Tag: "odd", Value: math.NaN(), Time: t0, Quality: scada.Quality(0xFFFFFFFF), Scored: true, Score: 0, Reasons: 0xFFFF},
		scada.Point{Tag: "odd", Value: math.Inf(-1), Time: t0.Add(time.Microsecond), Quality: scada.Good},
		scada.Point{Tag: "odd", Value: math.Copysign(0, -1), Time: t0.Add(2 * time.Microsecond), Scored: true, Score: 100})
	if err := h.Send(ctx, forward.Batch{Stream: forward.Stream{Edge: "e", Buffer: "b"}, Points: ps}); err != nil {
		t.Fatal(err)
	}
	checkStored(t, h, ps) // binary rows
	text, err := postgres.New(ctx, postgres.Config{DSN: c.superDSN() + " default_query_exec_mode=simple_protocol", Schema: cfg.Schema})
	if err != nil {
		t.Fatal(err)
	}
	defer text.Close()
	checkStored(t, text, ps) // text rows, through Scan
}
