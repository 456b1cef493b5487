package oracle_test

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/greenlang/gl001/erp"
	"github.com/greenlang/gl001/erp/erptest"
	"github.com/greenlang/gl001/erp/oracle"
)

// An Oracle Fusion client reading maintenance work orders of one
// organization from an in-process Fusion fake, authenticated with OAuth
// client credentials against the identity domain.
func Example() {
	srv := erptest.NewOracleServer(erptest.OracleConfig{MaxLimit: 2}) // tiny pages: the client pages on hasMore
	defer srv.Close()
	start := time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)
	srv.Put("maintenanceWorkOrders", []string{"WorkOrderId"}, erptest.OracleMaintenanceWorkOrders(5, start, "M1")...)

	os.Setenv(oracle.SecretEnv, "s3cret-for-tests") // normally set by the deployment
	client, err := oracle.New(oracle.Config{
		ConnConfig: erp.ConnConfig{
			System: "fusion-prod",
			Auth:   oracle.ClientCredentials(srv.IdentityDomain(), srv.ClientID(), srv.URL()),
			TLS:    srv.TLSConfig(), // trust the fake's certificate
		},
		BaseURL: srv.URL(),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer client.Close()

	q := erp.Query{Plant: "M1", From: start, To: start.Add(3 * 24 * time.Hour)}
	for order, err := range client.Maintenance(context.Background(), q) {
		if err != nil {
			fmt.Println("error:", err)
			continue
		}
		fmt.Println(order.Order, order.Equipment, order.Planned.Start.Format(time.DateTime), order.Description)
	}
	// Output:
	// MWO-2000 BOILER-1 2024-03-01 00:00:00 Boiler 1 burner inspection
	// MWO-2001 BOILER-2 2024-03-02 00:00:00 Boiler 2 burner inspection
	// MWO-2002 BOILER-3 2024-03-03 00:00:00 Boiler 3 burner inspection
}

// Errors are typed whatever the system: a missing resource is
// erp.ErrNotFound, with Oracle's own message.
func ExampleClient_Energy() {
	srv := erptest.NewOracleServer(erptest.OracleConfig{})
	defer srv.Close()
	client, err := oracle.New(oracle.Config{
		ConnConfig: erp.ConnConfig{
			Auth: erp.ClientCredentials{TokenURL: oracle.TokenURL(srv.IdentityDomain()), ClientID: srv.ClientID(),
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
	for _, err := range client.Energy(context.Background(), erp.Query{}) {
		fmt.Println(err)
	}
	// Output:
	// erp: oracle: GET /fscmRestApi/resources/11.13.18.05/meterReadings: 404 Not Found: The requested resource "/fscmRestApi/resources/11.13.18.05/meterReadings" was not found.
}
