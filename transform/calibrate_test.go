package transform

import (
	"context"
	"math"
	"strings"
	"testing"

	"github.com/greenlang/gl001/scada"
)

func TestCalibrator(t *testing.T) {
	c, err := NewCalibrator(CalibrateConfig{
		Tags:    map[string]Calibration{"a": {Factor: 1.02}, "b": {Factor: 2, Offset: -1}, "c": {Offset: 0.5}},
		Default: Calibration{Factor: 10},
	})
	if err != nil {
		t.Fatal(err)
	}
	bad := pt("a", 100, "kW", t0)
	bad.Quality = scada.BadSensorFailure
	batch := []scada.Point{
		pt("a", 185.5, "°F", t0), pt("b", 3, "kW", t0), pt("c", 1, "kW", t0), pt("other", 2, "kW", t0),
		bad, pt("a", math.NaN(), "kW", t0),
	}
	out, err := c.Process(context.Background(), batch)
	if err != nil {
		t.Fatal(err)
	}
	want := []float64{math.FMA(185.5, 1.02, 0), 5, 1.5, 20, 100}
	for i, w := range want {
		if out[i].Value != w {
			t.Errorf("point %d (%s) = %v, want %v", i, out[i].Tag, out[i].Value, w)
		}
	}
	if !math.IsNaN(out[5].Value) || len(out) != 6 {
		t.Errorf("NaN point changed or dropped: %v", out)
	}
	if got := c.Stats().Calibrated; got != 4 {
		t.Errorf("calibrated %d, want 4", got)
	}
}

func TestCalibrateConfigValidate(t *testing.T) {
	err := CalibrateConfig{
		Tags:    map[string]Calibration{"x": {Factor: math.NaN()}, "y": {Offset: math.Inf(1)}},
		Default: Calibration{Factor: math.Inf(-1)},
	}.Validate()
	for _, want := range []string{`tag "x"`, `tag "y"`, "default"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not mention %s", err, want)
		}
	}
	if _, err := NewCalibrator(CalibrateConfig{Default: Calibration{Factor: math.NaN()}}); err == nil {
		t.Error("NewCalibrator accepted a NaN factor")
	}
}
