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

// The program forwards through an outage of the server and checks on the
// central side that every point arrived once, in order per tag.
func TestRun(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out strings.Builder
	err := run(ctx, &out, options{duration: 4 * time.Second, outageAt: time.Second, outage: 1500 * time.Millisecond})
	if err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	got := out.String()
	for _, want := range []string{
		"the server goes away for 1.5s",
		"the server is back",
		"every one once, in order per tag (100 tags)",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
	t.Log(got)
}
