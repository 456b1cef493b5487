package main

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// longHealth is a snapshot with long names and reasons everywhere.
func longHealth() Health {
	h := Health{ID: "GL-001", Extra: "(embedded simulators)", Status: "degraded", Uptime: 12345, Points: 123456789, PointsPerSec: 98765,
		Grades: map[string]int64{"Excellent": 123456789, "Good": 12345678, "Fair": 1234567, "Poor": 123456, "Invalid": 12345}}
	for i := range 6 {
		h.Problems = append(h.Problems, fmt.Sprintf("round %d optimize_heat_distribution: 10 of 99 agents failed, 4 timed out (GL-009: coord: remote error: handler: simulated fault: burner management system not answering; GL-026: same; 12 more)", i))
		h.Connectors = append(h.Connectors, ConnectorInfo{Name: fmt.Sprintf("a-very-long-connector-name-%d", i), Protocol: "modbus", State: "backing-off", Points: 1234567890, BadPoints: 123456, Errors: map[string]uint64{"timeout": 99999}})
		h.ERP = append(h.ERP, ERPInfo{Name: fmt.Sprintf("a-very-long-erp-system-%d", i), Fetches: 12345, Records: map[string]int{"energy": 12345, "production": 12345, "maintenance": 12345, "costs": 12345},
			LastError: "energy: erp: sap-s4: GET https://sap.example.com/sap/opu/odata/sap/API_MEASUREMENT_DOCUMENT: 503 Service Unavailable"})
	}
	h.Agents = AgentsInfo{Total: 99, Healthy: 90, Suspect: 5, Unreachable: 4}
	h.Coordination.Last = []roundResult{{Round: 123456, Name: "optimize_heat_distribution", Answered: 85, Targets: 99, Failed: 10, TimedOut: 4, Value: "43545.123456789"}}
	return h
}

// Every line of the summary fits 80 columns, in both forms.
func TestSummaryFits80Columns(t *testing.T) {
	h := longHealth()
	lines := append(summaryBlock(h, true), summaryLine(h))
	for _, l := range lines {
		if n := utf8.RuneCountInString(l); n > summaryWidth {
			t.Errorf("%d columns: %s", n, l)
		}
	}
	block := strings.Join(summaryBlock(h, true), "\n")
	for _, want := range []string{"── final GL-001", "DEGRADED", "! round 0 optimize_heat_distribution", "and 3 more problems", "last error: energy: erp: sap-s4"} {
		if !strings.Contains(block, want) {
			t.Errorf("summary lacks %q:\n%s", want, block)
		}
	}
}

// On a terminal the summary redraws its block in place: the second block
// moves the cursor up over the first and clears to the end of the screen.
func TestSummaryRedrawsInPlace(t *testing.T) {
	var out bytes.Buffer
	s := &summary{out: &out, terminal: true}
	first := []string{"a", "b", "c"}
	s.redraw(first)
	s.redraw([]string{"d", "e"})
	if got, want := out.String(), "a\nb\nc\n\x1b[3F\x1b[Jd\ne\n"; got != want {
		t.Errorf("redraw wrote %q, want %q", got, want)
	}
}

// The parts stop in the reverse order of their start, each after the ones
// started later have returned, and a failing part stops the others.
func TestRunPartsStopsInReverseOrder(t *testing.T) {
	var order []string
	mk := func(name string, fail error) part {
		return part{name, func(ctx context.Context) error {
			if fail != nil {
				return fail
			}
			<-ctx.Done()
			order = append(order, name) // serialised: each stops after the next has returned
			return ctx.Err()
		}}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	boom := fmt.Errorf("boom")
	err := runParts(ctx, []part{mk("a", nil), mk("b", nil), mk("c", boom), mk("d", nil)})
	if err == nil || !strings.Contains(err.Error(), "c: boom") {
		t.Errorf("err = %v, want c's failure", err)
	}
	if got := strings.Join(order, ","); got != "d,b,a" {
		t.Errorf("stopped in order %s, want d,b,a", got)
	}
}
