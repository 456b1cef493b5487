package normalize

import (
	"errors"
	"iter"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/greenlang/gl001/erp"
	"github.com/greenlang/gl001/units"
)

func energyRec(key, plant, meter string, start time.Time, hours int, value int64, scale int, code string) erp.EnergyRecord {
	u, _ := units.Parse(code)
	return erp.EnergyRecord{
		Source: erp.Source{System: "sap-prod", Entity: "Energy", Key: key}, Plant: plant, Meter: meter,
		Period:   erp.Period{Start: start, End: start.Add(time.Duration(hours) * time.Hour)},
		Quantity: erp.Quantity{Value: erp.NewDecimal(value, scale), Unit: u, Code: code},
		Cost:     erp.Money{Amount: erp.NewDecimal(12345, 2), Currency: "EUR"},
	}
}

func TestEnergyNormalizer(t *testing.T) {
	n, err := NewEnergyNormalizer(EnergyConfig{
		Plants: map[string]string{"1000": "hamburg"}, RequirePlant: true, Interval: time.Hour,
	})
	if err != nil {
		t.Fatal(err)
	}
	cet := time.FixedZone("CET", 3600)
	h := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Hour) }
	recs := []erp.EnergyRecord{
		energyRec("1", "1000", "M1", h(0).In(cet), 1, 15205, 1, "KWH"),        // 1520.5 kWh, local time
		energyRec("2", "1000", "M1", h(1), 1, 2, 0, "MWH"),                    // 2 MWh
		energyRec("2", "1000", "M1", h(1), 1, 2, 0, "MWH"),                    // same key again
		energyRec("3", "1000", "M1", h(1), 1, 2, 0, "MWH"),                    // other key, same period
		energyRec("4", "1000", "M1", h(1).Add(30*time.Minute), 1, 1, 0, "GJ"), // overlaps 01:00-02:00
		energyRec("5", "1000", "M1", h(5), 1, 1, 0, "kWh"),                    // 02:30 to 05:00 missing
		energyRec("6", "2000", "M2", h(0), 1, 7, 0, "ST"),                     // pieces: not energy; plant unmapped
		energyRec("7", "1000", "M3", time.Time{}, 1, 1, 0, "kWh"),             // no start
	}
	var out []Energy
	for _, r := range recs {
		out = append(out, n.Normalize(r))
	}
	kinds := func(e Energy) string {
		var ks []string
		for _, is := range e.Issues {
			ks = append(ks, is.Kind.String())
		}
		return strings.Join(ks, ",")
	}
	want := []struct {
		plant  string
		value  float64
		issues string
	}{
		{"hamburg", 1520.5, ""}, {"hamburg", 2000, ""}, {"hamburg", 2000, "duplicate"}, {"hamburg", 2000, "duplicate"},
		{"hamburg", 277.77777777777777, "overlap"}, {"hamburg", 1, "gap"}, {"2000", math.NaN(), "plant,unit"}, {"hamburg", 1, "period"},
	}
	for i, w := range want {
		e := out[i]
		same := e.Value == w.value || math.IsNaN(w.value) && math.IsNaN(e.Value) || math.Abs(e.Value-w.value) < 1e-9
		if e.Plant != w.plant || !same || kinds(e) != w.issues || e.Unit.Symbol() != "kWh" {
			t.Errorf("record %d: plant %s value %v %s issues %q; want %s %v %q", i, e.Plant, e.Value, e.Unit, kinds(e), w.plant, w.value, w.issues)
		}
	}
	if loc := out[0].Period.Start.Location(); loc != time.UTC {
		t.Errorf("period not in UTC: %v", loc)
	}
	if out[0].Cost.Currency != "EUR" || out[0].Cost.Amount.String() != "123.45" {
		t.Errorf("money changed: %v", out[0].Cost)
	}
	gap := out[5].Issues[0]
	if gap.Missing != 2 || !gap.Other.Start.Equal(h(2).Add(30*time.Minute)) || !gap.Other.End.Equal(h(5)) {
		t.Errorf("gap %+v", gap)
	}
	s := n.Stats()
	if s.Records != 8 || s.Duplicates != 2 || s.Overlaps != 1 || s.Gaps != 1 || s.Missing != 2 || s.UnitErrors != 1 || s.UnmappedPlants != 1 || s.BadPeriods != 1 {
		t.Errorf("stats %+v", s)
	}
}

func TestEnergyNormalizerAll(t *testing.T) {
	n, _ := NewEnergyNormalizer(EnergyConfig{Unit: units.MustParse("MWh")})
	bad := errors.New("malformed record")
	var stream iter.Seq2[erp.EnergyRecord, error] = func(yield func(erp.EnergyRecord, error) bool) {
		for i := range 10 {
			if i == 1 {
				if !yield(erp.EnergyRecord{}, bad) {
					return
				}
				continue
			}
			if !yield(energyRec("k"+string(rune('0'+i)), "P", "M", t0.Add(time.Duration(i)*time.Hour), 1, 1000, 0, "kWh"), nil) {
				return
			}
		}
	}
	var got []float64
	var errs []error
	for e, err := range n.All(stream) {
		if err != nil {
			errs = append(errs, err)
			continue
		}
		got = append(got, e.Value)
		if len(got) == 3 {
			break
		}
	}
	if len(errs) != 1 || !errors.Is(errs[0], bad) || len(got) != 3 || got[0] != 1 {
		t.Errorf("got %v, errs %v", got, errs)
	}
	if err := (EnergyConfig{Unit: units.MustParse("kW"), Interval: -1, MaxSeries: -1}).Validate(); err == nil ||
		!strings.Contains(err.Error(), "energy unit") || !strings.Contains(err.Error(), "interval") || !strings.Contains(err.Error(), "MaxSeries") {
		t.Errorf("Validate: %v", err)
	}
}

var t0 = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
