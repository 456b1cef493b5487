package transform

import (
	"bytes"
	"context"
	"log/slog"
	"math"
	"strings"
	"testing"

	"github.com/greenlang/gl001/scada"
	"github.com/greenlang/gl001/units"
)

func TestConverter(t *testing.T) {
	var logs bytes.Buffer
	c, err := NewConverter(ConvertConfig{
		Tags: map[string]units.Unit{
			"hdr.p":      units.MustParse("kPag"),
			"abs.p":      units.MustParse("kPa"),
			"steam.flow": units.MustParse("t/h"),
		},
		Dimensions: EngineeringUnits(),
		Logger:     slog.New(slog.NewTextHandler(&logs, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	bad := pt("x", 7, "degF", t0)
	bad.Quality = scada.BadNoCommunication
	batch := []scada.Point{
		pt("temp", 212, "degF", t0),            // dimension default: °C
		pt("hdr.p", 100, "psig", t0),           // tag target: kPag
		pt("steam.flow", 22046.2, "lb/hr", t0), // tag target: t/h
		pt("temp2", 100, "celsius", t0),        // same unit, other spelling: relabelled
		pt("odd", 5, "furlongs", t0),           // unknown: marked
		pt("steam.flow", 5, "kW", t0),          // incompatible with the tag target: marked
		pt("gauge", 10, "barg", t0),            // gauge, default absolute, no atmosphere: left
		pt("abs.p", 10, "barg", t0),            // gauge, tag wants absolute, no atmosphere: marked
		pt("nounit", 5, "", t0),                // no unit: left for the Validator
		bad,                                    // Bad: left
	}
	out, err := c.Process(context.Background(), batch)
	if err != nil || len(out) != len(batch) {
		t.Fatalf("out %d points, err %v", len(out), err)
	}
	check := func(i int, v float64, unit string, q scada.Quality) {
		t.Helper()
		p := out[i]
		if math.Abs(p.Value-v) > 1e-9*math.Abs(v) || p.Unit != unit || p.Quality != q {
			t.Errorf("point %d (%s) = %v %q %v, want %v %q %v", i, p.Tag, p.Value, p.Unit, p.Quality, v, unit, q)
		}
	}
	check(0, 100, "°C", scada.Good)
	check(1, 689.4757293168361, "kPag", scada.Good)
	check(2, 22046.2*0.45359237/1000, "t/h", scada.Good)
	check(3, 100, "°C", scada.Good)
	check(4, 5, "furlongs", scada.BadConfigurationError)
	check(5, 5, "kW", scada.BadConfigurationError)
	check(6, 10, "barg", scada.Good)
	check(7, 10, "barg", scada.BadConfigurationError)
	check(8, 5, "", scada.Good)
	check(9, 7, "degF", scada.BadNoCommunication)

	s := c.Stats()
	if s.Converted != 4 || s.UnknownUnit != 1 || s.Incompatible != 2 {
		t.Errorf("stats %+v", s)
	}
	if !strings.Contains(logs.String(), "furlongs") {
		t.Errorf("unknown unit not logged: %q", logs.String())
	}
	// The same unknown spelling is logged once, however often it comes.
	_, _ = c.Process(context.Background(), []scada.Point{pt("odd", 1, "furlongs", t0), pt("odd2", 1, "furlongs", t0)})
	if n := strings.Count(logs.String(), "points marked"); n != 1 {
		t.Errorf("unknown unit logged %d times", n)
	}
}

func TestConverterGaugeTarget(t *testing.T) {
	c, err := NewConverter(ConvertConfig{Dimensions: EngineeringUnits(), GaugePressure: EngineeringGaugeUnit()})
	if err != nil {
		t.Fatal(err)
	}
	out, _ := c.Process(context.Background(), []scada.Point{pt("p", 1, "barg", t0), pt("q", 1, "bar", t0)})
	if out[0].Value != 100 || out[0].Unit != "kPag" || out[1].Value != 100 || out[1].Unit != "kPa" {
		t.Errorf("gauge target: %v", out)
	}
	if err := (ConvertConfig{GaugePressure: units.MustParse("kPa")}).Validate(); err == nil {
		t.Error("absolute GaugePressure accepted")
	}
}

func TestConverterAtmosphere(t *testing.T) {
	c, err := NewConverter(ConvertConfig{Dimensions: EngineeringUnits(), Atmosphere: units.StandardAtmosphere})
	if err != nil {
		t.Fatal(err)
	}
	out, _ := c.Process(context.Background(), []scada.Point{pt("p", 1, "barg", t0)})
	if math.Abs(out[0].Value-201.325) > 1e-9 || out[0].Unit != "kPa" || out[0].Quality != scada.Good {
		t.Errorf("1 barg at 1 atm = %v %s %v, want 201.325 kPa", out[0].Value, out[0].Unit, out[0].Quality)
	}
}

// TestConverterUnitChange checks the per-tag cache follows a tag whose unit
// changes between points.
func TestConverterUnitChange(t *testing.T) {
	c, _ := NewConverter(ConvertConfig{Tags: map[string]units.Unit{"t": units.MustParse("K")}})
	out, _ := c.Process(context.Background(), []scada.Point{pt("t", 0, "°C", t0), pt("t", 32, "°F", t0), pt("t", 0, "°C", t0), pt("u", 1, "°C", t0)})
	for i, want := range []float64{273.15, 273.15, 273.15, 1} {
		if math.Abs(out[i].Value-want) > 1e-9 {
			t.Errorf("point %d = %v, want %v", i, out[i].Value, want)
		}
	}
	if out[3].Unit != "°C" {
		t.Errorf("tag without a target changed: %v", out[3])
	}
}

func TestConverterMaxTags(t *testing.T) {
	c, _ := NewConverter(ConvertConfig{Dimensions: EngineeringUnits(), MaxTags: 1})
	out, _ := c.Process(context.Background(), []scada.Point{pt("a", 32, "°F", t0), pt("b", 212, "°F", t0), pt("c", 5, "nope", t0)})
	if out[0].Value != 0 || out[1].Value != 100 || out[2].Quality != scada.BadConfigurationError {
		t.Errorf("beyond MaxTags: %v", out)
	}
	if c.Stats().Uncached != 2 {
		t.Errorf("stats %+v", c.Stats())
	}
}

func TestConvertConfigValidate(t *testing.T) {
	err := ConvertConfig{
		Tags:       map[string]units.Unit{"x": {}},
		Dimensions: map[units.Dimension]units.Unit{units.Power: units.MustParse("kWh")},
		Atmosphere: -1,
		MaxTags:    -1,
	}.Validate()
	for _, want := range []string{`tag "x"`, "power", "atmosphere", "MaxTags"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not mention %s", err, want)
		}
	}
}
