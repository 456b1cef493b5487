package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// The example polls its simulator, decodes the four word orders to the same
// values, isolates the exception to one tag, and stops by itself.
func TestRun(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out strings.Builder
	if err := run(ctx, &out, 2); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	got := out.String()
	for _, want := range []string{
		"plan: unit 1 input registers 0-4",
		"meter1.power         410.50 kW  Good",
		"meter2.power         821.00 kW  Good",
		"meter3.power        1231.50 kW  Good",
		"meter4.power        1642.00 kW  Good",
		"meter4.energy     182344.25 kWh Good",
		"meter3.load           40.12 %   Good",
		"meter4.load            0.00 %   BadNodeIdUnknown",
		"3 exceptions (3 illegal data address), 1 reads split",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
}
