package erp

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func row(vals ...string) Row {
	r := make(Row, len(vals))
	for i, v := range vals {
		if v != "<nil>" {
			r[i] = []byte(v)
		}
	}
	return r
}

func TestEnergyMapping(t *testing.T) {
	berlin := time.FixedZone("CET", 3600)
	m, err := EnergyFields{
		Key: []string{"Doc", "Item"}, Meter: "Point", Plant: "Plant",
		Start: TimeFields{Date: "From"}, End: TimeFields{Date: "Day", Time: "Time"},
		Quantity: "Qty", Unit: "Uom", Amount: "Amt", Currency: "Cur",
	}.Mapping(MappingOptions{Location: berlin})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"Doc", "Item", "Plant", "Point", "From", "Day", "Time", "Qty", "Uom", "Amt", "Cur"}
	if got := m.Properties(); len(got) != len(want) {
		t.Fatalf("properties = %v", got)
	}
	src := Source{System: "s", Entity: "E"}
	rec, err := m.Record(src, row("7", "1", "1010", "MP1", "2024-01-01T00:00:00", "2024-01-01", "PT10H00M00S", "12.5", "MWH", "3.10", "eur"))
	if err != nil {
		t.Fatal(err)
	}
	if rec.Source.Key != "7/1" || rec.Plant != "1010" || rec.Meter != "MP1" {
		t.Errorf("record = %+v", rec)
	}
	// Offset-less times are Berlin time: 10:00 CET is 09:00 UTC.
	if !rec.Period.End.Equal(time.Date(2024, 1, 1, 9, 0, 0, 0, time.UTC)) || !rec.Period.Start.Equal(time.Date(2023, 12, 31, 23, 0, 0, 0, time.UTC)) {
		t.Errorf("period = %v .. %v", rec.Period.Start, rec.Period.End)
	}
	if rec.Quantity.String() != "12.5 MWH" || rec.Quantity.Unit.String() != "MWh" || rec.Cost.String() != "3.10 EUR" {
		t.Errorf("quantity %v cost %v", rec.Quantity, rec.Cost)
	}

	for _, tc := range []struct {
		field string
		row   Row
	}{
		{"Uom", row("7", "1", "", "", "", "2024-01-01", "<nil>", "1", "PIECES", "<nil>", "<nil>")},
		{"Qty", row("7", "1", "", "", "", "2024-01-01", "<nil>", "1,5", "KWH", "<nil>", "<nil>")},
		{"Day", row("7", "1", "", "", "", "01.01.2024", "<nil>", "1", "KWH", "<nil>", "<nil>")},
		{"Time", row("7", "1", "", "", "", "2024-01-01", "10:00", "1", "KWH", "<nil>", "<nil>")},
		{"Cur", row("7", "1", "", "", "", "2024-01-01", "<nil>", "1", "KWH", "1.00", "EURO")},
	} {
		_, err := m.Record(src, tc.row)
		var me *MalformedError
		if !errors.As(err, &me) || me.Field != tc.field || me.Key != "7/1" || !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: err = %v", tc.field, err)
		}
	}
	if _, err := (EnergyFields{}).Mapping(MappingOptions{}); !errors.Is(err, ErrConfig) {
		t.Errorf("mapping without a key: %v", err)
	}
}

func TestProductionMappingCountsPieces(t *testing.T) {
	m, err := ProductionFields{Key: []string{"Order"}, PlannedStart: TimeFields{Date: "Start"}, Quantity: "Qty", Unit: "Uom"}.Mapping(MappingOptions{})
	if err != nil {
		t.Fatal(err)
	}
	o, err := m.Record(Source{}, row("42", "", "10", "ST"))
	if err != nil || o.Order != "42" || o.Quantity.Code != "ST" || !o.Quantity.Unit.IsZero() {
		t.Errorf("order = %+v, %v", o, err)
	}
	// The cached unit is reused and does not leak into the next record's code.
	o2, err := m.Record(Source{}, row("43", "", "3", "KG"))
	if err != nil || o2.Quantity.Code != "KG" || o2.Quantity.Unit.String() != "kg" {
		t.Errorf("order = %+v, %v", o2, err)
	}
	o3, err := m.Record(Source{}, row("44", "", "3", "KG"))
	if err != nil || o3.Quantity.Unit.String() != "kg" {
		t.Errorf("order = %+v, %v", o3, err)
	}
}

func TestInternedValuesFollowTheData(t *testing.T) {
	m, err := CostFields{Key: []string{"K"}, Plant: "P", Posting: TimeFields{Date: "D"}, Amount: "A", Currency: "C"}.Mapping(MappingOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i, tc := range []struct{ plant, cur string }{{"1010", "EUR"}, {"1010", "EUR"}, {"2020", "usd"}, {"1010", "EUR"}} {
		c, err := m.Record(Source{}, row("k", tc.plant, "", "1.00", tc.cur))
		if err != nil || c.Plant != tc.plant || c.Amount.Currency != strings.ToUpper(tc.cur) {
			t.Errorf("record %d = %+v, %v", i, c, err)
		}
	}
}
