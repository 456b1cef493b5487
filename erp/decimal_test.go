package erp

import (
	"errors"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestParseDecimal(t *testing.T) {
	for _, tc := range []struct {
		in   string
		coef int64
		sc   int
		out  string
	}{
		{"0", 0, 0, "0"},
		{"1234.56", 123456, 2, "1234.56"},
		{"-12.50", -1250, 2, "-12.50"},
		{"+7", 7, 0, "7"},
		{".5", 5, 1, "0.5"},
		{"-0.001", -1, 3, "-0.001"},
		{"007.10", 710, 2, "7.10"},
		{"1.5E3", 1500, 0, "1500"},
		{"1.5e-2", 15, 3, "0.015"},
		{"922337203685477580.7", math.MaxInt64, 1, "922337203685477580.7"},
	} {
		d, err := ParseDecimal(tc.in)
		if err != nil {
			t.Errorf("ParseDecimal(%q): %v", tc.in, err)
			continue
		}
		if d.Coefficient() != tc.coef || d.Scale() != tc.sc || d.String() != tc.out {
			t.Errorf("ParseDecimal(%q) = %d/10^%d %q", tc.in, d.Coefficient(), d.Scale(), d.String())
		}
	}
	for _, bad := range []string{"", "-", ".", "1.2.3", "12a", "1e", "1e99", "99999999999999999999", "0.1234567890123456789", "NaN", " 1"} {
		if _, err := ParseDecimal(bad); err == nil {
			t.Errorf("ParseDecimal(%q) succeeded", bad)
		}
	}
}

func TestDecimalArithmetic(t *testing.T) {
	a, _ := ParseDecimal("0.1")
	b, _ := ParseDecimal("0.20")
	s, err := a.Add(b)
	if err != nil || s.String() != "0.30" {
		t.Errorf("0.1 + 0.20 = %v, %v", s, err)
	}
	if a.Cmp(b) != -1 || b.Cmp(a) != 1 || s.Cmp(NewDecimal(3, 1)) != 0 {
		t.Error("Cmp")
	}
	if _, err := NewDecimal(math.MaxInt64, 0).Add(NewDecimal(1, 0)); err == nil {
		t.Error("overflow not reported")
	}
	if _, err := NewDecimal(105, 2).Rescale(1); err == nil {
		t.Error("Rescale dropped a digit silently")
	}
	m := Money{Amount: NewDecimal(1999, 2), Currency: "EUR"}
	if n, err := m.MinorUnits(2); err != nil || n != 1999 || m.String() != "19.99 EUR" {
		t.Errorf("money = %v, %d, %v", m, n, err)
	}
	if _, err := m.MinorUnits(0); err == nil {
		t.Error("19.99 EUR fits in whole units?")
	}
	if n, err := (Money{Amount: NewDecimal(1500, 0), Currency: "JPY"}).MinorUnits(0); err != nil || n != 1500 {
		t.Errorf("JPY = %d, %v", n, err)
	}
	var d Decimal
	if err := d.UnmarshalText([]byte("-3.25")); err != nil || d.Float64() != -3.25 {
		t.Errorf("UnmarshalText = %v, %v", d, err)
	}
	if b, _ := d.MarshalText(); string(b) != "-3.25" {
		t.Errorf("MarshalText = %s", b)
	}
	if NewDecimal(math.MinInt64, 0).String() != "-9223372036854775808" {
		t.Error("MinInt64")
	}
}

func TestParseTime(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		berlin = time.FixedZone("CET", 3600)
	}
	want := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		loc  *time.Location
		want time.Time
	}{
		{"/Date(1704067200000)/", nil, want},
		{"/Date(1704067200000+0060)/", nil, want},
		{"/Date(-86400000)/", nil, time.Unix(-86400, 0).UTC()},
		{"2024-01-01T00:00:00Z", nil, want},
		{"2024-01-01T01:00:00+01:00", nil, want},
		{"2023-12-31T19:00:00.000-05:00", nil, want},
		{"2024-01-01T00:00:00.1234567Z", nil, want.Add(123456700)},
		{"2024-01-01T01:00:00", berlin, want},
		{"2024-01-01", nil, want},
		{"2024-01-01 00:00:00", nil, want},
	} {
		got, err := ParseTime(tc.in, tc.loc)
		if err != nil || !got.Equal(tc.want) || got.Location() != time.UTC {
			t.Errorf("ParseTime(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "/Date()/", "/Date(12)", "/Date(1+)/", "2024-13-01", "2024-01-01T25:00:00Z", "2024-01-01T00:00:00+1", "yesterday", "2024-01-01Tx"} {
		if _, err := ParseTime(bad, nil); err == nil {
			t.Errorf("ParseTime(%q) succeeded", bad)
		}
	}
	for in, want := range map[string]time.Duration{
		"PT14H30M05S": 14*time.Hour + 30*time.Minute + 5*time.Second, "PT0S": 0, "PT8H": 8 * time.Hour,
		"14:30:05": 14*time.Hour + 30*time.Minute + 5*time.Second, "06:00:00.5": 6*time.Hour + 500*time.Millisecond,
	} {
		if got, err := ParseTimeOfDay(in); err != nil || got != want {
			t.Errorf("ParseTimeOfDay(%q) = %v, %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "PT", "PTH", "P1D", "PT25H", "PT1X", "24:61:00"} {
		if _, err := ParseTimeOfDay(bad); err == nil {
			t.Errorf("ParseTimeOfDay(%q) succeeded", bad)
		}
	}
}

func TestStatusErrorIs(t *testing.T) {
	for _, tc := range []struct {
		status int
		retry  time.Duration
		want   error
	}{
		{401, 0, ErrUnauthorized}, {403, 0, ErrForbidden}, {404, 0, ErrNotFound}, {400, 0, ErrBadRequest},
		{429, time.Second, ErrThrottled}, {503, time.Second, ErrThrottled}, {503, 0, ErrServer}, {500, 0, ErrServer},
	} {
		e := &StatusError{System: "s", Method: "GET", Path: "/p", StatusCode: tc.status, RetryAfter: tc.retry}
		if !errors.Is(e, tc.want) {
			t.Errorf("%d is not %v", tc.status, tc.want)
		}
		for _, other := range []error{ErrUnauthorized, ErrForbidden, ErrNotFound, ErrBadRequest, ErrThrottled, ErrServer} {
			if other != tc.want && errors.Is(e, other) && !(tc.status == 503 && other == ErrServer) {
				t.Errorf("%d also matches %v", tc.status, other)
			}
		}
	}
	e := &StatusError{System: "sap", Method: "GET", Path: "/x", StatusCode: http.StatusTooManyRequests, RetryAfter: 3 * time.Second}
	if !strings.Contains(e.Error(), "retry after 3s") {
		t.Errorf("Error() = %s", e.Error())
	}
}

func FuzzParseTime(f *testing.F) {
	for _, s := range []string{"/Date(1704067200000)/", "/Date(1704067200000+0060)/", "2024-01-01T00:00:00.5+01:00", "2024-01-01", "PT14H30M05S"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if tm, err := ParseTime(s, nil); err == nil && tm.Location() != time.UTC {
			t.Fatalf("ParseTime(%q) not in UTC", s)
		}
		if d, err := ParseTimeOfDay(s); err == nil && (d < 0 || d > 25*time.Hour) {
			t.Fatalf("ParseTimeOfDay(%q) = %v", s, d)
		}
	})
}

func FuzzParseDecimal(f *testing.F) {
	for _, s := range []string{"1234.56", "-0.001", "1.5E3", "922337203685477580.7"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDecimal(s)
		if err != nil {
			return
		}
		// The text of a parsed decimal parses to the same decimal.
		e, err := ParseDecimal(d.String())
		if err != nil || e != d {
			t.Fatalf("%q -> %v -> %v, %v", s, d, e, err)
		}
	})
}
