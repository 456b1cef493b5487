package transform

import (
	"context"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/greenlang/gl001/scada"
	"github.com/greenlang/gl001/units"
)

// assess runs v on batch and returns the scored points.
func assess(t *testing.T, v *Validator, batch ...scada.Point) []scada.Point {
	t.Helper()
	out, err := v.Process(context.Background(), batch)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != len(batch) {
		t.Fatalf("assessed %d of %d points", len(out), len(batch))
	}
	return out
}

// TestValidatorFindings checks each finding on its own: the reason, the
// Quality code it marks and the score.
func TestValidatorFindings(t *testing.T) {
	lim := Limits{Range: Range{0, 500}, Operating: Range{100, 200}}
	with := func(q scada.Quality, p scada.Point) scada.Point { p.Quality = q; return p }
	cases := []struct {
		name   string
		p      scada.Point
		reason scada.Reason
		q      scada.Quality
		score  uint8
	}{
		{"clean", pt("t", 150, "°C", t0), 0, scada.Good, 100},
		{"clean, good with info bits", with(scada.GoodClamped, pt("t", 150, "°C", t0)), 0, scada.GoodClamped, 100},
		{"bad source", with(scada.BadNoCommunication, pt("t", 0, "°C", t0)), scada.ReasonBadQuality, scada.BadNoCommunication, 0},
		{"uncertain source", with(scada.UncertainInitialValue, pt("t", 150, "°C", t0)), scada.ReasonUncertainQuality, scada.UncertainInitialValue, 80},
		{"NaN", pt("t", math.NaN(), "°C", t0), scada.ReasonNotFinite, scada.BadSensorFailure, 0},
		{"+Inf", pt("t", math.Inf(1), "°C", t0), scada.ReasonNotFinite, scada.BadSensorFailure, 0},
		{"missing unit", pt("t", 150, "", t0), scada.ReasonMissingUnit, scada.UncertainConfigurationError, 85},
		{"out of range", pt("t", 600, "°C", t0), scada.ReasonOutOfRange | scada.ReasonLimit, scada.BadOutOfRange, 0},
		{"operating limit", pt("t", 250, "°C", t0), scada.ReasonLimit, scada.UncertainEngineeringUnitsExceeded, 80},
		{"stale", pt("t", 150, "°C", t0.Add(-time.Hour)), scada.ReasonStale, scada.UncertainLastUsableValue, 60},
		{"future", pt("t", 150, "°C", t0.Add(time.Hour)), scada.ReasonFuture, scada.BadInvalidTimestamp, 0},
		{"no timestamp", pt("t", 150, "°C", time.Time{}), scada.ReasonNoTimestamp, scada.Uncertain, 80},
		{"within skew", pt("t", 150, "°C", t0.Add(30*time.Second)), 0, scada.Good, 100},
		{"stale and limit", pt("t", 250, "°C", t0.Add(-time.Hour)), scada.ReasonStale | scada.ReasonLimit, scada.UncertainLastUsableValue, 40},
		{"marked by Converter", with(scada.BadConfigurationError, pt("t", 1, "nope", t0)), scada.ReasonUnit, scada.BadConfigurationError, 0},
	}
	for _, c := range cases {
		// A fresh Validator per case: no history.
		v, err := NewValidator(ValidateConfig{Default: lim, Now: fixedClock(t0)})
		if err != nil {
			t.Fatal(err)
		}
		s := assess(t, v, c.p)[0]
		if s.Reasons != c.reason || s.Quality != c.q || s.Score != c.score || !s.Scored {
			t.Errorf("%s: reasons %v quality %v score %v scored %v; want %v %v %v", c.name, s.Reasons, s.Quality, s.Score, s.Scored, c.reason, c.q, c.score)
		}
	}
}

func TestValidatorKeepsGoodPointsAroundBadOnes(t *testing.T) {
	v, _ := NewValidator(ValidateConfig{Default: Limits{Range: Range{0, 100}}, Now: fixedClock(t0)})
	batch := []scada.Point{pt("a", 10, "kW", t0), pt("b", math.NaN(), "kW", t0), pt("c", 1e9, "kW", t0), pt("d", 20, "kW", t0)}
	out, _ := v.Process(context.Background(), batch)
	if len(out) != 4 || out[0].Quality != scada.Good || out[3].Quality != scada.Good || !out[1].Quality.IsBad() || !out[2].Quality.IsBad() {
		t.Fatalf("out %v", out)
	}
	if out[0].Value != 10 || out[3].Value != 20 {
		t.Fatalf("good values changed: %v", out)
	}
}

func TestValidatorRateOfChangeAndFlatLine(t *testing.T) {
	v, _ := NewValidator(ValidateConfig{
		Tags: map[string]Limits{"t": {MaxRate: 2, FlatLine: 3}},
		Now:  fixedClock(t0.Add(time.Minute)),
	})
	sec := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Second) }
	got := assess(t, v,
		pt("t", 100, "°C", sec(0)),
		pt("t", 101, "°C", sec(1)), // 1/s: fine
		pt("t", 110, "°C", sec(2)), // 9/s: too fast
		pt("t", 114, "°C", sec(4)), // 2/s: at the limit, fine
		pt("t", 114, "°C", sec(5)), // second identical
		pt("t", 114, "°C", sec(6)), // third identical: flat line
		pt("t", 114, "°C", sec(6)), // the same point again: still flat, history unchanged
		pt("t", 114, "°C", sec(7)), // fourth: still flat
		pt("t", 115, "°C", sec(8)), // moves: fine
		pt("t", 90, "°C", sec(3)),  // out of order: no rate check against newer history
	)
	want := []scada.Reason{0, 0, scada.ReasonRateOfChange, 0, 0, scada.ReasonFlatLine, scada.ReasonFlatLine, scada.ReasonFlatLine, 0, 0}
	for i, w := range want {
		if got[i].Reasons != w {
			t.Errorf("point %d (%v at %v): %v, want %v", i, got[i].Value, got[i].Time.Sub(t0), got[i].Reasons, w)
		}
	}
	if got[2].Quality != scada.UncertainSensorNotAccurate || got[5].Quality != scada.UncertainSensorNotAccurate {
		t.Errorf("qualities %v %v", got[2].Quality, got[5].Quality)
	}
}

// TestValidatorLimitsInOtherUnit states limits in °C and feeds °F points.
func TestValidatorLimitsInOtherUnit(t *testing.T) {
	v, _ := NewValidator(ValidateConfig{
		Tags: map[string]Limits{"t": {Unit: units.MustParse("°C"), Range: Range{0, 100}, Operating: Range{20, 80}, MaxRate: 1}},
		Now:  fixedClock(t0.Add(time.Minute)),
	})
	got := assess(t, v,
		pt("t", 122, "°F", t0),                    // 50 °C: fine
		pt("t", 190, "degF", t0.Add(time.Second)), // 87.8 °C: limit; +37.8 K in 1 s: rate
		pt("t", 213, "°F", t0.Add(time.Hour)),     // from the future, and above 100 °C
		pt("t", 300, "K", t0.Add(2*time.Second)),  // 26.85 °C, in kelvin: fine range; rate
		pt("t", 5, "kW", t0.Add(3*time.Second)),   // not a temperature
		pt("t", 5, "nope", t0.Add(4*time.Second)), // unknown unit
	)
	want := []scada.Reason{0, scada.ReasonLimit | scada.ReasonRateOfChange, scada.ReasonOutOfRange | scada.ReasonLimit | scada.ReasonFuture, scada.ReasonRateOfChange, scada.ReasonUnit, scada.ReasonUnit}
	for i, w := range want {
		if got[i].Reasons != w {
			t.Errorf("point %d (%v %s): %v, want %v", i, got[i].Value, got[i].Unit, got[i].Reasons, w)
		}
	}
}

func TestValidatorTimestampChecksOff(t *testing.T) {
	v, _ := NewValidator(ValidateConfig{Stale: -1, FutureSkew: -1, AllowMissingUnit: true, Now: fixedClock(t0)})
	got := assess(t, v, pt("a", 1, "", t0.Add(-24*time.Hour)), pt("b", 1, "", t0.Add(24*time.Hour)))
	if got[0].Reasons != 0 || got[1].Reasons != 0 {
		t.Errorf("checks not off: %v %v", got[0].Reasons, got[1].Reasons)
	}
	v, _ = NewValidator(ValidateConfig{Stale: time.Second, FutureSkew: time.Second, Now: fixedClock(t0)})
	got = assess(t, v, pt("a", 1, "kW", t0.Add(-2*time.Second)), pt("b", 1, "kW", t0.Add(2*time.Second)))
	if got[0].Reasons != scada.ReasonStale || got[1].Reasons != scada.ReasonFuture {
		t.Errorf("custom thresholds: %v %v", got[0].Reasons, got[1].Reasons)
	}
}

func TestValidatorStatsAndMaxTags(t *testing.T) {
	v, _ := NewValidator(ValidateConfig{Default: Limits{FlatLine: 2}, MaxTags: 1, Now: fixedClock(t0)})
	got := assess(t, v, pt("a", 1, "kW", t0), pt("b", 1, "kW", t0), pt("b", 1, "kW", t0.Add(time.Second)), pt("x", math.NaN(), "kW", t0))
	// Tag b is beyond MaxTags: no history, so no flat line.
	if got[2].Reasons != 0 {
		t.Errorf("untracked tag has history: %v", got[2].Reasons)
	}
	s := v.Stats()
	if s.Checked != 4 || s.Flagged != 1 || s.Reasons["not_finite"] != 1 || s.Uncached != 2 {
		t.Errorf("stats %+v", s)
	}
}

func TestValidateConfigValidate(t *testing.T) {
	err := ValidateConfig{
		Tags: map[string]Limits{
			"a": {Range: Range{10, 0}},
			"b": {Operating: Range{math.NaN(), 1}},
			"c": {MaxRate: -1},
			"d": {FlatLine: 1},
		},
		MaxTags: -1,
	}.Validate()
	for _, want := range []string{`tag "a"`, `tag "b"`, `tag "c"`, `tag "d"`, "MaxTags"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not mention %s", err, want)
		}
	}
}
