package postgres_test

import (
	"errors"
	"math"
	"testing"
	"time"

	"github.com/greenlang/gl001/erp"
	"github.com/greenlang/gl001/scada"
	"github.com/greenlang/gl001/scada/forward"
	"github.com/greenlang/gl001/scada/forward/postgres"
	"github.com/greenlang/gl001/units"
)

func energy(key, plant string, coef int64, scale int, code string, start, end time.Time, changed time.Time) erp.EnergyRecord {
	u, _ := units.Parse(code)
	return erp.EnergyRecord{
		Source: erp.Source{System: "sap-prod", Entity: "EnergyReadings", Key: key}, Plant: plant, Meter: "M-" + key,
		Period: erp.Period{Start: start, End: end}, Quantity: erp.Quantity{Value: erp.NewDecimal(coef, scale), Unit: u, Code: code},
		Changed: changed,
	}
}

func TestStoreEnergyIdempotent(t *testing.T) {
	c := sharedCluster(t)
	h, cfg := openHistorian(t, c, nil)
	ctx := testCtx(t)
	d := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	ch := time.Date(2026, 2, 5, 8, 0, 0, 0, time.UTC)
	recs := []erp.EnergyRecord{
		energy("1", "P1", 15205, 1, "KWH", d, d.AddDate(0, 0, 1), ch),                       // 1520.5 kWh
		energy("2", "P1", 12345, 3, "MWH", d, d.AddDate(0, 0, 1), ch),                       // 12.345 MWh = 12345 kWh exactly
		energy("3", "P1", 36, 0, "GJ", d, d.AddDate(0, 0, 1), ch),                           // 36 GJ = 10000 kWh
		energy("4", "P1", 5, 0, "ST", d, d.AddDate(0, 0, 1), ch),                            // pieces: not an energy
		energy("", "P1", 5, 0, "KWH", d, d.AddDate(0, 0, 1), ch),                            // no key
		energy("6", "P1", 5, 0, "KWH", d.AddDate(0, 0, 1), d, ch),                           // period backwards
		energy("7", "P2", 1, 0, "KWH", d.Add(3*time.Hour), d.Add(3*time.Hour), time.Time{}), // a reading at an instant
	}
	n, err := h.StoreEnergy(ctx, recs...)
	if n != 4 {
		t.Fatalf("stored %d, want 4 (%v)", n, err)
	}
	var re *postgres.RecordError
	if !errors.Is(err, postgres.ErrBadRecord) || !errors.As(err, &re) || len(err.(interface{ Unwrap() []error }).Unwrap()) != 3 {
		t.Fatalf("StoreEnergy error = %v, want three RecordErrors", err)
	}
	var kwh [3]string
	for i, key := range []string{"1", "2", "3"} {
		if err := h.QueryRowForTest(ctx, "SELECT kwh::text FROM "+cfg.Schema+".erp_energy WHERE key = '"+key+"'", &kwh[i]); err != nil {
			t.Fatal(err)
		}
	}
	if kwh[0] != "1520.5" || kwh[1] != "12345" || math.Abs(parse(t, kwh[2])-10000) > 1e-9 {
		t.Fatalf("kWh stored: %v", kwh)
	}
	// Again: nothing changes. An older version is ignored; a newer replaces.
	if n, err := h.StoreEnergy(ctx, recs[0], recs[1], recs[2], recs[6]); n != 0 || err != nil {
		t.Fatalf("storing again: %d rows changed, %v", n, err)
	}
	older := energy("1", "P1", 1, 0, "KWH", d, d.AddDate(0, 0, 1), ch.Add(-time.Hour))
	newer := energy("2", "P1", 2, 0, "KWH", d, d.AddDate(0, 0, 1), ch.Add(time.Hour))
	if n, err := h.StoreEnergy(ctx, older, newer); n != 1 || err != nil {
		t.Fatalf("older and newer: %d rows changed, %v", n, err)
	}
	var rows int
	var total float64
	if err := h.QueryRowForTest(ctx, "SELECT count(*), sum(kwh)::float8 FROM "+cfg.Schema+".erp_energy", &rows, &total); err != nil {
		t.Fatal(err)
	}
	if rows != 4 || total != 1520.5+2+10000+1 {
		t.Fatalf("%d rows, %v kWh", rows, total)
	}
}

func parse(t *testing.T, s string) float64 {
	t.Helper()
	d, err := erp.ParseDecimal(s)
	if err != nil {
		t.Fatal(err)
	}
	return d.Float64()
}

// TestReconcile meters two plants with energy counters and books ERP
// energy for them, daily, monthly and at an instant, and compares
// Reconcile with the same arithmetic done here.
func TestReconcile(t *testing.T) {
	c := sharedCluster(t)
	h, _ := openHistorian(t, c, nil)
	ctx := testCtx(t)
	start := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	from, to := start.AddDate(0, 0, 1), start.AddDate(0, 0, 4) // June 2 to 4

	// Counters, read every 10 minutes from May 31 to June 5: plant A's in
	// MWh growing 0.05 MWh a reading (restarting from zero once), plant B's
	// in kWh growing with the hour.
	var ps []scada.Point
	type reading struct {
		t time.Time
		v float64
	}
	meters := map[string][]reading{}
	for i := range 6 * 24 * 6 {
		at := start.Add(-24*time.Hour + time.Duration(i)*10*time.Minute)
		a := 1000 + 0.05*float64(i)
		if i >= 300 {
			a = 0.05 * float64(i-300) // the counter restarted
		}
		b := float64(i*(i%24)) + 5
		ps = append(ps,
			scada.Point{Tag: "a.energy", Unit: "MWh", Value: a, Time: at, Quality: scada.Good},
			scada.Point{Tag: "b.energy", Unit: "kWh", Value: b, Time: at, Quality: scada.Good},
		)
		meters["A"] = append(meters["A"], reading{at, a * 1000})
		meters["B"] = append(meters["B"], reading{at, b})
	}
	// A bad reading is left out.
	ps = append(ps, scada.Point{Tag: "a.energy", Unit: "MWh", Value: 1e9, Time: from.Add(5 * time.Minute), Quality: scada.BadSensorFailure})
	if err := h.Send(ctx, forward.Batch{Stream: forward.Stream{Edge: "r", Buffer: "r"}, Points: ps}); err != nil {
		t.Fatal(err)
	}
	if err := h.SetMeter(ctx, postgres.Meter{Tag: "a.energy", Plant: "A"}); err != nil { // unit from the points: MWh
		t.Fatal(err)
	}
	if err := h.SetMeter(ctx, postgres.Meter{Tag: "b.energy", Plant: "B", Unit: "kWh"}); err != nil {
		t.Fatal(err)
	}
	if err := h.SetMeter(ctx, postgres.Meter{Tag: "c.temp", Plant: "B", Unit: "degC"}); err == nil {
		t.Fatal("SetMeter accepted a temperature")
	}
	ch := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
	recs := []erp.EnergyRecord{
		energy("A-0602", "A", 14000, 0, "KWH", from, from.AddDate(0, 0, 1), ch),
		energy("A-06", "A", 300, 0, "MWH", start, start.AddDate(0, 1, 0), ch), // the month: 10 MWh a day
		energy("B-0603", "B", 777, 0, "KWH", from.Add(24*time.Hour+time.Hour), from.Add(24*time.Hour+time.Hour), ch),
		energy("B-0530", "B", 1, 0, "KWH", start.AddDate(0, 0, -2), start.AddDate(0, 0, -1), ch), // outside
	}
	if _, err := h.StoreEnergy(ctx, recs...); err != nil {
		t.Fatal(err)
	}

	got := collect(t, h.Reconcile(ctx, "", from, to.Add(-time.Hour), "")) // to is rounded out to the whole day
	type key struct {
		plant string
		day   time.Time
	}
	want := map[key]*postgres.Reconciliation{}
	get := func(p string, d time.Time) *postgres.Reconciliation {
		k := key{p, d}
		if want[k] == nil {
			want[k] = &postgres.Reconciliation{Plant: p, Day: d}
		}
		return want[k]
	}
	for day := from; day.Before(to); day = day.AddDate(0, 0, 1) {
		for _, r := range recs {
			kwh, _ := erpKWh(r)
			ps, pe := r.Period.Start, r.Period.End
			switch {
			case ps.Equal(pe) && !ps.Before(day) && ps.Before(day.AddDate(0, 0, 1)):
				get(r.Plant, day).ERP += kwh
				get(r.Plant, day).ERPRecords++
			case ps.Before(day.AddDate(0, 0, 1)) && pe.After(day):
				overlap := minTime(pe, day.AddDate(0, 0, 1)).Sub(maxTime(ps, day))
				get(r.Plant, day).ERP += kwh * overlap.Seconds() / pe.Sub(ps).Seconds()
				get(r.Plant, day).ERPRecords++
			}
		}
		for plant, rs := range meters {
			for i := 1; i < len(rs); i++ {
				if rs[i].t.Before(day) || !rs[i].t.Before(day.AddDate(0, 0, 1)) {
					continue
				}
				inc := rs[i].v - rs[i-1].v
				if inc < 0 {
					inc = rs[i].v
				}
				r := get(plant, day)
				r.Metered += inc
				r.Readings++
				r.Meters = 1
			}
		}
	}
	if len(got) != len(want) {
		t.Fatalf("%d rows, want %d: %+v", len(got), len(want), got)
	}
	for _, g := range got {
		w := want[key{g.Plant, g.Day}]
		if w == nil || !near(g.ERP, w.ERP) || g.ERPRecords != w.ERPRecords || !near(g.Metered, w.Metered) ||
			g.Meters != w.Meters || g.Readings != w.Readings {
			t.Fatalf("%s %s: %+v, want %+v", g.Plant, g.Day.Format(time.DateOnly), g, w)
		}
		t.Logf("%s %s: ERP %.1f kWh from %d records, metered %.1f kWh, difference %.1f", g.Plant, g.Day.Format(time.DateOnly), g.ERP, g.ERPRecords, g.Metered, g.Difference())
	}
	// One plant, in a zone east of UTC: days start at 22:00 UTC in June.
	zoned := collect(t, h.Reconcile(ctx, "B", from, to, "Europe/Berlin"))
	if len(zoned) == 0 {
		t.Fatal("no rows for plant B in Europe/Berlin")
	}
	for _, r := range zoned {
		if r.Plant != "B" || r.Day.Location().String() != "Europe/Berlin" || r.Day.Hour() != 0 {
			t.Fatalf("zoned row %+v", r)
		}
	}
}

func erpKWh(r erp.EnergyRecord) (float64, error) {
	return units.Convert(r.Quantity.Value.Float64(), r.Quantity.Code, "kWh")
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
