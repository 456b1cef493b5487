package httpretry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/failsafe-go/failsafe-go"
	"github.com/failsafe-go/failsafe-go/circuitbreaker"
	"github.com/failsafe-go/failsafe-go/failsafehttp"
	"github.com/failsafe-go/failsafe-go/retrypolicy"

	"github.com/greenlang/gl001/resilience"
)

// ErrAttemptTimeout marks an attempt that outlived a timeout of its own, set
// by a RoundTripper under a [Transport] (erp.Conn sets one per attempt),
// while the caller's context was still live. Wrap it together with the
// context error, as in fmt.Errorf("%w: %w", ErrAttemptTimeout, err): the
// Transport retries such an attempt and counts it against the breaker, as it
// does a 5xx, instead of ending the retries as it does for the caller's
// deadline.
var ErrAttemptTimeout = errors.New("httpretry: attempt timed out")

// Defaults of [Config] for zero-valued fields.
const (
	DefaultMaxRetries    = 3
	DefaultMaxRetryAfter = 2 * time.Minute
)

// drainLimit is how much of a retried response's body is read before it is
// closed, so that its connection can be reused; bigger bodies are just closed.
const drainLimit = 64 << 10

// Config configures a [Transport]. Zero-valued fields take documented
// defaults.
type Config struct {
	// Name identifies the transport (an ERP tenant, say) in logs.
	Name string
	// MaxRetries is how often a failed idempotent request is retried after the
	// first attempt. Zero means 3; negative means never.
	MaxRetries int
	// Backoff sets the delay before a retry when the response carries no
	// Retry-After; its zero value has defaults (500ms doubling to 60s, ±20%).
	Backoff resilience.Backoff
	// Breaker opens after consecutive failed attempts (connection errors,
	// timeouts and 5xx responses other than 501; 429 is not a failure of the
	// server) and then
	// refuses requests with ErrBreakerOpen; its zero value has defaults (5
	// failures, 30s). A negative Breaker.FailureThreshold disables it.
	Breaker resilience.BreakerConfig
	// MaxRetryAfter is the longest Retry-After the transport waits for; a
	// response asking for longer is returned to the caller at once. Default 2m.
	MaxRetryAfter time.Duration
	// Replayable, if not nil, decides which requests may be sent again. Nil
	// means the rule of [Transport]: idempotent methods, or any method with an
	// Idempotency-Key header. A request whose body cannot be read again
	// (Request.GetBody unset) is never retried, whatever Replayable says.
	// Set it for a POST that is safe to repeat, such as an OAuth 2.0 token
	// request.
	Replayable func(*http.Request) bool
	// OnRetry, if not nil, is called before each retry's delay.
	OnRetry func(Event)
	// OnBreakerChange, if not nil, is called after every transition of the
	// breaker, without locks held.
	OnBreakerChange func(from, to resilience.BreakerState)
	// Logger receives retries and breaker transitions; nil discards them.
	Logger *slog.Logger
}

// Event describes a retry the [Transport] is about to make.
type Event struct {
	Method     string
	URL        string        // the request URL without user info, query or fragment (they may carry filters and keys)
	Attempt    int           // the attempt that failed, counting from 1
	StatusCode int           // its response status, or 0 if it failed without a response
	Error      string        // its error, secrets redacted; empty if it had a response
	Delay      time.Duration // the wait before the next attempt
}

// Validate reports every problem of c, joined with errors.Join.
func (c Config) Validate() error {
	var errs []error
	if err := c.Backoff.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := c.Breaker.Validate(); err != nil {
		errs = append(errs, err)
	}
	if c.MaxRetryAfter < 0 {
		errs = append(errs, fmt.Errorf("httpretry: MaxRetryAfter %v is negative", c.MaxRetryAfter))
	}
	return errors.Join(errs...)
}

// Transport is an http.RoundTripper that retries failed idempotent requests and
// isolates a failing server with a circuit breaker. It is safe for concurrent
// use; use one Transport per server or tenant, since they share one breaker.
//
// A request is retried when its attempt failed with a connection error or
// answered 429 or a 5xx other than 501, at most MaxRetries times, and only when
// it is idempotent (GET, HEAD, OPTIONS, TRACE, PUT, DELETE, or any method with
// an Idempotency-Key header) and its body can be replayed (no body, or
// Request.GetBody set, as http.NewRequest does for in-memory bodies). The delay
// is the response's Retry-After (delta-seconds or HTTP-date) on 429 and 503,
// else the Backoff. The bodies of the responses that are retried are drained and
// closed. When the retries are used up, the last response is returned as it
// is, not an error, so the caller maps its status to its own errors.
//
// A deadline ends the retries when it is the caller's: an error matching
// context.DeadlineExceeded is retried only when it also matches
// [ErrAttemptTimeout], the mark of a per-attempt timeout set under the
// Transport, and the request's own context is still live.
//
// When the breaker is open, RoundTrip returns an error matching
// [resilience.ErrBreakerOpen] without sending the request.
type Transport struct {
	next    http.RoundTripper
	cfg     Config
	backoff resilience.Backoff
	log     *slog.Logger
	breaker circuitbreaker.CircuitBreaker[*http.Response]
	retry   retrypolicy.RetryPolicy[*http.Response]
	now     func() time.Time
}

var _ http.RoundTripper = (*Transport)(nil)

// New returns a Transport that sends requests through next
// (http.DefaultTransport if nil).
func New(next http.RoundTripper, cfg Config) (*Transport, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if next == nil {
		next = http.DefaultTransport
	}
	if cfg.MaxRetries == 0 {
		cfg.MaxRetries = DefaultMaxRetries
	}
	if cfg.MaxRetryAfter == 0 {
		cfg.MaxRetryAfter = DefaultMaxRetryAfter
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	t := &Transport{
		next:    next,
		cfg:     cfg,
		backoff: cfg.Backoff.WithDefaults(),
		log:     log.With("transport", cfg.Name),
		now:     time.Now,
	}
	t.breaker = newBreaker(cfg.Breaker, t.backoff.Jitter, func(from, to resilience.BreakerState) {
		t.log.Warn("circuit breaker changed", "from", from.String(), "to", to.String())
		if cfg.OnBreakerChange != nil {
			cfg.OnBreakerChange(from, to)
		}
	})
	if cfg.MaxRetries > 0 {
		t.retry = failsafehttp.NewRetryPolicyBuilder().
			WithMaxRetries(cfg.MaxRetries).
			ReturnLastFailure().
			AbortOnErrors(resilience.ErrBreakerOpen).
			AbortIf(func(_ *http.Response, err error) bool {
				return errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, ErrAttemptTimeout)
			}).
			AbortIf(func(resp *http.Response, _ error) bool {
				d, ok := retryAfter(resp, t.now())
				return ok && d > t.cfg.MaxRetryAfter
			}).
			WithDelayFunc(t.delay).
			OnRetryScheduled(t.retryScheduled).
			Build()
	}
	return t, nil
}

// newBreaker builds the failsafe-go breaker c describes, counting what
// serverFailed counts, or nil when c disables the breaker.
func newBreaker(c resilience.BreakerConfig, jitter float64, onChange func(from, to resilience.BreakerState)) circuitbreaker.CircuitBreaker[*http.Response] {
	if !c.Enabled() {
		return nil
	}
	c = c.WithDefaults()
	b := circuitbreaker.NewBuilder[*http.Response]().
		WithFailureThreshold(uint(c.FailureThreshold)).
		WithSuccessThreshold(uint(c.SuccessThreshold)).
		WithDelay(c.Delay).
		HandleIf(serverFailed).
		OnStateChanged(func(e circuitbreaker.StateChangedEvent) {
			onChange(stateOf(e.OldState), stateOf(e.NewState))
		})
	if jitter > 0 {
		b = b.WithJitterFactor(jitter)
	}
	return b.Build()
}

func stateOf(s circuitbreaker.State) resilience.BreakerState {
	switch s {
	case circuitbreaker.OpenState:
		return resilience.BreakerOpen
	case circuitbreaker.HalfOpenState:
		return resilience.BreakerHalfOpen
	}
	return resilience.BreakerClosed
}

// serverFailed reports whether an attempt counts as a failure of the server for
// the breaker.
func serverFailed(resp *http.Response, err error) bool {
	if err != nil {
		return !errors.Is(err, context.Canceled)
	}
	return resp != nil && resp.StatusCode >= 500 && resp.StatusCode != http.StatusNotImplemented
}

// Unwrap returns the RoundTripper the Transport sends requests through.
func (t *Transport) Unwrap() http.RoundTripper { return t.next }

// BreakerState returns the state of the Transport's breaker (BreakerClosed if
// it has none).
func (t *Transport) BreakerState() resilience.BreakerState {
	if t.breaker == nil {
		return resilience.BreakerClosed
	}
	return stateOf(t.breaker.State())
}

// CloseIdleConnections closes the idle connections of the underlying
// RoundTripper, if it has that method, so http.Client.CloseIdleConnections
// reaches it.
func (t *Transport) CloseIdleConnections() {
	if c, ok := t.next.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// RoundTrip sends req, retrying and breaking as the Transport's doc says.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	var policies []failsafe.Policy[*http.Response]
	if t.retry != nil && t.replayable(req) {
		policies = append(policies, t.retry)
	}
	if t.breaker != nil {
		policies = append(policies, t.breaker)
	}
	if len(policies) == 0 {
		return t.next.RoundTrip(req)
	}
	bodySent := false
	ctx := context.WithValue(req.Context(), requestKey{}, req) // for retryScheduled
	resp, err := failsafe.With(policies...).WithContext(ctx).
		GetWithExecution(func(exec failsafe.Execution[*http.Response]) (*http.Response, error) {
			r := req
			if bodySent {
				r = req.Clone(req.Context())
				if req.Body != nil && req.Body != http.NoBody {
					body, err := req.GetBody()
					if err != nil {
						return nil, fmt.Errorf("resilience: replaying the request body: %w", err)
					}
					r.Body = body
				}
			}
			bodySent = true
			return t.next.RoundTrip(r)
		})
	if !bodySent && req.Body != nil {
		// The breaker refused the request: RoundTrip must still close the body.
		req.Body.Close()
	}
	return resp, err
}

// requestKey carries the request being sent in the execution's context.
type requestKey struct{}

// replayable reports whether req may be sent again: it is idempotent (or
// Config.Replayable says so) and its body, if any, can be read again.
func (t *Transport) replayable(req *http.Request) bool {
	if req.Body != nil && req.Body != http.NoBody && req.GetBody == nil {
		return false
	}
	if t.cfg.Replayable != nil {
		return t.cfg.Replayable(req)
	}
	switch req.Method {
	case "", http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace, http.MethodPut, http.MethodDelete:
	default:
		if req.Header.Get("Idempotency-Key") == "" && req.Header.Get("X-Idempotency-Key") == "" {
			return false
		}
	}
	return req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
}

// delay returns the wait before the next attempt: Retry-After if the last
// response has one, else the backoff.
func (t *Transport) delay(exec failsafe.ExecutionAttempt[*http.Response]) time.Duration {
	if d, ok := retryAfter(exec.LastResult(), t.now()); ok {
		return d
	}
	return t.backoff.Delay(exec.Attempts() - 1)
}

// retryScheduled drains and closes the response that is being retried, and
// reports the retry.
func (t *Transport) retryScheduled(e failsafe.ExecutionScheduledEvent[*http.Response]) {
	ev := Event{Attempt: e.Attempts(), Delay: e.Delay}
	if req, ok := e.Context().Value(requestKey{}).(*http.Request); ok {
		ev.Method = req.Method
		ev.URL = resilience.Redact(Location(req.URL))
	}
	if resp := e.LastResult(); resp != nil {
		ev.StatusCode = resp.StatusCode
		_, _ = io.CopyN(io.Discard, resp.Body, drainLimit)
		_ = resp.Body.Close()
	}
	if err := e.LastError(); err != nil {
		ev.Error = resilience.Redact(err.Error())
	}
	t.log.Info("retrying request", "method", ev.Method, "url", ev.URL, "attempt", ev.Attempt,
		"status", ev.StatusCode, "error", ev.Error, "delay", ev.Delay)
	if t.cfg.OnRetry != nil {
		t.cfg.OnRetry(ev)
	}
}

// Location returns u without its user info, query and fragment:
// scheme://host/path, what the Transport logs and reports of a request. A
// query can name plants, cost centres or keys; errors of the ERP clients
// leave it out too.
func Location(u *url.URL) string {
	if u == nil {
		return ""
	}
	v := url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path, RawPath: u.RawPath}
	return v.String()
}

// maxRetryAfter caps what retryAfter returns, so absurd values cannot overflow.
const maxRetryAfter = 365 * 24 * time.Hour

// retryAfter returns the delay a 429 or 503 response asks for in its
// Retry-After header (RFC 9110, 10.2.3), either delta-seconds or an HTTP-date
// (a date in the past means no delay). ok is false when there is no such
// header or it cannot be parsed.
func retryAfter(resp *http.Response, now time.Time) (d time.Duration, ok bool) {
	if resp == nil || (resp.StatusCode != http.StatusTooManyRequests && resp.StatusCode != http.StatusServiceUnavailable) {
		return 0, false
	}
	v := strings.TrimSpace(resp.Header.Get("Retry-After"))
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs < 0 {
			return 0, false
		}
		if secs > int64(maxRetryAfter/time.Second) {
			return maxRetryAfter, true
		}
		return time.Duration(secs) * time.Second, true
	}
	when, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return min(max(when.Sub(now), 0), maxRetryAfter), true
}
