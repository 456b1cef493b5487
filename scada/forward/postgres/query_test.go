package postgres_test

import (
	"math"
	"slices"
	"testing"
	"time"

	"github.com/greenlang/gl001/scada"
	"github.com/greenlang/gl001/scada/forward"
	"github.com/greenlang/gl001/scada/forward/postgres"
)

// queryData returns two tags at 1 s over three hours across midnight,
// with holes, bad and uncertain points, NaN and ±Inf.
func queryData() []scada.Point {
	start := time.Date(2026, 4, 10, 22, 30, 0, 0, time.UTC)
	var ps []scada.Point
	for _, tag := range []string{"boiler.temp", "boiler.flow"} {
		for i := range 3 * 3600 {
			if tag == "boiler.flow" && (i >= 600 && i < 1500 || i >= 7000 && i < 7003) {
				continue // holes of 15 min and 4 s
			}
			p := scada.Point{Tag: tag, Value: 100 + math.Sin(float64(i)/100)*10 + float64(len(tag)), Time: start.Add(time.Duration(i) * time.Second), Quality: scada.Good}
			switch {
			case i%97 == 0:
				p.Quality, p.Value = scada.BadNoCommunication, 0
			case i%89 == 0:
				p.Quality = scada.UncertainSubNormal
			case i%173 == 0:
				p.Value = math.NaN()
			case i%181 == 0:
				p.Value = math.Inf(1 - 2*(i%2))
			}
			ps = append(ps, p)
		}
	}
	return ps
}

func TestQueries(t *testing.T) {
	c := sharedCluster(t)
	h, _ := openHistorian(t, c, nil)
	ctx := testCtx(t)
	ps := queryData()
	if err := h.Send(ctx, forward.Batch{Stream: forward.Stream{Edge: "q", Buffer: "q"}, Points: ps}); err != nil {
		t.Fatal(err)
	}
	byTag := map[string][]scada.Point{}
	for _, p := range ps {
		byTag[p.Tag] = append(byTag[p.Tag], p)
	}
	from := time.Date(2026, 4, 10, 23, 0, 0, 0, time.UTC)
	to := from.Add(90 * time.Minute)

	t.Run("raw is half-open", func(t *testing.T) {
		got := collect(t, h.Raw(ctx, []string{"boiler.temp", "nope", "boiler.flow"}, from, to))
		var want []scada.Point
		for _, tag := range []string{"boiler.temp", "boiler.flow"} {
			for _, p := range byTag[tag] {
				if !p.Time.Before(from) && p.Time.Before(to) {
					want = append(want, p)
				}
			}
		}
		if len(got) != len(want) {
			t.Fatalf("%d points, want %d", len(got), len(want))
		}
		for i := range want {
			if !samePoint(got[i], want[i]) || got[i].Tag != want[i].Tag {
				t.Fatalf("point %d: %+v, want %+v", i, got[i].Point, want[i])
			}
		}
		if !got[0].Time.Equal(from) || !got[len(got)-1].Time.Before(to) {
			t.Fatalf("range [%v, %v]", got[0].Time, got[len(got)-1].Time)
		}
	})

	t.Run("aggregate", func(t *testing.T) {
		every := time.Minute
		got := collect(t, h.Aggregate(ctx, []string{"boiler.flow", "boiler.temp"}, from, to, every, time.Time{}))
		var want []postgres.Bucket
		for _, tag := range []string{"boiler.flow", "boiler.temp"} {
			var cur *postgres.Bucket
			for _, p := range byTag[tag] {
				if p.Time.Before(from) || !p.Time.Before(to) {
					continue
				}
				start := p.Time.Truncate(every)
				if cur == nil || !cur.Start.Equal(start) {
					want = append(want, postgres.Bucket{Tag: tag, Start: start, Min: math.Inf(1), Max: math.Inf(-1)})
					cur = &want[len(want)-1]
				}
				cur.Count++
				if p.Quality.IsGood() {
					cur.Good++
					if !math.IsNaN(p.Value) && !math.IsInf(p.Value, 0) {
						cur.Usable++
						cur.Avg += p.Value
						cur.Min, cur.Max, cur.Last = min(cur.Min, p.Value), max(cur.Max, p.Value), p.Value
					}
				}
			}
		}
		for i := range want {
			if want[i].Usable == 0 {
				want[i].Avg, want[i].Min, want[i].Max, want[i].Last = math.NaN(), math.NaN(), math.NaN(), math.NaN()
			} else {
				want[i].Avg /= float64(want[i].Usable)
			}
		}
		if len(got) != len(want) {
			t.Fatalf("%d buckets, want %d", len(got), len(want))
		}
		for i := range want {
			g, w := got[i], want[i]
			if g.Tag != w.Tag || !g.Start.Equal(w.Start) || g.Count != w.Count || g.Good != w.Good || g.Usable != w.Usable ||
				!near(g.Avg, w.Avg) || g.Min != w.Min || g.Max != w.Max || g.Last != w.Last {
				t.Fatalf("bucket %d: %+v, want %+v", i, g, w)
			}
		}
		if share := got[0].GoodShare(); share <= 0 || share > 1 {
			t.Fatalf("GoodShare %v", share)
		}
	})

	t.Run("latest", func(t *testing.T) {
		got := collect(t, h.Latest(ctx))
		if len(got) != 2 || got[0].Tag != "boiler.flow" || got[1].Tag != "boiler.temp" {
			t.Fatalf("Latest = %+v", got)
		}
		for _, g := range got {
			w := byTag[g.Tag][len(byTag[g.Tag])-1]
			if !samePoint(g, w) {
				t.Fatalf("latest of %s: %+v, want %+v", g.Tag, g.Point, w)
			}
		}
		if one := collect(t, h.Latest(ctx, "boiler.temp")); len(one) != 1 || one[0].Tag != "boiler.temp" {
			t.Fatalf("Latest(boiler.temp) = %+v", one)
		}
	})

	t.Run("gaps", func(t *testing.T) {
		for _, tc := range []struct {
			from, to time.Time
			longer   time.Duration
		}{
			{ps[0].Time, ps[0].Time.Add(3 * time.Hour), 2 * time.Second},
			{ps[0].Time.Add(-time.Minute), ps[0].Time.Add(4 * time.Hour), 10 * time.Minute},
			{ps[0].Time.Add(700 * time.Second), ps[0].Time.Add(800 * time.Second), time.Second},
		} {
			got := collect(t, h.Gaps(ctx, "boiler.flow", tc.from, tc.to, tc.longer))
			// The same rule in Go: consecutive times, with the range's ends.
			times := []time.Time{tc.from}
			for _, p := range byTag["boiler.flow"] {
				if !p.Time.Before(tc.from) && p.Time.Before(tc.to) {
					times = append(times, p.Time)
				}
			}
			times = append(times, tc.to)
			var want []postgres.Gap
			for i := 1; i < len(times); i++ {
				if times[i].Sub(times[i-1]) > tc.longer {
					want = append(want, postgres.Gap{Tag: "boiler.flow", From: times[i-1], To: times[i]})
				}
			}
			if len(want) == 0 {
				t.Fatalf("case %+v finds no gap to compare", tc)
			}
			if !slices.EqualFunc(got, want, func(a, b postgres.Gap) bool { return a.Tag == b.Tag && a.From.Equal(b.From) && a.To.Equal(b.To) }) {
				t.Fatalf("Gaps(%v, %v, %v) = %v, want %v", tc.from, tc.to, tc.longer, got, want)
			}
		}
		if got := collect(t, h.Gaps(ctx, "unknown", from, to, time.Minute)); len(got) != 1 || got[0].Duration() != to.Sub(from) {
			t.Fatalf("Gaps of an unknown tag = %v", got)
		}
	})

	t.Run("break stops the stream", func(t *testing.T) {
		n := 0
		for _, err := range h.Raw(ctx, []string{"boiler.temp"}, from, to) {
			if err != nil {
				t.Fatal(err)
			}
			if n++; n == 10 {
				break
			}
		}
		// The pool is usable after the break.
		if got := collect(t, h.Latest(ctx, "boiler.temp")); len(got) != 1 {
			t.Fatalf("Latest after a break: %v", got)
		}
	})

	t.Run("empty range is an error", func(t *testing.T) {
		errs := 0
		for _, err := range h.Raw(ctx, []string{"boiler.temp"}, to, from) {
			if err == nil {
				t.Fatal("Raw over [to, from) yielded a point")
			}
			errs++
		}
		if errs != 1 {
			t.Fatalf("Raw over [to, from) yielded %d errors, want 1", errs)
		}
	})
}

func near(a, b float64) bool {
	if math.IsNaN(a) || math.IsNaN(b) {
		return math.IsNaN(a) && math.IsNaN(b)
	}
	return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b))
}
