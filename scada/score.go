package scada

import (
	"encoding/json"
	"fmt"
	"math/bits"
	"strings"
)

// Reason is a set of findings about a point's data quality, one bit each; the
// zero Reason means nothing was found. Package transform's scoring stage sets
// a point's Reasons; the vocabulary lives here so that every consumer of a
// Point can read them.
type Reason uint16

// The findings. A Bad finding makes the value unusable (score 0); an
// Uncertain one costs a penalty from the 100 a clean point scores (package
// transform documents the penalties). The comment of each names the quality
// code the scoring stage marks a point with when it is the most severe.
const (
	// ReasonBadQuality: the source delivered the point with Bad quality. Bad.
	ReasonBadQuality Reason = 1 << iota
	// ReasonUncertainQuality: the source delivered it with Uncertain quality.
	// Uncertain.
	ReasonUncertainQuality
	// ReasonNotFinite: the value is NaN or infinite. Bad (BadSensorFailure).
	ReasonNotFinite
	// ReasonUnit: the unit is unknown, or does not convert to the unit
	// configured for the tag. Bad (BadConfigurationError).
	ReasonUnit
	// ReasonMissingUnit: the point carries no unit. Uncertain
	// (UncertainConfigurationError).
	ReasonMissingUnit
	// ReasonOutOfRange: outside the physical range of the instrument. Bad
	// (BadOutOfRange).
	ReasonOutOfRange
	// ReasonLimit: outside the engineering (operating) limits. Uncertain
	// (UncertainEngineeringUnitsExceeded).
	ReasonLimit
	// ReasonRateOfChange: changed faster than physically plausible. Uncertain
	// (UncertainSensorNotAccurate).
	ReasonRateOfChange
	// ReasonFlatLine: the same value too many times in a row (a stuck sensor).
	// Uncertain (UncertainSensorNotAccurate).
	ReasonFlatLine
	// ReasonStale: the timestamp is older than allowed. Uncertain
	// (UncertainLastUsableValue).
	ReasonStale
	// ReasonFuture: the timestamp is ahead of the clock by more than the
	// allowed skew. Bad (BadInvalidTimestamp).
	ReasonFuture
	// ReasonNoTimestamp: the point has no timestamp. Uncertain.
	ReasonNoTimestamp

	// NumReasons is the number of findings defined: the bits of a Reason
	// are 1<<0 .. 1<<(NumReasons-1).
	NumReasons = iota
)

var reasonNames = [NumReasons]string{
	"bad_quality", "uncertain_quality", "not_finite", "unit", "missing_unit", "out_of_range",
	"limit", "rate_of_change", "flat_line", "stale", "future_timestamp", "no_timestamp",
}

// badReasons are the findings that make a value unusable.
const badReasons = ReasonBadQuality | ReasonNotFinite | ReasonUnit | ReasonOutOfRange | ReasonFuture

// Has reports whether r contains every finding of x.
func (r Reason) Has(x Reason) bool { return r&x == x }

// IsBad reports whether r contains a finding that makes the value unusable.
func (r Reason) IsBad() bool { return r&badReasons != 0 }

// Names returns the names of r's findings in bit order, e.g. ["limit",
// "stale"]; nil for no finding. Bits beyond NumReasons have no name.
func (r Reason) Names() []string {
	var ns []string
	for x := r; x != 0; x &= x - 1 {
		if i := bits.TrailingZeros16(uint16(x)); i < NumReasons {
			ns = append(ns, reasonNames[i])
		}
	}
	return ns
}

// String returns the names of r's findings joined by "|", or "none".
func (r Reason) String() string {
	if r == 0 {
		return "none"
	}
	return strings.Join(r.Names(), "|")
}

// MarshalJSON encodes r as a JSON array of finding names.
func (r Reason) MarshalJSON() ([]byte, error) {
	b := []byte{'['}
	for i, n := range r.Names() {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '"')
		b = append(b, n...)
		b = append(b, '"')
	}
	return append(b, ']'), nil
}

// UnmarshalJSON decodes a JSON array of finding names, as MarshalJSON writes.
func (r *Reason) UnmarshalJSON(b []byte) error {
	var names []string
	if err := json.Unmarshal(b, &names); err != nil {
		return err
	}
	var out Reason
next:
	for _, n := range names {
		for i, rn := range reasonNames {
			if rn == n {
				out |= 1 << i
				continue next
			}
		}
		return fmt.Errorf("scada: unknown finding %q", n)
	}
	*r = out
	return nil
}

// Grade is the band a 0-100 data-quality score falls in.
type Grade uint8

// Grades, worst first: Invalid < 40 <= Poor < 60 <= Fair < 80 <= Good < 95 <=
// Excellent. (GradeGood is not the quality code [Good].)
const (
	GradeInvalid Grade = iota
	GradePoor
	GradeFair
	GradeGood
	GradeExcellent
)

var gradeNames = [...]string{"Invalid", "Poor", "Fair", "Good", "Excellent"}

// GradeOf returns the grade of a 0-100 score; NaN is Invalid.
func GradeOf(score float64) Grade {
	switch {
	case score >= 95:
		return GradeExcellent
	case score >= 80:
		return GradeGood
	case score >= 60:
		return GradeFair
	case score >= 40:
		return GradePoor
	}
	return GradeInvalid
}

// String returns the grade's name, e.g. "Excellent".
func (g Grade) String() string {
	if int(g) < len(gradeNames) {
		return gradeNames[g]
	}
	return "Invalid"
}

// MarshalText encodes g by name.
func (g Grade) MarshalText() ([]byte, error) { return []byte(g.String()), nil }

// UnmarshalText decodes a name written by MarshalText.
func (g *Grade) UnmarshalText(b []byte) error {
	for i, n := range gradeNames {
		if string(b) == n {
			*g = Grade(i)
			return nil
		}
	}
	return fmt.Errorf("scada: unknown grade %q", b)
}
