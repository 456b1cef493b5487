package normalize_test

import (
	"fmt"
	"time"

	"github.com/greenlang/gl001/erp"
	"github.com/greenlang/gl001/erp/normalize"
	"github.com/greenlang/gl001/units"
)

func ExampleEnergyNormalizer() {
	n, err := normalize.NewEnergyNormalizer(normalize.EnergyConfig{
		Plants:   map[string]string{"1000": "hamburg"},
		Interval: time.Hour,
	})
	if err != nil {
		panic(err)
	}
	start := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	hour := func(h int, mwh int64) erp.EnergyRecord {
		return erp.EnergyRecord{
			Source: erp.Source{System: "sap-prod", Entity: "EnergyReadings", Key: fmt.Sprint(h)},
			Plant:  "1000", Meter: "M-STEAM-1",
			Period:   erp.Period{Start: start.Add(time.Duration(h) * time.Hour), End: start.Add(time.Duration(h+1) * time.Hour)},
			Quantity: erp.Quantity{Value: erp.NewDecimal(mwh, 1), Unit: units.MustParse("MWh"), Code: "MWH"},
			Cost:     erp.Money{Amount: erp.NewDecimal(41250, 2), Currency: "EUR"},
		}
	}
	for _, r := range []erp.EnergyRecord{hour(0, 25), hour(1, 27), hour(4, 26)} {
		e := n.Normalize(r)
		fmt.Printf("%s %s %s %.0f %s, cost %s", e.Plant, e.Meter, e.Period.Start.Format("15:04"), e.Value, e.Unit, e.Cost)
		for _, is := range e.Issues {
			fmt.Printf(", %s of %d periods from %s", is.Kind, is.Missing, is.Other.Start.Format("15:04"))
		}
		fmt.Println()
	}
	// Output:
	// hamburg M-STEAM-1 00:00 2500 kWh, cost 412.50 EUR
	// hamburg M-STEAM-1 01:00 2700 kWh, cost 412.50 EUR
	// hamburg M-STEAM-1 04:00 2600 kWh, cost 412.50 EUR, gap of 2 periods from 02:00
}
