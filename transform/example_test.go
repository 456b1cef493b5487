package transform_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/greenlang/gl001/scada"
	"github.com/greenlang/gl001/transform"
	"github.com/greenlang/gl001/units"
)

// A boiler temperature of 185.5 °F from a sensor whose calibration factor is
// 1.02, as a JSON object.
func ExampleProcessReading() {
	raw, err := transform.ParseRawReading([]byte(`{
		"sensor_id": "boiler1.steam_temp",
		"value": 185.5,
		"unit": "°F",
		"timestamp": "2026-11-27T12:00:00Z",
		"calibration_factor": 1.02
	}`))
	if err != nil {
		panic(err)
	}
	now := func() time.Time { return time.Date(2026, 11, 27, 12, 0, 5, 0, time.UTC) }
	r, err := transform.ProcessReading(raw, transform.ReadingConfig{Now: now})
	if err != nil {
		panic(err)
	}
	fmt.Printf("%s: %.2f %s, score %v (%v)\n", r.SensorID, r.Value, r.Unit, r.QualityScore, r.Grade)

	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	_ = enc.Encode(r)
	// Output:
	// boiler1.steam_temp: 87.34 °C, score 100 (Excellent)
	// {
	//   "sensor_id": "boiler1.steam_temp",
	//   "value": 87.3388888888889,
	//   "unit": "°C",
	//   "timestamp": "2026-11-27T12:00:00Z",
	//   "quality_score": 100,
	//   "grade": "Excellent",
	//   "reasons": [],
	//   "metadata": {
	//     "raw_value": 185.5,
	//     "raw_unit": "°F",
	//     "calibration_factor": 1.02,
	//     "calibrated_value": 189.21,
	//     "dimension": "temperature",
	//     "quality": "Good",
	//     "processed_at": "2026-11-27T12:00:05Z"
	//   }
	// }
}

// A malformed raw reading is refused with an error that names the field.
func ExampleParseRawReading() {
	_, err := transform.ParseRawReading([]byte(`{"sensor_id": "TT-101", "value": "hot"}`))
	fmt.Println(err)
	// Output:
	// transform: malformed raw reading: field "value": not a finite number
}

func ExampleChain() {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	cal, _ := transform.NewCalibrator(transform.CalibrateConfig{
		Tags: map[string]transform.Calibration{"header.pressure": {Factor: 1.01}},
	})
	conv, _ := transform.NewConverter(transform.ConvertConfig{
		Tags:       map[string]units.Unit{"header.pressure": units.MustParse("kPag")},
		Dimensions: transform.EngineeringUnits(),
	})
	val, _ := transform.NewValidator(transform.ValidateConfig{
		Tags: map[string]transform.Limits{
			"header.pressure": {Unit: units.MustParse("kPag"), Range: transform.Range{Min: 0, Max: 2000}, Operating: transform.Range{Min: 800, Max: 1200}},
		},
		Now: func() time.Time { return now },
	})
	pipeline := transform.Chain(cal, conv, val)

	batch := []scada.Point{
		{Tag: "header.pressure", Value: 150, Unit: "psig", Quality: scada.Good, Time: now},
		{Tag: "header.pressure", Value: 350, Unit: "psig", Quality: scada.Good, Time: now.Add(time.Second)},
		{Tag: "stack.temp", Value: 412, Unit: "furlongs", Quality: scada.Good, Time: now},
	}
	out, err := pipeline.Process(context.Background(), batch)
	if err != nil {
		panic(err)
	}
	for _, p := range out {
		fmt.Printf("%s %.1f %s %v\n", p.Tag, p.Value, p.Unit, p.Quality)
	}
	// Output:
	// header.pressure 1044.6 kPag Good
	// header.pressure 2437.3 kPag BadOutOfRange
	// stack.temp 412.0 furlongs BadConfigurationError
}

// The scoring stage records every finding on the point: t2 is both past its
// operating limit and stale. Its Quality code can name only the most severe
// finding; its Score and Reasons keep both.
func ExampleValidator() {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	val, _ := transform.NewValidator(transform.ValidateConfig{
		Default: transform.Limits{Operating: transform.Range{Min: 100, Max: 200}},
		Now:     func() time.Time { return now },
	})
	batch := []scada.Point{
		{Tag: "t1", Value: 150, Unit: "°C", Quality: scada.Good, Time: now},
		{Tag: "t2", Value: 250, Unit: "°C", Quality: scada.Good, Time: now.Add(-time.Hour)},
		{Tag: "t3", Value: 150, Quality: scada.Good, Time: now},
	}
	batch, _ = val.Process(context.Background(), batch)
	for _, p := range batch {
		fmt.Printf("%s score %v %v %v (%v)\n", p.Tag, p.Score, scada.GradeOf(float64(p.Score)), p.Reasons, p.Quality)
	}
	// Output:
	// t1 score 100 Excellent none (Good)
	// t2 score 40 Poor limit|stale (UncertainLastUsableValue)
	// t3 score 85 Good missing_unit (UncertainConfigurationError)
}

func ExampleAggregator() {
	start := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	agg, _ := transform.NewAggregator(transform.AggregateConfig{Window: time.Minute, DefaultSamplePeriod: 10 * time.Second})
	var batch []scada.Point
	for i := range 5 { // 5 of the 6 samples a minute at 10 s
		batch = append(batch, scada.Point{Tag: "flow", Value: float64(100 + i), Unit: "m³/h", Quality: scada.Good, Time: start.Add(time.Duration(i) * 10 * time.Second)})
	}
	_, _ = agg.Process(context.Background(), batch)
	for _, w := range agg.Flush(nil, start.Add(time.Minute)) {
		fmt.Printf("%s %s-%s n=%d mean=%.1f min=%.0f max=%.0f completeness=%.2f score=%.1f %v\n",
			w.Tag, w.Start.Format("15:04"), w.End.Format("15:04"), w.Count, w.Mean, w.Min, w.Max, w.Completeness, w.Score, w.Grade)
	}
	// Output:
	// flow 12:00-12:01 n=5 mean=102.0 min=100 max=104 completeness=0.83 score=83.3 Good
}
