package transform

import (
	"math/bits"

	"github.com/greenlang/gl001/scada"
)

// The scoring policy: what each finding of scada.Reason costs and which
// quality code marks it. The findings themselves, their names and the grades
// are package scada's, so every consumer of a Point can read them.
type reasonPolicy struct {
	penalty uint8 // 100 for a Bad finding
	code    scada.Quality
}

var reasonTable = [scada.NumReasons]reasonPolicy{
	{100, scada.Bad},                              // bad_quality
	{20, scada.Uncertain},                         // uncertain_quality
	{100, scada.BadSensorFailure},                 // not_finite
	{100, scada.BadConfigurationError},            // unit
	{15, scada.UncertainConfigurationError},       // missing_unit
	{100, scada.BadOutOfRange},                    // out_of_range
	{20, scada.UncertainEngineeringUnitsExceeded}, // limit
	{30, scada.UncertainSensorNotAccurate},        // rate_of_change
	{30, scada.UncertainSensorNotAccurate},        // flat_line
	{40, scada.UncertainLastUsableValue},          // stale
	{100, scada.BadInvalidTimestamp},              // future_timestamp
	{20, scada.Uncertain},                         // no_timestamp
}

const numReasons = scada.NumReasons

// badReasons is the set of Bad findings, as scada defines it.
var badReasons = func() scada.Reason {
	var b scada.Reason
	for i := range numReasons {
		if r := scada.Reason(1) << i; r.IsBad() {
			b |= r
		}
	}
	return b
}()

// Score returns the 0-100 data-quality score of a point with findings r: 0 if
// any finding is Bad, otherwise 100 minus the penalties of its findings, never
// below 0.
func Score(r scada.Reason) uint8 {
	if r.IsBad() {
		return 0
	}
	s := 100
	for x := r; x != 0; x &= x - 1 {
		if i := trailingZeros(x); i < numReasons {
			s -= int(reasonTable[i].penalty)
		}
	}
	return uint8(max(s, 0))
}

// Mark returns the quality a point of quality q has once marked with
// findings r. A point the source already marked Bad keeps its code; otherwise
// the most severe finding sets the code (Bad findings before Uncertain ones,
// higher penalty first). A point the source marked Uncertain keeps its code
// unless a Bad finding overrides it. No finding leaves q as it is.
func Mark(r scada.Reason, q scada.Quality) scada.Quality {
	r &^= scada.ReasonBadQuality | scada.ReasonUncertainQuality
	if r == 0 || q.IsBad() {
		return q
	}
	if bad := r & badReasons; bad != 0 {
		return reasonTable[trailingZeros(bad)].code
	}
	if q.IsUncertain() {
		return q
	}
	worst, code := -1, scada.Uncertain
	for x := r; x != 0; x &= x - 1 {
		if i := trailingZeros(x); i < numReasons && int(reasonTable[i].penalty) > worst {
			worst, code = int(reasonTable[i].penalty), reasonTable[i].code
		}
	}
	return code
}

// ReasonOf returns the findings a quality code stands for, for points no
// stage scored: the codes the scoring stage marks with map back to their
// finding (BadOutOfRange to ReasonOutOfRange ...), any other Bad code to
// ReasonBadQuality and any other Uncertain code to ReasonUncertainQuality.
// UncertainSensorNotAccurate maps to ReasonRateOfChange (it is also the flat
// line code; the two cost the same). A code names only the most severe
// finding: prefer [PointScore], which reads what the scoring stage recorded.
func ReasonOf(q scada.Quality) scada.Reason {
	switch q.Code() {
	case scada.BadSensorFailure:
		return scada.ReasonNotFinite
	case scada.BadConfigurationError:
		return scada.ReasonUnit
	case scada.BadOutOfRange:
		return scada.ReasonOutOfRange
	case scada.BadInvalidTimestamp:
		return scada.ReasonFuture
	case scada.UncertainConfigurationError:
		return scada.ReasonMissingUnit
	case scada.UncertainEngineeringUnitsExceeded:
		return scada.ReasonLimit
	case scada.UncertainSensorNotAccurate:
		return scada.ReasonRateOfChange
	case scada.UncertainLastUsableValue:
		return scada.ReasonStale
	}
	switch {
	case q.IsBad():
		return scada.ReasonBadQuality
	case q.IsUncertain():
		return scada.ReasonUncertainQuality
	}
	return 0
}

// PointScore returns p's score and findings: those the scoring stage recorded
// on p (p.Scored), wherever p has travelled since; for a point no stage
// scored, those its Quality code stands for ([ReasonOf]).
func PointScore(p scada.Point) (uint8, scada.Reason) {
	if p.Scored {
		return p.Score, p.Reasons
	}
	r := ReasonOf(p.Quality)
	return Score(r), r
}

func trailingZeros(r scada.Reason) int { return bits.TrailingZeros16(uint16(r)) }
