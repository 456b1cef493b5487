package main

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/greenlang/gl001/scada/buffer"

	"github.com/greenlang/gl001/scada"
)

// BenchmarkDeliver measures the Collector's sink of the orchestrator:
// calibrate, convert to engineering units, validate and score, deadband,
// append to the memory buffer; batches of 1024 points over 200 tags in °F,
// psi, t/h and kW, with validation limits on every tag.
func BenchmarkDeliver(b *testing.B) {
	cfg := Config{Transform: TransformConfig{
		Calibration: map[string]CalibrationConfig{},
		Limits:      map[string]LimitsConfig{},
	}}
	cfg.setDefaults()
	unitsOf := []string{"°F", "psi", "t/h", "kW"}
	const tags = 200
	names := make([]string, tags)
	for i := range tags {
		tag := fmt.Sprintf("plant.tag%03d", i)
		names[i] = tag
		cfg.Transform.Limits[tag] = LimitsConfig{Range: [2]float64{-1e6, 1e6}, Operating: [2]float64{-1e5, 1e5}, FlatLine: 10}
		if i%10 == 0 {
			cfg.Transform.Calibration[tag] = CalibrationConfig{Factor: 1.02}
		}
	}
	in, err := newIngest(cfg.Transform, nil, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	buf, err := buffer.NewMemory(buffer.MemoryConfig{MaxBytes: 64 << 20})
	if err != nil {
		b.Fatal(err)
	}
	defer buf.Close()
	in.buf = buf

	batch := make([]scada.Point, 1024)
	t0 := time.Now()
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for n := 0; b.Loop(); n++ {
		for i := range batch {
			k := n*len(batch) + i
			batch[i] = scada.Point{
				Tag: names[k%tags], Value: float64(k % 977), Unit: unitsOf[k%tags%4],
				Time: t0.Add(time.Duration(k) * time.Millisecond), Source: "bench",
			}
		}
		pts, err := in.pipeline.Process(ctx, batch)
		if err != nil {
			b.Fatal(err)
		}
		if err := in.store(ctx, pts); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*len(batch))/b.Elapsed().Seconds(), "points/s")
}
