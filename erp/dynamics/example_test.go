package dynamics_test

import (
	"context"
	"fmt"
	"time"

	"github.com/greenlang/gl001/erp"
	"github.com/greenlang/gl001/erp/dynamics"
	"github.com/greenlang/gl001/erp/erptest"
)

// A Dynamics 365 client polling Field Service work orders for changes
// through OData change tracking.
func ExampleClient_MaintenanceChanges() {
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

	// One round reads everything and returns a cursor holding the delta link;
	// the next round returns only what changed since.
	show := func(cs []erp.Change[erp.MaintenanceOrder]) error {
		for _, c := range cs {
			if c.Deleted {
				fmt.Println("deleted", c.Source.Key)
			} else {
				fmt.Println("changed", c.Record.Order, c.Record.Planned.Start.Format(time.DateTime))
			}
		}
		return nil
	}
	cur, err := client.MaintenanceChanges(context.Background(), erp.Query{}, "", show)
	if err != nil {
		fmt.Println(err)
		return
	}
	srv.Delete(erptest.DynamicsWorkOrdersPath, "6d3c1a2e-0000-4000-8000-000000000001")
	if _, err := client.MaintenanceChanges(context.Background(), erp.Query{}, cur, show); err != nil {
		fmt.Println(err)
	}
	// Output:
	// changed WO-10000 2024-03-01 08:00:00
	// changed WO-10001 2024-03-02 08:00:00
	// deleted 6d3c1a2e-0000-4000-8000-000000000001
}
