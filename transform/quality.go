package transform

import (
	"encoding/json"
	"fmt"
	"math/bits"
	"strings"

	"github.com/greenlang/gl001/scada"
)

// Reason is a set of findings about a point, one bit each. The zero Reason
// means nothing was found.
type Reason uint32

// The findings. Each has a severity: a Bad finding makes the value unusable
// (score 0), an Uncertain one costs the documented penalty from the 100 a
// clean point scores.
const (
	// ReasonBadQuality: the source delivered the point with Bad quality. Bad.
	ReasonBadQuality Reason = 1 << iota
	// ReasonUncertainQuality: the source delivered it with Uncertain quality.
	// Uncertain, penalty 20.
	ReasonUncertainQuality
	// ReasonNotFinite: the value is NaN or infinite. Bad (BadSensorFailure).
	ReasonNotFinite
	// ReasonUnit: the unit is unknown, or does not convert to the unit
	// configured for the tag. Bad (BadConfigurationError).
	ReasonUnit
	// ReasonMissingUnit: the point carries no unit. Uncertain
	// (UncertainConfigurationError), penalty 15.
	ReasonMissingUnit
	// ReasonOutOfRange: outside the physical range of the instrument. Bad
	// (BadOutOfRange).
	ReasonOutOfRange
	// ReasonLimit: outside the engineering (operating) limits. Uncertain
	// (UncertainEngineeringUnitsExceeded), penalty 20.
	ReasonLimit
	// ReasonRateOfChange: changed faster than physically plausible. Uncertain
	// (UncertainSensorNotAccurate), penalty 30.
	ReasonRateOfChange
	// ReasonFlatLine: the same value too many times in a row (a stuck sensor).
	// Uncertain (UncertainSensorNotAccurate), penalty 30.
	ReasonFlatLine
	// ReasonStale: the timestamp is older than allowed. Uncertain
	// (UncertainLastUsableValue), penalty 40.
	ReasonStale
	// ReasonFuture: the timestamp is ahead of the clock by more than the
	// allowed skew. Bad (BadInvalidTimestamp).
	ReasonFuture
	// ReasonNoTimestamp: the point has no timestamp. Uncertain, penalty 20.
	ReasonNoTimestamp
	numReasons = iota
)

// OPC UA status codes this package marks points with, beyond those scada names.
const (
	// BadInvalidTimestamp is OPC UA's Bad_InvalidTimestamp (0x80230000).
	BadInvalidTimestamp scada.Quality = 0x80230000
	// UncertainConfigurationError is OPC UA's Uncertain_ConfigurationError
	// (0x420F0000).
	UncertainConfigurationError scada.Quality = 0x420F0000
)

type reasonInfo struct {
	name    string
	bad     bool
	penalty float64
	code    scada.Quality
}

var reasonTable = [numReasons]reasonInfo{
	{"bad_quality", true, 100, scada.Bad},
	{"uncertain_quality", false, 20, scada.Uncertain},
	{"not_finite", true, 100, scada.BadSensorFailure},
	{"unit", true, 100, scada.BadConfigurationError},
	{"missing_unit", false, 15, UncertainConfigurationError},
	{"out_of_range", true, 100, scada.BadOutOfRange},
	{"limit", false, 20, scada.UncertainEngineeringUnitsExceeded},
	{"rate_of_change", false, 30, scada.UncertainSensorNotAccurate},
	{"flat_line", false, 30, scada.UncertainSensorNotAccurate},
	{"stale", false, 40, scada.UncertainLastUsableValue},
	{"future_timestamp", true, 100, BadInvalidTimestamp},
	{"no_timestamp", false, 20, scada.Uncertain},
}

// Has reports whether r contains every finding of x.
func (r Reason) Has(x Reason) bool { return r&x == x }

// IsBad reports whether r contains a finding that makes the value unusable.
func (r Reason) IsBad() bool { return r&badReasons != 0 }

var badReasons = func() Reason {
	var b Reason
	for i, ri := range reasonTable {
		if ri.bad {
			b |= 1 << i
		}
	}
	return b
}()

// Names returns the names of r's findings in bit order, e.g. ["limit",
// "stale"]; nil for no finding.
func (r Reason) Names() []string {
	var ns []string
	for x := r; x != 0; x &= x - 1 {
		if i := bits.TrailingZeros32(uint32(x)); i < numReasons {
			ns = append(ns, reasonTable[i].name)
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
		for i, ri := range reasonTable {
			if ri.name == n {
				out |= 1 << i
				continue next
			}
		}
		return fmt.Errorf("transform: unknown finding %q", n)
	}
	*r = out
	return nil
}

// Score returns the 0-100 data-quality score of a point with findings r: 0 if
// any finding is Bad, otherwise 100 minus the penalties of its findings, never
// below 0.
func (r Reason) Score() float64 {
	if r&badReasons != 0 {
		return 0
	}
	s := 100.0
	for x := r; x != 0; x &= x - 1 {
		if i := bits.TrailingZeros32(uint32(x)); i < numReasons {
			s -= reasonTable[i].penalty
		}
	}
	return max(s, 0)
}

// Quality returns the quality a point of quality q has once marked with
// findings r. A point the source already marked Bad keeps its code; otherwise
// the most severe finding sets the code (Bad findings before Uncertain ones,
// higher penalty first). A point the source marked Uncertain keeps its code
// unless a Bad finding overrides it. No finding leaves q as it is.
func (r Reason) Quality(q scada.Quality) scada.Quality {
	r &^= ReasonBadQuality | ReasonUncertainQuality
	if r == 0 || q.IsBad() {
		return q
	}
	if bad := r & badReasons; bad != 0 {
		return reasonTable[bits.TrailingZeros32(uint32(bad))].code
	}
	if q.IsUncertain() {
		return q
	}
	worst, code := -1.0, scada.Uncertain
	for x := r; x != 0; x &= x - 1 {
		if ri := reasonTable[bits.TrailingZeros32(uint32(x))]; ri.penalty > worst {
			worst, code = ri.penalty, ri.code
		}
	}
	return code
}

// ReasonOf returns the findings a quality code stands for, for consumers that
// see only points: the codes this package marks with map back to their
// finding (BadOutOfRange to ReasonOutOfRange ...), any other Bad code to
// ReasonBadQuality and any other Uncertain code to ReasonUncertainQuality.
// UncertainSensorNotAccurate maps to ReasonRateOfChange (it is also the flat
// line code; the two cost the same).
func ReasonOf(q scada.Quality) Reason {
	switch q.Code() {
	case scada.BadSensorFailure:
		return ReasonNotFinite
	case scada.BadConfigurationError:
		return ReasonUnit
	case scada.BadOutOfRange:
		return ReasonOutOfRange
	case BadInvalidTimestamp:
		return ReasonFuture
	case UncertainConfigurationError:
		return ReasonMissingUnit
	case scada.UncertainEngineeringUnitsExceeded:
		return ReasonLimit
	case scada.UncertainSensorNotAccurate:
		return ReasonRateOfChange
	case scada.UncertainLastUsableValue:
		return ReasonStale
	}
	switch {
	case q.IsBad():
		return ReasonBadQuality
	case q.IsUncertain():
		return ReasonUncertainQuality
	}
	return 0
}

// Grade is the band a 0-100 score falls in.
type Grade uint8

// Grades, worst first: Invalid < 40 <= Poor < 60 <= Fair < 80 <= Good < 95 <=
// Excellent.
const (
	Invalid Grade = iota
	Poor
	Fair
	Good
	Excellent
)

var gradeNames = [...]string{"Invalid", "Poor", "Fair", "Good", "Excellent"}

// GradeOf returns the grade of a 0-100 score.
func GradeOf(score float64) Grade {
	switch {
	case score >= 95:
		return Excellent
	case score >= 80:
		return Good
	case score >= 60:
		return Fair
	case score >= 40:
		return Poor
	}
	return Invalid // also NaN
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
	return fmt.Errorf("transform: unknown grade %q", b)
}

func trailingZeros(r Reason) int { return bits.TrailingZeros32(uint32(r)) }
