package transform

import (
	"encoding/json"
	"math"
	"testing"

	"github.com/greenlang/gl001/scada"
)

func TestGradeBoundaries(t *testing.T) {
	for _, c := range []struct {
		score float64
		g     Grade
	}{
		{100, Excellent}, {95, Excellent}, {94.99, Good}, {80, Good}, {79.9, Fair}, {60, Fair},
		{59.9, Poor}, {40, Poor}, {39.9, Invalid}, {0, Invalid}, {math.NaN(), Invalid},
	} {
		if g := GradeOf(c.score); g != c.g {
			t.Errorf("GradeOf(%v) = %v, want %v", c.score, g, c.g)
		}
	}
	if b, _ := json.Marshal(Fair); string(b) != `"Fair"` {
		t.Errorf("grade JSON %s", b)
	}
	if Grade(9).String() != "Invalid" {
		t.Error("unknown grade")
	}
}

func TestReasonScoreAndQuality(t *testing.T) {
	if s := (ReasonStale | ReasonRateOfChange | ReasonFlatLine).Score(); s != 0 {
		t.Errorf("penalties over 100 give %v, want 0", s)
	}
	if s := (ReasonLimit | ReasonMissingUnit).Score(); s != 65 {
		t.Errorf("limit+missing unit = %v, want 65", s)
	}
	// Bad findings win over Uncertain ones, whatever the bit order.
	if q := (ReasonLimit | ReasonOutOfRange).Quality(scada.Good); q != scada.BadOutOfRange {
		t.Errorf("quality %v", q)
	}
	// The Uncertain finding with the highest penalty names the code.
	if q := (ReasonLimit | ReasonStale).Quality(scada.Good); q != scada.UncertainLastUsableValue {
		t.Errorf("quality %v", q)
	}
	// A source's own Bad code is kept; its Uncertain code too, unless a Bad finding overrides.
	if q := ReasonOutOfRange.Quality(scada.BadDeviceFailure); q != scada.BadDeviceFailure {
		t.Errorf("quality %v", q)
	}
	if q := ReasonLimit.Quality(scada.UncertainSubNormal); q != scada.UncertainSubNormal {
		t.Errorf("quality %v", q)
	}
	if q := ReasonNotFinite.Quality(scada.UncertainSubNormal); q != scada.BadSensorFailure {
		t.Errorf("quality %v", q)
	}
	if q := Reason(0).Quality(scada.GoodLocalOverride); q != scada.GoodLocalOverride {
		t.Errorf("quality %v", q)
	}
	if !ReasonUnit.IsBad() || ReasonStale.IsBad() || !(ReasonStale | ReasonFuture).Has(ReasonFuture) {
		t.Error("IsBad/Has")
	}
}

// TestReasonOfRoundTrip: every finding marks a code that ReasonOf maps back
// to a finding that scores the same.
func TestReasonOfRoundTrip(t *testing.T) {
	for i := range numReasons {
		r := Reason(1) << i
		if r == ReasonBadQuality || r == ReasonUncertainQuality {
			continue
		}
		q := r.Quality(scada.Good)
		back := ReasonOf(q)
		if back.Score() != r.Score() || back.IsBad() != r.IsBad() {
			t.Errorf("%v -> %v -> %v: score %v vs %v", r, q, back, back.Score(), r.Score())
		}
	}
	if ReasonOf(scada.Good) != 0 || ReasonOf(scada.BadNoCommunication) != ReasonBadQuality || ReasonOf(scada.UncertainInitialValue) != ReasonUncertainQuality {
		t.Error("ReasonOf of foreign codes")
	}
}

func TestReasonText(t *testing.T) {
	r := ReasonLimit | ReasonStale
	if r.String() != "limit|stale" || Reason(0).String() != "none" {
		t.Errorf("String %q", r.String())
	}
	b, err := json.Marshal(r)
	if err != nil || string(b) != `["limit","stale"]` {
		t.Errorf("JSON %s %v", b, err)
	}
	if b, _ := json.Marshal(Reason(0)); string(b) != `[]` {
		t.Errorf("empty JSON %s", b)
	}
	var back Reason
	if err := json.Unmarshal([]byte(`["limit","stale"]`), &back); err != nil || back != r {
		t.Errorf("unmarshal %v %v", back, err)
	}
	if err := json.Unmarshal([]byte(`["hot"]`), &back); err == nil {
		t.Error("unknown finding accepted")
	}
	var g Grade
	if err := json.Unmarshal([]byte(`"Poor"`), &g); err != nil || g != Poor {
		t.Errorf("grade %v %v", g, err)
	}
	if err := json.Unmarshal([]byte(`"Meh"`), &g); err == nil {
		t.Error("unknown grade accepted")
	}
	for i := range numReasons {
		if n := (Reason(1) << i).Names(); len(n) != 1 || n[0] == "" {
			t.Errorf("reason %d has no name", i)
		}
	}
}
