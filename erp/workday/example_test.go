package workday_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/greenlang/gl001/erp"
	"github.com/greenlang/gl001/erp/erptest"
	"github.com/greenlang/gl001/erp/workday"
)

// A Workday client reading supplier invoices through Web Services (SOAP)
// with a WS-Security UsernameToken, from an in-process Workday fake.
func Example() {
	srv := erptest.NewWorkdayServer(erptest.WorkdayConfig{})
	defer srv.Close()
	start := time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)
	srv.PutSupplierInvoices(erptest.WorkdaySupplierInvoices(5, start, "GMS_USA")...)

	os.Setenv(workday.PasswordEnv, "wd-pass-for-tests") // normally set by the deployment
	client, err := workday.New(workday.Config{
		ConnConfig: erp.ConnConfig{System: "workday-prod", TLS: srv.TLSConfig()},
		BaseURL:    srv.URL(),
		Tenant:     srv.Tenant(),
		Username:   "isu_gl001", // sent as isu_gl001@<tenant>
		Password:   erp.EnvSecret(workday.PasswordEnv),
		PageSize:   2, // three pages of one snapshot
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer client.Close()

	q := erp.Query{Plant: "GMS_USA", From: start, To: start.Add(3 * 24 * time.Hour)}
	for rec, err := range client.Costs(context.Background(), q) {
		if err != nil {
			fmt.Println("error:", err)
			continue
		}
		fmt.Println(rec.Source.Key, rec.Period.Start.Format(time.DateOnly), rec.Amount, rec.CostCenter)
	}
	for _, err := range client.Maintenance(context.Background(), q) {
		fmt.Println(errors.Is(err, erp.ErrNotSupported), err)
	}
	// Output:
	// SUPPLIER_INVOICE-6-1000 2024-03-01 1000.25 USD CC-UTIL
	// SUPPLIER_INVOICE-6-1001 2024-03-02 1001.25 USD CC-UTIL
	// SUPPLIER_INVOICE-6-1002 2024-03-03 1002.25 USD CC-UTIL
	// true erp: not supported by this system: workday-prod has no maintenance orders
}

// Energy bought comes from a custom report (Reports-as-a-Service), read
// with an API client's refresh token; Workday rotates the refresh token and
// the client keeps the newest one.
func ExampleRefreshGrant() {
	srv := erptest.NewWorkdayServer(erptest.WorkdayConfig{RotateRefreshTokens: true})
	defer srv.Close()
	srv.PutReport("ISU_GL001", "GL001_Utility_Invoices", erptest.WorkdayReport{Entries: []erptest.Row{{
		"Invoice_Line_ID": "SIL-0001", "Company": "GMS_USA", "Meter_ID": "ELEC-MAIN",
		"Service_Period_Start": "2024-03-01-00:00", "Service_Period_End": "2024-04-01-00:00",
		"Quantity": "41250.5", "Unit_of_Measure": "KWH", "Extended_Amount": "5362.57", "Currency": "USD",
	}}})
	secret := func(s string) erp.SecretProvider {
		return erp.SecretFunc(func(context.Context) (string, error) { return s, nil })
	}
	rotations := 0
	grant := workday.RefreshGrant{
		TokenURL:     workday.TokenURL(srv.URL(), srv.Tenant()),
		ClientID:     "gl001-api",
		ClientSecret: secret("api-secret-for-tests"),
		RefreshToken: secret("rt-initial-for-tests"),
		OnRotate:     func(string) { rotations++ /* persist the new refresh token */ },
	}
	client, err := workday.New(workday.Config{
		ConnConfig:   erp.ConnConfig{Auth: grant.Auth(), TLS: srv.TLSConfig()},
		BaseURL:      srv.URL(),
		Tenant:       srv.Tenant(),
		EnergyReport: workday.Report{Owner: "ISU_GL001", Name: "GL001_Utility_Invoices"},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer client.Close()
	for rec, err := range client.Energy(context.Background(), erp.Query{}) {
		if err != nil {
			fmt.Println("error:", err)
			continue
		}
		fmt.Println(rec.Meter, rec.Period.Duration(), rec.Quantity, rec.Cost)
	}
	fmt.Println("refresh tokens rotated:", rotations)
	// Output:
	// ELEC-MAIN 744h0m0s 41250.5 KWH 5362.57 USD
	// refresh tokens rotated: 1
}
