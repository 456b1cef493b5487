package erp

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// Sentinel errors. Errors returned by this package and by the system packages
// wrap them, so callers test with errors.Is whatever the system.
var (
	// ErrClosed is returned by calls on a client that has been closed. Not retryable.
	ErrClosed = errors.New("erp: closed")
	// ErrConfig marks a configuration the constructor rejected. Not retryable:
	// fix the configuration.
	ErrConfig = errors.New("erp: invalid configuration")
	// ErrUnauthorized means the system rejected the credentials (HTTP 401, or the
	// token endpoint refused the client). The client has already invalidated its
	// cached token, asked the secret provider again and retried once; retrying
	// later is safe and useful once the credential has been fixed or rotated.
	ErrUnauthorized = errors.New("erp: unauthorized")
	// ErrForbidden means the credentials are valid but lack the authorisation
	// for the request (HTTP 403). Not retryable without a change of roles.
	ErrForbidden = errors.New("erp: forbidden")
	// ErrNotFound means the service, entity set or record does not exist
	// (HTTP 404). Not retryable: check the service path in the configuration.
	ErrNotFound = errors.New("erp: not found")
	// ErrBadRequest means the system refused the request as malformed (HTTP 400
	// and other 4xx not listed here), typically an unknown property in a filter or a
	// field mapping. Not retryable.
	ErrBadRequest = errors.New("erp: bad request")
	// ErrThrottled means the system asked the caller to slow down (HTTP 429, or
	// 503 with Retry-After) and the retries allowed by the configuration were
	// used up. The *StatusError carries the wait the system asked for. Safe to
	// retry after that wait.
	ErrThrottled = errors.New("erp: throttled")
	// ErrServer means the system failed (HTTP 5xx) on every attempt. Safe to
	// retry later for reads.
	ErrServer = errors.New("erp: server error")
	// ErrMalformed means a response could not be decoded: broken or truncated
	// JSON, a missing envelope, a field of the wrong type. The *MalformedError
	// names the field. A malformed record is reported and the stream goes on;
	// a malformed page ends the stream, since its next link cannot be trusted.
	// Retrying the same request usually fails the same way.
	ErrMalformed = errors.New("erp: malformed response")
	// ErrUnavailable means the system could not be reached: connections
	// refused, reset or timed out on every attempt the retry policy allowed,
	// or the circuit breaker of the system is open (then it also matches
	// ErrBreakerOpen). The *UnavailableError names the system and the number
	// of attempts. Safe to retry later.
	ErrUnavailable = errors.New("erp: system unavailable")
	// ErrBreakerOpen means the request was not sent because the circuit
	// breaker of the system is open after repeated failures. It also matches
	// ErrUnavailable and resilience.ErrBreakerOpen. Safe to retry after the
	// breaker's delay (Retry.Breaker.Delay, 30 s by default).
	ErrBreakerOpen = errors.New("erp: circuit breaker open")
	// ErrNotSupported is returned when a system has no data of the kind asked
	// for (for example production orders from a finance-only system). Not
	// retryable.
	ErrNotSupported = errors.New("erp: not supported by this system")
)

// StatusError is an HTTP error answer from an ERP system. It matches the
// sentinel for its status with errors.Is (401 ErrUnauthorized, 403
// ErrForbidden, 404 ErrNotFound, 429 ErrThrottled, 5xx ErrServer (503 with
// Retry-After also ErrThrottled), other 4xx ErrBadRequest).
//
// Message is the system's own error text, with any secret the client knows
// removed; it never contains credentials.
type StatusError struct {
	System     string        // system name from the configuration, e.g. "sap"
	Method     string        // HTTP method
	Path       string        // request path, without query (queries may carry filters)
	StatusCode int           // HTTP status code
	Code       string        // the system's error code (OData error.code), if any
	Message    string        // the system's error message, if any
	RetryAfter time.Duration // the wait the system asked for (Retry-After), if any
	Header     http.Header   // the response headers (never printed)
}

func (e *StatusError) Error() string {
	s := fmt.Sprintf("erp: %s: %s %s: %d %s", e.System, e.Method, e.Path, e.StatusCode, http.StatusText(e.StatusCode))
	if e.Code != "" {
		s += " [" + e.Code + "]"
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	if e.RetryAfter > 0 {
		s += " (retry after " + e.RetryAfter.String() + ")"
	}
	return s
}

// Is reports whether target is the sentinel for e's status code.
func (e *StatusError) Is(target error) bool {
	switch target {
	case ErrUnauthorized:
		return e.StatusCode == http.StatusUnauthorized
	case ErrForbidden:
		return e.StatusCode == http.StatusForbidden
	case ErrNotFound:
		return e.StatusCode == http.StatusNotFound || e.StatusCode == http.StatusGone
	case ErrThrottled:
		return e.StatusCode == http.StatusTooManyRequests ||
			(e.StatusCode == http.StatusServiceUnavailable && e.RetryAfter > 0)
	case ErrServer:
		return e.StatusCode >= 500
	case ErrBadRequest:
		return e.StatusCode >= 400 && e.StatusCode < 500 &&
			e.StatusCode != http.StatusUnauthorized && e.StatusCode != http.StatusForbidden &&
			e.StatusCode != http.StatusNotFound && e.StatusCode != http.StatusGone &&
			e.StatusCode != http.StatusTooManyRequests
	}
	return false
}

// Temporary reports whether retrying the same request later may succeed.
func (e *StatusError) Temporary() bool {
	return e.StatusCode == http.StatusTooManyRequests || e.StatusCode >= 500 ||
		e.StatusCode == http.StatusRequestTimeout
}

// UnavailableError is a request that never got an answer from the system:
// every attempt failed to connect, was reset or timed out, or the circuit
// breaker refused it. It matches ErrUnavailable, and ErrBreakerOpen when the
// breaker refused; Unwrap gives the last attempt's error (a *net.OpError, an
// attempt timeout, resilience.ErrBreakerOpen).
type UnavailableError struct {
	System      string // system name, e.g. "sap"
	Method      string // HTTP method
	Path        string // request path, without query
	Attempts    int    // attempts sent on the wire, retries included; 0 when the breaker refused at once
	BreakerOpen bool   // the circuit breaker refused (the last) attempt
	Err         error  // the last attempt's error, with secrets removed
}

func (e *UnavailableError) Error() string {
	s := fmt.Sprintf("erp: %s: %s %s: system unavailable", e.System, e.Method, e.Path)
	if e.BreakerOpen {
		s += " (circuit breaker open"
		if e.Attempts > 0 {
			s += ", after " + strconv.Itoa(e.Attempts) + " attempts"
		}
		s += ")"
	} else {
		s += " after " + strconv.Itoa(e.Attempts) + " attempt"
		if e.Attempts != 1 {
			s += "s"
		}
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Is reports whether target is ErrUnavailable, or ErrBreakerOpen when the
// breaker refused.
func (e *UnavailableError) Is(target error) bool {
	return target == ErrUnavailable || (target == ErrBreakerOpen && e.BreakerOpen)
}

// Unwrap returns the last attempt's error.
func (e *UnavailableError) Unwrap() error { return e.Err }

// MalformedError describes a response, page or record that could not be
// decoded. It matches ErrMalformed.
type MalformedError struct {
	System string // system name, e.g. "sap"
	Entity string // entity set or resource, e.g. "A_ProductionOrder_2"
	Key    string // the record's key when it could be read
	Field  string // the offending field or envelope member, e.g. "d.__next" or "TotalQuantity"
	Offset int64  // byte offset in the page where decoding failed, or -1
	Err    error  // the underlying cause
}

func (e *MalformedError) Error() string {
	s := "erp: malformed response"
	if e.System != "" {
		s += " from " + e.System
	}
	if e.Entity != "" {
		s += " (" + e.Entity + ")"
	}
	if e.Key != "" {
		s += " record " + strconv.Quote(e.Key)
	}
	if e.Field != "" {
		s += ": field " + strconv.Quote(e.Field)
	}
	if e.Offset >= 0 {
		s += " at byte " + strconv.FormatInt(e.Offset, 10)
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Is reports whether target is ErrMalformed.
func (e *MalformedError) Is(target error) bool { return target == ErrMalformed }

// Unwrap returns the underlying cause.
func (e *MalformedError) Unwrap() error { return e.Err }

// AuthError is a failure to obtain credentials: the token endpoint refused the
// client, or the secret provider failed. It matches ErrUnauthorized when the
// endpoint refused, and never contains the secret.
type AuthError struct {
	System string // system name
	Code   string // OAuth error code (RFC 6749 "error"), e.g. "invalid_client"
	Status int    // HTTP status of the token endpoint, 0 if it was not reached
	Err    error  // the cause, with secrets removed
}

func (e *AuthError) Error() string {
	s := "erp: " + e.System + ": obtaining credentials"
	if e.Status != 0 {
		s += ": token endpoint answered " + strconv.Itoa(e.Status)
	}
	if e.Code != "" {
		s += " [" + e.Code + "]"
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Is reports whether target is ErrUnauthorized and the endpoint refused the client.
func (e *AuthError) Is(target error) bool {
	return target == ErrUnauthorized && (e.Status == http.StatusUnauthorized ||
		e.Status == http.StatusBadRequest || e.Code == "invalid_client" || e.Code == "unauthorized_client")
}

// Unwrap returns the cause.
func (e *AuthError) Unwrap() error { return e.Err }
