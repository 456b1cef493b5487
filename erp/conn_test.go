package erp_test

import (
	"context"
	"crypto/tls"
	"errors"
	"iter"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/greenlang/gl001/erp"
	"github.com/greenlang/gl001/erp/erptest"
	"github.com/greenlang/gl001/resilience"
	"github.com/greenlang/gl001/resilience/httpretry"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func fastConn(t *testing.T, cfg erp.ConnConfig) *erp.Conn {
	t.Helper()
	if cfg.System == "" {
		cfg.System = "test"
	}
	cfg.RequestsPerMinute = -1
	cfg.Retry.Backoff.Initial = time.Millisecond
	cfg.Retry.Backoff.Max = 2 * time.Millisecond
	c, err := erp.NewConn(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestUnauthorizedRetriedOnceWithAFreshToken(t *testing.T) {
	srv := erptest.NewServer(erptest.Config{})
	defer srv.Close()
	// The data endpoint never accepts anything: expire every token on every request.
	srv.Inject(erptest.Fault{ExpireToken: true, Times: 100})
	c := fastConn(t, erp.ConnConfig{TLS: srv.TLSConfig(), Auth: erp.ClientCredentials{
		TokenURL: srv.TokenURL(), ClientID: srv.ClientID(), Secret: erp.SecretFunc(func(context.Context) (string, error) { return "s3cret-for-tests", nil }),
	}})
	_, err := c.Do(context.Background(), erp.Request{URL: srv.URL() + erptest.SAPProductionPath})
	if !errors.Is(err, erp.ErrUnauthorized) {
		t.Fatalf("err = %v", err)
	}
	if st := srv.Stats(); st.Requests != 2 || st.TokensIssued != 2 {
		t.Errorf("server stats = %+v, want 2 requests and 2 tokens", st)
	}
	if st := c.Stats(); st.Unauthorized != 2 || st.Errors != 1 {
		t.Errorf("conn stats = %+v", st)
	}
}

func TestTLSPolicy(t *testing.T) {
	old := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	old.TLS = &tls.Config{MaxVersion: tls.VersionTLS11}
	old.StartTLS()
	defer old.Close()
	pool := old.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
	c := fastConn(t, erp.ConnConfig{TLS: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS10}})
	if _, err := c.Do(context.Background(), erp.Request{URL: old.URL}); err == nil {
		t.Error("a TLS 1.1 server was accepted")
	}
	if _, err := c.Do(context.Background(), erp.Request{URL: strings.Replace(old.URL, "https", "http", 1)}); !errors.Is(err, erp.ErrConfig) {
		t.Errorf("plain http: %v", err)
	}
	if _, err := erp.NewConn(erp.ConnConfig{System: "x", Auth: erp.ClientCredentials{TokenURL: "http://idp/token", ClientID: "a", Secret: erp.EnvSecret("X")}}); !errors.Is(err, erp.ErrConfig) {
		t.Errorf("plain http token URL: %v", err)
	}
}

func TestRedirectToHTTPRefusedAndBodyLimit(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/redirect" {
			http.Redirect(w, r, "http://127.0.0.1:1/", http.StatusFound)
			return
		}
		w.Write([]byte(strings.Repeat("x", 2048)))
	}))
	defer srv.Close()
	pool := srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
	c := fastConn(t, erp.ConnConfig{TLS: &tls.Config{RootCAs: pool}, MaxResponseBytes: 1024})
	if _, err := c.Do(context.Background(), erp.Request{URL: srv.URL + "/redirect"}); err == nil || !strings.Contains(err.Error(), "plain http") {
		t.Errorf("redirect: %v", err)
	}
	if _, err := c.Do(context.Background(), erp.Request{URL: srv.URL + "/big"}); err == nil || !strings.Contains(err.Error(), "exceeds 1024 bytes") {
		t.Errorf("big body: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Error(err)
	}
	if _, err := c.Do(context.Background(), erp.Request{URL: srv.URL}); !errors.Is(err, erp.ErrClosed) {
		t.Errorf("after Close: %v", err)
	}
}

func TestValidateCollectsEveryProblem(t *testing.T) {
	err := erp.ConnConfig{Timeout: -1, MaxConns: -1, Auth: erp.ClientCredentials{}}.Validate()
	for _, want := range []string{"System", "Timeout", "MaxConns", "TokenURL", "ClientID", "Secret"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate error %v does not mention %s", err, want)
		}
	}
	if !errors.Is(err, erp.ErrConfig) {
		t.Error("not ErrConfig")
	}
}

func TestEnvSecret(t *testing.T) {
	t.Setenv("GL001_TEST_SECRET", "")
	if _, err := erp.EnvSecret("GL001_TEST_SECRET").Secret(context.Background()); err == nil || !strings.Contains(err.Error(), "GL001_TEST_SECRET") {
		t.Errorf("unset: %v", err)
	}
	t.Setenv("GL001_TEST_SECRET", "from-env")
	if v, err := erp.EnvSecret("GL001_TEST_SECRET").Secret(context.Background()); err != nil || v != "from-env" {
		t.Errorf("set: %q, %v", v, err)
	}
}

func TestCursor(t *testing.T) {
	c := erp.DeltaCursor("https://h/E?$deltatoken=1")
	if c.Delta() != "https://h/E?$deltatoken=1" {
		t.Error(c)
	}
	if _, _, ok := c.Watermark(); ok {
		t.Error("delta cursor has a watermark")
	}
	at := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	w := erp.WatermarkCursor(at, []string{"a", "b"})
	got, keys, ok := w.Watermark()
	if !ok || !got.Equal(at) || strings.Join(keys, ",") != "a,b" || w.Delta() != "" {
		t.Errorf("watermark = %v %v %v", got, keys, ok)
	}
}

// fakeList serves records from a slice, applying the Ge filter on Changed.
func fakeList(recs *[]erp.ProductionOrder) func(context.Context, erp.Query) iter.Seq2[erp.ProductionOrder, error] {
	return func(_ context.Context, q erp.Query) iter.Seq2[erp.ProductionOrder, error] {
		return func(yield func(erp.ProductionOrder, error) bool) {
			for _, r := range *recs {
				ok := true
				for _, f := range q.Filters {
					if f.Property == "Changed" && r.Changed.Before(f.Value.(time.Time)) {
						ok = false
					}
				}
				if ok && !yield(r, nil) {
					return
				}
			}
		}
	}
}

func TestWatermarkChangesDeliverEachChangeOnce(t *testing.T) {
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	rec := func(key string, at time.Time) erp.ProductionOrder {
		return erp.ProductionOrder{Source: erp.Source{Key: key}, Changed: at}
	}
	recs := []erp.ProductionOrder{rec("1", t0), rec("2", t0.Add(time.Minute)), rec("3", t0.Add(time.Minute))}
	changes := erp.WatermarkChanges(fakeList(&recs), "Changed")
	var got []string
	page := func(cs []erp.Change[erp.ProductionOrder]) error {
		for _, c := range cs {
			got = append(got, c.Source.Key)
		}
		return nil
	}
	cur, err := changes(context.Background(), erp.Query{}, "", page)
	if err != nil || strings.Join(got, ",") != "1,2,3" {
		t.Fatalf("first round %v, %v", got, err)
	}
	// A record changed in the same instant as the watermark, seen later.
	recs = append(recs, rec("4", t0.Add(time.Minute)))
	got = nil
	if cur, err = changes(context.Background(), erp.Query{}, cur, page); err != nil || strings.Join(got, ",") != "4" {
		t.Fatalf("second round %v, %v", got, err)
	}
	got = nil
	if _, err = changes(context.Background(), erp.Query{}, cur, page); err != nil || len(got) != 0 {
		t.Fatalf("quiet round %v, %v", got, err)
	}
	if _, err := changes(context.Background(), erp.Query{}, erp.DeltaCursor("x"), page); !errors.Is(err, erp.ErrBadRequest) {
		t.Errorf("delta cursor to a watermark source: %v", err)
	}
}

func TestPollerRetriesFailedRoundsAndStopsOnSinkError(t *testing.T) {
	var calls atomic.Int32
	fail := errors.New("system down")
	p, err := erp.NewPoller(erp.PollerConfig[erp.ProductionOrder]{
		Interval: time.Millisecond,
		Backoff:  resilienceBackoff(),
		Changes: func(ctx context.Context, q erp.Query, since erp.Cursor, page func([]erp.Change[erp.ProductionOrder]) error) (erp.Cursor, error) {
			switch calls.Add(1) {
			case 1, 2:
				return since, fail
			}
			if err := page([]erp.Change[erp.ProductionOrder]{{Source: erp.Source{Key: "1"}}}); err != nil {
				return since, err
			}
			return "next", nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	stop := errors.New("sink full")
	err = p.Run(context.Background(), func(context.Context, []erp.Change[erp.ProductionOrder]) error { return stop })
	if !errors.Is(err, stop) {
		t.Fatalf("Run = %v", err)
	}
	if st := p.Stats(); st.Failures != 2 || st.Rounds != 0 || p.Cursor() != "" {
		t.Errorf("stats = %+v, cursor %q", st, p.Cursor())
	}
	if _, err := erp.NewPoller(erp.PollerConfig[erp.ProductionOrder]{Interval: -1}); !errors.Is(err, erp.ErrConfig) {
		t.Errorf("bad config: %v", err)
	}
}

// hangingServer never answers the first hang requests (it drops the
// connection once the client has given up) and answers {} after that.
func hangingServer(t *testing.T, hang int64) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var n atomic.Int64
	release := make(chan struct{})
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) <= hang {
			select {
			case <-r.Context().Done():
			case <-release:
			}
			// Returning would send an empty 200 that a client whose
			// attempt just timed out may still take as the answer.
			panic(http.ErrAbortHandler)
		}
		_, _ = w.Write([]byte(`{}`))
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	return srv, &n
}

// written counts, through an httptrace.ClientTrace in the request's context,
// the attempts whose request was written to the wire. An attempt that timed
// out sooner (in the TLS handshake of a loaded machine, say) never reached
// the server, and one written just before its timeout may be lost with the
// connection; so the server sees at most as many requests as were written.
// The tests below reason from these events, not from how long anything took.
func written(ctx context.Context) (context.Context, *atomic.Int64) {
	var n atomic.Int64
	return httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		WroteRequest: func(info httptrace.WroteRequestInfo) {
			if info.Err == nil {
				n.Add(1)
			}
		},
	}), &n
}

// Every attempt gets the per-attempt timeout, wherever it hangs: in the
// handshake or waiting for an answer that never comes.
func TestPerAttemptTimeout(t *testing.T) {
	srv, n := hangingServer(t, 100)
	pool := srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
	cfg := erp.ConnConfig{TLS: &tls.Config{RootCAs: pool}, Timeout: 50 * time.Millisecond}
	cfg.Retry.MaxRetries = 2
	c := fastConn(t, cfg)
	ctx, wrote := written(context.Background())
	_, err := c.Do(ctx, erp.Request{URL: srv.URL})
	if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, httpretry.ErrAttemptTimeout) {
		t.Fatalf("err = %v, want an attempt timeout", err)
	}
	if strings.Contains(err.Error(), srv.URL+"/") {
		t.Errorf("error carries the full URL: %v", err)
	}
	// The first attempt and two retries, each timed out.
	if st := c.Stats(); st.Attempts != 3 || st.TimedOut != 3 || st.Retries != 2 {
		t.Errorf("stats %+v, want 3 attempts, 3 timed out, 2 retries", st)
	}
	// No request reached the server that was not written by an attempt.
	if got, w := n.Load(), wrote.Load(); got > w || w > 3 {
		t.Errorf("server saw %d requests, %d were written", got, wrote.Load())
	}
}

// An attempt that hangs is retried, and the retry's answer is the result.
func TestAttemptTimeoutRetried(t *testing.T) {
	srv, n := hangingServer(t, 1)
	pool := srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
	cfg := erp.ConnConfig{TLS: &tls.Config{RootCAs: pool}, Timeout: 50 * time.Millisecond}
	// Enough retries for a loaded machine, where an attempt may time out in
	// its handshake too, and no breaker to stop them.
	cfg.Retry.MaxRetries = 50
	cfg.Retry.Breaker.FailureThreshold = -1
	c := fastConn(t, cfg)
	ctx, wrote := written(context.Background())
	resp, err := c.Do(ctx, erp.Request{URL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	st := c.Stats()
	if string(resp.Body) != "{}" || st.TimedOut == 0 || st.TimedOut != st.Attempts-1 {
		t.Errorf("body %q, stats %+v: want every attempt but the last timed out", resp.Body, st)
	}
	// The hanging request reached the server and was cut by the attempt
	// timeout alone (the caller's context has no deadline); the answer came
	// from a later one.
	if got, w := n.Load(), wrote.Load(); got < 2 || got > w {
		t.Errorf("server saw %d requests, %d were written", got, wrote.Load())
	}
}

// The caller's deadline ends the retries: it is not an attempt timeout.
func TestCallerDeadlineNotRetried(t *testing.T) {
	srv, n := hangingServer(t, 100)
	pool := srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
	c := fastConn(t, erp.ConnConfig{TLS: &tls.Config{RootCAs: pool}, Timeout: time.Minute})
	ctx, wrote := written(context.Background())
	ctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	_, err := c.Do(ctx, erp.Request{URL: srv.URL})
	if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, httpretry.ErrAttemptTimeout) {
		t.Fatalf("err = %v, want the caller's deadline", err)
	}
	if st := c.Stats(); st.Attempts != 1 || st.TimedOut != 0 || st.Retries != 0 {
		t.Errorf("stats %+v, want one attempt, not retried", st)
	}
	if got, w := n.Load(), wrote.Load(); got > w || w > 1 {
		t.Errorf("server saw %d requests, %d were written", got, wrote.Load())
	}
}

func TestBreakerIsolatesAFailingSystem(t *testing.T) {
	srv := erptest.NewServer(erptest.Config{APIKey: "k-123456"})
	defer srv.Close()
	srv.Inject(erptest.Fault{Status: 500, Times: 100})
	cfg := erp.ConnConfig{TLS: srv.TLSConfig(), Auth: erp.APIKey{Header: "APIKey",
		Key: erp.SecretFunc(func(context.Context) (string, error) { return "k-123456", nil })}}
	cfg.Retry.MaxRetries = -1
	cfg.Retry.Breaker.FailureThreshold = 2
	cfg.Retry.Breaker.Delay = time.Hour
	c := fastConn(t, cfg)
	for i := range 3 {
		_, err := c.Do(context.Background(), erp.Request{URL: srv.URL() + erptest.SAPProductionPath})
		if i < 2 && !errors.Is(err, erp.ErrServer) {
			t.Errorf("request %d: %v, want ErrServer", i, err)
		}
		if i == 2 && !errors.Is(err, resilience.ErrBreakerOpen) {
			t.Errorf("request %d: %v, want ErrBreakerOpen", i, err)
		}
	}
	if n := srv.Stats().Requests; n != 2 {
		t.Errorf("%d requests reached the system, want 2", n)
	}
	if st := c.Stats(); st.Breaker != "open" {
		t.Errorf("breaker = %q", st.Breaker)
	}
}
