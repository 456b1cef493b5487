package workday_test

import (
	"strconv"
	"testing"

	"github.com/greenlang/gl001/erp/erptest"
)

// invoices writes fixtures as supplier invoices; a malformed one has a
// control amount that is not a number.
func invoices(fx []erptest.Fixture) []erptest.WorkdaySupplierInvoice {
	out := make([]erptest.WorkdaySupplierInvoice, len(fx))
	for i, f := range fx {
		amount := strconv.Itoa(f.Value) + ".25"
		if f.Malformed {
			amount = "12x"
		}
		out[i] = erptest.WorkdaySupplierInvoice{ID: f.Key, WID: "a1" + f.Key, Number: "GAS-" + f.Key,
			Company: "GMS_USA", Supplier: "S-100", SupplierName: "Northern Gas & Power", Currency: "USD",
			Date: f.Time, Amount: amount, Memo: "Natural gas supply", CostCenter: "CC-UTIL"}
	}
	return out
}

// Supplier invoices over SOAP, with a WS-Security user (no bearer token to
// expire); invoice dates are days.
func TestConformance(t *testing.T) {
	erptest.TestClient(t, erptest.Harness{Kind: erptest.CostsKind,
		Features: erptest.Features{WholeDays: true, NoBearerTokens: true},
		New: func(t *testing.T) erptest.Instance {
			srv := newServer(t, erptest.WorkdayConfig{})
			c := newClient(t, srv, nil)
			return erptest.Instance{Client: c, Server: srv, Put: func(fx ...erptest.Fixture) {
				srv.PutSupplierInvoices(invoices(fx)...)
			}}
		}})
}
