package buffer

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain checks that no test of the package leaves a goroutine behind. It
// also lets the crash test re-execute the test binary as the child it kills.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
