package units

import (
	"errors"
	"testing"
	"unicode/utf8"
)

// FuzzParse checks that Parse never panics, that what it accepts round-trips
// through the canonical symbol, and that what it rejects is an *UnknownError
// carrying the input.
func FuzzParse(f *testing.F) {
	for _, u := range Units() {
		for _, s := range u.Aliases() {
			f.Add(s)
		}
	}
	for _, s := range []string{"", " ", "mw", "MBtu", "°", "Δ", "\xff\xfe", "kWh/hr", "/hr", "/sec", "(((", "m³/h\x00", "℃℉", "kg/cm2(g)"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := Parse(s)
		if err != nil {
			var ue *UnknownError
			if !errors.As(err, &ue) || ue.Name != s || !errors.Is(err, ErrUnknown) || !u.IsZero() {
				t.Fatalf("Parse(%q) error %v (%T), unit %v", s, err, err, u)
			}
			if msg := err.Error(); !utf8.ValidString(msg) || len(msg) > 4*maxNameLen+64 {
				t.Fatalf("Parse(%q) error message %q", s, msg)
			}
			return
		}
		if u.IsZero() || u.Dimension() == 0 {
			t.Fatalf("Parse(%q) = zero unit without error", s)
		}
		if back, err := Parse(u.Symbol()); err != nil || back != u {
			t.Fatalf("Parse(%q) = %s, but Parse(%q) = %v, %v", s, u, u.Symbol(), back, err)
		}
		if _, err := NewConverter(u, u); err != nil {
			t.Fatalf("%s does not convert to itself: %v", u, err)
		}
	})
}
