package coord

import (
	"fmt"
	"strings"
	"testing"
)

// validSubjectRef is the token-by-token definition ValidSubject implements
// in one pass.
func validSubjectRef(s string, wildcards bool) error {
	if s == "" {
		return fmt.Errorf("%w: empty", ErrBadSubject)
	}
	toks := strings.Split(s, ".")
	for i, tok := range toks {
		switch {
		case tok == "":
			return fmt.Errorf("%w: empty token in %q", ErrBadSubject, s)
		case strings.ContainsAny(tok, " \t\r\n"):
			return fmt.Errorf("%w: white space in %q", ErrBadSubject, s)
		case tok == "*" || tok == ">":
			if !wildcards {
				return fmt.Errorf("%w: wildcard in %q", ErrBadSubject, s)
			}
			if tok == ">" && i != len(toks)-1 {
				return fmt.Errorf("%w: '>' not last in %q", ErrBadSubject, s)
			}
		}
	}
	return nil
}

func FuzzValidSubject(f *testing.F) {
	for _, s := range []string{"", "a", "a.b", "a..b", ".a", "a.", "a.*", "a.>", ">.a", "a b", "a.\tb", "*", ">", "a.*b", "> .x"} {
		f.Add(s, true)
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, s string, wildcards bool) {
		got, want := ValidSubject(s, wildcards), validSubjectRef(s, wildcards)
		if (got == nil) != (want == nil) || (got != nil && got.Error() != want.Error()) {
			t.Fatalf("ValidSubject(%q, %v) = %v, want %v", s, wildcards, got, want)
		}
	})
}
