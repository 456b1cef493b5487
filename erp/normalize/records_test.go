package normalize

import (
	"testing"
	"time"

	"github.com/greenlang/gl001/erp"
)

func TestRecordNormalizer(t *testing.T) {
	n, err := NewRecordNormalizer(RecordConfig{Plants: map[string]string{"1000": "hamburg"}, RequirePlant: true})
	if err != nil {
		t.Fatal(err)
	}
	ist := time.FixedZone("IST", 5*3600+1800)
	src := erp.Source{System: "sap", Entity: "A_JournalEntryItem", Key: "1/2"}
	cost := erp.CostRecord{
		Source: src, Plant: "1000", Period: erp.Period{Start: t0.In(ist), End: t0.Add(24 * time.Hour).In(ist)},
		Amount: erp.Money{Amount: erp.NewDecimal(-150075, 2), Currency: "JPY"},
	}
	got, issues := n.Cost(cost)
	if got.Plant != "hamburg" || got.Period.Start.Location() != time.UTC || !got.Period.Start.Equal(t0) || len(issues) != 0 {
		t.Errorf("cost %+v, issues %v", got, issues)
	}
	if got.Amount != cost.Amount {
		t.Errorf("money changed: %v", got.Amount)
	}
	if _, issues = n.Cost(cost); len(issues) != 1 || issues[0].Kind != IssueDuplicate {
		t.Errorf("duplicate not reported: %v", issues)
	}

	po := erp.ProductionOrder{Source: erp.Source{System: "d365", Key: "P1"}, Plant: "2000",
		Planned: erp.Period{Start: t0.Add(time.Hour), End: t0}, Actual: erp.Period{Start: t0.In(ist)}}
	gotPO, issues := n.Production(po)
	if gotPO.Plant != "2000" || gotPO.Actual.Start.Location() != time.UTC || !gotPO.Actual.End.IsZero() {
		t.Errorf("order %+v", gotPO)
	}
	if len(issues) != 2 || issues[0].Kind != IssuePlant || issues[1].Kind != IssuePeriod {
		t.Errorf("order issues %v", issues)
	}
	mo, issues := n.Maintenance(erp.MaintenanceOrder{Source: erp.Source{Key: "M1"}, Plant: "1000", Changed: t0.In(ist)})
	if mo.Plant != "hamburg" || mo.Changed.Location() != time.UTC || len(issues) != 0 {
		t.Errorf("maintenance %+v %v", mo, issues)
	}
	s := n.Stats()
	if s.Records != 4 || s.Duplicates != 1 || s.UnmappedPlants != 1 || s.BadPeriods != 1 {
		t.Errorf("stats %+v", s)
	}
	if err := (RecordConfig{MaxKeys: -1}).Validate(); err == nil {
		t.Error("negative MaxKeys accepted")
	}
}
