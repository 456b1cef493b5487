package scada

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"
)

// countingSink counts the points it is given: the cheapest possible consumer,
// so the benchmark measures the Collector.
type countingSink struct{ points atomic.Int64 }

func (s *countingSink) Deliver(_ context.Context, batch []Point) error {
	s.points.Add(int64(len(batch)))
	return nil
}

// burstSource delivers its batch n times as fast as the Collector takes it,
// then serves until ctx ends.
type burstSource struct {
	batch []Point
	n     int
}

func (s *burstSource) Run(ctx context.Context, sink Sink) error {
	for range s.n {
		if err := sink.Deliver(ctx, s.batch); err != nil {
			return err
		}
	}
	<-ctx.Done()
	return nil
}

// BenchmarkCollectorFanIn fans 100 synthetic sources into one sink. One op is
// one point; the metric points/s is what reached the sink per second.
func BenchmarkCollectorFanIn(b *testing.B) {
	for _, size := range []int{10, 100, 1000} {
		b.Run(fmt.Sprintf("batch=%d", size), func(b *testing.B) {
			const sources = 100
			perSource := (b.N + sources*size - 1) / (sources * size) // batches per source
			total := int64(perSource * sources * size)
			sink := &countingSink{}
			c, err := NewCollector(CollectorConfig{Sink: sink})
			if err != nil {
				b.Fatal(err)
			}
			srcs := make([]*burstSource, sources)
			now := time.Now()
			for i := range srcs {
				batch := make([]Point, size)
				for j := range batch {
					batch[j] = Point{Tag: fmt.Sprintf("dev%d.tag%d", i, j), Value: float64(j), Unit: "degC",
						Quality: Good, Time: now, Source: fmt.Sprintf("dev%d", i)}
				}
				srcs[i] = &burstSource{batch: batch, n: perSource}
			}
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			for i, s := range srcs {
				if err := c.Add(fmt.Sprintf("dev%d", i), s); err != nil {
					b.Fatal(err)
				}
			}
			for sink.points.Load() < total {
				time.Sleep(50 * time.Microsecond)
			}
			elapsed := time.Since(start)
			b.StopTimer()
			b.ReportMetric(float64(total)/elapsed.Seconds(), "points/s")
			if err := c.Close(); err != nil {
				b.Fatal(err)
			}
		})
	}
}
