package transform_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/greenlang/gl001/erp"
	"github.com/greenlang/gl001/scada"
	"github.com/greenlang/gl001/transform"
	"github.com/greenlang/gl001/units"
)

// The GL-001 seed's example: a boiler temperature of 185.5 °F from a sensor
// whose calibration factor is 1.02.
func ExampleTransformSensorReading() {
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
	r, err := transform.TransformSensorReading(raw, transform.ReadingConfig{Now: now})
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

func ExampleValidator_Assess() {
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
	scored, _ := val.Assess(context.Background(), batch, nil)
	for _, s := range scored {
		fmt.Printf("%s score %v %v %v\n", s.Point.Tag, s.Score, s.Grade, s.Reasons)
	}
	// Output:
	// t1 score 100 Excellent none
	// t2 score 40 Poor limit|stale
	// t3 score 85 Good missing_unit
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

func ExamplePointMessages() {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	scored := []transform.Scored{{
		Point: scada.Point{Tag: "boiler1.steam_temp", Value: 87.34, Unit: "°C", Quality: scada.Good, Time: now},
		Score: 100, Grade: transform.Excellent,
	}}
	msgs, err := transform.PointMessages(scored, transform.MessageConfig{From: "GL-001", To: "GL-002", Now: func() time.Time { return now }})
	if err != nil {
		panic(err)
	}
	fmt.Println(len(msgs), msgs[0].From, "->", msgs[0].To, msgs[0].Name)
	fmt.Println(string(msgs[0].Payload))
	// Output:
	// 1 GL-001 -> GL-002 points
	// {"schema":"gl001.transform.points/v1","part":1,"parts":1,"points":[{"tag":"boiler1.steam_temp","value":87.34,"unit":"°C","quality":"Good","quality_code":0,"time":"2026-11-27T12:00:00Z","score":100,"grade":"Excellent","reasons":[]}]}
}

func ExampleEnergyNormalizer() {
	n, err := transform.NewEnergyNormalizer(transform.EnergyConfig{
		Plants:   map[string]string{"1000": "hamburg"},
		Interval: time.Hour,
	})
	if err != nil {
		panic(err)
	}
	start := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	hour := func(h int, mwh int64) erp.EnergyRecord {
		return erp.EnergyRecord{
			Source: erp.Source{System: "sap-prod", Entity: "EnergyReadings", Key: fmt.Sprint(h)},
			Plant:  "1000", Meter: "M-STEAM-1",
			Period:   erp.Period{Start: start.Add(time.Duration(h) * time.Hour), End: start.Add(time.Duration(h+1) * time.Hour)},
			Quantity: erp.Quantity{Value: erp.NewDecimal(mwh, 1), Unit: units.MustParse("MWh"), Code: "MWH"},
			Cost:     erp.Money{Amount: erp.NewDecimal(41250, 2), Currency: "EUR"},
		}
	}
	for _, r := range []erp.EnergyRecord{hour(0, 25), hour(1, 27), hour(4, 26)} {
		e := n.Normalize(r)
		fmt.Printf("%s %s %s %.0f %s, cost %s", e.Plant, e.Meter, e.Period.Start.Format("15:04"), e.Value, e.Unit, e.Cost)
		for _, is := range e.Issues {
			fmt.Printf(", %s of %d periods from %s", is.Kind, is.Missing, is.Other.Start.Format("15:04"))
		}
		fmt.Println()
	}
	// Output:
	// hamburg M-STEAM-1 00:00 2500 kWh, cost 412.50 EUR
	// hamburg M-STEAM-1 01:00 2700 kWh, cost 412.50 EUR
	// hamburg M-STEAM-1 04:00 2600 kWh, cost 412.50 EUR, gap of 2 periods from 02:00
}
