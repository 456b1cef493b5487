package httpretry

import (
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/greenlang/gl001/resilience"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fast is a backoff of a millisecond, so retries in tests take no time.
var fast = resilience.Backoff{Initial: time.Millisecond, Max: time.Millisecond, Jitter: -1}

// waitFor polls cond until it holds, failing the test after a generous timeout.
// It waits on a condition, never on the scheduler.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}
