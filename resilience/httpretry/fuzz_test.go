package httpretry

import (
	"net/http"
	"testing"
	"time"
)

// FuzzRetryAfter feeds arbitrary Retry-After headers (outside input) to the
// parser: it must not panic and must return a delay in [0, 1 year].
func FuzzRetryAfter(f *testing.F) {
	for _, s := range []string{"0", "120", "-1", "Sun, 06 Nov 1994 08:49:37 GMT", "Sunday, 06-Nov-94 08:49:37 GMT",
		"Sun Nov  6 08:49:37 1994", "Fri, 31 Dec 9999 23:59:59 GMT", "99999999999999999999", "1e3", " 5 ", ""} {
		f.Add(s)
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, v string) {
		for _, status := range []int{http.StatusTooManyRequests, http.StatusServiceUnavailable} {
			resp := &http.Response{StatusCode: status, Header: http.Header{"Retry-After": {v}}}
			d, ok := retryAfter(resp, now)
			if d < 0 || d > maxRetryAfter || (!ok && d != 0) {
				t.Fatalf("retryAfter(%q) = %v, %v", v, d, ok)
			}
		}
	})
}
