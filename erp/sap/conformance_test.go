package sap_test

import (
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/greenlang/gl001/erp/erptest"
	"github.com/greenlang/gl001/erp/sap"
)

// measurementDocs writes fixtures as API_MEASUREMENTDOCUMENT_SRV sends
// them: the reading's date and its time of day in two properties.
func measurementDocs(v2 bool, fx []erptest.Fixture) []erptest.Row {
	rows := make([]erptest.Row, len(fx))
	for i, f := range fx {
		at := f.Time.UTC()
		day := at.Truncate(24 * time.Hour)
		tod := at.Sub(day)
		qty := strconv.Itoa(f.Value) + ".5"
		if f.Malformed {
			qty = "12x"
		}
		r := erptest.Row{"MeasurementDocument": f.Key, "MeasuringPoint": "MP-1010-1",
			"MsmtCounterReadingDifference": qty, "MeasurementReadingEntryUoM": "KWH"}
		if v2 {
			r["MsmtRdngDate"], r["MsmtRdngTime"] = erptest.V2Date(day), erptest.V2Time(tod)
		} else {
			r["MsmtRdngDate"] = day.Format("2006-01-02")
			r["MsmtRdngTime"] = fmt.Sprintf("%02d:%02d:%02d", int(tod.Hours()), int(tod.Minutes())%60, int(tod.Seconds())%60)
		}
		rows[i] = r
	}
	return rows
}

// The V2 service with its defaults: dates and times of day apart, so the
// server compares days and the client trims to [From, To).
func TestConformanceV2(t *testing.T) {
	erptest.TestClient(t, erptest.Harness{Kind: erptest.EnergyKind, New: func(t *testing.T) erptest.Instance {
		srv := newServer(t, erptest.Config{})
		c := newClient(t, srv, nil)
		return erptest.Instance{Client: c, Server: srv, Put: func(fx ...erptest.Fixture) {
			srv.Put(erptest.SAPEnergyPath, []string{"MeasurementDocument"}, measurementDocs(true, fx)...)
		}}
	}})
}

// A V4 service at an explicit service root.
func TestConformanceV4(t *testing.T) {
	const root = "/sap/opu/odata4/sap/api_measurementdocument/srvd_a2x/sap/measurementdocument/0001/"
	erptest.TestClient(t, erptest.Harness{Kind: erptest.EnergyKind, New: func(t *testing.T) erptest.Instance {
		srv := newServer(t, erptest.Config{Flavour: erptest.SAPV4})
		c := newClient(t, srv, func(cfg *sap.Config) {
			cfg.Energy = sap.Service{Version: 4, Root: srv.URL() + root}
		})
		return erptest.Instance{Client: c, Server: srv, Put: func(fx ...erptest.Fixture) {
			srv.Put(root+"MeasurementDocument", []string{"MeasurementDocument"}, measurementDocs(false, fx)...)
		}}
	}})
}
