package main

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/greenlang/gl001/scada"
	"github.com/greenlang/gl001/scada/buffer"
	"github.com/greenlang/gl001/transform"
)

// consumerName is the orchestrator's cursor in the store-and-forward buffer.
const consumerName = "gl001-coordination"

// consumer is the part that reads the buffer with its own cursor, as any
// downstream consumer would (a historian, a cloud link): it keeps the newest
// value per tag and the aggregation windows for the coordination rounds,
// and commits what it read. Every point the buffer holds is read once, in
// order; stopping it first reads what is left (the ingest, stopped before
// it, has delivered everything it accepted).
type consumer struct {
	buf buffer.Buffer
	agg *transform.Aggregator
	log *slog.Logger

	mu       sync.Mutex
	latest   map[string]scada.Point
	consumed uint64
	windows  []transform.Window // flushed since the last round
}

func newConsumer(buf buffer.Buffer, window time.Duration, log *slog.Logger) (*consumer, error) {
	agg, err := transform.NewAggregator(transform.AggregateConfig{Window: window})
	if err != nil {
		return nil, err
	}
	return &consumer{buf: buf, agg: agg, log: log, latest: map[string]scada.Point{}}, nil
}

// Run reads until ctx ends, then drains what the buffer still holds for it
// (for at most 10 s) so that the final counts add up.
func (c *consumer) Run(ctx context.Context) error {
	for ctx.Err() == nil {
		if err := c.readOnce(ctx); err != nil {
			if ctx.Err() != nil || errors.Is(err, scada.ErrClosed) {
				break
			}
			c.log.Warn("buffer read", "err", err)
		}
	}
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	for c.lag() > 0 && dctx.Err() == nil {
		if err := c.readOnce(dctx); err != nil {
			return err
		}
	}
	return nil
}

func (c *consumer) readOnce(ctx context.Context) error {
	b, err := c.buf.Read(ctx, consumerName, 4096)
	if err != nil {
		return err
	}
	_, _ = c.agg.Process(ctx, b.Points)
	c.mu.Lock()
	for _, p := range b.Points {
		c.latest[p.Tag] = p
	}
	c.consumed += uint64(len(b.Points))
	c.windows = c.agg.Flush(c.windows, time.Now())
	if len(c.windows) > 10000 {
		c.windows = slices.Delete(c.windows, 0, len(c.windows)-10000)
	}
	c.mu.Unlock()
	if err := c.buf.Commit(ctx, consumerName, b.Next()); err != nil {
		return err
	}
	return nil
}

// lag is what the buffer holds that this consumer has not committed.
func (c *consumer) lag() uint64 {
	for _, cs := range c.buf.Stats().Consumers {
		if cs.Name == consumerName {
			return cs.Lag
		}
	}
	return 0
}

func (c *consumer) count() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.consumed
}

// takeWindows returns the windows flushed since the last call.
func (c *consumer) takeWindows() []transform.Window {
	c.mu.Lock()
	defer c.mu.Unlock()
	w := c.windows
	c.windows = nil
	return w
}

// latestPoints returns the newest point of every tag, by tag name.
func (c *consumer) latestPoints() []scada.Point {
	c.mu.Lock()
	out := make([]scada.Point, 0, len(c.latest))
	for _, p := range c.latest {
		out = append(out, p)
	}
	c.mu.Unlock()
	slices.SortFunc(out, func(a, b scada.Point) int { return strings.Compare(a.Tag, b.Tag) })
	return out
}

// sparkWindow and sparkPoints shape each tag's sparkline: the last minutes
// of its values from the buffer, averaged into this many buckets.
const (
	sparkWindow = 5 * time.Minute
	sparkPoints = 60
)

// tagInfos is what the status page shows of each tag: its newest value
// and quality as the consumer read them, and a sparkline of its values
// since the later of since and sparkWindow ago, read back from the buffer
// (Buffer.Recent).
func (c *consumer) tagInfos(ctx context.Context, now, since time.Time) []TagInfo {
	latest := c.latestPoints()
	if len(latest) == 0 {
		return nil
	}
	type acc struct {
		sum [sparkPoints]float64
		n   [sparkPoints]int
	}
	series := make(map[string]*acc, len(latest))
	from := now.Add(-sparkWindow)
	if since.After(from) {
		from = since
	}
	step := max(now.Sub(from)/sparkPoints, time.Millisecond)
	for p, err := range c.buf.Recent(ctx, sparkWindow) {
		if err != nil {
			break
		}
		if p.Quality.IsBad() || math.IsNaN(p.Value) || math.IsInf(p.Value, 0) || p.Time.Before(from) {
			continue
		}
		i := max(min(int(p.Time.Sub(from)/step), sparkPoints-1), 0)
		a := series[p.Tag]
		if a == nil {
			a = &acc{}
			series[p.Tag] = a
		}
		a.sum[i] += p.Value
		a.n[i]++
	}
	out := make([]TagInfo, 0, len(latest))
	for _, p := range latest {
		ti := TagInfo{Tag: p.Tag, Unit: p.Unit, Quality: p.Quality.String(), Score: pointScore(p), Time: p.Time, Source: p.Source}
		if !p.Quality.IsBad() && !math.IsNaN(p.Value) && !math.IsInf(p.Value, 0) {
			v := p.Value
			ti.Value = &v
		}
		if a := series[p.Tag]; a != nil {
			ti.Spark = make([]*float64, sparkPoints)
			for i := range sparkPoints {
				if a.n[i] > 0 {
					v := a.sum[i] / float64(a.n[i])
					ti.Spark[i] = &v
				}
			}
		}
		out = append(out, ti)
	}
	return out
}

// pointScore is the 0-100 quality score of p: the one the edge computed,
// when the point carries it, or else the one its quality code implies.
func pointScore(p scada.Point) float64 {
	score, _ := transform.PointScore(p)
	return float64(score)
}
