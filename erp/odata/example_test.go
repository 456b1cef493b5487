package odata_test

import (
	"context"
	"fmt"
	"time"

	"github.com/greenlang/gl001/erp"
	"github.com/greenlang/gl001/erp/erptest"
	"github.com/greenlang/gl001/erp/odata"
)

// Energy from an OData V4 service that is neither S/4HANA nor Dynamics: a
// service root, an entity set and a field mapping are all it takes.
func ExampleNew() {
	srv := erptest.NewServer(erptest.Config{Flavour: erptest.SAPV4}) // stands in for a CAP service
	defer srv.Close()
	at := time.Date(2024, 2, 1, 11, 0, 0, 0, time.UTC)
	for i, kwh := range []string{"41.5", "40.25", "39.75"} {
		srv.Put("/odata/v4/energy/Readings", []string{"ID"}, erptest.Row{"ID": fmt.Sprint(i + 1), "plant": "1010",
			"meter": "EM-1", "readAt": erptest.V4Time(at.Add(time.Duration(i) * time.Hour)), "kwh": kwh})
	}

	c, err := odata.New(odata.Config{
		ConnConfig: erp.ConnConfig{System: "cap-energy", TLS: srv.TLSConfig(),
			Auth: erp.ClientCredentials{TokenURL: srv.TokenURL(), ClientID: srv.ClientID(),
				Secret: erp.SecretFunc(func(context.Context) (string, error) { return "s3cret-for-tests", nil })}},
		Options: odata.Options{ServiceRoot: srv.URL() + "/odata/v4/energy/"},
		Energy:  odata.EntitySet{Name: "Readings", TimeProperty: "readAt", PlantProperty: "plant"},
		EnergyFields: erp.EnergyFields{Key: []string{"ID"}, Plant: "plant", Meter: "meter",
			End: erp.TimeFields{Date: "readAt"}, Quantity: "kwh", DefaultUnit: "kWh"},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()

	// From 12:00: the reading at 11:00 is not in the range.
	q := erp.Query{Plant: "1010", From: at.Add(time.Hour), To: at.Add(24 * time.Hour),
		OnTotal: func(n int64) { fmt.Println("total:", n) }}
	for rec, err := range c.Energy(context.Background(), q) {
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(rec.Source.Key, rec.Meter, rec.Period.End.Format(time.TimeOnly), rec.Quantity)
	}
	// Output:
	// total: 2
	// 2 EM-1 12:00:00 40.25 kWh
	// 3 EM-1 13:00:00 39.75 kWh
}
