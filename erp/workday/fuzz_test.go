package workday

import (
	"errors"
	"testing"
	"time"

	"github.com/greenlang/gl001/erp"
	"github.com/greenlang/gl001/erp/erptest"
	"github.com/greenlang/gl001/erp/internal/odata"
)

func soapPage(docs string) []byte {
	return []byte(`<?xml version="1.0" encoding="UTF-8"?><env:Envelope xmlns:env="http://schemas.xmlsoap.org/soap/envelope/"><env:Body>` +
		`<wd:Get_Supplier_Invoices_Response xmlns:wd="urn:com.workday/bsvc" wd:version="v45.0"><wd:Response_Results><wd:Total_Results>1</wd:Total_Results>` +
		`<wd:Total_Pages>1</wd:Total_Pages><wd:Page_Results>1</wd:Page_Results><wd:Page>1</wd:Page></wd:Response_Results><wd:Response_Data>` +
		docs + `</wd:Response_Data></wd:Get_Supplier_Invoices_Response></env:Body></env:Envelope>`)
}

// FuzzSOAPDecode feeds arbitrary bytes to the streaming SOAP decoder: it
// must never panic, every error must be a *SyntaxError, and without a line
// path each document gives exactly one row.
func FuzzSOAPDecode(f *testing.F) {
	inv := erptest.SupplierInvoiceXML(erptest.WorkdaySupplierInvoices(1, time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), "GMS_USA")[0])
	f.Add(soapPage(string(inv)))
	f.Add(soapPage(string(inv) + string(inv)))
	f.Add(soapPage(""))
	f.Add([]byte(erptest.WorkdayFault("SOAP-ENV:Client.validationError", "Validation error occurred")))
	f.Add(soapPage(string(inv))[:300])
	f.Add([]byte(`<a><b></a>`))
	f.Add([]byte(`<e:Envelope xmlns:e="x"><e:Body><r><Response_Data><d><ID type="X">&amp;&#x41;</ID></d></Response_Data></r></e:Body></e:Envelope>`))
	m, err := SupplierInvoiceFields.Mapping(erp.MappingOptions{})
	if err != nil {
		f.Fatal(err)
	}
	flat := NewDecoder(m.Properties(), "")
	lines := NewDecoder(JournalFields.Key, Journals.Line)
	f.Fuzz(func(t *testing.T, page []byte) {
		rows := 0
		res, err := flat.Decode(page, func(row erp.Row) error {
			rows++
			if _, rerr := m.Record(erp.Source{}, row); rerr != nil && !errors.Is(rerr, erp.ErrMalformed) {
				t.Fatalf("record error %v is not ErrMalformed", rerr)
			}
			return nil
		})
		var se *SyntaxError
		if err != nil && !errors.As(err, &se) {
			t.Fatalf("error %T %v", err, err)
		}
		if err == nil && rows != res.Documents {
			t.Fatalf("%d rows for %d documents", rows, res.Documents)
		}
		if _, err := lines.Decode(page, func(erp.Row) error { return nil }); err != nil && !errors.As(err, &se) {
			t.Fatalf("line decoder error %T %v", err, err)
		}
		ParseFault(page)
	})
}

// FuzzReport feeds arbitrary bytes to the Reports-as-a-Service decoding.
func FuzzReport(f *testing.F) {
	f.Add([]byte(`{"Report_Entry":[{"Invoice_Line_ID":"SIL-1","Quantity":"12.5","Unit_of_Measure":"KWH","Service_Period_End":"2024-01-31-08:00","Supplier":{"Descriptor":"x"}}]}`))
	f.Add([]byte(`{"Report_Entry":[]}`))
	f.Add([]byte(`{"Report_Entry":{"a":1}}`))
	f.Add([]byte(`{"Report_Entry":[{"Quantity":1e999}`))
	m, err := DefaultEnergyFields.Mapping(erp.MappingOptions{})
	if err != nil {
		f.Fatal(err)
	}
	dec := odata.NewDecoder(odata.NewProps(m.Properties()))
	f.Fuzz(func(t *testing.T, body []byte) {
		_, err := dec.DecodeMember(body, "Report_Entry", func(row erp.Row, _ odata.Entity) error {
			if _, rerr := m.Record(erp.Source{}, row); rerr != nil && !errors.Is(rerr, erp.ErrMalformed) {
				t.Fatalf("record error %v is not ErrMalformed", rerr)
			}
			return nil
		}, nil)
		var oe *odata.Error
		if err != nil && !errors.As(err, &oe) {
			t.Fatalf("error %T %v", err, err)
		}
	})
}
