package transform

import (
	"testing"

	"github.com/greenlang/gl001/scada"
)

func TestScoreAndMark(t *testing.T) {
	if s := Score(scada.ReasonStale | scada.ReasonRateOfChange | scada.ReasonFlatLine); s != 0 {
		t.Errorf("penalties over 100 give %v, want 0", s)
	}
	if s := Score(scada.ReasonLimit | scada.ReasonMissingUnit); s != 65 {
		t.Errorf("limit+missing unit = %v, want 65", s)
	}
	if s := Score(scada.ReasonLimit | scada.ReasonStale); s != 40 {
		t.Errorf("limit+stale = %v, want 40", s)
	}
	if s := Score(scada.ReasonUnit | scada.ReasonStale); s != 0 {
		t.Errorf("a Bad finding scores %v, want 0", s)
	}
	// Bad findings win over Uncertain ones, whatever the bit order.
	if q := Mark(scada.ReasonLimit|scada.ReasonOutOfRange, scada.Good); q != scada.BadOutOfRange {
		t.Errorf("quality %v", q)
	}
	// The Uncertain finding with the highest penalty names the code.
	if q := Mark(scada.ReasonLimit|scada.ReasonStale, scada.Good); q != scada.UncertainLastUsableValue {
		t.Errorf("quality %v", q)
	}
	// A source's own Bad code is kept; its Uncertain code too, unless a Bad finding overrides.
	if q := Mark(scada.ReasonOutOfRange, scada.BadDeviceFailure); q != scada.BadDeviceFailure {
		t.Errorf("quality %v", q)
	}
	if q := Mark(scada.ReasonLimit, scada.UncertainSubNormal); q != scada.UncertainSubNormal {
		t.Errorf("quality %v", q)
	}
	if q := Mark(scada.ReasonNotFinite, scada.UncertainSubNormal); q != scada.BadSensorFailure {
		t.Errorf("quality %v", q)
	}
	if q := Mark(0, scada.GoodLocalOverride); q != scada.GoodLocalOverride {
		t.Errorf("quality %v", q)
	}
}

// TestReasonOfRoundTrip: every finding marks a code that ReasonOf maps back
// to a finding that scores the same.
func TestReasonOfRoundTrip(t *testing.T) {
	for i := range numReasons {
		r := scada.Reason(1) << i
		if r == scada.ReasonBadQuality || r == scada.ReasonUncertainQuality {
			continue
		}
		q := Mark(r, scada.Good)
		back := ReasonOf(q)
		if Score(back) != Score(r) || back.IsBad() != r.IsBad() {
			t.Errorf("%v -> %v -> %v: score %v vs %v", r, q, back, Score(back), Score(r))
		}
	}
	if ReasonOf(scada.Good) != 0 || ReasonOf(scada.BadNoCommunication) != scada.ReasonBadQuality || ReasonOf(scada.UncertainInitialValue) != scada.ReasonUncertainQuality {
		t.Error("ReasonOf of foreign codes")
	}
}

// TestPointScore: a scored point's own score and findings win over what its
// code stands for; an unscored point is rebuilt from its code.
func TestPointScore(t *testing.T) {
	p := scada.Point{Quality: scada.UncertainLastUsableValue, Scored: true, Score: 40, Reasons: scada.ReasonLimit | scada.ReasonStale}
	if s, r := PointScore(p); s != 40 || r != scada.ReasonLimit|scada.ReasonStale {
		t.Errorf("scored point: %v %v", s, r)
	}
	p.Scored = false
	if s, r := PointScore(p); s != 60 || r != scada.ReasonStale {
		t.Errorf("unscored point: %v %v", s, r)
	}
}
