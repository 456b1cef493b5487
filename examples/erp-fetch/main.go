// Command erp-fetch reads energy consumption, production and maintenance
// schedules and costs from ERP systems and normalises them.
//
// It starts in-process fakes of SAP S/4HANA (OData V2), Oracle Fusion Cloud
// (REST) and Workday (Web Services) on 127.0.0.1, each with its own OAuth or
// WS-Security credentials and TLS certificate, loads them with a few days of
// records, and reads them through the SDK's clients: energy of one day
// normalised to kWh with package erp/normalize, the coming production orders,
// and a week of costs. SAP answers the first request with 429 Too Many
// Requests and Retry-After: the client waits and retries by itself. Last,
// the generic OData client (erp/odata) reads energy from a service that is
// neither S/4HANA nor Dynamics, with its service root and a field mapping
// alone, and hands back the service's count of matching readings.
//
//	go run ./examples/erp-fetch
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/greenlang/gl001/erp"
	"github.com/greenlang/gl001/erp/erptest"
	"github.com/greenlang/gl001/erp/normalize"
	"github.com/greenlang/gl001/erp/odata"
	"github.com/greenlang/gl001/erp/oracle"
	"github.com/greenlang/gl001/erp/sap"
	"github.com/greenlang/gl001/erp/workday"
)

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := run(ctx, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "erp-fetch:", err)
		os.Exit(1)
	}
}

// day is the day the example reads; the fakes hold records around it.
var day = time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)

// secret is a SecretProvider with a fixed value. Real programs use
// erp.EnvSecret("SAP_CLIENT_SECRET") and friends.
func secret(s string) erp.SecretProvider {
	return erp.SecretFunc(func(context.Context) (string, error) { return s, nil })
}

func newSecret() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func run(ctx context.Context, out io.Writer) error {
	// The systems.
	sapSecret, oracleSecret, wdPassword := newSecret(), newSecret(), newSecret()
	sapSrv := erptest.NewServer(erptest.Config{Flavour: erptest.SAPV2, SAPClient: "100", ClientSecret: sapSecret})
	defer sapSrv.Close()
	sapSrv.Put(erptest.SAPEnergyPath, []string{"MeasurementDocument"}, erptest.SAPMeasurementDocuments(48, day.Add(-24*time.Hour), "1010", true)...)
	sapSrv.Put(erptest.SAPProductionPath, []string{"ManufacturingOrder"}, erptest.SAPProductionOrders(5, day, "1010")...)
	sapSrv.Inject(erptest.Fault{Status: 429, RetryAfter: "1"})
	oraSrv := erptest.NewOracleServer(erptest.OracleConfig{ClientSecret: oracleSecret})
	defer oraSrv.Close()
	oraSrv.Put("meterReadings", []string{"MeterReadingId"}, erptest.OracleMeterReadings(48, day.Add(-12*time.Hour), "M1")...)
	wdSrv := erptest.NewWorkdayServer(erptest.WorkdayConfig{Password: wdPassword})
	defer wdSrv.Close()
	wdSrv.PutSupplierInvoices(erptest.WorkdaySupplierInvoices(10, day.Add(-3*24*time.Hour), "GMS_USA")...)

	// The clients: OAuth client credentials for SAP and Oracle, a
	// WS-Security user for Workday. Each trusts its fake's certificate.
	sapClient, err := sap.New(sap.Config{
		ConnConfig: erp.ConnConfig{System: "sap-s4", TLS: sapSrv.TLSConfig(),
			Auth: erp.ClientCredentials{TokenURL: sapSrv.TokenURL(), ClientID: sapSrv.ClientID(), Secret: secret(sapSecret)}},
		BaseURL: sapSrv.URL(), SAPClient: "100",
	})
	if err != nil {
		return err
	}
	defer sapClient.Close()
	cc := oracle.ClientCredentials(oraSrv.IdentityDomain(), oraSrv.ClientID(), oraSrv.URL())
	cc.Secret = secret(oracleSecret)
	oraClient, err := oracle.New(oracle.Config{ConnConfig: erp.ConnConfig{System: "oracle-fusion", TLS: oraSrv.TLSConfig(), Auth: cc}, BaseURL: oraSrv.URL()})
	if err != nil {
		return err
	}
	defer oraClient.Close()
	wdClient, err := workday.New(workday.Config{
		ConnConfig: erp.ConnConfig{System: "workday", TLS: wdSrv.TLSConfig()},
		BaseURL:    wdSrv.URL(), Tenant: wdSrv.Tenant(), Username: "isu_gl001", Password: secret(wdPassword),
	})
	if err != nil {
		return err
	}
	defer wdClient.Close()

	// Energy of one day from two systems, in one shape: kWh, UTC periods,
	// gaps and duplicates reported per meter.
	q := erp.Query{From: day, To: day.Add(24 * time.Hour)}
	for _, sys := range []struct {
		name   string
		client erp.Client
	}{{"sap-s4", sapClient}, {"oracle-fusion", oraClient}} {
		norm, err := normalize.NewEnergyNormalizer(normalize.EnergyConfig{Interval: time.Hour})
		if err != nil {
			return err
		}
		var n int
		var kwh float64
		var first normalize.Energy
		for rec, err := range norm.All(sys.client.Energy(ctx, q)) {
			if errors.Is(err, erp.ErrMalformed) {
				fmt.Fprintln(out, "  skipped a malformed record:", err)
				continue
			}
			if err != nil {
				return fmt.Errorf("%s: %w", sys.name, err)
			}
			if n == 0 {
				first = rec
			}
			n++
			kwh += rec.Value
		}
		fmt.Fprintf(out, "%-13s energy: %d readings, %.1f kWh; first %s %s %.1f %s (%s)\n", sys.name, n, kwh,
			first.Meter, first.Period.End.Format(time.DateTime), first.Value, first.Unit, first.Source.Key)
	}

	// The coming production orders.
	for o, err := range sapClient.Production(ctx, erp.Query{Plant: "1010", From: day, To: day.Add(3 * 24 * time.Hour)}) {
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "sap-s4        order %s %s from %s, %s\n", o.Order, o.Material, o.Planned.Start.Format(time.DateTime), o.Quantity)
	}

	// A week of supplier invoices, summed exactly in their currency.
	total := map[string]erp.Decimal{}
	n := 0
	for c, err := range wdClient.Costs(ctx, erp.Query{From: day.Add(-7 * 24 * time.Hour), To: day}) {
		if err != nil {
			return err
		}
		n++
		if total[c.Amount.Currency], err = total[c.Amount.Currency].Add(c.Amount.Amount); err != nil {
			return err
		}
	}
	for cur, sum := range total {
		fmt.Fprintf(out, "workday       costs: %d supplier invoices, %s\n", n, erp.Money{Amount: sum, Currency: cur})
	}
	for _, err := range wdClient.Production(ctx, q) {
		fmt.Fprintf(out, "workday       production: not supported: %v\n", errors.Is(err, erp.ErrNotSupported))
	}

	s := sapClient.Stats()
	fmt.Fprintf(out, "sap-s4        %d requests, %d throttled and retried after Retry-After\n", s.Requests, s.Throttled)
	return capEnergy(ctx, out)
}

// capEnergy reads energy from an OData V4 service that is neither S/4HANA
// nor Dynamics (a SAP CAP application, say) with the generic client: a
// service root, an entity set and a field mapping. The range starts at
// 06:30, and the reading at 06:00 is not handed over, whatever the server
// sends.
func capEnergy(ctx context.Context, out io.Writer) error {
	capSecret := newSecret()
	capSrv := erptest.NewServer(erptest.Config{Flavour: erptest.SAPV4, ClientSecret: capSecret})
	defer capSrv.Close()
	for h := range 4 {
		at := day.Add(time.Duration(6+h) * time.Hour)
		capSrv.Put("/odata/v4/energy/Readings", []string{"ID"}, erptest.Row{"ID": fmt.Sprint(h + 1), "plant": "1010",
			"meter": "EM-CAP-1", "readAt": erptest.V4Time(at), "kwh": fmt.Sprintf("%d.5", 80+h)})
	}
	capClient, err := odata.New(odata.Config{
		ConnConfig: erp.ConnConfig{System: "cap-energy", TLS: capSrv.TLSConfig(),
			Auth: erp.ClientCredentials{TokenURL: capSrv.TokenURL(), ClientID: capSrv.ClientID(), Secret: secret(capSecret)}},
		Options: odata.Options{ServiceRoot: capSrv.URL() + "/odata/v4/energy/"},
		Energy:  odata.EntitySet{Name: "Readings", TimeProperty: "readAt", PlantProperty: "plant"},
		EnergyFields: erp.EnergyFields{Key: []string{"ID"}, Plant: "plant", Meter: "meter",
			End: erp.TimeFields{Date: "readAt"}, Quantity: "kwh", DefaultUnit: "kWh"},
	})
	if err != nil {
		return err
	}
	defer capClient.Close()
	var total int64
	q := erp.Query{Plant: "1010", From: day.Add(6*time.Hour + 30*time.Minute), To: day.Add(24 * time.Hour),
		OnTotal: func(n int64) { total = n }}
	n, sum := 0, erp.Decimal{}
	for rec, err := range capClient.Energy(ctx, q) {
		if err != nil {
			return err
		}
		n++
		if sum, err = sum.Add(rec.Quantity.Value); err != nil {
			return err
		}
	}
	fmt.Fprintf(out, "cap-energy    energy: %d of %d readings, %s kWh\n", n, total, sum)
	return nil
}
