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

// The example ingests from its broker into the buffer, reads back in order,
// reports the malformed message, and stops by itself.
func TestRun(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out strings.Builder
	if err := run(ctx, &out, 9); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	got := out.String()
	for _, want := range []string{
		"offset  0  site1.",
		"offset  8  site1.",
		"site1.stack.temp",
		"site1.header.pressure",
		"barg",
		"Good",
		"rejected a malformed message on plant/site1/stack/temp",
		`consumer "printer" at offset 9`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
}
