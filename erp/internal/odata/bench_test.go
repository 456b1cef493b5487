package odata

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/greenlang/gl001/erp"
	"github.com/greenlang/gl001/erp/erptest"
)

// energyPage renders n measurement documents as a V2 or V4 page, the way
// SAP sends them (with __metadata in V2).
func energyPage(b *testing.B, n int, v2 bool) []byte {
	rows := erptest.SAPMeasurementDocuments(n, time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), "1010", v2)
	var body []byte
	var err error
	if v2 {
		for i, r := range rows {
			r["__metadata"] = map[string]string{"type": "API_MEASUREMENTDOCUMENT_SRV.A_MeasurementDocumentType",
				"uri": "https://s4.example.com/sap/opu/odata/sap/API_MEASUREMENTDOCUMENT_SRV/MeasurementDocument('" + r["MeasurementDocument"].(string) + "')"}
			rows[i] = r
		}
		body, err = json.Marshal(map[string]any{"d": map[string]any{"results": rows, "__next": "MeasurementDocument?$skiptoken=1000"}})
	} else {
		body, err = json.Marshal(map[string]any{"@odata.context": "$metadata#MeasurementDocument", "value": rows, "@odata.nextLink": "MeasurementDocument?$skiptoken=1000"})
	}
	if err != nil {
		b.Fatal(err)
	}
	if v2 { // as SAP writes them: "\/Date(1704067200000)\/"
		body = bytes.ReplaceAll(body, []byte(`"/Date(`), []byte(`"\/Date(`))
		body = bytes.ReplaceAll(body, []byte(`)/"`), []byte(`)\/"`))
	}
	return body
}

// BenchmarkODataDecode decodes pages of 1000 SAP energy records (V2 and V4)
// into erp.EnergyRecord: envelope, the mapped properties, decimals, dates,
// times of day and units.
func BenchmarkODataDecode(b *testing.B) {
	fields := erp.EnergyFields{
		Key: []string{"MeasurementDocument"}, Meter: "MeasuringPoint",
		End:      erp.TimeFields{Date: "MsmtRdngDate", Time: "MsmtRdngTime"},
		Quantity: "MsmtCounterReadingDifference", Unit: "MeasurementReadingEntryUoM", Changed: "MsmtRdngDate",
	}
	m, err := fields.Mapping(erp.MappingOptions{})
	if err != nil {
		b.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		v2   bool
	}{{"V2", true}, {"V4", false}} {
		b.Run(tc.name, func(b *testing.B) {
			const n = 1000
			page := energyPage(b, n, tc.v2)
			dec := NewDecoder(NewProps(m.Properties()))
			src := erp.Source{System: "sap", Entity: "MeasurementDocument"}
			var sum float64
			b.SetBytes(int64(len(page)))
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				_, err := dec.Decode(page, func(row erp.Row, _ Entity) error {
					rec, err := m.Record(src, row)
					if err != nil {
						return err
					}
					sum += float64(rec.Quantity.Value.Coefficient())
					return nil
				})
				if err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "records/s")
			if sum == 0 {
				b.Fatal("nothing decoded")
			}
		})
	}
}
