package resilience

import (
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode"
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

// FuzzRedact checks that a registered secret never survives redaction,
// whatever text surrounds it. Secrets made only of the replacement's letters or
// of whitespace are outside the property: the replacement itself spells them.
func FuzzRedact(f *testing.F) {
	f.Add("dial opc.tcp://op:s3cret@10.0.0.1:4840: refused", "s3cret")
	f.Add(`{"password":"hunter2"}`, "hunter2")
	f.Add("Authorization: Bearer abc.def", "abc.def")
	f.Add("token=T0KEN&x=1 T0KENT0KEN", "T0KEN")
	f.Fuzz(func(t *testing.T, s, secret string) {
		got := Redact(s, secret)
		if len(secret) < 3 || strings.ContainsAny(secret, "xX") || strings.IndexFunc(secret, unicode.IsSpace) >= 0 {
			return
		}
		if strings.Contains(got, secret) {
			t.Fatalf("Redact(%q, %q) = %q still holds the secret", s, secret, got)
		}
	})
}
