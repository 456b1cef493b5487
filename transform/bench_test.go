package transform

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/greenlang/gl001/scada"
	"github.com/greenlang/gl001/units"
)

// benchPlant builds a batch of n points over tags tags: temperatures in °F,
// header pressures in psig and steam flows in lb/h, the mix a US boiler house
// delivers, and the stages configured for them.
func benchPlant(b *testing.B, n, tags int) (template []scada.Point, cal *Calibrator, conv *Converter, val *Validator, clk *benchClock) {
	b.Helper()
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	calCfg := CalibrateConfig{Tags: map[string]Calibration{}}
	clk = &benchClock{t: now}
	valCfg := ValidateConfig{Tags: map[string]Limits{}, Now: clk.Now}
	kinds := []struct {
		unit  string
		value float64
		lim   Limits
	}{
		{"degF", 185.5, Limits{Unit: units.MustParse("°C"), Range: Range{-50, 600}, Operating: Range{20, 250}, MaxRate: 5, FlatLine: 50}},
		{"psig", 150, Limits{Unit: units.MustParse("kPag"), Range: Range{0, 4000}, Operating: Range{500, 1500}, MaxRate: 100, FlatLine: 50}},
		{"lb/hr", 25000, Limits{Unit: units.MustParse("kg/h"), Range: Range{0, 50000}, Operating: Range{1000, 30000}, MaxRate: 500, FlatLine: 50}},
	}
	names := make([]string, tags)
	for i := range tags {
		names[i] = fmt.Sprintf("plant1.boiler%02d.tag%03d", i%20, i)
		calCfg.Tags[names[i]] = Calibration{Factor: 1.02}
		valCfg.Tags[names[i]] = kinds[i%len(kinds)].lim
	}
	template = make([]scada.Point, n)
	for i := range template {
		k := kinds[(i%tags)%len(kinds)]
		template[i] = scada.Point{
			Tag: names[i%tags], Value: k.value + float64(i%7)*0.1, Unit: k.unit,
			Quality: scada.Good, Time: now.Add(-time.Duration(n-i) * time.Millisecond), Source: "bench",
		}
	}
	var err error
	if cal, err = NewCalibrator(calCfg); err != nil {
		b.Fatal(err)
	}
	if conv, err = NewConverter(ConvertConfig{Dimensions: EngineeringUnits()}); err != nil {
		b.Fatal(err)
	}
	if val, err = NewValidator(valCfg); err != nil {
		b.Fatal(err)
	}
	return template, cal, conv, val, clk
}

// benchClock is a settable clock for the Validator.
type benchClock struct{ t time.Time }

func (c *benchClock) Now() time.Time { return c.t }

// BenchmarkPipeline runs calibrate + convert + validate + score on batches of
// 1000 points from 300 tags, in steady state (every tag already seen). It
// reports points/s (wall clock) and points/cpu-s (per CPU second of the
// process, steadier on a busy machine); allocs/op is per batch of 1000 points
// and must be 0.
func BenchmarkPipeline(b *testing.B) {
	const batchSize = 1000
	template, cal, conv, val, clk := benchPlant(b, batchSize, 300)
	now := clk.t
	pipeline := Chain(cal, conv, val)
	ctx := context.Background()
	batch := make([]scada.Point, batchSize)
	var scored []scada.Point

	step := 0
	run := func() {
		// Each batch is a second later than the one before, so the rate and
		// flat-line history advances as in a live stream.
		step++
		shift := time.Duration(step) * time.Second
		copy(batch, template)
		for i := range batch {
			batch[i].Time = batch[i].Time.Add(shift)
		}
		clk.t = now.Add(shift)
		var err error
		if scored, err = pipeline.Process(ctx, batch); err != nil {
			b.Fatal(err)
		}
	}
	run() // warm the per-tag caches: steady state is what is measured
	if p := scored[0]; !p.Scored || scada.GradeOf(float64(p.Score)) != scada.GradeExcellent {
		b.Fatalf("first point scored %v (%v)", p.Score, p.Reasons)
	}
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuSeconds()
	for b.Loop() {
		run()
	}
	cpu := cpuSeconds() - cpu0
	b.ReportMetric(float64(b.N)*batchSize/b.Elapsed().Seconds(), "points/s")
	if cpu > 0 {
		b.ReportMetric(float64(b.N)*batchSize/cpu, "points/cpu-s")
	}
}

// BenchmarkDeadband filters steady batches of 1000 points from 300 tags, most
// of them inside the deadband.
func BenchmarkDeadband(b *testing.B) {
	template, _, _, _, _ := benchPlant(b, 1000, 300)
	d, err := NewDeadband(DeadbandConfig{Default: 1})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	batch := make([]scada.Point, len(template))
	step := 0
	b.ReportAllocs()
	for b.Loop() {
		step++
		copy(batch, template)
		for i := range batch {
			batch[i].Time = batch[i].Time.Add(time.Duration(step) * time.Second)
		}
		if _, err := d.Process(ctx, batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)*float64(len(batch))/b.Elapsed().Seconds(), "points/s")
}

// BenchmarkAggregator adds steady batches of 1000 points from 300 tags to
// 1-minute windows, flushing as time passes.
func BenchmarkAggregator(b *testing.B) {
	template, _, _, _, clk := benchPlant(b, 1000, 300)
	a, err := NewAggregator(AggregateConfig{DefaultSamplePeriod: time.Second})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	batch := make([]scada.Point, len(template))
	var windows []Window
	step := 0
	b.ReportAllocs()
	for b.Loop() {
		step++
		shift := time.Duration(step) * time.Second
		copy(batch, template)
		for i := range batch {
			batch[i].Time = batch[i].Time.Add(shift)
		}
		if _, err := a.Process(ctx, batch); err != nil {
			b.Fatal(err)
		}
		windows = a.Flush(windows[:0], clk.t.Add(shift))
	}
	b.ReportMetric(float64(b.N)*float64(len(batch))/b.Elapsed().Seconds(), "points/s")
}

// BenchmarkProcessReading measures the one-reading path, decoding included.
func BenchmarkProcessReading(b *testing.B) {
	data := []byte(`{"sensor_id":"boiler1.steam_temp","value":185.5,"unit":"°F","timestamp":"2026-11-27T12:00:00Z","calibration_factor":1.02}`)
	cfg := ReadingConfig{Now: fixedClock(t0)}
	b.ReportAllocs()
	for b.Loop() {
		raw, err := ParseRawReading(data)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := ProcessReading(raw, cfg); err != nil {
			b.Fatal(err)
		}
	}
}
