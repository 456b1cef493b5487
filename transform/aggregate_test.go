package transform

import (
	"context"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/greenlang/gl001/scada"
)

func TestAggregator(t *testing.T) {
	a, err := NewAggregator(AggregateConfig{
		Window:       time.Minute,
		SamplePeriod: map[string]time.Duration{"flow": 15 * time.Second},
		Grace:        10 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	uncertain := pt("flow", 30, "m³/h", at(30))
	uncertain.Quality = scada.UncertainEngineeringUnitsExceeded
	bad := pt("flow", 0, "m³/h", at(45))
	bad.Quality = scada.BadNoCommunication
	batch := []scada.Point{
		pt("flow", 10, "m³/h", at(0)),
		pt("flow", 20, "m³/h", at(15)),
		uncertain,
		bad,
		pt("flow", 99, "kg/h", at(50)),    // another unit: not aggregated
		pt("flow", 40, "m³/h", at(61)),    // next window
		pt("temp", 80, "°C", at(5)),       // another tag, no sample period
		pt("temp", 70, "°C", at(-5)),      // the window before
		pt("temp", 75, "°C", time.Time{}), // untimed
	}
	out, err := a.Process(context.Background(), batch)
	if err != nil || len(out) != len(batch) || out[0].Value != 10 {
		t.Fatalf("Process changed the batch: %v %v", out, err)
	}
	// At 12:01:05 the 12:00 windows are within their grace; only 11:59 closes.
	ws := a.Flush(nil, t0.Add(65*time.Second))
	if len(ws) != 1 || ws[0].Tag != "temp" || !ws[0].End.Equal(t0) || ws[0].Mean != 70 {
		t.Fatalf("first flush: %+v", ws)
	}
	ws = a.Flush(ws[:0], t0.Add(70*time.Second))
	if len(ws) != 2 || ws[0].Tag != "flow" || ws[1].Tag != "temp" {
		t.Fatalf("second flush: %+v", ws)
	}
	f := ws[0]
	if f.Count != 5 || f.Valid != 3 || f.Good != 3 || f.Uncertain != 1 || f.Bad != 1 || f.Unit != "m³/h" {
		t.Errorf("flow counts %+v", f)
	}
	if f.Mean != 20 || f.Min != 10 || f.Max != 30 || f.Last != 30 || !f.LastTime.Equal(at(30)) {
		t.Errorf("flow stats %+v", f)
	}
	// 4 expected (60 s / 15 s), 3 valid: 0.75. Score: (100+100+80+0+100)/5.
	if f.Expected != 4 || f.Completeness != 0.75 || f.Score != 76 || f.Grade != scada.GradeFair {
		t.Errorf("flow completeness %v/%v score %v %v", f.Completeness, f.Expected, f.Score, f.Grade)
	}
	if ws[1].Expected != 0 || ws[1].Completeness != 1 || ws[1].Score != 100 {
		t.Errorf("temp %+v", ws[1])
	}

	// A late point for an emitted window is counted, not aggregated.
	_, _ = a.Process(context.Background(), []scada.Point{pt("flow", 1, "m³/h", at(59))})
	rest := a.FlushAll(nil)
	if len(rest) != 1 || rest[0].Count != 1 || rest[0].Mean != 40 {
		t.Errorf("FlushAll: %+v", rest)
	}
	s := a.Stats()
	if s.Late != 1 || s.Untimed != 1 || s.UnitMismatch != 1 || s.Windows != 4 {
		t.Errorf("stats %+v", s)
	}
}

func TestAggregatorEmptyAndMissingSamples(t *testing.T) {
	a, _ := NewAggregator(AggregateConfig{DefaultSamplePeriod: 10 * time.Second, MaxTags: 1})
	bad := pt("a", 0, "kW", t0)
	bad.Quality = scada.BadSensorFailure
	_, _ = a.Process(context.Background(), []scada.Point{bad, pt("b", 1, "kW", t0)})
	ws := a.FlushAll(nil)
	if len(ws) != 1 {
		t.Fatalf("windows %+v", ws)
	}
	w := ws[0]
	if !math.IsNaN(w.Mean) || !math.IsNaN(w.Min) || w.Valid != 0 || w.Completeness != 0 || w.Score != 0 || w.Grade != scada.GradeInvalid || w.Expected != 6 {
		t.Errorf("all-bad window %+v", w)
	}
	if a.Stats().Unaggregated != 1 {
		t.Errorf("stats %+v", a.Stats())
	}
	// Windows before 1970 align too.
	old := time.Date(1969, 12, 31, 23, 59, 30, 0, time.UTC)
	a, _ = NewAggregator(AggregateConfig{})
	_, _ = a.Process(context.Background(), []scada.Point{pt("a", 1, "kW", old)})
	if ws := a.FlushAll(nil); len(ws) != 1 || !ws[0].Start.Equal(time.Date(1969, 12, 31, 23, 59, 0, 0, time.UTC)) {
		t.Errorf("pre-epoch window %+v", ws)
	}
}

func TestAggregateConfigValidate(t *testing.T) {
	err := AggregateConfig{Window: -1, Grace: -1, DefaultSamplePeriod: -1, SamplePeriod: map[string]time.Duration{"x": 0}, MaxTags: -1}.Validate()
	for _, want := range []string{"window", "grace", "default sample period", `tag "x"`, "MaxTags"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not mention %s", err, want)
		}
	}
}
