package sap_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/greenlang/gl001/erp"
	"github.com/greenlang/gl001/erp/erptest"
	"github.com/greenlang/gl001/erp/sap"
	"github.com/greenlang/gl001/units"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var jan1 = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// newClient returns a client of srv with fast retries and no rate limit,
// after applying mod to its configuration.
func newClient(t *testing.T, srv *erptest.Server, mod func(*sap.Config)) *sap.Client {
	t.Helper()
	cfg := sap.Config{
		ConnConfig: erptest.FastConnConfig("sap-test", erp.ClientCredentials{TokenURL: srv.TokenURL(), ClientID: srv.ClientID(),
			Secret: erp.SecretFunc(func(context.Context) (string, error) { return "s3cret-for-tests", nil })}, srv.TLSConfig()),
		BaseURL:   srv.URL(),
		SAPClient: "100",
	}
	if mod != nil {
		mod(&cfg)
	}
	c, err := sap.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func newServer(t *testing.T, cfg erptest.Config) *erptest.Server {
	t.Helper()
	if cfg.SAPClient == "" {
		cfg.SAPClient = "100"
	}
	srv := erptest.NewServer(cfg)
	t.Cleanup(srv.Close)
	return srv
}

func TestProductionServerPagingV2(t *testing.T) {
	srv := newServer(t, erptest.Config{MaxPageSize: 100})
	srv.Put(erptest.SAPProductionPath, []string{"ManufacturingOrder"}, erptest.SAPProductionOrders(250, jan1, "1010")...)
	c := newClient(t, srv, nil)

	orders, errs := erptest.Collect(c.Production(context.Background(), erp.Query{Plant: "1010"}))
	if len(errs) > 0 {
		t.Fatalf("errors: %v", errs)
	}
	if len(orders) != 250 {
		t.Fatalf("got %d orders, want 250", len(orders))
	}
	o := orders[3]
	if o.Source != (erp.Source{System: "sap-test", Entity: "A_ProductionOrder_2", Key: "1000003"}) {
		t.Errorf("source = %+v", o.Source)
	}
	day := jan1.Add(3 * 24 * time.Hour)
	if !o.Planned.Start.Equal(day.Add(6*time.Hour)) || !o.Planned.End.Equal(day.Add(18*time.Hour)) {
		t.Errorf("planned = %v..%v", o.Planned.Start, o.Planned.End)
	}
	if o.Quantity.String() != "1200.000 TO" || o.Quantity.Unit != units.MustParse("t") {
		t.Errorf("quantity = %v (%v)", o.Quantity, o.Quantity.Unit)
	}
	if o.Plant != "1010" || o.Type != "YP01" || o.Material != "FG-STEAM-0" || o.Order != "1000003" {
		t.Errorf("order = %+v", o)
	}
	if !o.Changed.Equal(day.Add(-48 * time.Hour)) {
		t.Errorf("changed = %v", o.Changed)
	}
	if !o.Actual.Start.IsZero() {
		t.Errorf("actual start of an unstarted order = %v", o.Actual.Start)
	}
	reqs := srv.Requests()
	if len(reqs) != 3 {
		t.Fatalf("%d requests, want 3 (pages of 100 by __next)", len(reqs))
	}
	for _, r := range reqs {
		if strings.Contains(r.RawQuery, "+") {
			t.Errorf("query uses '+': %s", r.RawQuery)
		}
		if !strings.Contains(r.RawQuery, "sap-client=100") {
			t.Errorf("query lacks sap-client: %s", r.RawQuery)
		}
	}
	if !strings.Contains(reqs[0].RawQuery, "$filter=ProductionPlant%20eq%20'1010'") {
		t.Errorf("first query = %s", reqs[0].RawQuery)
	}
}

func TestTimeRangeIsHalfOpen(t *testing.T) {
	srv := newServer(t, erptest.Config{})
	srv.Put(erptest.SAPProductionPath, []string{"ManufacturingOrder"}, erptest.SAPProductionOrders(10, jan1, "1010")...)
	c := newClient(t, srv, nil)
	q := erp.Query{From: jan1.Add(2 * 24 * time.Hour), To: jan1.Add(5 * 24 * time.Hour)}
	orders, errs := erptest.Collect(c.Production(context.Background(), q))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	var keys []string
	for _, o := range orders {
		keys = append(keys, o.Source.Key)
	}
	if got := strings.Join(keys, ","); got != "1000002,1000003,1000004" {
		t.Errorf("keys = %s", got)
	}
	raw := srv.Requests()[0].RawQuery
	if !strings.Contains(raw, "MfgOrderPlannedStartDate%20ge%20datetime'2024-01-03T00:00:00'") ||
		!strings.Contains(raw, "MfgOrderPlannedStartDate%20lt%20datetime'2024-01-06T00:00:00'") {
		t.Errorf("filter = %s", raw)
	}
}

func TestClientPagingEndsOnShortOrEmptyPage(t *testing.T) {
	for _, tc := range []struct {
		rows, page, requests int
	}{
		{120, 50, 3}, // 50, 50, 20
		{100, 50, 3}, // 50, 50, then an empty page ends cleanly
		{0, 50, 1},
	} {
		srv := newServer(t, erptest.Config{MaxPageSize: 1000})
		srv.Put(erptest.SAPProductionPath, []string{"ManufacturingOrder"}, erptest.SAPProductionOrders(tc.rows, jan1, "1010")...)
		if tc.rows == 0 {
			srv.Put(erptest.SAPProductionPath, []string{"ManufacturingOrder"})
		}
		c := newClient(t, srv, nil)
		orders, errs := erptest.Collect(c.Production(context.Background(), erp.Query{PageSize: tc.page}))
		if len(errs) > 0 || len(orders) != tc.rows {
			t.Errorf("%d rows by %d: got %d, errors %v", tc.rows, tc.page, len(orders), errs)
		}
		if n := len(srv.Requests()); n != tc.requests {
			t.Errorf("%d rows by %d: %d requests, want %d", tc.rows, tc.page, n, tc.requests)
		}
		seen := map[string]bool{}
		for _, o := range orders {
			if seen[o.Source.Key] {
				t.Errorf("duplicate %s", o.Source.Key)
			}
			seen[o.Source.Key] = true
		}
	}
}

func TestNextLinksRelativeAndForeignHost(t *testing.T) {
	for name, cfg := range map[string]erptest.Config{
		"relative": {MaxPageSize: 30, RelativeNext: true},
		"foreign":  {MaxPageSize: 30, ForeignNextHost: "sapgw-internal.corp:44300"},
	} {
		t.Run(name, func(t *testing.T) {
			srv := newServer(t, cfg)
			srv.Put(erptest.SAPProductionPath, []string{"ManufacturingOrder"}, erptest.SAPProductionOrders(70, jan1, "1010")...)
			c := newClient(t, srv, nil)
			orders, errs := erptest.Collect(c.Production(context.Background(), erp.Query{}))
			if len(errs) > 0 || len(orders) != 70 {
				t.Fatalf("got %d, errors %v", len(orders), errs)
			}
			if n := len(srv.Requests()); n != 3 {
				t.Errorf("%d requests, want 3", n)
			}
		})
	}
}

func TestBreakStopsPaging(t *testing.T) {
	srv := newServer(t, erptest.Config{MaxPageSize: 100})
	srv.Put(erptest.SAPProductionPath, []string{"ManufacturingOrder"}, erptest.SAPProductionOrders(250, jan1, "1010")...)
	c := newClient(t, srv, nil)
	n := 0
	for _, err := range c.Production(context.Background(), erp.Query{}) {
		if err != nil {
			t.Fatal(err)
		}
		n++
		if n == 5 {
			break
		}
	}
	if got := len(srv.Requests()); got != 1 {
		t.Errorf("%d requests after breaking out of the first page, want 1", got)
	}
}

func TestEnergyV2AndV4(t *testing.T) {
	for _, v2 := range []bool{true, false} {
		flav := erptest.SAPV2
		path := erptest.SAPEnergyPath
		if !v2 {
			flav = erptest.SAPV4
			path = "/sap/opu/odata4/sap/api_measurementdocument/srvd_a2x/sap/measurementdocument/0001/MeasurementDocument"
		}
		srv := newServer(t, erptest.Config{Flavour: flav, MaxPageSize: 10})
		srv.Put(path, []string{"MeasurementDocument"}, erptest.SAPMeasurementDocuments(48, jan1, "1010", v2)...)
		c := newClient(t, srv, func(cfg *sap.Config) {
			if !v2 {
				cfg.Energy = sap.Service{Version: 4, Path: "/sap/opu/odata4/sap/api_measurementdocument/srvd_a2x/sap/measurementdocument/0001/"}
			}
		})
		recs, errs := erptest.Collect(c.Energy(context.Background(), erp.Query{From: jan1, To: jan1.Add(24 * time.Hour)}))
		if len(errs) > 0 {
			t.Fatalf("v2=%v: %v", v2, errs)
		}
		// Readings at 01:00 .. 23:00 of Jan 1 (the 24:00 one is on Jan 2, filtered by date).
		if len(recs) != 23 {
			t.Fatalf("v2=%v: %d records, want 23", v2, len(recs))
		}
		r := recs[0]
		if !r.Period.Start.Equal(jan1.Add(time.Hour)) || !r.Period.End.Equal(r.Period.Start) {
			t.Errorf("v2=%v: period = %+v", v2, r.Period)
		}
		if r.Quantity.String() != "100.5 KWH" || r.Quantity.Unit.Dimension() != units.Energy {
			t.Errorf("v2=%v: quantity = %v", v2, r.Quantity)
		}
		if r.Meter != "MP-1010-1" || r.Source.Key != "100000" {
			t.Errorf("v2=%v: record = %+v", v2, r)
		}
		for _, rq := range srv.Requests()[:1] {
			if v2 && !strings.Contains(rq.RawQuery, "datetime'2024-01-01T00:00:00'") {
				t.Errorf("v2 filter: %s", rq.RawQuery)
			}
			if !v2 && (rq.Header.Get("OData-Version") != "4.0" || !strings.Contains(rq.RawQuery, "ge%202024-01-01")) {
				t.Errorf("v4 request: %s %v", rq.RawQuery, rq.Header)
			}
		}
	}
}

func TestCostsAndMaintenance(t *testing.T) {
	srv := newServer(t, erptest.Config{})
	srv.Put(erptest.SAPCostsPath, []string{"AccountingDocument"}, erptest.SAPJournalEntryItems(3, jan1, "1010")...)
	srv.Put(erptest.SAPMaintenancePath, []string{"MaintenanceOrder"}, erptest.SAPMaintenanceOrders(2, jan1, "1010")...)
	c := newClient(t, srv, nil)
	costs, errs := erptest.Collect(c.Costs(context.Background(), erp.Query{Plant: "1010"}))
	if len(errs) > 0 || len(costs) != 3 {
		t.Fatalf("costs: %d, %v", len(costs), errs)
	}
	cr := costs[1]
	if cr.Amount.String() != "1001.10 EUR" || cr.Amount.Amount.Coefficient() != 100110 {
		t.Errorf("amount = %v", cr.Amount)
	}
	if minor, err := cr.Amount.MinorUnits(2); err != nil || minor != 100110 {
		t.Errorf("minor units = %d, %v", minor, err)
	}
	if cr.Period.Duration() != 24*time.Hour || !cr.Period.Start.Equal(jan1.Add(24*time.Hour)) {
		t.Errorf("period = %+v", cr.Period)
	}
	if cr.Source.Key != "1010/2024/5100000001/000001" || cr.Quantity.Unit != units.MustParse("MWh") {
		t.Errorf("cost = %+v", cr)
	}
	mos, errs := erptest.Collect(c.Maintenance(context.Background(), erp.Query{}))
	if len(errs) > 0 || len(mos) != 2 {
		t.Fatalf("maintenance: %d, %v", len(mos), errs)
	}
	if mos[1].Equipment != "BOILER-2" || !mos[1].Planned.Start.Equal(jan1.Add(32*time.Hour)) {
		t.Errorf("maintenance = %+v", mos[1])
	}
}

func TestRetriesOn503And5xxBursts(t *testing.T) {
	srv := newServer(t, erptest.Config{MaxPageSize: 50})
	srv.Put(erptest.SAPProductionPath, []string{"ManufacturingOrder"}, erptest.SAPProductionOrders(120, jan1, "1010")...)
	srv.Inject(erptest.Fault{Path: "A_ProductionOrder_2", Status: 503, RetryAfter: "0", Times: 2})
	srv.Inject(erptest.Fault{Path: "A_ProductionOrder_2", Skip: 1, Status: 500, Times: 3})
	c := newClient(t, srv, nil)
	orders, errs := erptest.Collect(c.Production(context.Background(), erp.Query{}))
	if len(errs) > 0 || len(orders) != 120 {
		t.Fatalf("got %d, errors %v", len(orders), errs)
	}
	if st := c.Stats(); st.Retries != 5 || st.Throttled != 2 {
		t.Errorf("stats = %+v, want 5 retries, 2 throttled", st)
	}
}

func TestThrottledWhenRetriesRunOut(t *testing.T) {
	srv := newServer(t, erptest.Config{})
	srv.Put(erptest.SAPProductionPath, []string{"ManufacturingOrder"}, erptest.SAPProductionOrders(5, jan1, "1010")...)
	srv.Inject(erptest.Fault{Status: 429, RetryAfter: "0", Times: 10})
	c := newClient(t, srv, func(cfg *sap.Config) { cfg.Retry.MaxRetries = 2 })
	_, errs := erptest.Collect(c.Production(context.Background(), erp.Query{}))
	if len(errs) != 1 || !errors.Is(errs[0], erp.ErrThrottled) {
		t.Fatalf("errors = %v, want one ErrThrottled", errs)
	}
	var se *erp.StatusError
	if !errors.As(errs[0], &se) || se.StatusCode != 429 || se.Code != "429" {
		t.Errorf("status error = %#v", se)
	}
	if n := len(srv.Requests()); n != 3 {
		t.Errorf("%d attempts, want 3", n)
	}
}

func TestStatusErrors(t *testing.T) {
	srv := newServer(t, erptest.Config{})
	c := newClient(t, srv, nil)
	_, errs := erptest.Collect(c.Production(context.Background(), erp.Query{}))
	if len(errs) != 1 || !errors.Is(errs[0], erp.ErrNotFound) {
		t.Fatalf("errors = %v, want ErrNotFound", errs)
	}
	srv.Put(erptest.SAPProductionPath, []string{"ManufacturingOrder"}, erptest.SAPProductionOrders(1, jan1, "1010")...)
	srv.Inject(erptest.Fault{Status: 403})
	_, errs = erptest.Collect(c.Production(context.Background(), erp.Query{}))
	if len(errs) != 1 || !errors.Is(errs[0], erp.ErrForbidden) || errors.Is(errs[0], erp.ErrServer) {
		t.Fatalf("errors = %v, want ErrForbidden", errs)
	}
	_, errs = erptest.Collect(c.Production(context.Background(), erp.Query{Filters: []erp.Filter{{Property: "NoSuchProperty", Op: erp.Eq, Value: 1}}}))
	if len(errs) != 1 || !errors.Is(errs[0], erp.ErrBadRequest) {
		t.Fatalf("errors = %v, want ErrBadRequest", errs)
	}
	_, errs = erptest.Collect(c.Production(context.Background(), erp.Query{Filters: []erp.Filter{{Property: "A or 1 eq 1", Op: erp.Eq, Value: 1}}}))
	if len(errs) != 1 || !errors.Is(errs[0], erp.ErrBadRequest) {
		t.Fatalf("injected property: errors = %v, want ErrBadRequest", errs)
	}
}

func TestTokenExpiresMidPaging(t *testing.T) {
	srv := newServer(t, erptest.Config{MaxPageSize: 40})
	srv.Put(erptest.SAPProductionPath, []string{"ManufacturingOrder"}, erptest.SAPProductionOrders(100, jan1, "1010")...)
	srv.Inject(erptest.Fault{Path: "A_ProductionOrder_2", Skip: 1, ExpireToken: true})
	c := newClient(t, srv, nil)
	orders, errs := erptest.Collect(c.Production(context.Background(), erp.Query{}))
	if len(errs) > 0 || len(orders) != 100 {
		t.Fatalf("got %d, errors %v", len(orders), errs)
	}
	if st := srv.Stats(); st.TokensIssued != 2 || st.Unauthorized != 1 {
		t.Errorf("server stats = %+v, want 2 tokens and one 401", st)
	}
}

func TestRotatedSecretIsAskedAgain(t *testing.T) {
	srv := newServer(t, erptest.Config{})
	srv.Put(erptest.SAPProductionPath, []string{"ManufacturingOrder"}, erptest.SAPProductionOrders(3, jan1, "1010")...)
	var current atomic.Value
	current.Store("s3cret-for-tests")
	var asked atomic.Int32
	c := newClient(t, srv, func(cfg *sap.Config) {
		cfg.Auth = erp.ClientCredentials{TokenURL: srv.TokenURL(), ClientID: srv.ClientID(),
			Secret: erp.SecretFunc(func(context.Context) (string, error) {
				asked.Add(1)
				return current.Load().(string), nil
			})}
	})
	if _, errs := erptest.Collect(c.Production(context.Background(), erp.Query{})); len(errs) > 0 {
		t.Fatal(errs)
	}
	// Rotate: the server takes only the new secret, and the old token dies.
	srv.SetClientSecret("rotated-s3cret")
	srv.ExpireTokens()
	current.Store("rotated-s3cret")
	if _, errs := erptest.Collect(c.Production(context.Background(), erp.Query{})); len(errs) > 0 {
		t.Fatal(errs)
	}
	if n := asked.Load(); n != 2 {
		t.Errorf("secret asked %d times, want 2 (once, then after the rejection)", n)
	}
	if st := srv.Stats(); st.TokenDenied != 1 || st.TokensIssued != 2 {
		t.Errorf("server stats = %+v", st)
	}
}

func TestSecretsNeverInErrorsOrLogs(t *testing.T) {
	const secret = "wrong-but-secret-value-7731"
	srv := newServer(t, erptest.Config{})
	srv.Put(erptest.SAPProductionPath, []string{"ManufacturingOrder"}, erptest.SAPProductionOrders(3, jan1, "1010")...)
	var logs bytes.Buffer
	c := newClient(t, srv, func(cfg *sap.Config) {
		cfg.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		cfg.Auth = erp.ClientCredentials{TokenURL: srv.TokenURL(), ClientID: srv.ClientID(),
			Secret: erp.SecretFunc(func(context.Context) (string, error) { return secret, nil })}
	})
	_, errs := erptest.Collect(c.Production(context.Background(), erp.Query{}))
	if len(errs) != 1 || !errors.Is(errs[0], erp.ErrUnauthorized) {
		t.Fatalf("errors = %v, want ErrUnauthorized", errs)
	}
	var ae *erp.AuthError
	if !errors.As(errs[0], &ae) || ae.Code != "invalid_client" {
		t.Errorf("auth error = %#v", ae)
	}
	if strings.Contains(errs[0].Error(), secret) || strings.Contains(logs.String(), secret) {
		t.Errorf("secret leaked: %v / %s", errs[0], logs.String())
	}

	// With a valid secret, neither the secret nor the issued token reach the logs.
	logs.Reset()
	c2 := newClient(t, srv, func(cfg *sap.Config) {
		cfg.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	srv.Inject(erptest.Fault{Status: 500, Body: `{"error":{"code":"X","message":{"lang":"en","value":"echo: Authorization: Bearer abcdefabcdef"}}}`, Times: 10})
	_, errs = erptest.Collect(c2.Production(context.Background(), erp.Query{}))
	if len(errs) != 1 || !errors.Is(errs[0], erp.ErrServer) {
		t.Fatalf("errors = %v", errs)
	}
	if strings.Contains(errs[0].Error(), "abcdefabcdef") || strings.Contains(logs.String(), "s3cret-for-tests") {
		t.Errorf("credential leaked: %v / %s", errs[0], logs.String())
	}
	for _, r := range srv.Requests() {
		if tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "); tok != "" && strings.Contains(logs.String(), tok) {
			t.Errorf("token %q in logs", tok)
		}
	}
}

func TestTruncatedPageAndMalformedRecord(t *testing.T) {
	srv := newServer(t, erptest.Config{MaxPageSize: 10})
	rows := erptest.SAPProductionOrders(30, jan1, "1010")
	rows[2]["TotalQuantity"] = "12x.5"
	srv.Put(erptest.SAPProductionPath, []string{"ManufacturingOrder"}, rows...)
	srv.Inject(erptest.Fault{Path: "A_ProductionOrder_2", Skip: 1, Truncate: true})
	c := newClient(t, srv, nil)
	orders, errs := erptest.Collect(c.Production(context.Background(), erp.Query{}))
	if len(orders) < 9 {
		t.Errorf("%d good records, want the 9 of the first page and those before the cut", len(orders))
	}
	if len(errs) != 2 {
		t.Fatalf("errors = %v, want the bad record and the truncated page", errs)
	}
	var me *erp.MalformedError
	if !errors.As(errs[0], &me) || me.Field != "TotalQuantity" || me.Key != "1000002" {
		t.Errorf("record error = %v", errs[0])
	}
	if !errors.As(errs[1], &me) || !errors.Is(errs[1], erp.ErrMalformed) || me.Offset <= 0 {
		t.Errorf("page error = %v", errs[1])
	}
	if st := c.Stats(); st.Malformed != 2 {
		t.Errorf("malformed = %d, want 2", st.Malformed)
	}
}

func TestCSRFWrites(t *testing.T) {
	srv := newServer(t, erptest.Config{})
	c := newClient(t, srv, nil)
	svc := sap.Service{Name: "API_PRODUCTION_ORDER_2_SRV"}
	if _, err := c.Write(context.Background(), svc, "POST", "ConfirmOrder", []byte(`{"OrderID":"1"}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write(context.Background(), svc, "POST", "ConfirmOrder", []byte(`{"OrderID":"2"}`)); err != nil {
		t.Fatal(err)
	}
	srv.ExpireCSRF()
	if _, err := c.Write(context.Background(), svc, "POST", "ConfirmOrder", []byte(`{"OrderID":"3"}`)); err != nil {
		t.Fatal(err)
	}
	st := srv.Stats()
	if st.CSRFFetches != 2 || st.Writes != 3 {
		t.Errorf("stats = %+v, want 2 token fetches and 3 writes", st)
	}
	if _, err := c.Write(context.Background(), svc, "GET", "x", nil); !errors.Is(err, erp.ErrBadRequest) {
		t.Errorf("GET write: %v", err)
	}
}

// TestWriteRetriesOnlyIdempotentMethods: a 503 ends a POST at once (it
// may have been applied), while a PUT, which replaces, is sent again.
func TestWriteRetriesOnlyIdempotentMethods(t *testing.T) {
	srv := newServer(t, erptest.Config{})
	c := newClient(t, srv, nil)
	svc := sap.Service{Name: "API_PRODUCTION_ORDER_2_SRV"}
	srv.Inject(erptest.Fault{Path: "ConfirmOrder", Status: 503})
	if _, err := c.Write(context.Background(), svc, "POST", "ConfirmOrder", []byte(`{"OrderID":"1"}`)); !errors.Is(err, erp.ErrServer) {
		t.Fatalf("POST after a 503: %v, want erp.ErrServer", err)
	}
	if st := srv.Stats(); st.Writes != 0 || st.Requests != 2 {
		t.Errorf("stats = %+v, want the token fetch and one POST, not written", st)
	}
	srv.Inject(erptest.Fault{Path: "ConfirmOrder", Status: 503})
	if _, err := c.Write(context.Background(), svc, "PUT", "ConfirmOrder", []byte(`{"OrderID":"1"}`)); err != nil {
		t.Fatalf("PUT after a 503: %v", err)
	}
	if st := srv.Stats(); st.Writes != 1 || st.Requests != 4 {
		t.Errorf("stats = %+v, want the PUT sent twice and written once", st)
	}
}

func TestWatermarkChanges(t *testing.T) {
	srv := newServer(t, erptest.Config{})
	rows := erptest.SAPProductionOrders(5, jan1, "1010")
	srv.Put(erptest.SAPProductionPath, []string{"ManufacturingOrder"}, rows...)
	c := newClient(t, srv, nil)
	var got []erp.Change[erp.ProductionOrder]
	page := func(cs []erp.Change[erp.ProductionOrder]) error { got = append(got, cs...); return nil }
	cur, err := c.ProductionChanges(context.Background(), erp.Query{}, "", page)
	if err != nil || len(got) != 5 {
		t.Fatalf("first round: %d changes, %v", len(got), err)
	}
	got = nil
	if cur, err = c.ProductionChanges(context.Background(), erp.Query{}, cur, page); err != nil || len(got) != 0 {
		t.Fatalf("quiet round: %d changes, %v", len(got), err)
	}
	changed := erptest.SAPProductionOrders(1, jan1.Add(30*24*time.Hour), "1010")[0]
	changed["ManufacturingOrder"] = "1000001"
	srv.Put(erptest.SAPProductionPath, []string{"ManufacturingOrder"}, changed)
	if _, err = c.ProductionChanges(context.Background(), erp.Query{}, cur, page); err != nil || len(got) != 1 || got[0].Source.Key != "1000001" {
		t.Fatalf("after an update: %+v, %v", got, err)
	}
}

func TestConfigValidation(t *testing.T) {
	_, err := sap.New(sap.Config{BaseURL: "http://sap.example.com", PageSize: -2,
		Energy: sap.Service{Version: 3}})
	if !errors.Is(err, erp.ErrConfig) {
		t.Fatalf("err = %v", err)
	}
	for _, want := range []string{"plain http", "PageSize", "Energy.Version"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	c, err := sap.New(sap.Config{ConnConfig: erp.ConnConfig{AllowHTTP: true}, BaseURL: "http://127.0.0.1:1"})
	if err != nil {
		t.Fatalf("AllowHTTP: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Error(err)
	}
	if err := c.Close(); !errors.Is(err, erp.ErrClosed) {
		t.Errorf("second Close = %v", err)
	}
	for _, err := range c.Production(context.Background(), erp.Query{}) {
		if !errors.Is(err, erp.ErrClosed) {
			t.Errorf("after Close: %v", err)
		}
	}
}

func TestAPIKeyAndRateLimitDeadline(t *testing.T) {
	srv := newServer(t, erptest.Config{APIKey: "key-123456"})
	srv.Put(erptest.SAPProductionPath, []string{"ManufacturingOrder"}, erptest.SAPProductionOrders(2, jan1, "1010")...)
	c := newClient(t, srv, func(cfg *sap.Config) {
		cfg.Auth = erp.APIKey{Header: "APIKey", Key: erp.SecretFunc(func(context.Context) (string, error) { return "key-123456", nil })}
		cfg.RequestsPerMinute, cfg.Burst = 1, 1
	})
	if _, errs := erptest.Collect(c.Production(context.Background(), erp.Query{})); len(errs) > 0 {
		t.Fatal(errs)
	}
	// The bucket is empty for a minute: a caller with a short deadline is told at once.
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, errs := erptest.Collect(c.Production(ctx, erp.Query{}))
	if len(errs) != 1 || !errors.Is(errs[0], context.DeadlineExceeded) {
		t.Fatalf("errors = %v, want DeadlineExceeded", errs)
	}
	if n := len(srv.Requests()); n != 1 {
		t.Errorf("%d requests reached the server, want 1", n)
	}
}

func TestAPIKeyRotation(t *testing.T) {
	srv := newServer(t, erptest.Config{APIKey: "key-123456"})
	srv.Put(erptest.SAPProductionPath, []string{"ManufacturingOrder"}, erptest.SAPProductionOrders(2, jan1, "1010")...)
	var key atomic.Value
	key.Store("key-123456")
	var asked atomic.Int32
	c := newClient(t, srv, func(cfg *sap.Config) {
		cfg.Auth = erp.APIKey{Header: "APIKey", Key: erp.SecretFunc(func(context.Context) (string, error) {
			asked.Add(1)
			return key.Load().(string), nil
		})}
	})
	if _, errs := erptest.Collect(c.Production(context.Background(), erp.Query{})); len(errs) > 0 {
		t.Fatal(errs)
	}
	srv.SetAPIKey("key-rotated-7890")
	key.Store("key-rotated-7890")
	if _, errs := erptest.Collect(c.Production(context.Background(), erp.Query{})); len(errs) > 0 {
		t.Fatal(errs)
	}
	if n := asked.Load(); n != 2 {
		t.Errorf("key asked %d times, want 2", n)
	}
	if st := srv.Stats(); st.Unauthorized != 1 {
		t.Errorf("server stats = %+v, want one 401", st)
	}
}

func TestMalformedPageBody(t *testing.T) {
	srv := newServer(t, erptest.Config{})
	srv.Put(erptest.SAPProductionPath, []string{"ManufacturingOrder"}, erptest.SAPProductionOrders(2, jan1, "1010")...)
	c := newClient(t, srv, nil)
	for _, body := range []string{
		"<html><body>502 Bad Gateway (web dispatcher)</body></html>",
		`{"d":{"results":[{"ManufacturingOrder":"1",,}]}}`,
		`{"d":{"results":[],"__next":5}}`,
		`{"value":{"ManufacturingOrder":"1"}}`,
	} {
		srv.Inject(erptest.Fault{Body: body})
		recs, errs := erptest.Collect(c.Production(context.Background(), erp.Query{}))
		var me *erp.MalformedError
		if len(errs) != 1 || !errors.As(errs[0], &me) || me.Entity != "A_ProductionOrder_2" {
			t.Errorf("%s: records %d, errors %v", body, len(recs), errs)
		}
	}
}

func TestPlannedOrders(t *testing.T) {
	srv := newServer(t, erptest.Config{})
	srv.Put(erptest.SAPPlannedPath, []string{"PlannedOrder"},
		erptest.Row{"PlannedOrder": "20000001", "ProductionPlant": "1010", "PlannedOrderType": "LA", "Material": "FG-1",
			"PlndOrderPlannedStartDate": erptest.V2Date(jan1), "PlndOrderPlannedEndDate": erptest.V2Date(jan1.Add(48 * time.Hour)),
			"TotalQuantity": "40", "BaseUnit": "ST", "LastChangeDateTime": "/Date(1704067200000+0000)/"})
	c := newClient(t, srv, nil)
	recs, errs := erptest.Collect(c.PlannedOrders(context.Background(), erp.Query{Plant: "1010"}))
	if len(errs) > 0 || len(recs) != 1 {
		t.Fatalf("%d records, %v", len(recs), errs)
	}
	if r := recs[0]; r.Order != "20000001" || r.Planned.Duration() != 48*time.Hour || r.Quantity.Code != "ST" || r.Source.Entity != "A_PlannedOrder" {
		t.Errorf("planned order = %+v", r)
	}
}

// TestCSRFErrorHidesURLCredentials: a base URL that carries credentials
// (https://user:password@host) must not put them in the error when the
// service sends no CSRF token.
func TestCSRFErrorHidesURLCredentials(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"d":{"EntitySets":[]}}`)) // 200, but no X-CSRF-Token
	}))
	defer srv.Close()
	const password = "url-pass-for-tests"
	base := strings.Replace(srv.URL, "https://", "https://gl001:"+password+"@", 1)
	tlsConf := &tls.Config{RootCAs: x509.NewCertPool()}
	tlsConf.RootCAs.AddCert(srv.Certificate())
	c, err := sap.New(sap.Config{ConnConfig: erptest.FastConnConfig("sap-test", nil, tlsConf), BaseURL: base})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, err = c.Write(context.Background(), sap.Service{Name: "API_PRODUCTION_ORDER_2_SRV"}, "POST", "ConfirmOrder", []byte(`{}`))
	if !errors.Is(err, erp.ErrMalformed) {
		t.Fatalf("Write without a CSRF token: %v, want erp.ErrMalformed", err)
	}
	if strings.Contains(err.Error(), password) {
		t.Errorf("the error shows the URL's password: %v", err)
	}
}

// TestNextLinkLoopIsMalformed: a service whose next link leads back to a page
// already read would be paged forever; the stream ends with a MalformedError
// after yielding the records it did read.
func TestNextLinkLoopIsMalformed(t *testing.T) {
	var requests atomic.Int32
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		w.Header().Set("Content-Type", "application/json")
		// Page 2 links back to page 1 (same path and query as the first request).
		next := "?page=2"
		if r.URL.Query().Get("page") == "2" {
			next = "?page=1"
		}
		_, _ = fmt.Fprintf(w, `{"d":{"results":[{"ManufacturingOrder":"%d"}],"__next":%q}}`, requests.Load(), r.URL.Path+next)
	}))
	defer srv.Close()
	tlsConf := &tls.Config{RootCAs: x509.NewCertPool()}
	tlsConf.RootCAs.AddCert(srv.Certificate())
	c, err := sap.New(sap.Config{ConnConfig: erptest.FastConnConfig("sap-test", nil, tlsConf), BaseURL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var got int
	var last error
	for _, err := range c.Production(context.Background(), erp.Query{}) {
		if err != nil {
			last = err
			break
		}
		got++
		if got > 10 {
			t.Fatal("paging did not stop at the loop")
		}
	}
	var me *erp.MalformedError
	if !errors.As(last, &me) || me.Field != "next link" {
		t.Fatalf("error = %v, want a MalformedError on the next link", last)
	}
	if got == 0 {
		t.Error("the records read before the loop were not yielded")
	}
}
