package sap_test

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/greenlang/gl001/erp"
	"github.com/greenlang/gl001/erp/erptest"
	"github.com/greenlang/gl001/erp/sap"
)

// A SAP client reading production orders of one plant for three days from
// an in-process S/4HANA fake speaking OData V2.
func Example() {
	srv := erptest.NewServer(erptest.Config{Flavour: erptest.SAPV2, SAPClient: "100", MaxPageSize: 2})
	defer srv.Close()
	start := time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)
	srv.Put(erptest.SAPProductionPath, []string{"ManufacturingOrder"}, erptest.SAPProductionOrders(5, start, "1010")...)

	os.Setenv("SAP_CLIENT_SECRET", "s3cret-for-tests") // normally set by the deployment
	client, err := sap.New(sap.Config{
		ConnConfig: erp.ConnConfig{
			System: "s4-prod",
			Auth: erp.ClientCredentials{
				TokenURL: srv.TokenURL(),
				ClientID: srv.ClientID(),
				Secret:   erp.EnvSecret("SAP_CLIENT_SECRET"),
			},
			TLS: srv.TLSConfig(), // trust the fake's certificate
		},
		BaseURL:   srv.URL(),
		SAPClient: "100",
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer client.Close()

	q := erp.Query{Plant: "1010", From: start, To: start.Add(3 * 24 * time.Hour)}
	for order, err := range client.Production(context.Background(), q) {
		if err != nil {
			fmt.Println("error:", err)
			continue
		}
		fmt.Println(order.Source.Key, order.Material, order.Planned.Start.Format(time.DateTime), order.Quantity)
	}
	// Output:
	// 1000000 FG-STEAM-0 2024-03-01 06:00:00 1200.000 TO
	// 1000001 FG-STEAM-1 2024-03-02 06:00:00 1200.000 TO
	// 1000002 FG-STEAM-2 2024-03-03 06:00:00 1200.000 TO
}

// Errors are typed: a missing service is erp.ErrNotFound, whatever the system.
func ExampleClient_Costs() {
	srv := erptest.NewServer(erptest.Config{})
	defer srv.Close()
	client, err := sap.New(sap.Config{
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
	for _, err := range client.Costs(context.Background(), erp.Query{}) {
		fmt.Println(err)
	}
	// Output:
	// erp: sap: GET /sap/opu/odata/sap/API_JOURNALENTRYITEMBASIC_SRV/A_JournalEntryItemBasic: 404 Not Found [404]: Resource not found for segment 'A_JournalEntryItemBasic'
}
