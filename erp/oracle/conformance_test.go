package oracle_test

import (
	"testing"

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
