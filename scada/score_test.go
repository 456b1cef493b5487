package scada

import (
	"encoding/json"
	"math"
	"testing"
)

func TestGradeBoundaries(t *testing.T) {
	for _, c := range []struct {
		score float64
		g     Grade
	}{
		{100, GradeExcellent}, {95, GradeExcellent}, {94.99, GradeGood}, {80, GradeGood}, {79.9, GradeFair}, {60, GradeFair},
		{59.9, GradePoor}, {40, GradePoor}, {39.9, GradeInvalid}, {0, GradeInvalid}, {math.NaN(), GradeInvalid},
	} {
		if g := GradeOf(c.score); g != c.g {
			t.Errorf("GradeOf(%v) = %v, want %v", c.score, g, c.g)
		}
	}
	if b, _ := json.Marshal(GradeFair); string(b) != `"Fair"` {
		t.Errorf("grade JSON %s", b)
	}
	if Grade(9).String() != "Invalid" {
		t.Error("unknown grade")
	}
	var g Grade
	if err := json.Unmarshal([]byte(`"Poor"`), &g); err != nil || g != GradePoor {
		t.Errorf("grade %v %v", g, err)
	}
	if err := json.Unmarshal([]byte(`"Meh"`), &g); err == nil {
		t.Error("unknown grade accepted")
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
	seen := map[string]bool{}
	for i := range NumReasons {
		n := (Reason(1) << i).Names()
		if len(n) != 1 || n[0] == "" || seen[n[0]] {
			t.Errorf("reason %d: names %v", i, n)
		}
		seen[n[0]] = true
	}
	if n := (Reason(1) << NumReasons).Names(); n != nil {
		t.Errorf("an undefined bit has names %v", n)
	}
	if !ReasonUnit.IsBad() || ReasonStale.IsBad() || !(ReasonStale | ReasonFuture).Has(ReasonFuture) || !(ReasonStale | ReasonFuture).IsBad() {
		t.Error("IsBad/Has")
	}
}

func TestQualityNamesOfScoringCodes(t *testing.T) {
	if BadInvalidTimestamp.String() != "BadInvalidTimestamp" || !BadInvalidTimestamp.IsBad() {
		t.Errorf("BadInvalidTimestamp: %v", BadInvalidTimestamp)
	}
	if UncertainConfigurationError.String() != "UncertainConfigurationError" || !UncertainConfigurationError.IsUncertain() {
		t.Errorf("UncertainConfigurationError: %v", UncertainConfigurationError)
	}
}

// FuzzReasonJSON: any input either fails to decode or decodes to findings
// that encode back to the same set.
func FuzzReasonJSON(f *testing.F) {
	for _, s := range []string{`[]`, `["limit","stale"]`, `["hot"]`, `null`, `[1]`, `["limit","limit"]`, `{}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var r Reason
		if err := json.Unmarshal(b, &r); err != nil {
			return
		}
		out, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		var back Reason
		if err := json.Unmarshal(out, &back); err != nil || back != r {
			t.Fatalf("%s -> %v -> %s -> %v (%v)", b, r, out, back, err)
		}
	})
}
