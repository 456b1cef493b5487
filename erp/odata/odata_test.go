package odata_test

import (
	"context"
	"strconv"
	"testing"

	"go.uber.org/goleak"

	"github.com/greenlang/gl001/erp"
	"github.com/greenlang/gl001/erp/erptest"
	"github.com/greenlang/gl001/erp/odata"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// readingsPath is a CAP-style service, neither S/4HANA nor Dynamics.
const readingsRoot = "/odata/v4/energy/"

// readings writes fixtures as the service sends them: an Edm.DateTimeOffset
// (V4) or /Date()/ (V2) time and a decimal quantity.
func readings(v2 bool, fx []erptest.Fixture) []erptest.Row {
	rows := make([]erptest.Row, len(fx))
	for i, f := range fx {
		kwh := strconv.Itoa(f.Value) + ".25"
		if f.Malformed {
			kwh = "12x"
		}
		at := erptest.V4Time(f.Time)
		if v2 {
			at = erptest.V2Date(f.Time)
		}
		rows[i] = erptest.Row{"ID": f.Key, "plant": "1010", "meter": "EM-1", "readAt": at, "kwh": kwh}
	}
	return rows
}

func energyFields() erp.EnergyFields {
	return erp.EnergyFields{Key: []string{"ID"}, Plant: "plant", Meter: "meter",
		End: erp.TimeFields{Date: "readAt"}, Quantity: "kwh", DefaultUnit: "kWh"}
}

func newReadings(t *testing.T, flavour erptest.Flavour, mod func(*odata.Config)) (*erptest.Server, *odata.Client) {
	t.Helper()
	srv := erptest.NewServer(erptest.Config{Flavour: flavour})
	t.Cleanup(srv.Close)
	version := 4
	if flavour == erptest.SAPV2 {
		version = 2
	}
	cfg := odata.Config{
		ConnConfig: erptest.FastConnConfig("cap-energy", erp.ClientCredentials{TokenURL: srv.TokenURL(), ClientID: srv.ClientID(),
			Secret: erp.SecretFunc(func(context.Context) (string, error) { return "s3cret-for-tests", nil })}, srv.TLSConfig()),
		Options:      odata.Options{ServiceRoot: srv.URL() + readingsRoot, Version: version},
		Energy:       odata.EntitySet{Name: "Readings", TimeProperty: "readAt", PlantProperty: "plant"},
		EnergyFields: energyFields(),
	}
	if mod != nil {
		mod(&cfg)
	}
	c, err := odata.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return srv, c
}

func TestConformanceV4(t *testing.T) {
	erptest.TestClient(t, erptest.Harness{Kind: erptest.EnergyKind, New: func(t *testing.T) erptest.Instance {
		srv, c := newReadings(t, erptest.SAPV4, nil)
		return erptest.Instance{Client: c, Server: srv, Put: func(fx ...erptest.Fixture) {
			srv.Put(readingsRoot+"Readings", []string{"ID"}, readings(false, fx)...)
		}}
	}})
}

func TestConformanceV2(t *testing.T) {
	erptest.TestClient(t, erptest.Harness{Kind: erptest.EnergyKind, New: func(t *testing.T) erptest.Instance {
		srv, c := newReadings(t, erptest.SAPV2, nil)
		return erptest.Instance{Client: c, Server: srv, Put: func(fx ...erptest.Fixture) {
			srv.Put(readingsRoot+"Readings", []string{"ID"}, readings(true, fx)...)
		}}
	}})
}

// Server paging (Prefer: odata.maxpagesize, next links only), as a
// Dataverse-like service pages.
func TestConformanceServerPaging(t *testing.T) {
	erptest.TestClient(t, erptest.Harness{Kind: erptest.EnergyKind, New: func(t *testing.T) erptest.Instance {
		srv, c := newReadings(t, erptest.DynamicsWebAPI, func(cfg *odata.Config) { cfg.Paging = odata.ServerPaging })
		return erptest.Instance{Client: c, Server: srv, Put: func(fx ...erptest.Fixture) {
			srv.Put(readingsRoot+"Readings", []string{"ID"}, readings(false, fx)...)
		}}
	}})
}
