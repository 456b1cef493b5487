package transform

import (
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/greenlang/gl001/scada"
	"github.com/greenlang/gl001/units"
)

func TestParseRawReadingFieldErrors(t *testing.T) {
	for _, c := range []struct {
		in, field string
	}{
		{`[]`, ""},
		{`null`, ""},
		{`{`, ""},
		{`{"value": 1}`, "sensor_id"},
		{`{"sensor_id": null, "value": 1}`, "sensor_id"},
		{`{"sensor_id": 7, "value": 1}`, "sensor_id"},
		{`{"sensor_id": "", "value": 1}`, "sensor_id"},
		{`{"sensor_id": "` + strings.Repeat("x", 300) + `", "value": 1}`, "sensor_id"},
		{`{"sensor_id": "a"}`, "value"},
		{`{"sensor_id": "a", "value": "185.5"}`, "value"},
		{`{"sensor_id": "a", "value": 1e999}`, "value"},
		{`{"sensor_id": "a", "value": true}`, "value"},
		{`{"sensor_id": "a", "value": 1, "unit": 5}`, "unit"},
		{`{"sensor_id": "a", "value": 1, "unit": "` + strings.Repeat("u", 100) + `"}`, "unit"},
		{`{"sensor_id": "a", "value": 1, "timestamp": "yesterday"}`, "timestamp"},
		{`{"sensor_id": "a", "value": 1, "timestamp": {}}`, "timestamp"},
		{`{"sensor_id": "a", "value": 1, "timestamp": 1e300}`, "timestamp"},
		{`{"sensor_id": "a", "value": 1, "calibration_factor": "1.02"}`, "calibration_factor"},
		{`{"sensor_id": "a", "value": 1, "calibration_factor": 0}`, "calibration_factor"},
	} {
		_, err := ParseRawReading([]byte(c.in))
		var fe *FieldError
		if !errors.Is(err, ErrBadReading) || !errors.As(err, &fe) || fe.Field != c.field {
			t.Errorf("ParseRawReading(%.60s) = %v, want a FieldError on %q", c.in, err, c.field)
		}
	}
	if _, err := ParseRawReading(make([]byte, MaxRawReadingSize+1)); !errors.Is(err, ErrBadReading) {
		t.Errorf("oversized: %v", err)
	}
}

func TestParseRawReading(t *testing.T) {
	r, err := ParseRawReading([]byte(`{"sensor_id":"TT-1","value":-3,"unit":null,"timestamp":1764244800.5,"extra":{"x":1}}`))
	if err != nil {
		t.Fatal(err)
	}
	want := RawReading{SensorID: "TT-1", Value: -3, Timestamp: time.Unix(1764244800, 5e8).UTC()}
	if r != want {
		t.Errorf("got %+v, want %+v", r, want)
	}
}

func TestRawReadingFromMap(t *testing.T) {
	// The same reading as JSON and as the map json.Unmarshal gives.
	js := `{"sensor_id":"TT-1","value":185.5,"unit":"°F","timestamp":"2026-11-27T12:00:00Z","calibration_factor":1.02}`
	fromJSON, err := ParseRawReading([]byte(js))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(js), &m); err != nil {
		t.Fatal(err)
	}
	fromMap, err := RawReadingFromMap(m)
	if err != nil || fromMap != fromJSON {
		t.Errorf("map %+v (%v), json %+v", fromMap, err, fromJSON)
	}
	// Go-built maps: integers, time.Time, json.Number.
	r, err := RawReadingFromMap(map[string]any{"sensor_id": "x", "value": 7, "timestamp": t0, "calibration_factor": json.Number("2")})
	if err != nil || r.Value != 7 || !r.Timestamp.Equal(t0) || r.CalibrationFactor != 2 {
		t.Errorf("got %+v, %v", r, err)
	}
	for _, c := range []struct {
		m     map[string]any
		field string
	}{
		{map[string]any{"value": 1}, "sensor_id"},
		{map[string]any{"sensor_id": 1, "value": 1}, "sensor_id"},
		{map[string]any{"sensor_id": "x"}, "value"},
		{map[string]any{"sensor_id": "x", "value": math.NaN()}, "value"},
		{map[string]any{"sensor_id": "x", "value": "1"}, "value"},
		{map[string]any{"sensor_id": "x", "value": 1, "unit": 1}, "unit"},
		{map[string]any{"sensor_id": "x", "value": 1, "timestamp": "noon"}, "timestamp"},
		{map[string]any{"sensor_id": "x", "value": 1, "timestamp": []int{1}}, "timestamp"},
		{map[string]any{"sensor_id": "x", "value": 1, "calibration_factor": 0.0}, "calibration_factor"},
		{map[string]any{"sensor_id": "", "value": 1}, "sensor_id"},
	} {
		_, err := RawReadingFromMap(c.m)
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != c.field {
			t.Errorf("RawReadingFromMap(%v) = %v, want a FieldError on %q", c.m, err, c.field)
		}
	}
}

func TestProcessReading(t *testing.T) {
	cfg := ReadingConfig{Now: fixedClock(t0)}
	r, err := ProcessReading(RawReading{SensorID: "TT-101", Value: 185.5, Unit: "°F", Timestamp: t0, CalibrationFactor: 1.02}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	// (185.5 × 1.02 − 32) × 5/9 = 87.338 888 ... °C
	if math.Abs(r.Value-87.33888888888889) > 1e-12 || r.Unit != "°C" || r.QualityScore != 100 || r.Grade != scada.GradeExcellent {
		t.Errorf("boiler example: %+v", r)
	}
	if r.Metadata.CalibratedValue != math.FMA(185.5, 1.02, 0) || r.Metadata.RawUnit != "°F" || r.Metadata.Dimension != "temperature" {
		t.Errorf("metadata %+v", r.Metadata)
	}

	// Marked, never refused.
	for _, c := range []struct {
		raw    RawReading
		reason scada.Reason
	}{
		{RawReading{SensorID: "a", Value: 1, Unit: "furlongs", Timestamp: t0}, scada.ReasonUnit},
		{RawReading{SensorID: "a", Value: 1, Timestamp: t0}, scada.ReasonMissingUnit},
		{RawReading{SensorID: "a", Value: 1, Unit: "kW"}, scada.ReasonNoTimestamp},
		{RawReading{SensorID: "a", Value: 1, Unit: "kW", Timestamp: t0.Add(-time.Hour)}, scada.ReasonStale},
		{RawReading{SensorID: "a", Value: 1, Unit: "kW", Timestamp: t0.Add(time.Hour)}, scada.ReasonFuture},
	} {
		r, err := ProcessReading(c.raw, cfg)
		if err != nil || r.Reasons != c.reason || r.QualityScore != float64(Score(c.reason)) {
			t.Errorf("%+v: reasons %v score %v err %v, want %v", c.raw, r.Reasons, r.QualityScore, err, c.reason)
		}
	}
	if r, _ := ProcessReading(RawReading{SensorID: "a", Value: 1, Unit: "kW"}, cfg); !r.Timestamp.Equal(t0) {
		t.Errorf("missing timestamp not stamped with the processing time: %v", r.Timestamp)
	}
	// Gauge pressure: kPag by default, absolute with a reference.
	r, _ = ProcessReading(RawReading{SensorID: "p", Value: 1, Unit: "barg", Timestamp: t0}, cfg)
	if r.Unit != "kPag" || r.Value != 100 {
		t.Errorf("gauge: %v %s", r.Value, r.Unit)
	}
	// With caller targets and no gauge target, a gauge pressure stays as it is.
	r, _ = ProcessReading(RawReading{SensorID: "p", Value: 1, Unit: "barg", Timestamp: t0},
		ReadingConfig{Now: cfg.Now, Targets: map[units.Dimension]units.Unit{units.Pressure: units.MustParse("kPa")}})
	if r.Unit != "barg" || r.Value != 1 || r.Reasons != 0 {
		t.Errorf("gauge without target: %v %s %v", r.Value, r.Unit, r.Reasons)
	}
	cfg.Atmosphere = units.StandardAtmosphere
	r, _ = ProcessReading(RawReading{SensorID: "p", Value: 1, Unit: "barg", Timestamp: t0}, cfg)
	if r.Unit != "kPa" || math.Abs(r.Value-201.325) > 1e-9 {
		t.Errorf("gauge with reference: %v %s", r.Value, r.Unit)
	}
	if _, err := ProcessReading(RawReading{Value: 1}, cfg); !errors.Is(err, ErrBadReading) {
		t.Errorf("empty sensor id: %v", err)
	}
	cfg.Atmosphere = -5
	if _, err := ProcessReading(RawReading{SensorID: "a", Value: 1}, cfg); err == nil {
		t.Error("bad config accepted")
	}
}

// FuzzParseRawReading checks that the raw-reading decoder never panics, that
// every error is a FieldError matching ErrBadReading, and that every reading it
// accepts transforms into a scored reading.
func FuzzParseRawReading(f *testing.F) {
	for _, s := range []string{
		`{"sensor_id":"boiler1.steam_temp","value":185.5,"unit":"°F","timestamp":"2026-11-27T12:00:00Z","calibration_factor":1.02}`,
		`{"sensor_id":"a","value":1,"timestamp":1764244800}`,
		`{"sensor_id":"a","value":-0,"unit":"psig","timestamp":-1.5}`,
		`{"sensor_id":"a","value":1e308,"calibration_factor":1e308}`,
		`{"sensor_id":"a","value":1,"timestamp":"2026-11-27T12:00:00.123456789+05:30"}`,
		`{"sensor_id":"\u0000","value":0}`, `{}`, `[]`, `"x"`, `{"sensor_id":"a","value":1,"sensor_id":2}`,
	} {
		f.Add([]byte(s))
	}
	cfg := ReadingConfig{Now: fixedClock(t0)}
	f.Fuzz(func(t *testing.T, data []byte) {
		raw, err := ParseRawReading(data)
		if err != nil {
			var fe *FieldError
			if !errors.Is(err, ErrBadReading) || !errors.As(err, &fe) || !utf8.ValidString(err.Error()) {
				t.Fatalf("error %v (%T)", err, err)
			}
			return
		}
		if raw.SensorID == "" || math.IsNaN(raw.Value) || math.IsInf(raw.Value, 0) || math.IsInf(raw.CalibrationFactor, 0) {
			t.Fatalf("accepted %+v", raw)
		}
		r, err := ProcessReading(raw, cfg)
		if err != nil {
			t.Fatalf("ProcessReading(%+v): %v", raw, err)
		}
		if r.QualityScore < 0 || r.QualityScore > 100 || r.SensorID != raw.SensorID {
			t.Fatalf("reading %+v", r)
		}
		if _, err := json.Marshal(r); err != nil && !math.IsInf(r.Value, 0) {
			t.Fatalf("reading does not marshal: %v", err)
		}
	})
}
