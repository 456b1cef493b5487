package dynamics_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/greenlang/gl001/erp"
	"github.com/greenlang/gl001/erp/dynamics"
	"github.com/greenlang/gl001/erp/erptest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var jan1 = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

func newServer(t *testing.T, cfg erptest.Config) *erptest.Server {
	t.Helper()
	srv := erptest.NewServer(cfg)
	t.Cleanup(srv.Close)
	return srv
}

func newClient(t *testing.T, srv *erptest.Server, mod func(*dynamics.Config)) *dynamics.Client {
	t.Helper()
	cfg := dynamics.Config{
		ConnConfig: erptest.FastConnConfig("", erp.ClientCredentials{TokenURL: srv.TokenURL(), ClientID: srv.ClientID(),
			Secret: erp.SecretFunc(func(context.Context) (string, error) { return "s3cret-for-tests", nil })}, srv.TLSConfig()),
		BaseURL: srv.URL(),
	}
	if mod != nil {
		mod(&cfg)
	}
	c, err := dynamics.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestWebAPIPagingByMaxPageSize(t *testing.T) {
	srv := newServer(t, erptest.Config{Flavour: erptest.DynamicsWebAPI, MaxPageSize: 5000})
	srv.Put(erptest.DynamicsWorkOrdersPath, []string{"msdyn_workorderid"}, erptest.DynamicsWorkOrders(45, jan1)...)
	c := newClient(t, srv, nil)
	orders, errs := erptest.Collect(c.Maintenance(context.Background(), erp.Query{PageSize: 20, From: jan1}))
	if len(errs) > 0 || len(orders) != 45 {
		t.Fatalf("got %d, errors %v", len(orders), errs)
	}
	o := orders[44]
	if o.Order != "WO-10044" || o.Planned.Duration() != 4*time.Hour || !o.Changed.Equal(o.Planned.Start.Add(-time.Hour)) {
		t.Errorf("order = %+v", o)
	}
	if o.Source.Key != "6d3c1a2e-0000-4000-8000-000000000044" || o.Status != "690970000" {
		t.Errorf("order = %+v", o)
	}
	reqs := srv.Requests()
	if len(reqs) != 3 {
		t.Fatalf("%d requests, want 3 pages of 20", len(reqs))
	}
	for _, r := range reqs {
		if r.Header.Get("OData-Version") != "4.0" || r.Header.Get("Prefer") != "odata.maxpagesize=20" {
			t.Errorf("headers = %v", r.Header)
		}
		if strings.Contains(r.RawQuery, "$skip=") || strings.Contains(r.RawQuery, "%24skip=") {
			t.Errorf("$skip sent: %s", r.RawQuery)
		}
	}
	if !strings.Contains(reqs[0].RawQuery, "msdyn_timefrompromised%20ge%202024-01-01T00:00:00Z") {
		t.Errorf("filter = %s", reqs[0].RawQuery)
	}
	if st := srv.Stats(); st.LastScope != srv.URL()+"/.default" {
		t.Errorf("scope = %q", st.LastScope)
	}
}

func TestFinanceOperationsCrossCompany(t *testing.T) {
	srv := newServer(t, erptest.Config{Flavour: erptest.DynamicsFO, MaxPageSize: 10000})
	srv.Put(erptest.FOProductionPath, []string{"dataAreaId", "ProductionOrderNumber"}, erptest.FOProductionOrders(12, jan1, "SITE1")...)
	c := newClient(t, srv, func(cfg *dynamics.Config) { cfg.Flavour = dynamics.FinanceOperations; cfg.PageSize = 5 })
	orders, errs := erptest.Collect(c.Production(context.Background(), erp.Query{Plant: "SITE1"}))
	if len(errs) > 0 || len(orders) != 12 {
		t.Fatalf("got %d, errors %v", len(orders), errs)
	}
	if o := orders[0]; o.Source.Key != "usmf/P1000" || o.Quantity.Value.String() != "25" || o.Plant != "SITE1" {
		t.Errorf("order = %+v", o)
	}
	for _, r := range srv.Requests() {
		if !strings.Contains(r.RawQuery, "cross-company=true") {
			t.Errorf("no cross-company: %s", r.RawQuery)
		}
	}
	if _, errs := erptest.Collect(c.Energy(context.Background(), erp.Query{})); len(errs) != 1 || !errors.Is(errs[0], erp.ErrNotSupported) {
		t.Errorf("energy without an entity set: %v", errs)
	}
}

// TestThrottlingPausesEveryRequest checks that once the system answers 429
// with Retry-After, other requests to it wait as well.
func TestThrottlingPausesEveryRequest(t *testing.T) {
	srv := newServer(t, erptest.Config{Flavour: erptest.DynamicsWebAPI})
	srv.Put(erptest.DynamicsWorkOrdersPath, []string{"msdyn_workorderid"}, erptest.DynamicsWorkOrders(3, jan1)...)
	c := newClient(t, srv, nil)
	srv.Inject(erptest.Fault{Status: 429, RetryAfter: "1"})

	var wg sync.WaitGroup
	wg.Go(func() {
		if _, errs := erptest.Collect(c.Maintenance(context.Background(), erp.Query{})); len(errs) > 0 {
			t.Error(errs)
		}
	})
	// Wait until the first request has been throttled, then start another.
	deadline := time.Now().Add(10 * time.Second)
	for c.Stats().Throttled == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if c.Stats().PausedUntil.IsZero() {
		t.Fatal("no system-wide pause after a 429 with Retry-After")
	}
	if _, errs := erptest.Collect(c.Maintenance(context.Background(), erp.Query{})); len(errs) > 0 {
		t.Error(errs)
	}
	wg.Wait()
	if st := c.Stats(); st.Paused < 1 {
		t.Errorf("stats = %+v: the second request did not wait for the pause", st)
	}
}

func TestDeltaChangesAndPoller(t *testing.T) {
	srv := newServer(t, erptest.Config{Flavour: erptest.DynamicsWebAPI, MaxPageSize: 4})
	rows := erptest.DynamicsWorkOrders(6, jan1)
	srv.Put(erptest.DynamicsWorkOrdersPath, []string{"msdyn_workorderid"}, rows...)
	c := newClient(t, srv, nil)

	var mu sync.Mutex
	var got []erp.Change[erp.MaintenanceOrder]
	cursors := make(chan erp.Cursor, 16)
	p, err := erp.NewPoller(erp.PollerConfig[erp.MaintenanceOrder]{
		Changes:  c.MaintenanceChanges,
		Interval: 5 * time.Millisecond,
		OnCursor: func(cur erp.Cursor) { cursors <- cur },
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- p.Run(ctx, func(_ context.Context, cs []erp.Change[erp.MaintenanceOrder]) error {
			mu.Lock()
			got = append(got, cs...)
			mu.Unlock()
			return nil
		})
	}()
	first := <-cursors
	if first.Delta() == "" {
		t.Fatalf("cursor after the first round = %q, want a delta link", first)
	}
	upd := rows[2]
	upd["msdyn_workordersummary"] = "rescheduled"
	srv.Put(erptest.DynamicsWorkOrdersPath, []string{"msdyn_workorderid"}, upd)
	srv.Delete(erptest.DynamicsWorkOrdersPath, rows[4]["msdyn_workorderid"].(string))

	deadline := time.After(10 * time.Second)
	for {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n >= 8 {
			break
		}
		select {
		case <-cursors:
		case <-deadline:
			t.Fatalf("only %d changes arrived", n)
		}
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Run = %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 8 {
		t.Fatalf("%d changes, want 6 + 1 update + 1 deletion", len(got))
	}
	var updated, deleted bool
	for _, ch := range got[6:] {
		switch {
		case ch.Deleted && ch.Source.Key == rows[4]["msdyn_workorderid"]:
			deleted = true
		case !ch.Deleted && ch.Record.Description == "rescheduled":
			updated = true
		}
	}
	if !updated || !deleted {
		t.Errorf("changes after the first round = %+v", got[6:])
	}
	if st := p.Stats(); st.Rounds < 2 || st.Changes != 8 {
		t.Errorf("poller stats = %+v", st)
	}
}

func TestConcurrentCallersShareOneToken(t *testing.T) {
	srv := newServer(t, erptest.Config{Flavour: erptest.DynamicsWebAPI})
	srv.Put(erptest.DynamicsWorkOrdersPath, []string{"msdyn_workorderid"}, erptest.DynamicsWorkOrders(3, jan1)...)
	c := newClient(t, srv, nil)
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			if _, errs := erptest.Collect(c.Maintenance(context.Background(), erp.Query{})); len(errs) > 0 {
				t.Error(errs)
			}
		})
	}
	wg.Wait()
	if st := srv.Stats(); st.TokensIssued != 1 {
		t.Errorf("%d tokens issued for 16 concurrent callers, want 1", st.TokensIssued)
	}
}

func TestShortLivedTokensAreRefreshedBeforeExpiry(t *testing.T) {
	// Tokens live 2 s; the client replaces them a quarter of their life
	// before they expire, so paging never meets a 401.
	srv := newServer(t, erptest.Config{Flavour: erptest.DynamicsWebAPI, TokenTTL: 2 * time.Second, MaxPageSize: 1})
	srv.Put(erptest.DynamicsWorkOrdersPath, []string{"msdyn_workorderid"}, erptest.DynamicsWorkOrders(3, jan1)...)
	c := newClient(t, srv, nil)
	if _, errs := erptest.Collect(c.Maintenance(context.Background(), erp.Query{})); len(errs) > 0 {
		t.Fatal(errs)
	}
	if st := srv.Stats(); st.Unauthorized != 0 {
		t.Errorf("server stats = %+v", st)
	}
}

func TestScope(t *testing.T) {
	s, err := dynamics.Scope("https://contoso.crm4.dynamics.com/api/data/v9.2")
	if err != nil || s != "https://contoso.crm4.dynamics.com/.default" {
		t.Errorf("Scope = %q, %v", s, err)
	}
	if _, err := dynamics.Scope("not a url"); !errors.Is(err, erp.ErrConfig) {
		t.Errorf("Scope(bad) = %v", err)
	}
	if u := dynamics.AzureTokenURL("contoso.onmicrosoft.com"); u != "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token" {
		t.Errorf("AzureTokenURL = %s", u)
	}
}
