package erptest_test

// Clients against the fakes as a new user configures them: each test
// reproduces a way a client once went wrong against a real server.

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/greenlang/gl001/erp"
	"github.com/greenlang/gl001/erp/dynamics"
	"github.com/greenlang/gl001/erp/erptest"
	"github.com/greenlang/gl001/erp/odata"
	"github.com/greenlang/gl001/erp/oracle"
	"github.com/greenlang/gl001/erp/sap"
	"github.com/greenlang/gl001/resilience"
	"github.com/greenlang/gl001/resilience/httpretry"
)

var (
	from = time.Date(2024, 2, 1, 12, 0, 0, 0, time.UTC)
	to   = time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)
)

func secret(s string) erp.SecretProvider {
	return erp.SecretFunc(func(context.Context) (string, error) { return s, nil })
}

func creds(srv *erptest.Server) erp.ClientCredentials {
	return erp.ClientCredentials{TokenURL: srv.TokenURL(), ClientID: srv.ClientID(), Secret: secret("s3cret-for-tests")}
}

func server(t *testing.T, cfg erptest.Config) *erptest.Server {
	t.Helper()
	srv := erptest.NewServer(cfg)
	t.Cleanup(srv.Close)
	return srv
}

// postings are energy postings of a V4 service whose time is an
// Edm.DateTimeOffset, around both bounds of [from, to).
var postings = []struct {
	key string
	at  time.Time
	in  bool
}{
	{"1", from.Add(-4 * time.Hour), false}, // the same day as From, before it
	{"2", from.Add(time.Hour), true},
	{"3", to.Add(-4 * time.Hour), true}, // the same day as To, before it
	{"4", to.Add(time.Hour), false},
}

func putPostings(srv *erptest.Server, path string) {
	for _, p := range postings {
		srv.Put(path, []string{"Doc"}, erptest.Row{"Doc": p.key, "PostedAt": erptest.V4Time(p.at), "Qty": "10", "Uom": "KWH"})
	}
}

var postingFields = erp.EnergyFields{Key: []string{"Doc"}, End: erp.TimeFields{Date: "PostedAt"}, Quantity: "Qty", Unit: "Uom"}

func wantPostings(t *testing.T, recs []erp.EnergyRecord, errs []error) {
	t.Helper()
	if len(errs) > 0 {
		t.Fatalf("errors: %v", errs)
	}
	var got []string
	for _, r := range recs {
		got = append(got, r.Source.Key)
	}
	if strings.Join(got, ",") != "2,3" {
		t.Errorf("records %v, want 2,3: only those in [%v, %v)", got, from, to)
	}
}

// SAP on OData V4 used to write the bounds as dates, rounding a time of day
// away, and the records of the rounded range reached the caller.
func TestSAPV4KeepsTheTimeOfDay(t *testing.T) {
	const root = "/sap/opu/odata4/sap/zenergy/srvd_a2x/sap/zenergy/0001/"
	srv := server(t, erptest.Config{Flavour: erptest.SAPV4})
	putPostings(srv, root+"Postings")
	for _, lit := range []sap.TimeLiteral{0, sap.Date} {
		c, err := sap.New(sap.Config{ConnConfig: erptest.FastConnConfig("sap", creds(srv), srv.TLSConfig()),
			BaseURL: srv.URL(), EnergyFields: postingFields,
			Energy: sap.Service{Version: 4, Root: srv.URL() + root, EntitySet: "Postings", TimeProperty: "PostedAt", TimeLiteral: lit}})
		if err != nil {
			t.Fatal(err)
		}
		recs, errs := erptest.Collect(c.Energy(context.Background(), erp.Query{From: from, To: to}))
		wantPostings(t, recs, errs)
		reqs := srv.Requests()
		filter := reqs[len(reqs)-1].RawQuery
		switch lit {
		case 0: // the default writes the instants
			if !strings.Contains(filter, "PostedAt%20ge%202024-02-01T12:00:00Z") || !strings.Contains(filter, "PostedAt%20lt%202024-03-01T12:00:00Z") {
				t.Errorf("default V4 literal: query %s", filter)
			}
		case sap.Date: // whole days on the server, trimmed by the client
			if st := c.Stats(); st.OutOfRange != 2 {
				t.Errorf("Date literal: %d records dropped, want 2 (query %s)", st.OutOfRange, filter)
			}
		}
		c.Close()
	}
}

// Whatever the server does with the range (here: ignores $filter), no
// record outside [From, To) reaches the caller, and each dropped one is
// counted.
func TestRecordsOutsideTheRangeAreDropped(t *testing.T) {
	srv := server(t, erptest.Config{Flavour: erptest.SAPV4, IgnoreFilter: true})
	putPostings(srv, "/svc/Postings")
	putPostings(srv, "/api/data/v9.2/postings")
	sc, err := sap.New(sap.Config{ConnConfig: erptest.FastConnConfig("sap", creds(srv), srv.TLSConfig()),
		BaseURL: srv.URL(), EnergyFields: postingFields,
		Energy: sap.Service{Version: 4, Path: "/svc/", EntitySet: "Postings", TimeProperty: "PostedAt"}})
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	dc, err := dynamics.New(dynamics.Config{ConnConfig: erptest.FastConnConfig("dyn", creds(srv), srv.TLSConfig()),
		BaseURL: srv.URL(), Energy: dynamics.Entity{EntitySet: "postings", TimeProperty: "PostedAt"}, EnergyFields: postingFields})
	if err != nil {
		t.Fatal(err)
	}
	defer dc.Close()
	oc, err := odata.New(odata.Config{ConnConfig: erptest.FastConnConfig("odata", creds(srv), srv.TLSConfig()),
		Options: odata.Options{ServiceRoot: srv.URL() + "/svc"},
		Energy:  odata.EntitySet{Name: "Postings", TimeProperty: "PostedAt"}, EnergyFields: postingFields})
	if err != nil {
		t.Fatal(err)
	}
	defer oc.Close()
	for name, c := range map[string]interface {
		erp.Client
		Stats() erp.ConnStats
	}{"sap": sc, "dynamics": dc, "odata": oc} {
		recs, errs := erptest.Collect(c.Energy(context.Background(), erp.Query{From: from, To: to}))
		wantPostings(t, recs, errs)
		if st := c.Stats(); st.OutOfRange != 2 {
			t.Errorf("%s: OutOfRange = %d, want 2", name, st.OutOfRange)
		}
	}
}

// Dynamics once built its root from BaseURL and APIVersion only, so another
// service was reachable only through APIVersion "../..".
func TestExplicitServiceRoots(t *testing.T) {
	_, err := dynamics.New(dynamics.Config{BaseURL: "https://contoso.crm4.dynamics.com", APIVersion: "../.."})
	if !errors.Is(err, erp.ErrConfig) || !strings.Contains(err.Error(), "APIVersion") || !strings.Contains(err.Error(), "ServiceRoot") {
		t.Errorf("APIVersion ../..: %v", err)
	}
	dc, err := dynamics.New(dynamics.Config{ServiceRoot: "https://gateway.example.com/odata/plant/"})
	if err != nil || dc.ServiceRoot() != "https://gateway.example.com/odata/plant/" {
		t.Fatalf("ServiceRoot: %v", err)
	}
	dc.Close()
	_, err = odata.New(odata.Config{Energy: odata.EntitySet{Name: "Readings"}, EnergyFields: postingFields})
	if !errors.Is(err, erp.ErrConfig) || !strings.Contains(err.Error(), "Energy.ServiceRoot or ServiceRoot") {
		t.Errorf("no service root: %v", err)
	}
}

// A mapping that omitted Key was once replaced by SAP's defaults, and the
// user got a 400 about a property never mapped.
func TestPartialMappingNamesWhatIsMissing(t *testing.T) {
	partial := erp.EnergyFields{Meter: "Meter", Quantity: "Qty"}
	for name, newc := range map[string]func() error{
		"sap": func() error {
			_, err := sap.New(sap.Config{BaseURL: "https://sap.example.com", EnergyFields: partial})
			return err
		},
		"dynamics": func() error {
			_, err := dynamics.New(dynamics.Config{BaseURL: "https://d.example.com", Energy: dynamics.Entity{EntitySet: "x"}, EnergyFields: partial})
			return err
		},
		"odata": func() error {
			_, err := odata.New(odata.Config{Options: odata.Options{ServiceRoot: "https://o.example.com/"},
				Energy: odata.EntitySet{Name: "x"}, EnergyFields: partial})
			return err
		},
		"oracle": func() error {
			_, err := oracle.New(oracle.Config{BaseURL: "https://f.example.com", EnergyFields: partial})
			return err
		},
	} {
		err := newc()
		if !errors.Is(err, erp.ErrConfig) {
			t.Errorf("%s: err = %v", name, err)
			continue
		}
		for _, want := range []string{"EnergyFields.Key", "EnergyFields.End.Date", "EnergyFields.Unit (or DefaultUnit)"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%s: %q does not name %s", name, err, want)
			}
		}
	}
}

// A record without a unit failed with "no unit given" and no hint of the
// setting that fixes it.
func TestNoUnitNamesTheSetting(t *testing.T) {
	srv := server(t, erptest.Config{Flavour: erptest.SAPV4})
	srv.Put("/svc/Postings", []string{"Doc"}, erptest.Row{"Doc": "1", "PostedAt": erptest.V4Time(from), "Qty": "10", "Uom": ""})
	c, err := odata.New(odata.Config{ConnConfig: erptest.FastConnConfig("odata", creds(srv), srv.TLSConfig()),
		Options: odata.Options{ServiceRoot: srv.URL() + "/svc/"},
		Energy:  odata.EntitySet{Name: "Postings"}, EnergyFields: postingFields})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, errs := erptest.Collect(c.Energy(context.Background(), erp.Query{}))
	if len(errs) != 1 || !errors.Is(errs[0], erp.ErrMalformed) || !strings.Contains(errs[0].Error(), "EnergyFields.DefaultUnit") {
		t.Errorf("errors = %v, want one naming EnergyFields.DefaultUnit", errs)
	}
}

// The default $top of 1000 is above the server's own page size: the server
// pages with next links. erp.ServerPageSize sends no $top at all.
func TestTopDefaultAndServerPaging(t *testing.T) {
	srv := server(t, erptest.Config{Flavour: erptest.SAPV4, MaxPageSize: 3})
	for i := range 10 {
		srv.Put("/svc/Postings", []string{"Doc"}, erptest.Row{"Doc": strconv.Itoa(10 + i),
			"PostedAt": erptest.V4Time(from.Add(time.Duration(i) * time.Hour)), "Qty": "1", "Uom": "KWH"})
	}
	for _, size := range []int{0, erp.ServerPageSize} {
		c, err := odata.New(odata.Config{ConnConfig: erptest.FastConnConfig("odata", creds(srv), srv.TLSConfig()),
			Options: odata.Options{ServiceRoot: srv.URL() + "/svc/", PageSize: size},
			Energy:  odata.EntitySet{Name: "Postings"}, EnergyFields: postingFields})
		if err != nil {
			t.Fatal(err)
		}
		before := len(srv.Requests())
		recs, errs := erptest.Collect(c.Energy(context.Background(), erp.Query{}))
		c.Close()
		reqs := srv.Requests()[before:]
		if len(recs) != 10 || len(errs) != 0 || len(reqs) != 4 {
			t.Errorf("PageSize %d: %d records, errors %v, %d requests; want 10 in 4 pages of the server", size, len(recs), errs, len(reqs))
		}
		hasTop := strings.Contains(reqs[0].RawQuery, "$top=")
		if (size == 0) != hasTop || (size == 0 && !strings.Contains(reqs[0].RawQuery, "$top=1000")) {
			t.Errorf("PageSize %d: first query %s", size, reqs[0].RawQuery)
		}
	}
}

// A refused connection, after the retries, was a bare *net.OpError.
func TestConnectionRefusedIsUnavailable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	cfg := erptest.FastConnConfig("sap-prod", nil, nil)
	cfg.AllowHTTP = true
	c, err := sap.New(sap.Config{ConnConfig: cfg, BaseURL: "http://" + addr})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, errs := erptest.Collect(c.Production(context.Background(), erp.Query{Plant: "1010"}))
	var ue *erp.UnavailableError
	if len(errs) != 1 || !errors.Is(errs[0], erp.ErrUnavailable) || !errors.As(errs[0], &ue) {
		t.Fatalf("errors = %v, want one matching erp.ErrUnavailable", errs)
	}
	var oe *net.OpError
	if ue.System != "sap-prod" || ue.Attempts != 4 || !errors.As(errs[0], &oe) ||
		!strings.Contains(ue.Error(), "sap-prod") || !strings.Contains(ue.Error(), "after 4 attempts") {
		t.Errorf("error %q (%+v): want the system, 4 attempts and the cause", ue, ue)
	}
	if strings.Contains(ue.Error(), "1010") {
		t.Errorf("error %q carries the query", ue)
	}
}

// The open breaker matched only resilience.ErrBreakerOpen.
func TestOpenBreakerMatchesErpSentinels(t *testing.T) {
	srv := server(t, erptest.Config{})
	srv.Inject(erptest.Fault{Status: 500, Times: 100})
	cfg := erptest.FastConnConfig("sap", creds(srv), srv.TLSConfig())
	cfg.Retry.MaxRetries = -1
	cfg.Retry.Breaker.FailureThreshold = 2
	cfg.Retry.Breaker.Delay = time.Hour
	c, err := sap.New(sap.Config{ConnConfig: cfg, BaseURL: srv.URL()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var last error
	for range 3 {
		_, errs := erptest.Collect(c.Energy(context.Background(), erp.Query{}))
		last = errs[len(errs)-1]
	}
	if !errors.Is(last, erp.ErrBreakerOpen) || !errors.Is(last, erp.ErrUnavailable) || !errors.Is(last, resilience.ErrBreakerOpen) {
		t.Errorf("err = %v, want erp.ErrBreakerOpen, erp.ErrUnavailable and resilience.ErrBreakerOpen", last)
	}
}

// The token endpoint had no retries: a blip there failed the read at once.
func TestTokenEndpointIsRetried(t *testing.T) {
	srv := server(t, erptest.Config{})
	srv.Put(erptest.SAPEnergyPath, []string{"MeasurementDocument"}, erptest.SAPMeasurementDocuments(3, from, "1010", true)...)
	srv.Inject(erptest.Fault{TokenEndpoint: true, Status: 503, RetryAfter: "0"})
	srv.Inject(erptest.Fault{TokenEndpoint: true, Status: 502})
	c, err := sap.New(sap.Config{ConnConfig: erptest.FastConnConfig("sap", creds(srv), srv.TLSConfig()), BaseURL: srv.URL()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	recs, errs := erptest.Collect(c.Energy(context.Background(), erp.Query{}))
	if len(recs) != 3 || len(errs) != 0 {
		t.Fatalf("%d records, errors %v", len(recs), errs)
	}
	if st := srv.Stats(); st.TokenRequests != 3 || st.TokensIssued != 1 {
		t.Errorf("server stats %+v: want 2 refused token requests and a third that succeeded", st)
	}
	if st := c.Stats(); st.Retries != 2 {
		t.Errorf("client stats %+v: want the 2 token retries counted", st)
	}
}

// The inline count only reached the debug log.
func TestInlineCountReachesTheCaller(t *testing.T) {
	for _, flavour := range []erptest.Flavour{erptest.SAPV2, erptest.SAPV4} {
		srv := server(t, erptest.Config{Flavour: flavour, MaxPageSize: 2})
		srv.Put(erptest.SAPEnergyPath, []string{"MeasurementDocument"},
			erptest.SAPMeasurementDocuments(5, from, "1010", flavour == erptest.SAPV2)...)
		svc := sap.Service{}
		if flavour == erptest.SAPV4 {
			svc = sap.Service{Version: 4, Path: "/sap/opu/odata/sap/API_MEASUREMENTDOCUMENT_SRV/"}
		}
		c, err := sap.New(sap.Config{ConnConfig: erptest.FastConnConfig("sap", creds(srv), srv.TLSConfig()), BaseURL: srv.URL(), Energy: svc})
		if err != nil {
			t.Fatal(err)
		}
		var totals []int64
		var atFirst int
		n := 0
		for _, err := range c.Energy(context.Background(), erp.Query{OnTotal: func(total int64) { totals = append(totals, total); atFirst = n }}) {
			if err != nil {
				t.Fatal(err)
			}
			n++
		}
		c.Close()
		if len(totals) != 1 || totals[0] != 5 || atFirst != 0 || n != 5 {
			t.Errorf("flavour %d: totals %v before record %d of %d; want 5 once, before the first", flavour, totals, atFirst, n)
		}
	}
}

// syncBuffer is a log sink safe for the transport's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// The "retrying request" log line printed the URL with its query, which can
// name plants and cost centres, while errors left it out.
func TestRetryLogLeavesTheQueryOut(t *testing.T) {
	srv := server(t, erptest.Config{})
	srv.Put(erptest.SAPCostsPath, []string{"CompanyCode", "FiscalYear", "AccountingDocument", "LedgerGLLineItem"},
		erptest.SAPJournalEntryItems(2, from, "1010")...)
	srv.Inject(erptest.Fault{Status: 503})
	var logs syncBuffer
	cfg := erptest.FastConnConfig("sap", creds(srv), srv.TLSConfig())
	cfg.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	var events []string
	cfg.Retry.OnRetry = func(e httpretry.Event) { events = append(events, e.URL) }
	c, err := sap.New(sap.Config{ConnConfig: cfg, BaseURL: srv.URL()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	q := erp.Query{Plant: "1010", Filters: []erp.Filter{{Property: "CostCenter", Op: erp.Eq, Value: "CC-SECRET-7"}}}
	if _, errs := erptest.Collect(c.Costs(context.Background(), q)); len(errs) != 0 {
		t.Fatal(errs)
	}
	out := logs.String()
	if !strings.Contains(out, "retrying request") || len(events) != 1 {
		t.Fatalf("no retry logged: %s", out)
	}
	for _, leak := range []string{"CC-SECRET-7", "$filter", url.QueryEscape("$filter")} {
		if strings.Contains(out, leak) || strings.Contains(events[0], leak) {
			t.Errorf("the retry log or event carries %q: %s %v", leak, out, events)
		}
	}
	if !strings.HasSuffix(events[0], erptest.SAPCostsPath) {
		t.Errorf("retry event URL %q, want the request's location", events[0])
	}
}
