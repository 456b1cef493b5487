package erp

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/greenlang/gl001/resilience"
	"github.com/greenlang/gl001/resilience/httpretry"
)

// Defaults of ConnConfig for zero-valued fields.
const (
	DefaultRequestsPerMinute = 100
	DefaultBurst             = 10
	DefaultTimeout           = 2 * time.Second
	DefaultMaxConns          = 64
	DefaultMaxResponseBytes  = 64 << 20
)

// ConnConfig configures a Conn: the HTTP machinery shared by every request
// to one ERP system (one SAP tenant, one Dynamics organisation). System
// packages embed it in their own Config.
type ConnConfig struct {
	// System names the system in errors, logs and record sources, e.g.
	// "sap-prod". Required.
	System string
	// Auth authenticates requests: ClientCredentials, APIKey, Basic or
	// TokenSource. Nil sends no credentials.
	Auth Auth
	// RequestsPerMinute limits the request rate to the system; callers wait
	// for their turn (respecting their context), they are not failed. Zero
	// means 100; negative means unlimited.
	RequestsPerMinute int
	// Burst is how many requests may go at once before the rate applies.
	// Zero means 10.
	Burst int
	// Timeout bounds each attempt of each request, from sending it to having
	// read its body, on top of the caller's context. Waiting for the rate
	// limiter or for a Retry-After pause is not counted. An attempt that times
	// out before the response arrives is retried like a 5xx (idempotent
	// requests only, within the caller's context) and counts against the
	// breaker. Zero means 2 s.
	Timeout time.Duration
	// MaxConns is the connection pool size to the system. Zero means 64.
	MaxConns int
	// MaxResponseBytes caps a response body; a bigger one is an error. Zero
	// means 64 MiB.
	MaxResponseBytes int64
	// TLS, if set, supplies root CAs and client certificates. Whatever it
	// says, TLS 1.2 is the minimum (SaaS endpoints choose 1.2 or 1.3).
	TLS *tls.Config
	// AllowHTTP permits plain-HTTP URLs. Only for test servers: credentials
	// would cross the network in clear text.
	AllowHTTP bool
	// Retry configures retries (429 and 5xx, Retry-After honoured,
	// idempotent requests only) and the circuit breaker of this system. Its
	// zero value has the defaults of package resilience/httpretry. The token
	// endpoint of ClientCredentials gets the same retry policy (a
	// client-credentials grant is safe to repeat) with a breaker of its own.
	Retry httpretry.Config
	// Logger receives request logs at debug level and retries and throttling
	// at info; nil discards them. Secrets never reach it.
	Logger *slog.Logger
	// UserAgent is sent with every request; default "gl001-erp".
	UserAgent string
}

// Validate reports every problem of c, joined with errors.Join; each matches ErrConfig.
func (c ConnConfig) Validate() error {
	var errs []error
	add := func(format string, a ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrConfig}, a...)...))
	}
	if c.System == "" {
		add("System is required")
	}
	if c.Auth != nil {
		if err := c.Auth.validate(); err != nil {
			add("%v", err)
		}
		if cc, ok := c.Auth.(ClientCredentials); ok && cc.TokenURL != "" {
			if err := c.checkURL("ClientCredentials.TokenURL", cc.TokenURL); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if c.Timeout < 0 {
		add("Timeout must not be negative")
	}
	if c.MaxConns < 0 {
		add("MaxConns must not be negative")
	}
	if c.Burst < 0 {
		add("Burst must not be negative")
	}
	if c.MaxResponseBytes < 0 {
		add("MaxResponseBytes must not be negative")
	}
	if err := c.Retry.Validate(); err != nil {
		add("Retry: %v", err)
	}
	return errors.Join(errs...)
}

// CheckURL reports whether raw is an absolute URL this configuration may
// call: https, or http when AllowHTTP is set. System packages use it on
// their base URLs.
func (c ConnConfig) CheckURL(field, raw string) error { return c.checkURL(field, raw) }

func (c ConnConfig) checkURL(field, raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return fmt.Errorf("%w: %s %q is not an absolute URL", ErrConfig, field, raw)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if c.AllowHTTP {
			return nil
		}
		return fmt.Errorf("%w: %s uses plain http; set AllowHTTP only for test servers", ErrConfig, field)
	}
	return fmt.Errorf("%w: %s has scheme %q, want https", ErrConfig, field, u.Scheme)
}

// ConnStats is a snapshot of a Conn's counters.
type ConnStats struct {
	Requests     uint64        // requests sent by callers (a retried request counts once)
	Attempts     uint64        // attempts on the wire, retries included
	Retries      uint64        // retries made by the retry policy, token requests included
	Throttled    uint64        // 429 (or 503 with Retry-After) answers received
	TimedOut     uint64        // attempts that outlived Timeout (retried when idempotent)
	Paused       uint64        // attempts that waited for a system-wide Retry-After pause
	Unauthorized uint64        // 401 answers received
	Errors       uint64        // requests that ended in an error
	Malformed    uint64        // pages and records that could not be decoded (counted by system packages)
	OutOfRange   uint64        // records the system sent outside the query's [From, To), dropped
	PausedUntil  time.Time     // end of the current system-wide pause, zero if none
	Breaker      string        // circuit breaker state: "closed", "open" or "half-open"
	LastLatency  time.Duration // duration of the last successful request
}

// Conn is the HTTP machinery for one ERP system: authentication with cached
// tokens, a rate limit, a system-wide pause after throttling, retries and a
// circuit breaker, a per-attempt timeout, a pooled TLS transport, and typed
// errors. It is safe for concurrent use. Every system package builds one per
// client. An OData service needs no code of its own (configure erp/odata);
// a system speaking another protocol (REST, SOAP) builds on a Conn as
// erp/oracle and erp/workday do.
type Conn struct {
	cfg     ConnConfig
	log     *slog.Logger
	auth    authenticator
	limiter *rate.Limiter
	base    *http.Transport
	retry   *httpretry.Transport
	client  *http.Client
	closed  atomic.Bool

	pausedUntil atomic.Int64 // unix nanoseconds

	requests, attempts, retries, throttled, timeouts, paused, unauthorized, errs, malformed, outOfRange atomic.Uint64
	latency                                                                                             atomic.Int64

	// ParseError extracts the system's error code and message from an error
	// body. Set by the system package before first use.
	parseError func([]byte) (code, msg string)
}

// NewConn validates cfg and builds a Conn.
func NewConn(cfg ConnConfig) (*Conn, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.RequestsPerMinute == 0 {
		cfg.RequestsPerMinute = DefaultRequestsPerMinute
	}
	if cfg.Burst == 0 {
		cfg.Burst = DefaultBurst
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.MaxConns == 0 {
		cfg.MaxConns = DefaultMaxConns
	}
	if cfg.MaxResponseBytes == 0 {
		cfg.MaxResponseBytes = DefaultMaxResponseBytes
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = "gl001-erp"
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := &Conn{cfg: cfg, log: log.With("system", cfg.System)}
	if cfg.RequestsPerMinute < 0 {
		c.limiter = rate.NewLimiter(rate.Inf, 0)
	} else {
		c.limiter = rate.NewLimiter(rate.Limit(float64(cfg.RequestsPerMinute)/60), cfg.Burst)
	}

	tlsCfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if cfg.TLS != nil {
		tlsCfg = cfg.TLS.Clone()
		if tlsCfg.MinVersion < tls.VersionTLS12 {
			tlsCfg.MinVersion = tls.VersionTLS12
		}
	}
	dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	c.base = &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           dialer.DialContext,
		TLSClientConfig:       tlsCfg,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          cfg.MaxConns,
		MaxIdleConnsPerHost:   cfg.MaxConns,
		MaxConnsPerHost:       cfg.MaxConns,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
	rc := cfg.Retry
	if rc.Name == "" {
		rc.Name = cfg.System
	}
	if rc.Logger == nil {
		rc.Logger = log
	}
	userRetry := rc.OnRetry
	rc.OnRetry = func(e httpretry.Event) {
		c.retries.Add(1)
		if userRetry != nil {
			userRetry(e)
		}
	}
	rt, err := httpretry.New(&gate{c: c, next: c.base}, rc)
	if err != nil {
		return nil, fmt.Errorf("%w: Retry: %v", ErrConfig, err)
	}
	c.retry = rt
	jar, _ := cookiejar.New(nil) // keeps SAP session and CSRF cookies
	c.client = &http.Client{
		Transport: rt,
		Jar:       jar,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if req.URL.Scheme != "https" && !cfg.AllowHTTP {
				return fmt.Errorf("refusing redirect to plain http")
			}
			if len(via) >= 5 {
				return errors.New("too many redirects")
			}
			return nil
		},
	}
	if cfg.Auth != nil {
		// The token endpoint gets the same TLS policy, attempt timeout and
		// retry policy, with a breaker of its own, but not the rate limit:
		// it is another server.
		tc := cfg.Retry
		tc.Name = rc.Name + " token endpoint"
		tc.Logger = rc.Logger
		tc.OnRetry = rc.OnRetry
		// A client-credentials grant (or a refresh-token grant) is safe to
		// repeat: at worst the endpoint issues a second token.
		tc.Replayable = func(*http.Request) bool { return true }
		tt, err := httpretry.New(&attemptTimeout{c: c, next: c.base}, tc)
		if err != nil {
			return nil, fmt.Errorf("%w: Retry: %v", ErrConfig, err)
		}
		c.auth = cfg.Auth.build(&http.Client{Transport: tt}, cfg.System)
	}
	return c, nil
}

// SetErrorParser installs the function that extracts the system's error code
// and message from an error response body (OData's error.code and
// error.message, say). System packages call it once after NewConn.
func (c *Conn) SetErrorParser(f func(body []byte) (code, message string)) { c.parseError = f }

// System returns the configured system name.
func (c *Conn) System() string { return c.cfg.System }

// Logger returns the Conn's logger (never nil).
func (c *Conn) Logger() *slog.Logger { return c.log }

// CountMalformed adds n to the malformed counter of Stats.
func (c *Conn) CountMalformed(n int) { c.malformed.Add(uint64(n)) }

// CountOutOfRange adds n to the out-of-range counter of Stats: records the
// system sent that lie outside the query's [From, To) and were dropped.
func (c *Conn) CountOutOfRange(n int) { c.outOfRange.Add(uint64(n)) }

// Stats returns a snapshot of the counters.
func (c *Conn) Stats() ConnStats {
	s := ConnStats{
		Requests: c.requests.Load(), Attempts: c.attempts.Load(), Retries: c.retries.Load(),
		Throttled: c.throttled.Load(), TimedOut: c.timeouts.Load(), Paused: c.paused.Load(), Unauthorized: c.unauthorized.Load(),
		Errors: c.errs.Load(), Malformed: c.malformed.Load(), OutOfRange: c.outOfRange.Load(),
		Breaker: c.retry.BreakerState().String(), LastLatency: time.Duration(c.latency.Load()),
	}
	if p := c.pausedUntil.Load(); p > 0 && time.Now().UnixNano() < p {
		s.PausedUntil = time.Unix(0, p).UTC()
	}
	return s
}

// Close releases idle connections. Later requests fail with ErrClosed;
// Close itself is idempotent and returns ErrClosed after the first call.
func (c *Conn) Close() error {
	if c.closed.Swap(true) {
		return ErrClosed
	}
	c.base.CloseIdleConnections()
	return nil
}

// Request is one HTTP request to the system. GET, HEAD, PUT and DELETE are
// retried on 429 and 5xx; a POST only when it carries an Idempotency-Key
// header (set one on read-only POSTs such as SOAP queries to make them
// retryable).
type Request struct {
	Method string      // default GET
	URL    string      // absolute URL
	Header http.Header // extra headers; may be nil
	Body   []byte      // request body; nil for none
}

// Response is a successful (2xx or 3xx) answer, its body read in full.
type Response struct {
	StatusCode int
	Header     http.Header
	Body       []byte
}

// Do sends r and reads the answer. It waits for the rate limiter and any
// system-wide pause, authenticates, retries per the Retry configuration, and
// on a 401 drops the cached credentials and tries once more with fresh ones.
// A 4xx or 5xx answer is returned as a *StatusError; a request that got no
// answer at all (connections refused, reset or timed out on every attempt,
// or an open circuit breaker) as an *UnavailableError matching
// ErrUnavailable. Errors name the system and the path, never the URL's query.
func (c *Conn) Do(ctx context.Context, r Request) (*Response, error) {
	if c.closed.Load() {
		return nil, ErrClosed
	}
	c.requests.Add(1)
	resp, err := c.do(ctx, r)
	if err != nil {
		c.errs.Add(1)
	}
	return resp, err
}

func (c *Conn) do(ctx context.Context, r Request) (*Response, error) {
	method := r.Method
	if method == "" {
		method = http.MethodGet
	}
	u, err := url.Parse(r.URL)
	if err != nil {
		return nil, fmt.Errorf("%w: request URL: %v", ErrBadRequest, err)
	}
	if err := c.cfg.checkURL("request URL", r.URL); err != nil {
		return nil, err
	}
	attempts := new(atomic.Int64) // counted by the gate, retries included
	ctx = context.WithValue(ctx, attemptsKey{}, attempts)
	for attempt := 0; ; attempt++ {
		var body io.Reader
		if r.Body != nil {
			body = bytes.NewReader(r.Body)
		}
		req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
		if err != nil {
			return nil, fmt.Errorf("erp: %s: building request: %w", c.cfg.System, err)
		}
		for k, vs := range r.Header {
			req.Header[k] = append([]string(nil), vs...)
		}
		req.Header.Set("User-Agent", c.cfg.UserAgent)
		if c.auth != nil {
			if err := c.auth.authenticate(ctx, req); err != nil {
				return nil, c.scrubErr(err)
			}
		}
		start := time.Now()
		resp, err := c.client.Do(req)
		if err != nil {
			return nil, c.transportErr(ctx, method, u, err, int(attempts.Load()))
		}
		data, rerr := c.readBody(resp)
		resp.Body.Close()
		if resp.StatusCode == http.StatusUnauthorized {
			c.unauthorized.Add(1)
			if c.auth != nil && attempt == 0 {
				c.auth.reject(req)
				c.log.Info("credentials rejected; retrying once with fresh ones", "method", method, "path", u.Path)
				continue
			}
		}
		if resp.StatusCode >= 400 {
			return nil, c.statusErr(method, u, resp, data)
		}
		if rerr != nil {
			return nil, c.transportErr(ctx, method, u, rerr, int(attempts.Load()))
		}
		c.latency.Store(int64(time.Since(start)))
		c.log.Debug("request", "method", method, "path", u.Path, "status", resp.StatusCode,
			"bytes", len(data), "duration", time.Since(start))
		return &Response{StatusCode: resp.StatusCode, Header: resp.Header, Body: data}, nil
	}
}

func (c *Conn) readBody(resp *http.Response) ([]byte, error) {
	limit := c.cfg.MaxResponseBytes
	var buf bytes.Buffer
	if resp.ContentLength > 0 && resp.ContentLength <= limit {
		buf.Grow(int(resp.ContentLength))
	}
	n, err := buf.ReadFrom(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return buf.Bytes(), err
	}
	if n > limit {
		return nil, fmt.Errorf("response body exceeds %d bytes", limit)
	}
	return buf.Bytes(), nil
}

func (c *Conn) statusErr(method string, u *url.URL, resp *http.Response, body []byte) error {
	e := &StatusError{System: c.cfg.System, Method: method, Path: u.Path, StatusCode: resp.StatusCode, Header: resp.Header}
	if d, ok := parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()); ok {
		e.RetryAfter = d
	}
	if c.parseError != nil && len(body) > 0 {
		e.Code, e.Message = c.parseError(body)
	}
	if len(e.Message) > 512 {
		e.Message = e.Message[:512] + "..."
	}
	e.Code = c.scrub(e.Code)
	e.Message = c.scrub(e.Message)
	c.log.Info("request failed", "method", method, "path", u.Path, "status", resp.StatusCode, "code", e.Code)
	return e
}

// transportErr wraps an error that came without an answer from the system.
// The caller's own context ending is returned as it is; a wait for the rate
// limit that would outlive the caller's deadline too. Anything else (refused,
// reset, timed-out attempts, the open breaker) is an *UnavailableError.
func (c *Conn) transportErr(ctx context.Context, method string, u *url.URL, err error, attempts int) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return ctxErr
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err // drop the URL text: its query may carry filters or keys
	}
	if errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, httpretry.ErrAttemptTimeout) {
		return fmt.Errorf("erp: %s: %s %s: %w", c.cfg.System, method, u.Path, c.scrubErr(err))
	}
	return &UnavailableError{System: c.cfg.System, Method: method, Path: u.Path, Attempts: attempts,
		BreakerOpen: errors.Is(err, resilience.ErrBreakerOpen), Err: c.scrubErr(err)}
}

// attemptsKey carries a request's attempt counter in its context.
type attemptsKey struct{}

// scrub removes every secret and token the Conn holds, and anything that
// looks like a credential, from s.
func (c *Conn) scrub(s string) string {
	if s == "" {
		return s
	}
	var secrets []string
	if c.auth != nil {
		secrets = c.auth.secrets()
	}
	return resilience.Redact(s, secrets...)
}

// scrubErr keeps err's identity (errors.Is/As) but scrubs its message.
func (c *Conn) scrubErr(err error) error {
	msg := err.Error()
	if s := c.scrub(msg); s != msg {
		return &scrubbedError{msg: s, err: err}
	}
	return err
}

type scrubbedError struct {
	msg string
	err error
}

func (e *scrubbedError) Error() string { return e.msg }
func (e *scrubbedError) Unwrap() error { return e.err }

// pause makes every request to the system wait until t.
func (c *Conn) pause(t time.Time) {
	n := t.UnixNano()
	for {
		cur := c.pausedUntil.Load()
		if cur >= n || c.pausedUntil.CompareAndSwap(cur, n) {
			return
		}
	}
}

func (c *Conn) waitPause(ctx context.Context) error {
	p := c.pausedUntil.Load()
	if p == 0 {
		return nil
	}
	d := time.Until(time.Unix(0, p))
	if d <= 0 {
		return nil
	}
	c.paused.Add(1)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// gate sits under the retry transport, so every attempt on the wire, retries
// included, passes the pause, the rate limit and the attempt timeout, and
// every throttling answer is seen.
type gate struct {
	c    *Conn
	next http.RoundTripper
}

func (g *gate) RoundTrip(req *http.Request) (*http.Response, error) {
	c := g.c
	ctx := req.Context()
	if err := c.waitPause(ctx); err != nil {
		closeBody(req)
		return nil, err
	}
	if err := c.limiter.Wait(ctx); err != nil {
		closeBody(req)
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		// The limiter refuses at once a wait that would outlive the deadline.
		return nil, fmt.Errorf("%w: the rate limit wait would exceed the deadline", context.DeadlineExceeded)
	}
	c.attempts.Add(1)
	if n, ok := ctx.Value(attemptsKey{}).(*atomic.Int64); ok {
		n.Add(1)
	}
	actx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	resp, err := g.next.RoundTrip(req.WithContext(actx))
	if err != nil {
		cancel()
		if ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
			// This attempt's timeout, not the caller's deadline: retried.
			c.timeouts.Add(1)
			return nil, fmt.Errorf("%w after %v: %w", httpretry.ErrAttemptTimeout, c.cfg.Timeout, err)
		}
		return nil, err
	}
	if resp.StatusCode == http.StatusTooManyRequests ||
		(resp.StatusCode == http.StatusServiceUnavailable && resp.Header.Get("Retry-After") != "") {
		c.throttled.Add(1)
		if d, ok := parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()); ok && d > 0 {
			c.pause(time.Now().Add(d))
			c.log.Info("throttled; pausing every request to the system", "wait", d)
		}
	}
	resp.Body = &cancelBody{ReadCloser: resp.Body, cancel: cancel}
	return resp, nil
}

// attemptTimeout gives each attempt to the token endpoint the Conn's
// Timeout, marked as an attempt timeout so that the retry policy retries it.
type attemptTimeout struct {
	c    *Conn
	next http.RoundTripper
}

func (a *attemptTimeout) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	if n, ok := ctx.Value(attemptsKey{}).(*atomic.Int64); ok {
		n.Add(1)
	}
	actx, cancel := context.WithTimeout(ctx, a.c.cfg.Timeout)
	resp, err := a.next.RoundTrip(req.WithContext(actx))
	if err != nil {
		cancel()
		if ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
			return nil, fmt.Errorf("%w after %v: %w", httpretry.ErrAttemptTimeout, a.c.cfg.Timeout, err)
		}
		return nil, err
	}
	resp.Body = &cancelBody{ReadCloser: resp.Body, cancel: cancel}
	return resp, nil
}

func closeBody(req *http.Request) {
	if req.Body != nil {
		req.Body.Close()
	}
}

// cancelBody ends the attempt's timeout context when the body is closed.
type cancelBody struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *cancelBody) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}

// parseRetryAfter reads Retry-After as delta-seconds or an HTTP-date.
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs < 0 {
			return 0, false
		}
		return time.Duration(min(secs, 86400)) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return max(t.Sub(now), 0), true
}
