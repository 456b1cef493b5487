package natsbus

import (
	"strings"
	"testing"
)

// validValue is the one-pass form of this definition.
func validValueRef(v string) bool {
	return !strings.ContainsAny(v, "\r\n") && strings.TrimSpace(v) == v
}

func FuzzValidValue(f *testing.F) {
	for _, s := range []string{"", "GL-001", " a", "a ", "a\tb", "a\r", "\n", "\u00a0x", "x\u0085", "é", "\v", "a\fb"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		if got, want := validValue(v), validValueRef(v); got != want {
			t.Fatalf("validValue(%q) = %v, want %v", v, got, want)
		}
	})
}
