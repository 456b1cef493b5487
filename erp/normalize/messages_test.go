package normalize

import (
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/greenlang/gl001/coord"
	"github.com/greenlang/gl001/erp"
	"github.com/greenlang/gl001/units"
)

func TestEnergyMessages(t *testing.T) {
	e := Energy{Plant: "hamburg", Meter: "M1", Period: erp.Period{Start: t0, End: t0.Add(time.Hour)}, Value: 1520.5,
		Unit: units.MustParse("kWh"), Cost: erp.Money{Amount: erp.NewDecimal(12345, 2), Currency: "EUR"},
		Source: erp.Source{System: "sap", Entity: "E", Key: "1"}}
	bad := e
	bad.Value, bad.Cost = math.NaN(), erp.Money{}
	msgs, err := EnergyMessages([]Energy{e, bad}, coord.SplitConfig{From: "GL-001"})
	if err != nil {
		t.Fatal(err)
	}
	var ep struct {
		Schema string        `json:"schema"`
		Energy []EnergyEntry `json:"energy"`
	}
	if err := json.Unmarshal(msgs[0].Payload, &ep); err != nil || ep.Schema != SchemaEnergy || len(ep.Energy) != 2 || msgs[0].Name != "energy" {
		t.Fatalf("energy payload %s: %v", msgs[0].Payload, err)
	}
	r := ep.Energy[0]
	if r.Value == nil || *r.Value != 1520.5 || r.Unit != "kWh" || r.CostAmount != "123.45" || r.CostCurrency != "EUR" || r.Source != "sap/E/1" {
		t.Errorf("energy record %+v", r)
	}
	if r := ep.Energy[1]; r.Value != nil || r.CostAmount != "" {
		t.Errorf("unusable record %+v", r)
	}
	if _, err := EnergyMessages(nil, coord.SplitConfig{}); err == nil {
		t.Error("missing From accepted")
	}
}
