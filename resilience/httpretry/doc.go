// Package httpretry is an http.RoundTripper that retries failed idempotent
// requests and isolates a failing server with a circuit breaker, with the
// backoff and breaker policies of package resilience. The ERP clients send
// every request through one [Transport] per system.
//
// A request is retried on a connection error, an attempt timeout marked with
// [ErrAttemptTimeout], a 429 or a 5xx other than 501, honouring Retry-After
// (delta-seconds or HTTP-date) up to MaxRetryAfter. The breaker counts
// connection errors, timeouts and 5xx as failures of the server (a 429 is
// not one) and, while open, refuses requests with an error matching
// resilience.ErrBreakerOpen without sending them.
//
// Retries are logged and reported ([Event]) with the request's method and
// [Location], never its query: a query can name plants, cost centres or keys.
//
// It is its own package so that the rest of resilience, which every SCADA
// connector uses, does not link net/http.
package httpretry
