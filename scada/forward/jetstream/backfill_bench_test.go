package jetstream_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/greenlang/gl001/scada"
	"github.com/greenlang/gl001/scada/buffer"
	"github.com/greenlang/gl001/scada/forward"
	fjs "github.com/greenlang/gl001/scada/forward/jetstream"
)

// BenchmarkBackfill is the backfill figure: a 10-minute backlog of 1,000
// tags sampled every second (600,000 points) waits in the Buffer when the
// Forwarder starts, with backfill on at 100,000 points/s, while the same
// 1,000 tags keep arriving live (100 of them every 100ms). It reports how
// long the backlog took to reach the central Source (drain-s) and the
// latency of live points from their source time to the central Sink
// (live-p50-ms, live-p99-ms). Run it with -benchtime 1x.
func BenchmarkBackfill(b *testing.B) {
	env := newBenchEnv(b, 1)
	for i := 0; i < b.N; i++ {
		drain, p50, p99 := backfillScenario(b, env.nc, fmt.Sprintf("backfill%d", benchRun.Add(1)))
		b.ReportMetric(drain.Seconds(), "drain-s")
		b.ReportMetric(float64(p50.Microseconds())/1000, "live-p50-ms")
		b.ReportMetric(float64(p99.Microseconds())/1000, "live-p99-ms")
	}
}

func backfillScenario(b *testing.B, nc *nats.Conn, edge string) (drain, p50, p99 time.Duration) {
	const tags, minutes, rate = 1000, 10, 100_000
	mem, err := buffer.NewMemory(buffer.MemoryConfig{MaxBytes: -1})
	if err != nil {
		b.Fatal(err)
	}
	defer mem.Close()
	start := time.Now()
	names := make([]string, tags)
	for k := range names {
		names[k] = fmt.Sprintf("boiler%d.tag%03d", k/100, k%100)
	}
	backlog := 0
	for s := minutes * 60; s > 0; s-- {
		pts := make([]scada.Point, tags)
		for k := range pts {
			pts[k] = scada.Point{Tag: names[k], Value: float64(s), Unit: "degC", Time: start.Add(-time.Duration(s) * time.Second), Source: "plc"}
		}
		if _, err := mem.Append(context.Background(), pts); err != nil {
			b.Fatal(err)
		}
		backlog += tags
	}

	var mu sync.Mutex
	var lat []time.Duration
	gotBacklog := 0
	var drained time.Time
	sink := scada.SinkFunc(func(_ context.Context, batch []scada.Point) error {
		now := time.Now()
		mu.Lock()
		defer mu.Unlock()
		for _, p := range batch {
			if p.Time.Before(start) {
				gotBacklog++
				if gotBacklog == backlog {
					drained = now
				}
			} else {
				lat = append(lat, now.Sub(p.Time))
			}
		}
		return nil
	})
	src, err := fjs.NewSource(fjs.SourceConfig{Conn: nc, Stream: streamName, Durable: edge, Filter: "gl001.points." + edge + ".>"})
	if err != nil {
		b.Fatal(err)
	}
	tg, err := fjs.New(fjs.Config{Conn: nc, Stream: streamName})
	if err != nil {
		b.Fatal(err)
	}
	f, err := forward.New(forward.Config{Buffer: mem, Consumer: "central", Edge: edge, Target: tg,
		Backfill: forward.Backfill{After: 10 * tags, Rate: rate}})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	runStart := time.Now()
	var wg sync.WaitGroup
	wg.Add(3)
	go func() { defer wg.Done(); src.Run(ctx, sink) }()
	go func() { defer wg.Done(); f.Run(ctx) }()
	go func() {
		defer wg.Done()
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for n := 0; ; n++ {
			select {
			case <-ctx.Done():
				return
			case now := <-tick.C:
				pts := make([]scada.Point, tags/10)
				for i := range pts {
					k := (n%10)*(tags/10) + i
					pts[i] = scada.Point{Tag: names[k], Value: float64(n), Unit: "degC", Time: now, Source: "plc"}
				}
				mem.Append(ctx, pts)
			}
		}
	}()
	// Until the backlog is through, and a second of live points after it.
	for {
		mu.Lock()
		d := drained
		mu.Unlock()
		if !d.IsZero() && time.Since(d) > time.Second {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	slices.Sort(lat)
	if len(lat) == 0 {
		b.Fatal("no live point arrived")
	}
	return drained.Sub(runStart), lat[len(lat)/2], lat[len(lat)*99/100]
}
