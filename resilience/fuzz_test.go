package resilience

import (
	"strings"
	"testing"
	"unicode"
)

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
