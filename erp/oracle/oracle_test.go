package oracle_test

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/greenlang/gl001/erp"
	"github.com/greenlang/gl001/erp/erptest"
	"github.com/greenlang/gl001/erp/oracle"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var jan1 = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

const secret = "s3cret-for-tests"

func newServer(t *testing.T, cfg erptest.OracleConfig) *erptest.OracleServer {
	t.Helper()
	srv := erptest.NewOracleServer(cfg)
	t.Cleanup(srv.Close)
	return srv
}

func newClient(t *testing.T, srv *erptest.OracleServer, mod func(*oracle.Config)) *oracle.Client {
	t.Helper()
	cc := oracle.ClientCredentials(srv.IdentityDomain(), srv.ClientID(), srv.URL())
	cc.Secret = erp.SecretFunc(func(context.Context) (string, error) { return secret, nil })
	cfg := oracle.Config{
		ConnConfig: erptest.FastConnConfig("fusion-test", cc, srv.TLSConfig()),
		BaseURL:    srv.URL(),
	}
	if mod != nil {
		mod(&cfg)
	}
	c, err := oracle.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestPagingIgnoresTheCappedLimit asks for 1000 a page; the server caps
// silently at 499 and the client must page on hasMore, by the items received.
func TestPagingIgnoresTheCappedLimit(t *testing.T) {
	srv := newServer(t, erptest.OracleConfig{})
	srv.Put("maintenanceWorkOrders", []string{"WorkOrderId"}, erptest.OracleMaintenanceWorkOrders(1200, jan1, "M1")...)
	c := newClient(t, srv, func(cfg *oracle.Config) { cfg.PageSize = 1000 })
	orders, errs := erptest.Collect(c.Maintenance(context.Background(), erp.Query{Plant: "M1"}))
	if len(errs) > 0 || len(orders) != 1200 {
		t.Fatalf("got %d orders, errors %v", len(orders), errs)
	}
	seen := map[string]bool{}
	for _, o := range orders {
		if seen[o.Source.Key] {
			t.Fatalf("duplicate %s", o.Source.Key)
		}
		seen[o.Source.Key] = true
	}
	o := orders[3]
	want := erp.Source{System: "fusion-test", Entity: "maintenanceWorkOrders", Key: "300100180000003"}
	if o.Source != want || o.Order != "MWO-2003" || o.Plant != "M1" || o.Equipment != "BOILER-4" || o.Priority != "2" {
		t.Errorf("order = %+v", o)
	}
	day := jan1.Add(3 * 24 * time.Hour)
	if !o.Planned.Start.Equal(day) || o.Planned.Duration() != 8*time.Hour || !o.Changed.Equal(day.Add(-24*time.Hour)) {
		t.Errorf("planned = %+v, changed %v", o.Planned, o.Changed)
	}
	reqs := srv.Requests()
	if len(reqs) != 3 {
		t.Fatalf("%d requests, want 3 (499 + 499 + 202)", len(reqs))
	}
	var offsets []string
	for _, r := range reqs {
		q, err := url.ParseQuery(r.RawQuery)
		if err != nil {
			t.Fatal(err)
		}
		offsets = append(offsets, q.Get("offset"))
		if q.Get("limit") != "1000" || q.Get("onlyData") != "true" || q.Get("orderBy") != "WorkOrderId:asc" {
			t.Errorf("query = %v", q)
		}
		if q.Get("q") != "OrganizationCode='M1'" || !strings.Contains(q.Get("fields"), "WorkOrderNumber") {
			t.Errorf("query = %v", q)
		}
		if r.Header.Get("REST-Framework-Version") != "1" {
			t.Errorf("framework version = %q", r.Header.Get("REST-Framework-Version"))
		}
		if strings.Contains(r.RawQuery, "+") {
			t.Errorf("'+' in query: %s", r.RawQuery)
		}
	}
	if got := strings.Join(offsets, ","); got != "0,499,998" {
		t.Errorf("offsets = %s", got)
	}
	if st := srv.Stats(); st.TokensIssued != 1 || st.LastScope != srv.URL()+"urn:opc:resource:consumer::all" {
		t.Errorf("server stats = %+v", st)
	}
}

func TestTimeRangeAndFilters(t *testing.T) {
	srv := newServer(t, erptest.OracleConfig{})
	srv.Put("meterReadings", []string{"MeterReadingId"}, erptest.OracleMeterReadings(48, jan1, "M1")...)
	c := newClient(t, srv, nil)
	q := erp.Query{From: jan1.Add(10 * time.Hour), To: jan1.Add(13 * time.Hour),
		Filters: []erp.Filter{{Property: "MeterCode", Op: erp.Eq, Value: "EM-M1-1"}, {Property: "ReadingValue", Op: erp.Gt, Value: 100}}}
	recs, errs := erptest.Collect(c.Energy(context.Background(), q))
	if len(errs) > 0 || len(recs) != 3 {
		t.Fatalf("got %d, errors %v", len(recs), errs)
	}
	r := recs[0]
	if !r.Period.Start.Equal(jan1.Add(10*time.Hour)) || r.Period.Duration() != 0 || r.Quantity.String() != "109.5 KWH" || r.Meter != "EM-M1-1" {
		t.Errorf("reading = %+v", r)
	}
	raw, _ := url.ParseQuery(srv.Requests()[0].RawQuery)
	if got := raw.Get("q"); got != "ReadingDate>='2024-01-01T10:00:00Z';ReadingDate<'2024-01-01T13:00:00Z';MeterCode='EM-M1-1';ReadingValue>100" {
		t.Errorf("q = %s", got)
	}
	if _, errs := erptest.Collect(c.Energy(context.Background(), erp.Query{Filters: []erp.Filter{{Property: "MeterCode", Op: erp.Eq, Value: "x';1=1"}}})); len(errs) != 1 || !errors.Is(errs[0], erp.ErrBadRequest) {
		t.Errorf("quote in a filter value: %v", errs)
	}
	if _, errs := erptest.Collect(c.Energy(context.Background(), erp.Query{Filters: []erp.Filter{{Property: "A;B", Op: erp.Eq, Value: "x"}}})); len(errs) != 1 || !errors.Is(errs[0], erp.ErrBadRequest) {
		t.Errorf("bad attribute name: %v", errs)
	}
}

func TestCostsDateOnlyAndTotalResults(t *testing.T) {
	srv := newServer(t, erptest.OracleConfig{MaxLimit: 4})
	srv.Put("invoices", []string{"InvoiceId"}, erptest.OracleInvoices(10, jan1)...)
	c := newClient(t, srv, func(cfg *oracle.Config) { cfg.TotalResults = true })
	recs, errs := erptest.Collect(c.Costs(context.Background(), erp.Query{From: jan1.Add(24 * time.Hour), To: jan1.Add(8 * 24 * time.Hour)}))
	if len(errs) > 0 || len(recs) != 7 {
		t.Fatalf("got %d, errors %v", len(recs), errs)
	}
	if r := recs[0]; r.Amount.String() != "1001.1 USD" || r.Period.Duration() != 24*time.Hour || r.Account != "Northern Gas Supply" {
		t.Errorf("cost = %+v", r)
	}
	reqs := srv.Requests()
	first, _ := url.ParseQuery(reqs[0].RawQuery)
	second, _ := url.ParseQuery(reqs[1].RawQuery)
	if first.Get("q") != "InvoiceDate>='2024-01-02';InvoiceDate<'2024-01-09'" || first.Get("totalResults") != "true" || second.Has("totalResults") {
		t.Errorf("queries = %v / %v", first, second)
	}
}

func TestFinder(t *testing.T) {
	srv := newServer(t, erptest.OracleConfig{})
	srv.Put("maintenanceWorkOrders", []string{"WorkOrderId"}, append(erptest.OracleMaintenanceWorkOrders(3, jan1, "M1"), erptest.OracleMaintenanceWorkOrders(2, jan1, "M2")[1:]...)...)
	c := newClient(t, srv, func(cfg *oracle.Config) {
		cfg.Maintenance = oracle.DefaultMaintenance
		cfg.Maintenance.Finder = "findByOrganization;OrganizationCode=M1"
	})
	orders, errs := erptest.Collect(c.Maintenance(context.Background(), erp.Query{}))
	if len(errs) > 0 || len(orders) != 2 {
		// Rows of M2 replaced two M1 keys: one M1 order is left, plus the
		// third; the finder keeps only M1.
		t.Fatalf("got %d, errors %v", len(orders), errs)
	}
	raw, _ := url.ParseQuery(srv.Requests()[0].RawQuery)
	if raw.Get("finder") != "findByOrganization;OrganizationCode=M1" {
		t.Errorf("finder = %q", raw.Get("finder"))
	}
}

func TestFaults(t *testing.T) {
	for name, tc := range map[string]struct {
		fault erptest.Fault
		want  int // records received
		err   error
	}{
		"429 retry-after":       {fault: erptest.Fault{Skip: 1, Status: 429, RetryAfter: "0"}, want: 60},
		"503 burst":             {fault: erptest.Fault{Skip: 1, Status: 503, Times: 3}, want: 60},
		"5xx beyond retries":    {fault: erptest.Fault{Skip: 1, Status: 500, Times: 4}, want: 25, err: erp.ErrServer},
		"token expires":         {fault: erptest.Fault{Skip: 1, ExpireToken: true}, want: 60},
		"truncated page":        {fault: erptest.Fault{Skip: 1, Truncate: true}, want: 37, err: erp.ErrMalformed}, // the 12 whole items before the cut are kept
		"malformed body":        {fault: erptest.Fault{Skip: 1, Body: `{"items":[{"WorkOrderId":1,}]}`}, want: 25, err: erp.ErrMalformed},
		"no hasMore":            {fault: erptest.Fault{Skip: 1, Body: `{"items":[],"count":0}`}, want: 25, err: erp.ErrMalformed},
		"hasMore on empty page": {fault: erptest.Fault{Skip: 1, Body: `{"items":[],"count":0,"hasMore":true}`}, want: 25, err: erp.ErrMalformed},
		"count disagrees":       {fault: erptest.Fault{Skip: 1, Body: `{"items":[{"WorkOrderId":1}],"count":2,"hasMore":false}`}, want: 26, err: erp.ErrMalformed},
		"forbidden":             {fault: erptest.Fault{Status: 403}, want: 0, err: erp.ErrForbidden},
	} {
		t.Run(name, func(t *testing.T) {
			srv := newServer(t, erptest.OracleConfig{MaxLimit: 25})
			srv.Put("maintenanceWorkOrders", []string{"WorkOrderId"}, erptest.OracleMaintenanceWorkOrders(60, jan1, "M1")...)
			c := newClient(t, srv, nil)
			srv.Inject(tc.fault)
			orders, errs := erptest.Collect(c.Maintenance(context.Background(), erp.Query{}))
			if len(orders) != tc.want {
				t.Errorf("%d records, want %d (errors %v)", len(orders), tc.want, errs)
			}
			switch {
			case tc.err == nil && len(errs) > 0:
				t.Errorf("errors: %v", errs)
			case tc.err != nil && (len(errs) != 1 || !errors.Is(errs[0], tc.err)):
				t.Errorf("errors = %v, want one matching %v", errs, tc.err)
			}
			for _, err := range errs {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("secret in error: %v", err)
				}
			}
			if tc.err == erp.ErrMalformed && c.Stats().Malformed != 1 {
				t.Errorf("malformed counter = %d", c.Stats().Malformed)
			}
		})
	}
}

func TestMalformedRecordDoesNotStopTheStream(t *testing.T) {
	srv := newServer(t, erptest.OracleConfig{})
	rows := erptest.OracleMaintenanceWorkOrders(5, jan1, "M1")
	rows[2]["PlannedStartDate"] = "next tuesday"
	srv.Put("maintenanceWorkOrders", []string{"WorkOrderId"}, rows...)
	c := newClient(t, srv, nil)
	orders, errs := erptest.Collect(c.Maintenance(context.Background(), erp.Query{}))
	if len(orders) != 4 || len(errs) != 1 {
		t.Fatalf("%d orders, errors %v", len(orders), errs)
	}
	var me *erp.MalformedError
	if !errors.As(errs[0], &me) || me.Field != "PlannedStartDate" || me.Key != "300100180000002" {
		t.Errorf("error = %#v", errs[0])
	}
}

func TestBreakingOutStopsPaging(t *testing.T) {
	srv := newServer(t, erptest.OracleConfig{MaxLimit: 10})
	srv.Put("maintenanceWorkOrders", []string{"WorkOrderId"}, erptest.OracleMaintenanceWorkOrders(100, jan1, "M1")...)
	c := newClient(t, srv, nil)
	n := 0
	for _, err := range c.Maintenance(context.Background(), erp.Query{}) {
		if err != nil {
			t.Fatal(err)
		}
		if n++; n == 15 {
			break
		}
	}
	if got := len(srv.Requests()); got != 2 {
		t.Errorf("%d requests after breaking out in the second page", got)
	}
}

func TestBasicOnlyWhenConfigured(t *testing.T) {
	srv := newServer(t, erptest.OracleConfig{BasicUser: "gl001.integration", BasicPassword: "basic-pass-1"})
	srv.Put("invoices", []string{"InvoiceId"}, erptest.OracleInvoices(2, jan1)...)
	c := newClient(t, srv, func(cfg *oracle.Config) {
		cfg.Auth = erp.Basic{User: "gl001.integration", Password: erp.SecretFunc(func(context.Context) (string, error) { return "basic-pass-1", nil })}
	})
	if recs, errs := erptest.Collect(c.Costs(context.Background(), erp.Query{})); len(errs) > 0 || len(recs) != 2 {
		t.Fatalf("%d, %v", len(recs), errs)
	}
	if st := srv.Stats(); st.TokensIssued != 0 {
		t.Errorf("stats = %+v", st)
	}
	bad := newClient(t, srv, func(cfg *oracle.Config) {
		cfg.Auth = erp.Basic{User: "gl001.integration", Password: erp.SecretFunc(func(context.Context) (string, error) { return "wrong-pass-2", nil })}
	})
	_, errs := erptest.Collect(bad.Costs(context.Background(), erp.Query{}))
	if len(errs) != 1 || !errors.Is(errs[0], erp.ErrUnauthorized) || strings.Contains(errs[0].Error(), "wrong-pass-2") {
		t.Errorf("errors = %v", errs)
	}
}

func TestClientCredentialsFromEnvironment(t *testing.T) {
	srv := newServer(t, erptest.OracleConfig{})
	srv.Put("invoices", []string{"InvoiceId"}, erptest.OracleInvoices(1, jan1)...)
	t.Setenv(oracle.SecretEnv, secret)
	c := newClient(t, srv, func(cfg *oracle.Config) {
		cfg.Auth = oracle.ClientCredentials(srv.IdentityDomain(), srv.ClientID(), srv.URL())
	})
	if recs, errs := erptest.Collect(c.Costs(context.Background(), erp.Query{})); len(errs) > 0 || len(recs) != 1 {
		t.Fatalf("%d, %v", len(recs), errs)
	}
	t.Setenv(oracle.SecretEnv, "")
	c2 := newClient(t, srv, func(cfg *oracle.Config) {
		cfg.Auth = oracle.ClientCredentials(srv.IdentityDomain(), srv.ClientID(), srv.URL())
	})
	_, errs := erptest.Collect(c2.Costs(context.Background(), erp.Query{}))
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), oracle.SecretEnv) {
		t.Errorf("errors = %v", errs)
	}
}

func TestNotFoundCarriesTheServerMessage(t *testing.T) {
	srv := newServer(t, erptest.OracleConfig{})
	c := newClient(t, srv, nil)
	_, errs := erptest.Collect(c.Production(context.Background(), erp.Query{}))
	var se *erp.StatusError
	if len(errs) != 1 || !errors.As(errs[0], &se) || se.StatusCode != 404 || !strings.Contains(se.Message, "was not found") {
		t.Fatalf("errors = %v", errs)
	}
}

func TestWatermarkChanges(t *testing.T) {
	srv := newServer(t, erptest.OracleConfig{MaxLimit: 3})
	rows := erptest.OracleMaintenanceWorkOrders(5, jan1, "M1")
	srv.Put("maintenanceWorkOrders", []string{"WorkOrderId"}, rows...)
	c := newClient(t, srv, nil)
	var got []erp.Change[erp.MaintenanceOrder]
	page := func(cs []erp.Change[erp.MaintenanceOrder]) error { got = append(got, cs...); return nil }
	cur, err := c.MaintenanceChanges(context.Background(), erp.Query{}, "", page)
	if err != nil || len(got) != 5 {
		t.Fatalf("first round: %d changes, %v", len(got), err)
	}
	upd := rows[1]
	upd["WorkOrderStatusCode"] = "ORA_COMPLETED"
	upd["LastUpdateDate"] = jan1.Add(30 * 24 * time.Hour).Format("2006-01-02T15:04:05.000+00:00")
	srv.Put("maintenanceWorkOrders", []string{"WorkOrderId"}, upd)
	got = nil
	cur2, err := c.MaintenanceChanges(context.Background(), erp.Query{}, cur, page)
	if err != nil || len(got) != 1 || got[0].Record.Status != "ORA_COMPLETED" || cur2 == cur {
		t.Fatalf("second round: %+v, %v", got, err)
	}
	raw, _ := url.ParseQuery(srv.Requests()[len(srv.Requests())-1].RawQuery)
	if !strings.HasPrefix(raw.Get("q"), "LastUpdateDate>='2024-01-04T00:00:00Z'") {
		t.Errorf("q = %s", raw.Get("q"))
	}
}

func TestConfigValidate(t *testing.T) {
	err := oracle.Config{BaseURL: "http://fusion.example.com", PageSize: -2, Version: "a/b",
		Costs: oracle.Resource{Name: "invoices?x", TimeAttribute: "A B"}}.Validate()
	for _, want := range []string{"plain http", "PageSize", "Version", "Costs.Name", "Costs"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v, want mention of %s", err, want)
		}
	}
	if !errors.Is(err, erp.ErrConfig) {
		t.Errorf("not ErrConfig: %v", err)
	}
	if s, err := oracle.Scope("https://abcd.fa.us2.oraclecloud.com"); err != nil || s != "https://abcd.fa.us2.oraclecloud.com:443urn:opc:resource:consumer::all" {
		t.Errorf("Scope = %q, %v", s, err)
	}
	if u := oracle.TokenURL("https://idcs-1.identity.oraclecloud.com/"); u != "https://idcs-1.identity.oraclecloud.com/oauth2/v1/token" {
		t.Errorf("TokenURL = %s", u)
	}
}

func TestParseError(t *testing.T) {
	for _, tc := range []struct{ body, code, msg string }{
		{`{"title":"Bad Request","status":"400","o:errorDetails":[{"detail":"Attribute X is invalid","o:errorCode":"27024"}]}`, "27024", "Attribute X is invalid"},
		{`{"title":"Not Found","detail":"gone"}`, "", "gone"},
		{"URL request parameter q with value x is invalid.", "", "URL request parameter q with value x is invalid."},
		{"<html><body>Bad Gateway</body></html>", "", ""},
	} {
		if c, m := oracle.ParseError([]byte(tc.body)); c != tc.code || m != tc.msg {
			t.Errorf("ParseError(%s) = %q, %q", tc.body, c, m)
		}
	}
}
