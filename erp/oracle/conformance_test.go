package oracle_test

import (
	"testing"
	"time"

	"github.com/greenlang/gl001/erp/erptest"
)

// meterReadings writes fixtures as meterReadings sends them; a malformed
// reading has a value that is not a number.
func meterReadings(fx []erptest.Fixture) []erptest.Row {
	rows := make([]erptest.Row, len(fx))
	for i, f := range fx {
		var value any = float64(f.Value) + 0.5
		if f.Malformed {
			value = "12x"
		}
		rows[i] = erptest.Row{"MeterReadingId": f.Key, "MeterCode": "EM-M1-1", "OrganizationCode": "M1",
			"ReadingDate": f.Time.UTC().Format("2006-01-02T15:04:05+00:00"), "ReadingValue": value, "UOMCode": "KWH",
			"LastUpdateDate": f.Time.UTC().Format("2006-01-02T15:04:05.000+00:00")}
	}
	return rows
}

func TestConformance(t *testing.T) {
	erptest.TestClient(t, erptest.Harness{Kind: erptest.EnergyKind, New: func(t *testing.T) erptest.Instance {
		srv := newServer(t, erptest.OracleConfig{})
		c := newClient(t, srv, nil)
		return erptest.Instance{Client: c, Server: srv, Put: func(fx ...erptest.Fixture) {
			srv.Put("meterReadings", []string{"MeterReadingId"}, meterReadings(fx)...)
		}}
	}})
}

// invoices writes fixtures as Payables invoices, whose InvoiceDate is a
// date; a malformed one has an amount that is not a number.
func invoices(fx []erptest.Fixture) []erptest.Row {
	rows := make([]erptest.Row, len(fx))
	for i, f := range fx {
		var amount any = float64(f.Value) + 0.10
		if f.Malformed {
			amount = "12x"
		}
		rows[i] = erptest.Row{"InvoiceId": f.Key, "InvoiceNumber": "GAS-" + f.Key, "Supplier": "Northern Gas Supply", "Description": "Natural gas supply",
			"InvoiceDate": f.Time.UTC().Format(time.DateOnly), "InvoiceAmount": amount, "InvoiceCurrency": "USD",
			"LastUpdateDate": f.Time.UTC().Format("2006-01-02T15:04:05.000+00:00")}
	}
	return rows
}

// Costs from a date attribute: the bounds' times of day are kept by
// widening the q condition to whole days and trimming on the client.
func TestConformanceDateOnly(t *testing.T) {
	erptest.TestClient(t, erptest.Harness{Kind: erptest.CostsKind, Features: erptest.Features{WholeDays: true},
		New: func(t *testing.T) erptest.Instance {
			srv := newServer(t, erptest.OracleConfig{})
			c := newClient(t, srv, nil)
			return erptest.Instance{Client: c, Server: srv, Put: func(fx ...erptest.Fixture) {
				srv.Put("invoices", []string{"InvoiceId"}, invoices(fx)...)
			}}
		}})
}
