package workday_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/greenlang/gl001/erp"
	"github.com/greenlang/gl001/erp/erptest"
	"github.com/greenlang/gl001/erp/workday"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var jan1 = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

const password = "wd-pass-for-tests"

func newServer(t *testing.T, cfg erptest.WorkdayConfig) *erptest.WorkdayServer {
	t.Helper()
	srv := erptest.NewWorkdayServer(cfg)
	t.Cleanup(srv.Close)
	return srv
}

func fixed(s string) erp.SecretProvider {
	return erp.SecretFunc(func(context.Context) (string, error) { return s, nil })
}

func newClient(t *testing.T, srv *erptest.WorkdayServer, mod func(*workday.Config)) *workday.Client {
	t.Helper()
	cfg := workday.Config{
		ConnConfig: erptest.FastConnConfig("wd-test", nil, srv.TLSConfig()),
		BaseURL:    srv.URL(),
		Tenant:     srv.Tenant(),
		Username:   "isu_gl001",
		Password:   fixed(password),
	}
	if mod != nil {
		mod(&cfg)
	}
	c, err := workday.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestSupplierInvoicesPaging(t *testing.T) {
	srv := newServer(t, erptest.WorkdayConfig{})
	srv.PutSupplierInvoices(erptest.WorkdaySupplierInvoices(250, jan1, "GMS_USA")...)
	c := newClient(t, srv, nil)
	recs, errs := erptest.Collect(c.Costs(context.Background(), erp.Query{}))
	if len(errs) > 0 || len(recs) != 250 {
		t.Fatalf("got %d, errors %v", len(recs), errs)
	}
	r := recs[3]
	want := erp.Source{System: "wd-test", Entity: "Get_Supplier_Invoices", Key: "SUPPLIER_INVOICE-6-1003"}
	if r.Source != want || r.Plant != "GMS_USA" || r.Account != "S-100" || r.CostCenter != "CC-UTIL" || r.Description != "Natural gas supply" {
		t.Errorf("record = %+v", r)
	}
	if r.Amount.String() != "1003.25 USD" || !r.Period.Start.Equal(jan1.Add(3*24*time.Hour)) || r.Period.Duration() != 24*time.Hour {
		t.Errorf("record = %+v", r)
	}
	reqs := srv.Requests()
	if len(reqs) != 3 {
		t.Fatalf("%d requests, want 3 pages of 100", len(reqs))
	}
	var asOf string
	for i, rq := range reqs {
		body := string(rq.Body)
		if rq.Path != "/ccx/service/gl001/Resource_Management/v45.0" || rq.Header.Get("Content-Type") != "text/xml; charset=utf-8" {
			t.Errorf("request %d: %s %v", i, rq.Path, rq.Header)
		}
		if !strings.Contains(body, "<wsse:Username>isu_gl001@gl001</wsse:Username>") ||
			!strings.Contains(body, "<bsvc:Page>"+string(rune('1'+i))+"</bsvc:Page><bsvc:Count>100</bsvc:Count>") {
			t.Errorf("request %d body: %s", i, body)
		}
		a := between(body, "<bsvc:As_Of_Entry_DateTime>", "</bsvc:As_Of_Entry_DateTime>")
		if i == 0 {
			asOf = a
		} else if a != asOf || a == "" {
			t.Errorf("As_Of_Entry_DateTime moved: %q then %q", asOf, a)
		}
	}
}

func between(s, a, b string) string {
	_, rest, ok := strings.Cut(s, a)
	if !ok {
		return ""
	}
	v, _, _ := strings.Cut(rest, b)
	return v
}

// TestSnapshotIsPinned enters invoices while the client pages: with
// As_Of_Entry_DateTime pinned they are not seen, and no page shifts.
func TestSnapshotIsPinned(t *testing.T) {
	srv := newServer(t, erptest.WorkdayConfig{})
	srv.PutSupplierInvoices(erptest.WorkdaySupplierInvoices(30, jan1.Add(24*time.Hour), "GMS_USA")...)
	early := erptest.WorkdaySupplierInvoices(5, jan1.Add(-10*24*time.Hour), "GMS_USA")
	for i := range early {
		early[i].ID = "SUPPLIER_INVOICE-LATE-" + early[i].ID
		early[i].Entered = time.Now().Add(time.Hour) // entered after the snapshot
	}
	srv.OnPage(func(op string, page int) {
		if page == 2 {
			srv.PutSupplierInvoices(early...)
		}
	})
	c := newClient(t, srv, func(cfg *workday.Config) { cfg.PageSize = 10 })
	recs, errs := erptest.Collect(c.Costs(context.Background(), erp.Query{}))
	if len(errs) > 0 || len(recs) != 30 {
		t.Fatalf("got %d, errors %v", len(recs), errs)
	}
	seen := map[string]bool{}
	for _, r := range recs {
		if seen[r.Source.Key] || strings.Contains(r.Source.Key, "LATE") {
			t.Errorf("record %s duplicated or from after the snapshot", r.Source.Key)
		}
		seen[r.Source.Key] = true
	}
}

func TestCriteriaFromQuery(t *testing.T) {
	srv := newServer(t, erptest.WorkdayConfig{})
	srv.PutSupplierInvoices(erptest.WorkdaySupplierInvoices(10, jan1, "GMS_USA")...)
	srv.PutSupplierInvoices(erptest.WorkdaySupplierInvoices(10, jan1, "GMS_EU")...)
	c := newClient(t, srv, nil)
	recs, errs := erptest.Collect(c.Costs(context.Background(), erp.Query{Plant: "GMS_EU", From: jan1.Add(2 * 24 * time.Hour), To: jan1.Add(5 * 24 * time.Hour)}))
	if len(errs) > 0 || len(recs) != 3 {
		t.Fatalf("got %d, errors %v", len(recs), errs)
	}
	for _, r := range recs {
		if r.Plant != "GMS_EU" {
			t.Errorf("plant %s", r.Plant)
		}
	}
	body := string(srv.Requests()[0].Body)
	for _, want := range []string{
		`<bsvc:Company_Reference><bsvc:ID bsvc:type="Company_Reference_ID">GMS_EU</bsvc:ID></bsvc:Company_Reference>`,
		`<bsvc:Invoice_Date_On_or_After>2024-01-03</bsvc:Invoice_Date_On_or_After>`,
		`<bsvc:Invoice_Date_On_or_Before>2024-01-05</bsvc:Invoice_Date_On_or_Before>`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("request lacks %s:\n%s", want, body)
		}
	}
	if _, errs := erptest.Collect(c.Costs(context.Background(), erp.Query{Filters: []erp.Filter{{Property: "Memo", Op: erp.Eq, Value: "x"}}})); len(errs) != 1 || !errors.Is(errs[0], erp.ErrBadRequest) {
		t.Errorf("filter the criteria cannot express: %v", errs)
	}
}

func TestJournalLines(t *testing.T) {
	srv := newServer(t, erptest.WorkdayConfig{})
	srv.PutJournals(erptest.WorkdayJournal{WID: "j1", Number: "JE-100", Company: "GMS_USA", Currency: "USD", Date: jan1,
		Lines: []erptest.WorkdayJournalLine{
			{Account: "6100", Debit: "812.40", Memo: "Steam plant electricity", CostCenter: "CC-UTIL"},
			{Account: "2000", Credit: "812.40", Memo: "Accrual"},
		}})
	c := newClient(t, srv, func(cfg *workday.Config) { cfg.Costs = workday.Journals }) // JournalFields by default
	recs, errs := erptest.Collect(c.Costs(context.Background(), erp.Query{From: jan1, To: jan1.Add(24 * time.Hour)}))
	if len(errs) > 0 || len(recs) != 2 {
		t.Fatalf("got %d, errors %v", len(recs), errs)
	}
	if r := recs[0]; r.Source.Key != "JE-100/1" || r.Account != "6100" || r.Amount.String() != "812.40 USD" || r.CostCenter != "CC-UTIL" || r.Plant != "GMS_USA" || !r.Period.Start.Equal(jan1) {
		t.Errorf("line 1 = %+v", r)
	}
	if r := recs[1]; r.Source.Key != "JE-100/2" || !r.Amount.Amount.IsZero() || r.CostCenter != "" || r.Description != "Accrual" {
		t.Errorf("line 2 = %+v", r)
	}
	if rq := srv.Requests()[0]; rq.Path != "/ccx/service/gl001/Financial_Management/v45.0" || !strings.Contains(string(rq.Body), "<bsvc:Get_Journals_Request") {
		t.Errorf("request = %s %s", rq.Path, rq.Body)
	}
}

func TestNotSupported(t *testing.T) {
	srv := newServer(t, erptest.WorkdayConfig{})
	c := newClient(t, srv, nil)
	if _, errs := erptest.Collect(c.Production(context.Background(), erp.Query{})); len(errs) != 1 || !errors.Is(errs[0], erp.ErrNotSupported) {
		t.Errorf("Production: %v", errs)
	}
	if _, errs := erptest.Collect(c.Maintenance(context.Background(), erp.Query{})); len(errs) != 1 || !errors.Is(errs[0], erp.ErrNotSupported) {
		t.Errorf("Maintenance: %v", errs)
	}
	if _, errs := erptest.Collect(c.Energy(context.Background(), erp.Query{})); len(errs) != 1 || !errors.Is(errs[0], erp.ErrNotSupported) {
		t.Errorf("Energy without a report: %v", errs)
	}
	if len(srv.Requests()) != 0 {
		t.Errorf("requests sent for unsupported records")
	}
}

func TestSOAPFaults(t *testing.T) {
	srv := newServer(t, erptest.WorkdayConfig{})
	srv.PutSupplierInvoices(erptest.WorkdaySupplierInvoices(5, jan1, "GMS_USA")...)

	// A wrong password: an authentication fault, asked again once, never leaked.
	var log bytes.Buffer
	calls := 0
	bad := newClient(t, srv, func(cfg *workday.Config) {
		cfg.Password = erp.SecretFunc(func(context.Context) (string, error) { calls++; return "Wr0ng-Passw0rd", nil })
		cfg.Logger = slog.New(slog.NewTextHandler(&log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	_, errs := erptest.Collect(bad.Costs(context.Background(), erp.Query{}))
	var fe *workday.FaultError
	if len(errs) != 1 || !errors.As(errs[0], &fe) || !errors.Is(errs[0], erp.ErrUnauthorized) {
		t.Fatalf("errors = %v", errs)
	}
	if fe.Code != "SOAP-ENV:Client.authenticationError" || fe.String != "invalid username or password" || calls != 2 {
		t.Errorf("fault = %+v, password asked %d times", fe, calls)
	}
	if strings.Contains(errs[0].Error(), "Wr0ng-Passw0rd") || strings.Contains(log.String(), "Wr0ng-Passw0rd") {
		t.Errorf("password leaked: %v / %s", errs[0], log.String())
	}
	if n := len(srv.Requests()); n != 2 {
		t.Errorf("%d requests: faults must not be retried", n)
	}

	// A fault echoing the password back is scrubbed.
	c := newClient(t, srv, nil)
	srv.Inject(erptest.Fault{Status: 500, Body: erptest.WorkdayFault("SOAP-ENV:Client.validationError", "Validation error occurred. Bad value '"+password+"' for Page")})
	_, errs = erptest.Collect(c.Costs(context.Background(), erp.Query{}))
	if len(errs) != 1 || !errors.Is(errs[0], erp.ErrBadRequest) || errors.Is(errs[0], erp.ErrUnauthorized) {
		t.Fatalf("errors = %v", errs)
	}
	if strings.Contains(errs[0].Error(), password) || !strings.Contains(errs[0].Error(), "Validation error occurred") {
		t.Errorf("error = %v", errs[0])
	}
	var se *erp.StatusError
	if !errors.As(errs[0], &se) || se.StatusCode != 500 {
		t.Errorf("the fault does not unwrap to its HTTP answer: %v", errs[0])
	}

	// A server fault in the middle of paging.
	srv.Inject(erptest.Fault{Status: 500})
	_, errs = erptest.Collect(c.Costs(context.Background(), erp.Query{}))
	if len(errs) != 1 || !errors.Is(errs[0], erp.ErrServer) || !errors.As(errs[0], &fe) {
		t.Errorf("errors = %v", errs)
	}
}

func TestPasswordRotation(t *testing.T) {
	srv := newServer(t, erptest.WorkdayConfig{})
	srv.PutSupplierInvoices(erptest.WorkdaySupplierInvoices(3, jan1, "GMS_USA")...)
	var mu sync.Mutex
	current := password
	c := newClient(t, srv, func(cfg *workday.Config) {
		cfg.Password = erp.SecretFunc(func(context.Context) (string, error) { mu.Lock(); defer mu.Unlock(); return current, nil })
	})
	if _, errs := erptest.Collect(c.Costs(context.Background(), erp.Query{})); len(errs) > 0 {
		t.Fatal(errs)
	}
	srv.SetPassword("r0tated-pass")
	mu.Lock()
	current = "r0tated-pass"
	mu.Unlock()
	if recs, errs := erptest.Collect(c.Costs(context.Background(), erp.Query{})); len(errs) > 0 || len(recs) != 3 {
		t.Fatalf("after rotation: %d, %v", len(recs), errs)
	}
}

func TestTransientFaults(t *testing.T) {
	for name, tc := range map[string]struct {
		fault erptest.Fault
		want  int
		err   error
	}{
		"429 retry-after":    {fault: erptest.Fault{Skip: 1, Status: 429, RetryAfter: "0"}, want: 25},
		"503 burst":          {fault: erptest.Fault{Skip: 1, Status: 503, Times: 3}, want: 25},
		"503 beyond retries": {fault: erptest.Fault{Skip: 1, Status: 503, Times: 4}, want: 10, err: erp.ErrServer},
		"truncated page":     {fault: erptest.Fault{Skip: 1, Truncate: true}, want: 10, err: erp.ErrMalformed},
		"malformed page":     {fault: erptest.Fault{Skip: 1, Body: `<env:Envelope xmlns:env="x"><env:Body><wd:Get_Supplier_Invoices_Response><wd:Response_Data></wd:Oops>`}, want: 10, err: erp.ErrMalformed},
		"not SOAP":           {fault: erptest.Fault{Skip: 1, Body: `{"error":"html gateway page"}`}, want: 10, err: erp.ErrMalformed},
		"fault in a 200":     {fault: erptest.Fault{Skip: 1, Body: erptest.WorkdayFault("SOAP-ENV:Server.processingError", "busy")}, want: 10, err: erp.ErrServer},
		"no Total_Pages":     {fault: erptest.Fault{Skip: 1, Body: `<e:Envelope xmlns:e="x"><e:Body><r><Response_Data><Supplier_Invoice/></Response_Data></r></e:Body></e:Envelope>`}, want: 11, err: erp.ErrMalformed}, // the (empty) document is delivered first
	} {
		t.Run(name, func(t *testing.T) {
			srv := newServer(t, erptest.WorkdayConfig{})
			srv.PutSupplierInvoices(erptest.WorkdaySupplierInvoices(25, jan1, "GMS_USA")...)
			c := newClient(t, srv, func(cfg *workday.Config) { cfg.PageSize = 10 })
			srv.Inject(tc.fault)
			recs, errs := erptest.Collect(c.Costs(context.Background(), erp.Query{}))
			if tc.err == nil && (len(errs) > 0 || len(recs) != tc.want) {
				t.Fatalf("%d records, errors %v", len(recs), errs)
			}
			if tc.err != nil && (len(errs) != 1 || !errors.Is(errs[0], tc.err)) {
				t.Fatalf("errors = %v, want %v", errs, tc.err)
			}
			if tc.err == erp.ErrMalformed && c.Stats().Malformed == 0 {
				t.Errorf("malformed page not counted")
			}
			if name != "truncated page" && len(recs) != tc.want {
				t.Errorf("%d records, want %d", len(recs), tc.want)
			}
		})
	}
}

func TestMalformedRecordDoesNotStopTheStream(t *testing.T) {
	srv := newServer(t, erptest.WorkdayConfig{})
	invs := erptest.WorkdaySupplierInvoices(4, jan1, "GMS_USA")
	invs[1].Amount = "12,50"
	invs[2].Currency = "DOLLARS"
	srv.PutSupplierInvoices(invs...)
	c := newClient(t, srv, nil)
	recs, errs := erptest.Collect(c.Costs(context.Background(), erp.Query{}))
	if len(recs) != 2 || len(errs) != 2 {
		t.Fatalf("%d records, errors %v", len(recs), errs)
	}
	for _, err := range errs {
		if !errors.Is(err, erp.ErrMalformed) {
			t.Errorf("error = %v", err)
		}
	}
	if c.Stats().Malformed != 2 {
		t.Errorf("malformed = %d", c.Stats().Malformed)
	}
}

func energyReport() erptest.WorkdayReport {
	var entries []erptest.Row
	for i := range 6 {
		d := jan1.AddDate(0, i, 0)
		entries = append(entries, erptest.Row{
			"Invoice_Line_ID": "SIL-" + string(rune('A'+i)), "Company": "GMS_USA", "Meter_ID": "ELEC-MAIN",
			"Cost_Center": "CC-UTIL", "Service_Period_Start": d.Format("2006-01-02") + "-00:00",
			"Service_Period_End": d.AddDate(0, 1, 0).Format("2006-01-02") + "-00:00",
			"Quantity":           "41250.5", "Unit_of_Measure": "KWH", "Extended_Amount": "5362.57", "Currency": "USD",
			"Last_Updated": d.AddDate(0, 1, 3).Format(time.RFC3339),
			"Supplier":     map[string]string{"Descriptor": "City Power"},
		})
	}
	return erptest.WorkdayReport{Entries: entries, DateField: "Service_Period_Start", FromParam: "Period_Start", ToParam: "Period_End",
		PlantField: "Company", PlantParam: "Company"}
}

func TestEnergyFromReportWithRefreshTokenRotation(t *testing.T) {
	srv := newServer(t, erptest.WorkdayConfig{RotateRefreshTokens: true, TokenTTL: time.Hour})
	srv.PutReport("ISU_GL001", "GL001_Utility_Invoices", energyReport())
	var mu sync.Mutex
	var rotated []string
	grant := workday.RefreshGrant{
		TokenURL: workday.TokenURL(srv.URL(), srv.Tenant()), ClientID: "gl001-api",
		ClientSecret: fixed("api-secret-for-tests"), RefreshToken: fixed("rt-initial-for-tests"),
		OnRotate: func(rt string) { mu.Lock(); rotated = append(rotated, rt); mu.Unlock() },
	}
	if err := grant.Validate(); err != nil {
		t.Fatal(err)
	}
	c := newClient(t, srv, func(cfg *workday.Config) {
		cfg.Auth = grant.Auth()
		cfg.Username, cfg.Password = "", nil
		cfg.EnergyReport = workday.Report{Owner: "ISU_GL001", Name: "GL001_Utility_Invoices", FromParam: "Period_Start", ToParam: "Period_End", PlantParam: "Company"}
	})
	q := erp.Query{Plant: "GMS_USA", From: jan1.AddDate(0, 1, 0), To: jan1.AddDate(0, 4, 0)}
	recs, errs := erptest.Collect(c.Energy(context.Background(), q))
	if len(errs) > 0 || len(recs) != 3 {
		t.Fatalf("got %d, errors %v", len(recs), errs)
	}
	r := recs[0]
	if r.Source != (erp.Source{System: "wd-test", Entity: "GL001_Utility_Invoices", Key: "SIL-B"}) || r.Quantity.String() != "41250.5 KWH" ||
		r.Cost.String() != "5362.57 USD" || !r.Period.Start.Equal(jan1.AddDate(0, 1, 0)) || r.Period.End != jan1.AddDate(0, 2, 0) {
		t.Errorf("record = %+v", r)
	}
	rq := srv.Requests()[0]
	v, _ := url.ParseQuery(rq.RawQuery)
	if rq.Path != "/ccx/service/customreport2/gl001/ISU_GL001/GL001_Utility_Invoices" || v.Get("format") != "json" ||
		v.Get("Period_Start") != "2024-02-01" || v.Get("Period_End") != "2024-04-30" || v.Get("Company") != "GMS_USA" {
		t.Errorf("request = %s ? %s", rq.Path, rq.RawQuery)
	}
	// The access token expires: the next refresh must use the rotated
	// refresh token (the initial one is no longer valid).
	srv.ExpireTokens()
	if _, errs := erptest.Collect(c.Energy(context.Background(), q)); len(errs) > 0 {
		t.Fatal(errs)
	}
	mu.Lock()
	defer mu.Unlock()
	if issued := srv.RefreshTokens(); len(rotated) != 2 || len(issued) != 2 || rotated[1] != issued[1] {
		t.Errorf("rotated = %v, issued %v", rotated, issued)
	}
	if st := srv.Stats(); st.TokenDenied != 0 || st.TokensIssued != 2 {
		t.Errorf("stats = %+v", st)
	}
}

func TestReportFaults(t *testing.T) {
	srv := newServer(t, erptest.WorkdayConfig{APIKey: "k3y-for-tests"})
	srv.PutReport("ISU_GL001", "GL001_Utility_Invoices", energyReport())
	t.Setenv(workday.APIKeyEnv, "k3y-for-tests")
	c := newClient(t, srv, func(cfg *workday.Config) {
		cfg.Auth = workday.EnvAPIKey("")
		cfg.EnergyReport = workday.Report{Owner: "ISU_GL001", Name: "GL001_Utility_Invoices"}
	})
	srv.Inject(erptest.Fault{Status: 503, RetryAfter: "0", Times: 2})
	if recs, errs := erptest.Collect(c.Energy(context.Background(), erp.Query{})); len(errs) > 0 || len(recs) != 6 {
		t.Fatalf("after 503s: %d, %v", len(recs), errs)
	}
	srv.Inject(erptest.Fault{Truncate: true})
	recs, errs := erptest.Collect(c.Energy(context.Background(), erp.Query{}))
	if len(errs) != 1 || !errors.Is(errs[0], erp.ErrMalformed) || len(recs) >= 6 {
		t.Errorf("truncated report: %d, %v", len(recs), errs)
	}
	srv.Inject(erptest.Fault{Body: `{"Report_Entry":{"not":"an array"}}`})
	if _, errs := erptest.Collect(c.Energy(context.Background(), erp.Query{})); len(errs) != 1 || !errors.Is(errs[0], erp.ErrMalformed) {
		t.Errorf("malformed report: %v", errs)
	}
	t.Setenv(workday.APIKeyEnv, "wrong-key-1")
	c2 := newClient(t, srv, func(cfg *workday.Config) {
		cfg.Auth = workday.EnvAPIKey("")
		cfg.EnergyReport = workday.Report{Owner: "ISU_GL001", Name: "GL001_Utility_Invoices"}
	})
	if _, errs := erptest.Collect(c2.Energy(context.Background(), erp.Query{})); len(errs) != 1 || !errors.Is(errs[0], erp.ErrUnauthorized) || strings.Contains(errs[0].Error(), "wrong-key-1") {
		t.Errorf("wrong key: %v", errs)
	}
}

func TestRefreshGrantRefused(t *testing.T) {
	srv := newServer(t, erptest.WorkdayConfig{})
	srv.PutReport("ISU_GL001", "R", energyReport())
	asked := 0
	grant := workday.RefreshGrant{TokenURL: workday.TokenURL(srv.URL(), srv.Tenant()), ClientID: "gl001-api",
		ClientSecret: fixed("api-secret-for-tests"),
		RefreshToken: erp.SecretFunc(func(context.Context) (string, error) { asked++; return "rt-revoked-9", nil })}
	c := newClient(t, srv, func(cfg *workday.Config) {
		cfg.Auth = grant.Auth()
		cfg.EnergyReport = workday.Report{Owner: "ISU_GL001", Name: "R"}
	})
	_, errs := erptest.Collect(c.Energy(context.Background(), erp.Query{}))
	var ae *erp.AuthError
	if len(errs) != 1 || !errors.As(errs[0], &ae) || ae.Code != "invalid_grant" || ae.System != "wd-test" || !errors.Is(errs[0], erp.ErrUnauthorized) {
		t.Fatalf("errors = %v", errs)
	}
	if strings.Contains(errs[0].Error(), "rt-revoked-9") || strings.Contains(errs[0].Error(), "api-secret-for-tests") {
		t.Errorf("secret in error: %v", errs[0])
	}
	if asked != 1 {
		t.Errorf("refresh token asked %d times", asked)
	}
	if err := (workday.RefreshGrant{}).Validate(); !errors.Is(err, erp.ErrConfig) {
		t.Errorf("Validate() = %v", err)
	}
}

func TestCostChangesWatermark(t *testing.T) {
	srv := newServer(t, erptest.WorkdayConfig{})
	rep := energyReport()
	srv.PutReport("ISU_GL001", "Costs", rep)
	c := newClient(t, srv, func(cfg *workday.Config) {
		cfg.Auth = erp.Basic{User: "isu_gl001@gl001", Password: fixed(password)} // RaaS with the integration user
		cfg.CostsReport = workday.Report{Owner: "ISU_GL001", Name: "Costs"}
		cfg.CostFields = erp.CostFields{Key: []string{"Invoice_Line_ID"}, Posting: erp.TimeFields{Date: "Service_Period_Start"},
			Amount: "Extended_Amount", Currency: "Currency", Changed: "Last_Updated"}
	})
	var got []erp.Change[erp.CostRecord]
	page := func(cs []erp.Change[erp.CostRecord]) error { got = append(got, cs...); return nil }
	cur, err := c.CostChanges(context.Background(), erp.Query{}, "", page)
	if err != nil || len(got) != 6 {
		t.Fatalf("first round: %d, %v", len(got), err)
	}
	rep.Entries[2]["Extended_Amount"] = "99.99"
	rep.Entries[2]["Last_Updated"] = jan1.AddDate(1, 0, 0).Format(time.RFC3339)
	srv.PutReport("ISU_GL001", "Costs", rep)
	got = nil
	if _, err := c.CostChanges(context.Background(), erp.Query{}, cur, page); err != nil || len(got) != 1 || got[0].Record.Amount.String() != "99.99 USD" {
		t.Fatalf("second round: %+v, %v", got, err)
	}
}

func TestConfigValidate(t *testing.T) {
	err := workday.Config{BaseURL: "ftp://x", Tenant: "a/b", Username: "u", PageSize: 1000, Version: "v1<",
		Costs: workday.Operation{Name: "Get Things"}, EnergyReport: workday.Report{Name: "R"}}.Validate()
	for _, want := range []string{"scheme", "Tenant", "Password", "PageSize", "Version", "Costs.Name", "Costs needs a Service", "EnergyReport"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v, want mention of %s", err, want)
		}
	}
	if !errors.Is(err, erp.ErrConfig) {
		t.Errorf("not ErrConfig: %v", err)
	}
}

// TestBearerTokenExpiresMidPaging reads SOAP pages with an OAuth access
// token (no UsernameToken); the token expires after the first page, and the
// client fetches a new one from the refresh token and carries on.
func TestBearerTokenExpiresMidPaging(t *testing.T) {
	srv := newServer(t, erptest.WorkdayConfig{})
	srv.PutSupplierInvoices(erptest.WorkdaySupplierInvoices(30, jan1, "GMS_USA")...)
	grant := workday.RefreshGrant{TokenURL: workday.TokenURL(srv.URL(), srv.Tenant()), ClientID: "gl001-api",
		ClientSecret: fixed("api-secret-for-tests"), RefreshToken: fixed("rt-initial-for-tests")}
	c := newClient(t, srv, func(cfg *workday.Config) {
		cfg.Auth = grant.Auth()
		cfg.Username, cfg.Password = "", nil
		cfg.PageSize = 10
	})
	srv.Inject(erptest.Fault{Skip: 1, ExpireToken: true})
	recs, errs := erptest.Collect(c.Costs(context.Background(), erp.Query{}))
	if len(errs) > 0 || len(recs) != 30 {
		t.Fatalf("got %d, errors %v", len(recs), errs)
	}
	if st := srv.Stats(); st.TokensIssued != 2 || st.Unauthorized != 1 {
		t.Errorf("server stats = %+v", st)
	}
	for _, rq := range srv.Requests() {
		if strings.Contains(string(rq.Body), "UsernameToken") {
			t.Errorf("UsernameToken sent without a Username configured")
		}
	}
}
