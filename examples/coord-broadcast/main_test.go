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

// The example commands its fleet with every strategy and aggregation and
// stops by itself; the slow agent is reported, not waited for.
func TestRun(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out strings.Builder
	if err := run(ctx, &out); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	got := out.String()
	for _, want := range []string{
		"10 agents registered",
		// GL-002..GL-010 answer with firing rates 60..68: their average is 64.
		"set_steam_temperature broadcast average: 9 answered, timed out [GL-011] -> firing_rate_pct 64.0",
		// Furnace agents are GL-002, 004, 006, 008, 010: 100+300+500+700+900.
		"read_state capability sum: 5 answered, timed out [] -> heat_demand_kw 2500.0",
		`read_state broadcast majority: 5 answered, timed out [] -> mode "normal" (3 votes, consensus true)`,
		"read_state load-balanced all: 2 answered, timed out [], 2 replies",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
}
