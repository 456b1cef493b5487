package workday_test

import (
	"bytes"
	"encoding/xml"
	"testing"
	"time"

	"github.com/greenlang/gl001/erp"
	"github.com/greenlang/gl001/erp/erptest"
	"github.com/greenlang/gl001/erp/workday"
)

// invoicePage renders one Get_Supplier_Invoices response page of n invoices
// as the fake (and Workday) writes it.
func invoicePage(n int) []byte {
	var b bytes.Buffer
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?><env:Envelope xmlns:env="http://schemas.xmlsoap.org/soap/envelope/"><env:Body>`)
	b.WriteString(`<wd:Get_Supplier_Invoices_Response xmlns:wd="urn:com.workday/bsvc" wd:version="v45.0"><wd:Response_Results><wd:Total_Results>5000</wd:Total_Results><wd:Total_Pages>50</wd:Total_Pages><wd:Page_Results>100</wd:Page_Results><wd:Page>1</wd:Page></wd:Response_Results><wd:Response_Data>`)
	for _, in := range erptest.WorkdaySupplierInvoices(n, time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), "GMS_USA") {
		b.Write(erptest.SupplierInvoiceXML(in))
	}
	b.WriteString(`</wd:Response_Data></wd:Get_Supplier_Invoices_Response></env:Body></env:Envelope>`)
	return b.Bytes()
}

// BenchmarkWorkdaySOAPDecode decodes pages of 100 supplier invoices into
// erp.CostRecord with the default mapping: the streaming token decoder the
// client uses ("tokens"), and for comparison encoding/xml.Unmarshal into
// structs followed by the same mapping ("unmarshal").
func BenchmarkWorkdaySOAPDecode(b *testing.B) {
	const n = 100
	page := invoicePage(n)
	m, err := workday.SupplierInvoiceFields.Mapping(erp.MappingOptions{})
	if err != nil {
		b.Fatal(err)
	}
	src := erp.Source{System: "workday", Entity: "Get_Supplier_Invoices"}
	b.Run("tokens", func(b *testing.B) {
		dec := workday.NewDecoder(m.Properties(), "")
		b.SetBytes(int64(len(page)))
		b.ReportAllocs()
		records := 0
		for b.Loop() {
			if _, err := dec.Decode(page, func(row erp.Row) error {
				if _, err := m.Record(src, row); err != nil {
					return err
				}
				records++
				return nil
			}); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(records)/b.Elapsed().Seconds(), "records/s")
	})
	b.Run("unmarshal", func(b *testing.B) {
		b.SetBytes(int64(len(page)))
		b.ReportAllocs()
		records := 0
		for b.Loop() {
			var env unmarshalEnvelope
			if err := xml.Unmarshal(page, &env); err != nil {
				b.Fatal(err)
			}
			for _, inv := range env.Body.Response.Data {
				d := inv.Data
				// In the order of m.Properties().
				row := erp.Row{[]byte(d.ID), d.Company.id("Company_Reference_ID"), lineCostCenter(d.Lines),
					d.Supplier.id("Supplier_ID"), []byte(d.Memo), []byte(d.Date), []byte(d.Amount), d.Currency.id("Currency_ID")}
				if _, err := m.Record(src, row); err != nil {
					b.Fatal(err)
				}
				records++
			}
		}
		b.ReportMetric(float64(records)/b.Elapsed().Seconds(), "records/s")
	})
}

type ref struct {
	IDs []struct {
		Type  string `xml:"type,attr"`
		Value string `xml:",chardata"`
	} `xml:"ID"`
}

func (r ref) id(typ string) []byte {
	for _, id := range r.IDs {
		if id.Type == typ {
			return []byte(id.Value)
		}
	}
	return nil
}

func lineCostCenter(lines []struct {
	Worktags []ref `xml:"Worktags_Reference"`
}) []byte {
	for _, l := range lines {
		for _, w := range l.Worktags {
			if v := w.id("Cost_Center_Reference_ID"); v != nil {
				return v
			}
		}
	}
	return nil
}

type unmarshalEnvelope struct {
	Body struct {
		Response struct {
			Data []struct {
				Data struct {
					ID       string `xml:"Supplier_Invoice_ID"`
					Company  ref    `xml:"Company_Reference"`
					Currency ref    `xml:"Currency_Reference"`
					Supplier ref    `xml:"Supplier_Reference"`
					Date     string `xml:"Invoice_Date"`
					Amount   string `xml:"Control_Amount_Total"`
					Memo     string `xml:"Memo"`
					Lines    []struct {
						Worktags []ref `xml:"Worktags_Reference"`
					} `xml:"Invoice_Line_Replacement_Data"`
				} `xml:"Supplier_Invoice_Data"`
			} `xml:"Response_Data>Supplier_Invoice"`
		} `xml:"Get_Supplier_Invoices_Response"`
	} `xml:"Body"`
}
