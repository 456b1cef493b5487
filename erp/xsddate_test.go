package erp

import (
	"testing"
	"time"
)

// Workday writes xsd:date values with a zone: 2024-01-15-08:00.
func TestParseTimeXSDDateWithZone(t *testing.T) {
	for in, want := range map[string]time.Time{
		"2024-01-15-08:00": time.Date(2024, 1, 15, 8, 0, 0, 0, time.UTC),
		"2024-01-15+01:00": time.Date(2024, 1, 14, 23, 0, 0, 0, time.UTC),
		"2024-01-15Z":      time.Date(2024, 1, 15, 0, 0, 0, 0, time.UTC),
	} {
		if got, err := ParseTime(in, nil); err != nil || !got.Equal(want) {
			t.Errorf("ParseTime(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"2024-01-15-8:00", "2024-01-15+25:00", "2024-01-15-08:61", "2024-01-15X"} {
		if _, err := ParseTime(bad, nil); err == nil {
			t.Errorf("ParseTime(%q) succeeded", bad)
		}
	}
}
