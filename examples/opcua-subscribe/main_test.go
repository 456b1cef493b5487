package main

import (
	"context"
	"io"
	"log"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	log.SetOutput(io.Discard) // gopcua's server package logs through the standard logger
	goleak.VerifyTestMain(m)
}

// The example runs against its simulator with no setup and stops by itself.
func TestRun(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out strings.Builder
	if err := run(ctx, &out, 8); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	for _, want := range []string{"found ", "Boiler1.SteamTemp ", "°C", "Good", "wrote Boiler1.SteamTempSetpoint = 490", "printed 8 points"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}
