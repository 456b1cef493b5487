package erp_test

import (
	"context"
	"fmt"
	"time"

	"github.com/greenlang/gl001/erp"
	"github.com/greenlang/gl001/erp/dynamics"
	"github.com/greenlang/gl001/erp/erptest"
)

// Amounts stay exact: Edm.Decimal text is parsed into a Decimal, not a float.
func ExampleParseDecimal() {
	a, _ := erp.ParseDecimal("0.10")
	b, _ := erp.ParseDecimal("0.2")
	sum, _ := a.Add(b)
	bill := erp.Money{Amount: sum, Currency: "EUR"}
	cents, _ := bill.MinorUnits(2)
	fmt.Println(bill, cents)
	// Output: 0.30 EUR 30
}

// A Poller streams change events from a system into a sink until its
// context ends; here the sink stops it after the first batch.
func ExampleNewPoller() {
	srv := erptest.NewServer(erptest.Config{Flavour: erptest.DynamicsWebAPI})
	defer srv.Close()
	srv.Put(erptest.DynamicsWorkOrdersPath, []string{"msdyn_workorderid"},
		erptest.DynamicsWorkOrders(2, time.Date(2024, 3, 1, 8, 0, 0, 0, time.UTC))...)
	client, err := dynamics.New(dynamics.Config{
		ConnConfig: erp.ConnConfig{
			Auth: erp.ClientCredentials{TokenURL: srv.TokenURL(), ClientID: srv.ClientID(),
				Secret: erp.SecretFunc(func(context.Context) (string, error) { return "s3cret-for-tests", nil })},
			TLS: srv.TLSConfig(),
		},
		BaseURL: srv.URL(),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer client.Close()

	p, err := erp.NewPoller(erp.PollerConfig[erp.MaintenanceOrder]{
		Changes:  client.MaintenanceChanges,
		Interval: time.Minute,
		OnCursor: func(c erp.Cursor) { /* persist c to resume after a restart */ },
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	err = p.Run(ctx, func(_ context.Context, changes []erp.Change[erp.MaintenanceOrder]) error {
		for _, c := range changes {
			fmt.Println(c.Record.Order, c.Record.Description)
		}
		cancel()
		return nil
	})
	fmt.Println(err)
	// Output:
	// WO-10000 Inspect steam trap bank 0
	// WO-10001 Inspect steam trap bank 1
	// context canceled
}

// Every client keeps a query's half-open range itself: a record the server
// sent outside [From, To) is dropped and counted, never handed on.
func ExampleKeepInRange() {
	from := time.Date(2024, 2, 1, 12, 0, 0, 0, time.UTC)
	q := erp.Query{From: from, To: from.Add(24 * time.Hour)}
	sent := func(yield func(erp.EnergyRecord, error) bool) {
		for _, h := range []int{-1, 0, 23, 24} { // what a server that rounded the bounds to days might send
			at := from.Add(time.Duration(h) * time.Hour)
			if !yield(erp.EnergyRecord{Source: erp.Source{Key: fmt.Sprint(h)}, Period: erp.Period{Start: at, End: at}}, nil) {
				return
			}
		}
	}
	dropped := 0
	for rec := range erp.KeepInRange(q, sent, func(erp.EnergyRecord) { dropped++ }) {
		fmt.Println(rec.Source.Key, rec.Period.Start.Format(time.DateTime))
	}
	fmt.Println("dropped:", dropped)
	// Output:
	// 0 2024-02-01 12:00:00
	// 23 2024-02-02 11:00:00
	// dropped: 2
}
