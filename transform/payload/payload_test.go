package payload_test

import (
	"context"
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/greenlang/gl001/coord"
	"github.com/greenlang/gl001/scada"
	"github.com/greenlang/gl001/scada/buffer"
	"github.com/greenlang/gl001/transform"
	"github.com/greenlang/gl001/transform/payload"
)

var t0 = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

// TestScoreSurvivesTheBuffer follows a point that is both past its operating
// limit and stale from the scoring stage through a Buffer to a consumer: the
// consumer reads the score and findings the edge computed (40, limit and
// stale), not the 60 its quality code alone (stale) stands for.
func TestScoreSurvivesTheBuffer(t *testing.T) {
	ctx := context.Background()
	val, err := transform.NewValidator(transform.ValidateConfig{
		Default: transform.Limits{Operating: transform.Range{Min: 100, Max: 200}},
		Now:     func() time.Time { return t0 },
	})
	if err != nil {
		t.Fatal(err)
	}
	buf, err := buffer.NewMemory(buffer.MemoryConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer buf.Close()

	batch := []scada.Point{
		{Tag: "boiler1.steam_temp", Value: 250, Unit: "°C", Quality: scada.Good, Time: t0.Add(-time.Hour), Source: "plc1"},
		{Tag: "boiler1.feed_temp", Value: 150, Unit: "°C", Quality: scada.Good, Time: t0, Source: "plc1"},
	}
	if batch, err = val.Process(ctx, batch); err != nil {
		t.Fatal(err)
	}
	if _, err := buf.Append(ctx, batch); err != nil {
		t.Fatal(err)
	}

	got, err := buf.Read(ctx, "consumer", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Points) != 2 {
		t.Fatalf("read %d points, want 2", len(got.Points))
	}
	p := got.Points[0]
	if p.Quality != scada.UncertainLastUsableValue {
		t.Errorf("quality %v, want UncertainLastUsableValue", p.Quality)
	}
	want := scada.ReasonLimit | scada.ReasonStale
	if score, reasons := transform.PointScore(p); !p.Scored || score != 40 || reasons != want {
		t.Errorf("after the buffer: scored %v, score %d, reasons %v; want 40 %v", p.Scored, score, reasons, want)
	}
	rec := payload.Point(p)
	if rec.Score != 40 || rec.Grade != scada.GradePoor || rec.Reasons != want {
		t.Errorf("agent record %+v", rec)
	}
	if score, _ := transform.PointScore(got.Points[1]); score != 100 {
		t.Errorf("clean point scored %d", score)
	}
}

func TestPoints(t *testing.T) {
	var pts []scada.Point
	for i := range 60 {
		pts = append(pts, scada.Point{Tag: "boiler1.tag" + string(rune('A'+i%26)), Value: float64(i), Unit: "°C",
			Quality: scada.Good, Time: t0.Add(time.Duration(i) * time.Second), Scored: true, Score: 100})
	}
	pts[7].Value, pts[7].Quality, pts[7].Score, pts[7].Reasons = math.NaN(), scada.BadSensorFailure, 0, scada.ReasonNotFinite
	pts[8].Scored, pts[8].Score, pts[8].Quality = false, 0, scada.UncertainEngineeringUnitsExceeded
	msgs, err := payload.Points(pts, coord.SplitConfig{From: "GL-001", MaxPayload: 2048})
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) < 3 {
		t.Fatalf("%d messages for 60 points in 2 KiB each", len(msgs))
	}
	var all []payload.PointRecord
	for _, m := range msgs {
		var p struct {
			Schema string                `json:"schema"`
			Points []payload.PointRecord `json:"points"`
		}
		if err := json.Unmarshal(m.Payload, &p); err != nil || p.Schema != payload.SchemaPoints || m.Name != "points" {
			t.Fatalf("payload %s: %v", m.Payload, err)
		}
		all = append(all, p.Points...)
	}
	if len(all) != len(pts) {
		t.Fatalf("%d points after reassembly", len(all))
	}
	for i, r := range all {
		switch i {
		case 7:
			if r.Value != nil || r.Reasons != scada.ReasonNotFinite || r.Score != 0 || r.Grade != scada.GradeInvalid {
				t.Errorf("NaN point: %+v", r)
			}
		case 8: // unscored: rebuilt from its code
			if r.Reasons != scada.ReasonLimit || r.Score != 80 || r.Grade != scada.GradeGood {
				t.Errorf("unscored point: %+v", r)
			}
		default:
			if r.Value == nil || *r.Value != float64(i) || r.Tag != pts[i].Tag || r.Quality != "Good" || r.Grade != scada.GradeExcellent {
				t.Errorf("point %d: %+v", i, r)
			}
		}
	}
}

func TestWindows(t *testing.T) {
	ws := []transform.Window{{Tag: "flow", Unit: "m³/h", Start: t0, End: t0.Add(time.Minute), Mean: math.NaN(),
		Min: math.NaN(), Max: math.NaN(), Last: math.NaN()}}
	msgs, err := payload.Windows(ws, coord.SplitConfig{From: "GL-001", Name: "summary"})
	if err != nil || len(msgs) != 1 || msgs[0].Name != "summary" {
		t.Fatalf("windows: %v %v", msgs, err)
	}
	var wp struct {
		Schema  string                 `json:"schema"`
		Windows []payload.WindowRecord `json:"windows"`
	}
	if err := json.Unmarshal(msgs[0].Payload, &wp); err != nil || wp.Schema != payload.SchemaWindows || wp.Windows[0].Mean != nil || wp.Windows[0].Tag != "flow" {
		t.Errorf("windows payload %s: %v", msgs[0].Payload, err)
	}
	if _, err := payload.Windows(nil, coord.SplitConfig{}); err == nil {
		t.Error("missing From accepted")
	}
}
