package postgres_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/greenlang/gl001/scada"
	"github.com/greenlang/gl001/scada/buffer"
	"github.com/greenlang/gl001/scada/forward"
	"github.com/greenlang/gl001/scada/forward/postgres"
)

const benchBatch = 10000

// benchPoints returns batch i of the benchmark: benchBatch points over 100
// tags, 1 ms apart, continuing where batch i-1 ended.
func benchPoints(ps []scada.Point, i int) {
	base := time.Date(2026, 8, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i*benchBatch) * time.Millisecond)
	for j := range ps {
		ps[j] = scada.Point{
			Tag: fmt.Sprintf("bench.tag%03d", j%100), Value: float64(i*benchBatch + j), Unit: "kW",
			Quality: scada.Good, Time: base.Add(time.Duration(j) * time.Millisecond), Source: "bench",
			Scored: true, Score: uint8(j % 101), Reasons: scada.Reason(j % 4),
		}
	}
}

// BenchmarkPostgresTarget measures points/s into the partitioned points
// table with its (tag_id, time) index: "target" through Historian.Send
// (the stream position in the same transaction), "raw" with plain pgx
// CopyFrom of the same rows into the same schema: the rows Send COPYs, in
// the order it COPYs them ((tag, time) within the batch, sorted before the
// timer runs), into the day's partition it COPYs into.
func BenchmarkPostgresTarget(b *testing.B) {
	c := sharedCluster(b)
	b.Run("target", func(b *testing.B) {
		h, _ := openHistorian(b, c, nil)
		ctx := context.Background()
		ps := make([]scada.Point, benchBatch)
		s := forward.Stream{Edge: "bench", Buffer: "bench"}
		benchPoints(ps, 0)
		if err := h.Send(ctx, forward.Batch{Stream: s, Points: ps}); err != nil { // tags and partition
			b.Fatal(err)
		}
		b.ResetTimer()
		cpu := &cpuMeter{c: c}
		for i := range b.N {
			b.StopTimer()
			benchPoints(ps, i+1)
			cpu.start() // outside the timer: it reads /proc
			b.StartTimer()
			if err := h.Send(ctx, forward.Batch{Stream: s, First: buffer.Offset((i + 1) * benchBatch), Points: ps}); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			cpu.stop()
			b.StartTimer()
		}
		b.ReportMetric(float64(b.N*benchBatch)/b.Elapsed().Seconds(), "points/s")
		cpu.report(b, b.N*benchBatch)
	})
	b.Run("raw", func(b *testing.B) {
		h, cfg := openHistorian(b, c, nil)
		ctx := context.Background()
		ps := make([]scada.Point, benchBatch)
		benchPoints(ps, 0)
		if err := h.Send(ctx, forward.Batch{Stream: forward.Stream{Edge: "bench", Buffer: "bench"}, Points: ps}); err != nil {
			b.Fatal(err)
		}
		ids := map[string]int32{}
		for tag, err := range h.Tags(ctx) {
			if err != nil {
				b.Fatal(err)
			}
			ids[tag.Name] = tag.ID
		}
		conn, err := pgx.Connect(ctx, c.superDSN())
		if err != nil {
			b.Fatal(err)
		}
		defer conn.Close(ctx)
		cols := []string{"tag_id", "time", "value", "quality", "score", "grade", "reasons"}
		b.ResetTimer()
		cpu := &cpuMeter{c: c}
		for i := range b.N {
			b.StopTimer()
			benchPoints(ps, i+1)
			slices.SortStableFunc(ps, func(x, y scada.Point) int {
				if d := int(ids[x.Tag]) - int(ids[y.Tag]); d != 0 {
					return d
				}
				return x.Time.Compare(y.Time)
			})
			day := ps[0].Time.UTC().Truncate(24 * time.Hour)
			if !ps[len(ps)-1].Time.UTC().Truncate(24 * time.Hour).Equal(day) {
				b.Fatal("a batch spans two days")
			}
			table := pgx.Identifier{cfg.Schema, "points_p" + day.Format("20060102")}
			cpu.start() // outside the timer: it reads /proc
			b.StartTimer()
			_, err := conn.CopyFrom(ctx, table, cols, pgx.CopyFromSlice(len(ps), func(j int) ([]any, error) {
				p := &ps[j]
				return []any{ids[p.Tag], p.Time, p.Value, int32(p.Quality), int16(p.Score), int16(scada.GradeOf(float64(p.Score))), int32(p.Reasons)}, nil
			}))
			if err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			cpu.stop()
			b.StartTimer()
		}
		b.ReportMetric(float64(b.N*benchBatch)/b.Elapsed().Seconds(), "points/s")
		cpu.report(b, b.N*benchBatch)
	})
}

// BenchmarkPostgresQuery measures, from a table of 100 tags x 30 days at
// 10 s (25.9 million points) plus one tag at 1 s for a day: "raw24h"
// streams the 86,400 points of that tag's day, "agg1m30d" the 1-minute
// aggregates of one 10 s tag over the 30 days (259,200 points into 43,200
// buckets). Each reports the median time of its runs and rows/s.
func BenchmarkPostgresQuery(b *testing.B) {
	c := sharedCluster(b)
	ctx := context.Background()
	start := time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC)
	days := 30
	// The data set is built once per process and kept for the benchmark's
	// later rounds (-count); the cluster goes away with the process.
	cfg := postgres.Config{DSN: c.superDSN(), Schema: "bench_query"}
	h, err := postgres.New(ctx, cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer h.Close()
	queryDataOnce.Do(func() { queryDataErr = buildQueryData(b, c, h, cfg.Schema, start, days) })
	if queryDataErr != nil {
		b.Fatal(queryDataErr)
	}

	run := func(b *testing.B, points int, query func() (int, error)) {
		var times []time.Duration
		rows := 0
		cpu := &cpuMeter{c: c}
		b.ResetTimer()
		for range b.N {
			b.StopTimer()
			cpu.start() // outside the timer: it reads /proc
			b.StartTimer()
			t := time.Now()
			n, err := query()
			if err != nil {
				b.Fatal(err)
			}
			times = append(times, time.Since(t))
			rows = n
			b.StopTimer()
			cpu.stop()
			b.StartTimer()
		}
		b.StopTimer()
		b.ReportMetric(float64(cpu.client.Nanoseconds())/float64(b.N), "client-cpu-ns/op")
		b.ReportMetric(float64(cpu.server.Nanoseconds())/float64(b.N), "server-cpu-ns/op")
		slices.Sort(times)
		med := times[len(times)/2]
		b.ReportMetric(float64(med.Nanoseconds()), "median-ns")
		b.ReportMetric(float64(rows)/med.Seconds(), "rows/s")
		b.ReportMetric(float64(points)/med.Seconds(), "points/s")
	}
	b.Run("raw24h", func(b *testing.B) {
		run(b, 86400, func() (int, error) {
			n := 0
			for _, err := range h.Raw(ctx, []string{"q.fast"}, start, start.AddDate(0, 0, 1)) {
				if err != nil {
					return n, err
				}
				n++
			}
			if n != 86400 {
				return n, fmt.Errorf("%d rows, want 86400", n)
			}
			return n, nil
		})
	})
	b.Run("agg1m30d", func(b *testing.B) { benchAgg(b, h, run, start, days) })
}

func benchAgg(b *testing.B, h *postgres.Historian, run func(*testing.B, int, func() (int, error)), start time.Time, days int) {
	ctx := context.Background()
	run(b, days*8640, func() (int, error) {
		n := 0
		for _, err := range h.Aggregate(ctx, []string{"q.tag042"}, start, start.AddDate(0, 0, days), time.Minute, time.Time{}) {
			if err != nil {
				return n, err
			}
			n++
		}
		if n != days*1440 {
			return n, fmt.Errorf("%d buckets, want %d", n, days*1440)
		}
		return n, nil
	})
}

var (
	queryDataOnce sync.Once
	queryDataErr  error
)

func buildQueryData(b testing.TB, c *cluster, h *postgres.Historian, s string, start time.Time, days int) error {
	// Tags and partitions through the Historian, the bulk server-side.
	var seed []scada.Point
	for tag := range 100 {
		for d := range days {
			seed = append(seed, scada.Point{Tag: fmt.Sprintf("q.tag%03d", tag), Time: start.AddDate(0, 0, d), Quality: scada.Good, Value: 0})
		}
	}
	seed = append(seed, scada.Point{Tag: "q.fast", Time: start, Quality: scada.Good})
	if err := h.Send(context.Background(), forward.Batch{Stream: forward.Stream{Edge: "seed", Buffer: "seed"}, Points: seed}); err != nil {
		return err
	}
	// The bulk load writes no WAL (the partitions are unlogged): reads do
	// not depend on it, and the load takes minutes less. The rows go in
	// in (tag, time) order, the layout Historian.Compact gives a closed day
	// (points arrive interleaved; see TestCompact for that layout).
	days0, err := h.Partitions(context.Background())
	if err != nil {
		return err
	}
	setup := []string{
		"DROP INDEX " + s + ".points_tag_time",
		"TRUNCATE " + s + ".points",
		fmt.Sprintf(`INSERT INTO %s.points (tag_id, time, value, quality, score, grade, reasons)
			SELECT t.id, g, 100 + 10 * sin(extract(epoch FROM g) / 600 + t.id), CASE WHEN random() < 0.01 THEN -2147483648 ELSE 0 END, 90, 3, 0
			FROM %s.tags t CROSS JOIN LATERAL generate_series('%s'::timestamptz + 0 * t.id * interval '1 s', '%s'::timestamptz - interval '10 s', interval '10 s') g
			WHERE t.name LIKE 'q.tag%%' ORDER BY t.id, g`, s, s, start.Format(time.RFC3339), start.AddDate(0, 0, days).Format(time.RFC3339)),
		fmt.Sprintf(`INSERT INTO %s.points (tag_id, time, value, quality)
			SELECT t.id, g, extract(epoch FROM g), 0 FROM %s.tags t,
			generate_series('%s'::timestamptz, '%s'::timestamptz - interval '1 s', interval '1 s') g WHERE t.name = 'q.fast'`,
			s, s, start.Format(time.RFC3339), start.AddDate(0, 0, 1).Format(time.RFC3339)),
		"SET maintenance_work_mem = '256MB'; CREATE INDEX points_tag_time ON " + s + ".points (tag_id, time)",
		"ANALYZE " + s + ".points",
	}
	for _, d := range days0 {
		setup = slices.Insert(setup, 2, "ALTER TABLE "+s+".points_p"+d.Format("20060102")+" SET UNLOGGED")
	}
	t0 := time.Now()
	for _, q := range setup {
		c.exec(b, q)
	}
	b.Logf("query data set built in %v", time.Since(t0).Round(time.Second))
	return nil
}
