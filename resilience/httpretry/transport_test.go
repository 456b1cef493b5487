package httpretry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/failsafe-go/failsafe-go/circuitbreaker"

	"github.com/greenlang/gl001/resilience"
)

// script is an httptest handler that answers each request with the next of
// its responses (the last one repeats) and records the requests' bodies.
type script struct {
	mu     sync.Mutex
	steps  []step
	hits   int
	bodies []string
}

type step struct {
	status     int
	retryAfter string
	body       string
}

func (s *script) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	st := s.steps[min(s.hits, len(s.steps)-1)]
	s.hits++
	s.bodies = append(s.bodies, string(b))
	s.mu.Unlock()
	if st.retryAfter != "" {
		w.Header().Set("Retry-After", st.retryAfter)
	}
	w.WriteHeader(st.status)
	_, _ = io.WriteString(w, st.body)
}

func (s *script) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hits
}

// tracker wraps a RoundTripper and records every response body it hands out.
type tracker struct {
	next   http.RoundTripper
	mu     sync.Mutex
	bodies []*trackedBody
}

type trackedBody struct {
	io.ReadCloser
	eof, closed atomic.Bool
}

func (b *trackedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF {
		b.eof.Store(true)
	}
	return n, err
}

func (b *trackedBody) Close() error { b.closed.Store(true); return b.ReadCloser.Close() }

func (tr *tracker) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := tr.next.RoundTrip(r)
	if resp != nil {
		tb := &trackedBody{ReadCloser: resp.Body}
		resp.Body = tb
		tr.mu.Lock()
		tr.bodies = append(tr.bodies, tb)
		tr.mu.Unlock()
	}
	return resp, err
}

func serve(t *testing.T, steps ...step) (*script, *httptest.Server) {
	t.Helper()
	sc := &script{steps: steps}
	srv := httptest.NewServer(sc)
	t.Cleanup(srv.Close)
	return sc, srv
}

func get(t *testing.T, rt http.RoundTripper, url string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := rt.RoundTrip(req)
	if err != nil {
		t.Fatalf("GET: %v", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

func TestTransportRetriesAndDrains(t *testing.T) {
	sc, srv := serve(t, step{status: 503, body: "busy"}, step{status: 502, body: "gateway"}, step{status: 200, body: "ok"})
	tr := &tracker{next: srv.Client().Transport}
	var events []Event
	rt, err := New(tr, Config{Backoff: fast, OnRetry: func(e Event) { events = append(events, e) }})
	if err != nil {
		t.Fatal(err)
	}
	resp, body := get(t, rt, srv.URL+"/odata/Energy")
	if resp.StatusCode != 200 || body != "ok" || sc.count() != 3 {
		t.Fatalf("got %d %q after %d requests", resp.StatusCode, body, sc.count())
	}
	if len(tr.bodies) != 3 {
		t.Fatalf("%d responses", len(tr.bodies))
	}
	for i, b := range tr.bodies[:2] {
		if !b.eof.Load() || !b.closed.Load() {
			t.Errorf("retried response %d: drained %v, closed %v", i+1, b.eof.Load(), b.closed.Load())
		}
	}
	if len(events) != 2 || events[0].StatusCode != 503 || events[1].StatusCode != 502 || events[0].Attempt != 1 ||
		events[0].Method != "GET" || !strings.HasSuffix(events[0].URL, "/odata/Energy") || events[0].Delay != time.Millisecond {
		t.Errorf("events = %+v", events)
	}
}

// TestTransportRetryAfter checks both forms of Retry-After. The backoff is an
// hour, so a retry that happens at once proves the header was honoured, and a
// Retry-After beyond MaxRetryAfter is returned to the caller without waiting.
func TestTransportRetryAfter(t *testing.T) {
	past := time.Now().Add(-time.Hour).UTC().Format(http.TimeFormat)
	future := time.Now().Add(time.Hour).UTC().Format(http.TimeFormat)
	for _, c := range []struct {
		name       string
		first      step
		wantStatus int
		wantHits   int
	}{
		{"delta-seconds 0", step{status: 429, retryAfter: "0"}, 200, 2},
		{"HTTP-date in the past", step{status: 503, retryAfter: past}, 200, 2},
		{"delta-seconds beyond MaxRetryAfter", step{status: 429, retryAfter: "3600", body: "slow down"}, 429, 1},
		{"HTTP-date beyond MaxRetryAfter", step{status: 503, retryAfter: future, body: "maintenance"}, 503, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			sc, srv := serve(t, c.first, step{status: 200, body: "ok"})
			var delays []time.Duration
			rt, err := New(srv.Client().Transport, Config{
				Backoff:       resilience.Backoff{Initial: time.Hour, Max: time.Hour},
				MaxRetryAfter: time.Minute,
				OnRetry:       func(e Event) { delays = append(delays, e.Delay) },
			})
			if err != nil {
				t.Fatal(err)
			}
			resp, body := get(t, rt, srv.URL)
			if resp.StatusCode != c.wantStatus || sc.count() != c.wantHits {
				t.Fatalf("got %d after %d requests, want %d after %d", resp.StatusCode, sc.count(), c.wantStatus, c.wantHits)
			}
			if c.wantHits == 2 && (len(delays) != 1 || delays[0] != 0) {
				t.Errorf("delays = %v, want [0]", delays)
			}
			if c.wantHits == 1 && body != c.first.body {
				t.Errorf("body = %q, want the server's %q untouched", body, c.first.body)
			}
		})
	}
}

func TestRetryAfterParsing(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	resp := func(status int, v string) *http.Response {
		r := &http.Response{StatusCode: status, Header: http.Header{}}
		if v != "" {
			r.Header.Set("Retry-After", v)
		}
		return r
	}
	for _, c := range []struct {
		resp *http.Response
		want time.Duration
		ok   bool
	}{
		{resp(429, "120"), 2 * time.Minute, true},
		{resp(503, " 7 "), 7 * time.Second, true},
		{resp(503, "Sun, 01 Mar 2026 12:00:30 GMT"), 30 * time.Second, true},
		{resp(503, "Sunday, 01-Mar-26 12:01:00 GMT"), time.Minute, true}, // RFC 850
		{resp(429, "Sun Mar  1 12:00:05 2026"), 5 * time.Second, true},   // asctime
		{resp(503, "Sun, 01 Mar 2026 11:00:00 GMT"), 0, true},
		{resp(503, "-5"), 0, false},
		{resp(503, "soon"), 0, false},
		{resp(503, ""), 0, false},
		{resp(500, "10"), 0, false},
		{resp(429, "99999999999"), 365 * 24 * time.Hour, true},
		{nil, 0, false},
	} {
		got, ok := retryAfter(c.resp, now)
		if got != c.want || ok != c.ok {
			h := ""
			if c.resp != nil {
				h = c.resp.Header.Get("Retry-After")
			}
			t.Errorf("retryAfter(%q) = %v, %v; want %v, %v", h, got, ok, c.want, c.ok)
		}
	}
}

func TestTransportReturnsLastResponseWhenExhausted(t *testing.T) {
	sc, srv := serve(t, step{status: 500, body: "first"}, step{status: 500, body: "last"})
	rt, err := New(srv.Client().Transport, Config{MaxRetries: 2, Backoff: fast, Breaker: resilience.BreakerConfig{FailureThreshold: -1}})
	if err != nil {
		t.Fatal(err)
	}
	resp, body := get(t, rt, srv.URL)
	if resp.StatusCode != 500 || body != "last" || sc.count() != 3 {
		t.Fatalf("got %d %q after %d requests, want the last 500 after 3", resp.StatusCode, body, sc.count())
	}
}

func TestTransportDoesNotRetryNonIdempotent(t *testing.T) {
	sc, srv := serve(t, step{status: 503}, step{status: 201})
	rt, err := New(srv.Client().Transport, Config{Backoff: fast})
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader(`{"order":1}`))
	resp, err := rt.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 503 || sc.count() != 1 {
		t.Fatalf("POST: got %d after %d requests, want 503 after 1", resp.StatusCode, sc.count())
	}
}

func TestTransportReplaysBodyWithIdempotencyKey(t *testing.T) {
	sc, srv := serve(t, step{status: 503}, step{status: 500}, step{status: 201})
	rt, err := New(srv.Client().Transport, Config{Backoff: fast})
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Transport: rt}
	req, _ := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader(`{"order":1}`))
	req.Header.Set("Idempotency-Key", "k-1")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 201 || sc.count() != 3 {
		t.Fatalf("got %d after %d requests", resp.StatusCode, sc.count())
	}
	for i, b := range sc.bodies {
		if b != `{"order":1}` {
			t.Errorf("attempt %d sent body %q", i+1, b)
		}
	}
	// A PUT whose body cannot be read again is sent once.
	sc2, srv2 := serve(t, step{status: 503})
	rt2, _ := New(srv2.Client().Transport, Config{Backoff: fast})
	req2, _ := http.NewRequest(http.MethodPut, srv2.URL, io.NopCloser(strings.NewReader("x")))
	req2.GetBody = nil
	resp2, err := rt2.RoundTrip(req2)
	if err != nil {
		t.Fatal(err)
	}
	resp2.Body.Close()
	if sc2.count() != 1 {
		t.Errorf("unreplayable body sent %d times", sc2.count())
	}
}

func TestTransportRetriesConnectionErrors(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // nothing listens there now
	var events []Event
	rt, err := New(nil, Config{MaxRetries: 2, Backoff: fast, Breaker: resilience.BreakerConfig{FailureThreshold: -1},
		OnRetry: func(e Event) { events = append(events, e) }})
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	resp, err := rt.RoundTrip(req)
	if err == nil {
		resp.Body.Close()
		t.Fatal("want a connection error")
	}
	if len(events) != 2 || events[0].StatusCode != 0 || events[0].Error == "" || events[0].Method != "GET" || events[0].URL != url {
		t.Errorf("events = %+v", events)
	}
}

func TestTransportBreaker(t *testing.T) {
	sc, srv := serve(t, step{status: 500})
	var changes []string
	var mu sync.Mutex
	rt, err := New(srv.Client().Transport, Config{
		MaxRetries: -1,
		Breaker:    resilience.BreakerConfig{FailureThreshold: 2, Delay: time.Hour},
		OnBreakerChange: func(from, to resilience.BreakerState) {
			mu.Lock()
			changes = append(changes, from.String()+"->"+to.String())
			mu.Unlock()
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Transport: rt}
	for range 2 {
		resp, err := client.Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	if rt.BreakerState() != resilience.BreakerOpen {
		t.Fatalf("breaker %v after 2 failures, want open", rt.BreakerState())
	}
	body := &closeRecorder{Reader: strings.NewReader("payload")}
	req, _ := http.NewRequest(http.MethodPut, srv.URL, body)
	_, err = client.Do(req)
	if !errors.Is(err, resilience.ErrBreakerOpen) || !errors.Is(err, circuitbreaker.ErrOpen) {
		t.Fatalf("err = %v, want resilience.ErrBreakerOpen", err)
	}
	if !body.closed.Load() {
		t.Error("the refused request's body was not closed")
	}
	if sc.count() != 2 {
		t.Errorf("server saw %d requests, want 2", sc.count())
	}
	mu.Lock()
	defer mu.Unlock()
	if len(changes) != 1 || changes[0] != "closed->open" {
		t.Errorf("breaker changes = %v", changes)
	}
	if rt.Unwrap() != srv.Client().Transport {
		t.Error("Unwrap does not return the wrapped transport")
	}
}

type closeRecorder struct {
	io.Reader
	closed atomic.Bool
}

func (c *closeRecorder) Close() error { c.closed.Store(true); return nil }

func TestTransportBreakerProbes(t *testing.T) {
	sc, srv := serve(t, step{status: 500}, step{status: 500}, step{status: 200, body: "back"})
	rt, err := New(srv.Client().Transport, Config{
		MaxRetries: -1,
		Breaker:    resilience.BreakerConfig{FailureThreshold: 2, Delay: time.Millisecond},
	})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		get(t, rt, srv.URL)
	}
	// After the delay a probe goes through; its success closes the breaker.
	waitFor(t, "a probe to reach the server", func() bool {
		req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
		resp, err := rt.RoundTrip(req)
		if err != nil {
			if !errors.Is(err, resilience.ErrBreakerOpen) {
				t.Fatalf("unexpected error %v", err)
			}
			return false
		}
		resp.Body.Close()
		return true
	})
	if sc.count() != 3 || rt.BreakerState() != resilience.BreakerClosed {
		t.Errorf("server saw %d requests, breaker %v; want 3, closed", sc.count(), rt.BreakerState())
	}
}

func TestTransportStopsOnCancelDuringDelay(t *testing.T) {
	_, srv := serve(t, step{status: 502})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rt, err := New(srv.Client().Transport, Config{
		Backoff: resilience.Backoff{Initial: time.Hour, Max: time.Hour},
		OnRetry: func(Event) { cancel() },
	})
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
	resp, err := rt.RoundTrip(req)
	if !errors.Is(err, context.Canceled) || resp != nil {
		t.Fatalf("got %v, %v; want context.Canceled", resp, err)
	}
}

func TestTransportRedactsEventURL(t *testing.T) {
	_, srv := serve(t, step{status: 503}, step{status: 200})
	var ev Event
	rt, _ := New(srv.Client().Transport, Config{Backoff: fast, OnRetry: func(e Event) { ev = e }})
	u := strings.Replace(srv.URL, "http://", "http://svc:pa55word@", 1) + "/x?api_key=K123"
	get(t, rt, u)
	if strings.Contains(ev.URL, "pa55word") || strings.Contains(ev.URL, "K123") || ev.URL == "" {
		t.Errorf("event URL %q leaks a secret", ev.URL)
	}
}

func TestNewTransportValidates(t *testing.T) {
	_, err := New(nil, Config{MaxRetryAfter: -1, Backoff: resilience.Backoff{Multiplier: 0.1}})
	if err == nil || !strings.Contains(err.Error(), "MaxRetryAfter") || !strings.Contains(err.Error(), "Multiplier") {
		t.Fatalf("err = %v", err)
	}
	rt, err := New(nil, Config{MaxRetries: -1, Breaker: resilience.BreakerConfig{FailureThreshold: -1}})
	if err != nil || rt.Unwrap() != http.DefaultTransport || rt.BreakerState() != resilience.BreakerClosed {
		t.Fatalf("rt = %+v, err = %v", rt, err)
	}
}

// TestTransportConcurrent sends many requests at once through one Transport
// against a server that fails the first attempt of each.
func TestTransportConcurrent(t *testing.T) {
	var mu sync.Mutex
	seen := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen[r.URL.Query().Get("id")]++
		first := seen[r.URL.Query().Get("id")] == 1
		mu.Unlock()
		if first {
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		_, _ = io.WriteString(w, "ok")
	}))
	defer srv.Close()
	rt, err := New(srv.Client().Transport, Config{Backoff: fast, Breaker: resilience.BreakerConfig{FailureThreshold: 1000}})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 5 {
				req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("%s/?id=%d-%d", srv.URL, g, i), nil)
				resp, err := rt.RoundTrip(req)
				if err != nil {
					t.Error(err)
					return
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 || string(b) != "ok" {
					t.Errorf("got %d %q", resp.StatusCode, b)
				}
			}
		}()
	}
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	for id, n := range seen {
		if n != 2 {
			t.Errorf("request %s sent %d times, want 2", id, n)
		}
	}
	if len(seen) != 100 {
		t.Errorf("%d requests, want 100", len(seen))
	}
}

func TestTransportDoesNotRetryClientErrorsOr501(t *testing.T) {
	for _, status := range []int{400, 401, 404, 409, 422, 501} {
		sc, srv := serve(t, step{status: status, body: "no"}, step{status: 200})
		rt, err := New(srv.Client().Transport, Config{Backoff: fast})
		if err != nil {
			t.Fatal(err)
		}
		resp, body := get(t, rt, srv.URL)
		if resp.StatusCode != status || body != "no" || sc.count() != 1 {
			t.Errorf("status %d: got %d %q after %d requests, want it returned after 1", status, resp.StatusCode, body, sc.count())
		}
	}
}

// perAttempt is a RoundTripper under a Transport that bounds each attempt
// by its own timeout and marks what that timeout ends with ErrAttemptTimeout.
type perAttempt struct {
	timeout time.Duration
	next    http.RoundTripper
}

func (p perAttempt) RoundTrip(r *http.Request) (*http.Response, error) {
	ctx, cancel := context.WithTimeout(r.Context(), p.timeout)
	resp, err := p.next.RoundTrip(r.WithContext(ctx))
	if err != nil {
		cancel()
		if r.Context().Err() == nil && errors.Is(err, context.DeadlineExceeded) {
			return nil, fmt.Errorf("%w: %w", ErrAttemptTimeout, err)
		}
		return nil, err
	}
	_, _ = io.ReadAll(resp.Body) // the test bodies are tiny: read before the timeout ends
	resp.Body.Close()
	cancel()
	resp.Body = io.NopCloser(strings.NewReader(""))
	return resp, nil
}

// An attempt ended by its own timeout is retried; the caller's deadline ends
// the retries.
func TestTransportRetriesAttemptTimeouts(t *testing.T) {
	var hits atomic.Int64
	hang := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hits.Add(1) == 1 {
			select {
			case <-r.Context().Done():
			case <-hang:
			}
			panic(http.ErrAbortHandler) // no answer at all, not an empty 200
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	defer close(hang)
	var retries atomic.Int64
	rt, err := New(perAttempt{timeout: 50 * time.Millisecond, next: http.DefaultTransport},
		Config{MaxRetries: 2, Backoff: fast, OnRetry: func(Event) { retries.Add(1) }})
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
	resp, err := rt.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent || hits.Load() != 2 || retries.Load() != 1 {
		t.Errorf("status %d after %d requests, %d retries", resp.StatusCode, hits.Load(), retries.Load())
	}

	// The caller's own deadline is not retried.
	hits.Store(0)
	rt, err = New(http.DefaultTransport, Config{MaxRetries: 2, Backoff: fast})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	req, _ = http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
	if resp, err := rt.RoundTrip(req); err == nil {
		resp.Body.Close()
		t.Fatal("want the caller's deadline")
	} else if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v", err)
	}
	if hits.Load() != 1 {
		t.Errorf("%d requests after the caller's deadline, want 1", hits.Load())
	}
}
