package odata_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

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

// Changes without change tracking keep a watermark on the Changed property
// (and the query's range); with none mapped they are not supported.
func TestChangesNeedTrackingOrAChangedProperty(t *testing.T) {
	page := func(got *[]erp.Change[erp.EnergyRecord]) func([]erp.Change[erp.EnergyRecord]) error {
		return func(b []erp.Change[erp.EnergyRecord]) error { *got = append(*got, b...); return nil }
	}
	srv, c := newReadings(t, erptest.SAPV4, nil)
	srv.Put(readingsRoot+"Readings", []string{"ID"}, readings(false, []erptest.Fixture{{Key: "1", Value: 1}})...)
	var got []erp.Change[erp.EnergyRecord]
	if _, err := c.EnergyChanges(context.Background(), erp.Query{}, "", page(&got)); !errors.Is(err, erp.ErrNotSupported) {
		t.Errorf("err = %v, want erp.ErrNotSupported", err)
	}
	srv, c = newReadings(t, erptest.SAPV4, func(cfg *odata.Config) { cfg.EnergyFields.Changed = "readAt" })
	at := time.Date(2024, 2, 1, 12, 0, 0, 0, time.UTC)
	srv.Put(readingsRoot+"Readings", []string{"ID"}, readings(false, []erptest.Fixture{
		{Key: "1", Time: at, Value: 1}, {Key: "2", Time: at.Add(time.Hour), Value: 2}, {Key: "3", Time: at.Add(48 * time.Hour), Value: 3}})...)
	cur, err := c.EnergyChanges(context.Background(), erp.Query{From: at, To: at.Add(24 * time.Hour)}, "", page(&got))
	if err != nil || cur == "" || len(got) != 2 || got[0].Source.Key != "1" || got[1].Source.Key != "2" {
		t.Fatalf("watermark round: %+v, %v, cursor %q", got, err, cur)
	}
}

// A tracked round hands over deletions, and drops records outside the
// query's range as List does, whatever the server sent.
func TestTrackedChangesKeepTheRange(t *testing.T) {
	srv := erptest.NewServer(erptest.Config{Flavour: erptest.SAPV4, IgnoreFilter: true})
	t.Cleanup(srv.Close)
	cfg := odata.Config{
		ConnConfig: erptest.FastConnConfig("cap-energy", erp.ClientCredentials{TokenURL: srv.TokenURL(), ClientID: srv.ClientID(),
			Secret: erp.SecretFunc(func(context.Context) (string, error) { return "s3cret-for-tests", nil })}, srv.TLSConfig()),
		Options:      odata.Options{ServiceRoot: srv.URL() + readingsRoot},
		Energy:       odata.EntitySet{Name: "Readings", TimeProperty: "readAt", ChangeTracking: true},
		EnergyFields: energyFields(),
	}
	c, err := odata.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	at := time.Date(2024, 2, 1, 12, 0, 0, 0, time.UTC)
	srv.Put(readingsRoot+"Readings", []string{"ID"}, readings(false, []erptest.Fixture{
		{Key: "1", Time: at, Value: 1}, {Key: "2", Time: at.Add(-time.Hour), Value: 2}})...)
	q := erp.Query{From: at, To: at.Add(24 * time.Hour)}
	var got []erp.Change[erp.EnergyRecord]
	page := func(b []erp.Change[erp.EnergyRecord]) error { got = append(got, b...); return nil }
	cur, err := c.EnergyChanges(context.Background(), q, "", page)
	if err != nil || len(got) != 1 || got[0].Source.Key != "1" || c.Stats().OutOfRange != 1 {
		t.Fatalf("first round: %+v, %v, stats %+v", got, err, c.Stats())
	}
	srv.Delete(readingsRoot+"Readings", "1")
	got = nil
	if _, err := c.EnergyChanges(context.Background(), q, cur, page); err != nil || len(got) != 1 || !got[0].Deleted || got[0].Source.Key != "1" {
		t.Fatalf("second round: %+v, %v", got, err)
	}
}

// Validate names every problem of a configuration at once.
func TestConfigValidate(t *testing.T) {
	err := odata.Config{
		Options: odata.Options{ServiceRoot: "http://plain.example.com/svc?x=1", Version: 3, PageSize: -2,
			Params: []odata.Param{{Name: "$top", Value: "5"}}},
		Energy:           odata.EntitySet{Name: "Readings", Version: 2, TimeLiteral: odata.Date},
		EnergyFields:     erp.EnergyFields{Key: []string{"ID"}},
		Costs:            odata.EntitySet{Name: "Bad name", Version: 4, TimeLiteral: odata.DateTime},
		CostFields:       erp.CostFields{Key: []string{"K"}, Posting: erp.TimeFields{Date: "D"}, Amount: "A", Currency: "C"},
		ProductionFields: erp.ProductionFields{Key: []string{"O"}},
	}.Validate()
	if !errors.Is(err, erp.ErrConfig) {
		t.Fatalf("err = %v", err)
	}
	for _, want := range []string{"plain http", "Version must be 2 or 4", "PageSize", `"$top"`,
		"TimeLiteral Date is an OData V4 literal", "TimeLiteral DateTime is an OData V2 literal", `"Bad name"`,
		"EnergyFields.End.Date", "EnergyFields.Quantity", "ProductionFields are set but Production.Name is empty"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q does not mention %q", err, want)
		}
	}
	if err := (odata.Config{}).Validate(); err == nil || !strings.Contains(err.Error(), "no entity set configured") {
		t.Errorf("empty config: %v", err)
	}
}
