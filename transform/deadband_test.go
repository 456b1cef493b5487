package transform

import (
	"context"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/greenlang/gl001/scada"
)

func TestDeadband(t *testing.T) {
	d, err := NewDeadband(DeadbandConfig{Tags: map[string]float64{"t": 0.5}, Heartbeat: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	sec := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Second) }
	uncertain := pt("t", 100.2, "°C", sec(4))
	uncertain.Quality = scada.UncertainLastUsableValue
	bad := pt("t", 100.2, "°C", sec(5))
	bad.Quality = scada.BadNoCommunication
	batch := []scada.Point{
		pt("t", 100, "°C", sec(0)),        // first: passes
		pt("t", 100, "°C", sec(0)),        // redelivery: duplicate
		pt("t", 100.4, "°C", sec(1)),      // within band: suppressed
		pt("t", 100.6, "°C", sec(2)),      // out of band: passes
		pt("t", 100.6, "°F", sec(3)),      // unit change: passes
		uncertain,                         // quality change: passes
		bad,                               // Bad: always passes
		bad,                               // even repeated
		pt("t", 100.2, "°C", sec(3)),      // older than the last passed: a replay, passes
		pt("t", 100.2, "°C", sec(6)),      // quality back to Good: passes
		pt("t", 100.3, "°C", sec(7)),      // within band
		pt("t", 100.3, "°C", sec(16)),     // heartbeat due (10 s since 6 s): passes
		pt("u", 1, "kW", sec(0)),          // other tag, default band 0: passes
		pt("u", 1, "kW", sec(1)),          // same value: suppressed
		pt("u", 1.001, "kW", sec(2)),      // any change passes with band 0
		pt("u", math.NaN(), "kW", sec(3)), // NaN: passes
	}
	out, err := d.Process(context.Background(), batch)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range out {
		got = append(got, p.Time.Sub(t0).String()+"/"+p.Tag)
	}
	want := "0s/t 2s/t 3s/t 4s/t 5s/t 5s/t 3s/t 6s/t 16s/t 0s/u 2s/u 3s/u"
	if strings.Join(got, " ") != want {
		t.Errorf("passed %s\nwant   %s", strings.Join(got, " "), want)
	}
	s := d.Stats()
	if s.Passed != 12 || s.Duplicates != 1 || s.Suppressed != 3 {
		t.Errorf("stats %+v", s)
	}
}

func TestDeadbandNoHeartbeatAndMaxTags(t *testing.T) {
	d, _ := NewDeadband(DeadbandConfig{Default: 1, Heartbeat: -1, MaxTags: 1})
	out, _ := d.Process(context.Background(), []scada.Point{
		pt("a", 1, "kW", t0), pt("a", 1, "kW", t0.Add(24*time.Hour)), pt("b", 1, "kW", t0), pt("b", 1, "kW", t0.Add(time.Second)),
	})
	if len(out) != 3 || out[1].Tag != "b" || out[2].Tag != "b" {
		t.Errorf("out %v", out)
	}
	if err := (DeadbandConfig{Default: -1, Tags: map[string]float64{"x": math.NaN()}, MaxTags: -1}).Validate(); err == nil ||
		!strings.Contains(err.Error(), `tag "x"`) || !strings.Contains(err.Error(), "default") || !strings.Contains(err.Error(), "MaxTags") {
		t.Errorf("Validate: %v", err)
	}
}
