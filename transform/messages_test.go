package transform

import (
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/greenlang/gl001/coord"
	"github.com/greenlang/gl001/erp"
	"github.com/greenlang/gl001/scada"
	"github.com/greenlang/gl001/units"
)

type pointsPayload struct {
	Schema string        `json:"schema"`
	Part   int           `json:"part"`
	Parts  int           `json:"parts"`
	Points []PointRecord `json:"points"`
}

func TestPointMessagesSplit(t *testing.T) {
	var scored []Scored
	for i := range 60 {
		p := pt("boiler1.tag"+string(rune('A'+i%26)), float64(i), "°C", t0.Add(time.Duration(i)*time.Second))
		scored = append(scored, Scored{Point: p, Score: 100, Grade: Excellent})
	}
	scored[7].Point.Value = math.NaN()
	scored[7].Reasons = ReasonNotFinite
	cfg := MessageConfig{From: "GL-001", To: "GL-002", Type: coord.TypeCommand, MaxPayload: 2048, Now: fixedClock(t0)}
	msgs, err := PointMessages(scored, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) < 3 {
		t.Fatalf("%d messages for 60 points in 2 KiB each", len(msgs))
	}
	var all []PointRecord
	ids := map[string]bool{}
	for i, m := range msgs {
		if len(m.Payload) > cfg.MaxPayload {
			t.Errorf("message %d payload %d bytes > %d", i, len(m.Payload), cfg.MaxPayload)
		}
		if m.From != "GL-001" || m.To != "GL-002" || m.Type != coord.TypeCommand || m.Name != "points" || !m.Time.Equal(t0) {
			t.Errorf("message %d header %+v", i, m)
		}
		if m.CorrelationID != msgs[0].CorrelationID || m.CorrelationID == "" || ids[m.ID] {
			t.Errorf("message %d ids: %q %q", i, m.ID, m.CorrelationID)
		}
		ids[m.ID] = true
		var p pointsPayload
		if err := m.Decode(&p); err != nil {
			t.Fatal(err)
		}
		if p.Schema != SchemaPoints || p.Part != i+1 || p.Parts != len(msgs) {
			t.Errorf("message %d envelope %s %d/%d", i, p.Schema, p.Part, p.Parts)
		}
		all = append(all, p.Points...)
	}
	if len(all) != 60 {
		t.Fatalf("%d points after reassembly", len(all))
	}
	for i, r := range all {
		if i == 7 {
			if r.Value != nil || r.Reasons != ReasonNotFinite {
				t.Errorf("NaN point: %+v", r)
			}
			continue
		}
		if r.Value == nil || *r.Value != float64(i) || r.Tag != scored[i].Point.Tag || r.Quality != "Good" || r.Grade != Excellent {
			t.Errorf("point %d: %+v", i, r)
		}
	}
}

func TestMessagesEdgeCases(t *testing.T) {
	// No records: one message with an empty array.
	msgs, err := PointMessages(nil, MessageConfig{From: "GL-001"})
	if err != nil || len(msgs) != 1 || !strings.Contains(string(msgs[0].Payload), `"points":[]`) {
		t.Fatalf("empty: %v %v", msgs, err)
	}
	// One record too large for the limit.
	big := []Scored{{Point: pt(strings.Repeat("x", 3000), 1, "kW", t0)}}
	if _, err := PointMessages(big, MessageConfig{From: "GL-001", MaxPayload: 2048}); !errors.Is(err, ErrRecordTooLarge) {
		t.Errorf("oversized record: %v", err)
	}
	if err := (MessageConfig{MaxPayload: 10}).Validate(); err == nil || !strings.Contains(err.Error(), "From") || !strings.Contains(err.Error(), "MaxPayload") {
		t.Errorf("Validate: %v", err)
	}
	if _, err := WindowMessages(nil, MessageConfig{}); err == nil {
		t.Error("missing From accepted")
	}
}

func TestWindowAndEnergyMessages(t *testing.T) {
	ws := []Window{{Tag: "flow", Unit: "m³/h", Start: t0, End: t0.Add(time.Minute), Count: 0, Mean: math.NaN(), Min: math.NaN(), Max: math.NaN(), Last: math.NaN()}}
	msgs, err := WindowMessages(ws, MessageConfig{From: "GL-001", Name: "summary"})
	if err != nil || len(msgs) != 1 || msgs[0].Name != "summary" {
		t.Fatalf("windows: %v %v", msgs, err)
	}
	var wp struct {
		Schema  string         `json:"schema"`
		Windows []WindowRecord `json:"windows"`
	}
	if err := json.Unmarshal(msgs[0].Payload, &wp); err != nil || wp.Schema != SchemaWindows || wp.Windows[0].Mean != nil || wp.Windows[0].Tag != "flow" {
		t.Errorf("windows payload %s: %v", msgs[0].Payload, err)
	}

	e := Energy{Plant: "hamburg", Meter: "M1", Period: erp.Period{Start: t0, End: t0.Add(time.Hour)}, Value: 1520.5,
		Unit: units.MustParse("kWh"), Cost: erp.Money{Amount: erp.NewDecimal(12345, 2), Currency: "EUR"},
		Source: erp.Source{System: "sap", Entity: "E", Key: "1"}}
	msgs, err = EnergyMessages([]Energy{e}, MessageConfig{From: "GL-001"})
	if err != nil {
		t.Fatal(err)
	}
	var ep struct {
		Schema string         `json:"schema"`
		Energy []EnergyRecord `json:"energy"`
	}
	if err := json.Unmarshal(msgs[0].Payload, &ep); err != nil || ep.Schema != SchemaEnergy {
		t.Fatalf("energy payload %s: %v", msgs[0].Payload, err)
	}
	r := ep.Energy[0]
	if *r.Value != 1520.5 || r.Unit != "kWh" || r.CostAmount != "123.45" || r.CostCurrency != "EUR" || r.Source != "sap/E/1" {
		t.Errorf("energy record %+v", r)
	}
	_ = scada.Good
}
