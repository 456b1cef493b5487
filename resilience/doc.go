// Package resilience holds the policies every connector of the SDK shares:
// exponential [Backoff] with jitter, circuit breakers ([BreakerConfig], and a
// standalone [Breaker] for callers that guard their own calls),
// [Retry] for idempotent calls and a [Supervisor] that keeps a long-lived
// connection up. The HTTP transport that retries and breaks for the ERP
// clients lives in resilience/httpretry, so that a program that only
// supervises device connections does not link net/http.
//
// It is built on github.com/failsafe-go/failsafe-go, whose retry policy and
// circuit breaker do the work; this package chooses the defaults, adds the
// connection supervision and the health snapshot, and keeps failsafe-go's types
// out of its public API so callers depend on this package alone.
//
// # Defaults
//
// Zero-valued configuration fields take safe defaults:
//   - Backoff: 500ms, doubling, capped at 60s, ±20% jitter.
//   - Breaker: opens after 5 consecutive failures, lets a probe through after
//     30s, closes after 1 successful probe.
//   - Retry: 3 attempts in all. (resilience/httpretry: 3 retries after the
//     first attempt, Retry-After honoured up to 2 minutes.)
//   - Supervisor: connections that end within 30s of connecting count as
//     short (only a run of them grows the backoff); a permanent refusal is
//     retried after 1 min.
//
// These are general defaults. Package scada chooses shorter ones for its
// sources, so that data resumes within seconds of a device coming back.
//
// # Supervising a connection
//
// A [Supervisor] calls a run function that connects, calls connected() once the
// connection is up, serves until it fails and returns the reason. The
// Supervisor calls it again after a backoff; after repeated attempts that fail
// to connect its breaker opens and attempts are spaced by the breaker's delay.
// A connection is a success the moment it is made: the breaker closes, the
// failure count goes to zero and, when the connection ends, the backoff starts
// again from its first delay. A failure that IsPermanent says retrying cannot
// fix puts the Supervisor in [StateRefused] and waits PermanentDelay. Its
// [Status] (state, time in state, last error with secrets redacted, attempt
// and reconnect counts) is a snapshot readable at any time and reported to
// SupervisorConfig.OnStateChange on every change of state.
//
// # Errors
//
// [ErrBreakerOpen] (the call was refused, not attempted; safe to retry after
// the breaker's delay), [ErrExceeded] and [*ExceededError] (the retries were
// used up; unwraps to the last error), [ErrStarted] (a Supervisor runs once),
// [*PanicError] (a supervised run function panicked; the Supervisor recovered
// and tries again).
//
// # Secrets
//
// Errors reported in Status, RetryEvent and logs go through [Redact], which
// hides URL passwords, secret-looking parameters, credentials of
// Authorization headers and any secret value the caller registers.
package resilience
