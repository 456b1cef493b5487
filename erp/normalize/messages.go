package normalize

import (
	"math"
	"time"

	"github.com/greenlang/gl001/coord"
)

// SchemaEnergy is the schema id of an energy payload: the array "energy"
// holds EnergyEntry records. The id is part of the wire format agents read.
const SchemaEnergy = "gl001.transform.energy/v1"

// EnergyEntry is one normalized energy record in an energy payload: an
// [Energy] flattened for agents.
type EnergyEntry struct {
	Plant        string    `json:"plant"`
	Meter        string    `json:"meter,omitempty"`
	Start        time.Time `json:"start"` // UTC, the period is [start, end)
	End          time.Time `json:"end"`
	Value        *float64  `json:"value"` // null when the unit was unusable
	Unit         string    `json:"unit"`
	CostAmount   string    `json:"cost_amount,omitempty"` // exact decimal, as the ERP sent it
	CostCurrency string    `json:"cost_currency,omitempty"`
	Source       string    `json:"source"` // system/entity/key
	Issues       []Issue   `json:"issues,omitempty"`
}

// Entry returns e's payload record.
func (e *Energy) Entry() EnergyEntry {
	r := EnergyEntry{
		Plant: e.Plant, Meter: e.Meter, Start: e.Period.Start, End: e.Period.End,
		Unit: e.Unit.Symbol(), Source: e.Source.System + "/" + e.Source.Entity + "/" + e.Source.Key, Issues: e.Issues,
	}
	if !math.IsNaN(e.Value) && !math.IsInf(e.Value, 0) {
		v := e.Value
		r.Value = &v
	}
	if !e.Cost.IsZero() {
		r.CostAmount, r.CostCurrency = e.Cost.Amount.String(), e.Cost.Currency
	}
	return r
}

// EnergyMessages formats normalized energy records as agent messages of
// schema SchemaEnergy, split so that no payload exceeds cfg.MaxPayload (see
// coord.SplitRecords).
func EnergyMessages(records []Energy, cfg coord.SplitConfig) ([]coord.Message, error) {
	return coord.SplitRecords(cfg, SchemaEnergy, "energy", len(records), func(i int) any { return records[i].Entry() })
}
