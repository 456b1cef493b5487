package erp_test

import (
	"time"

	"github.com/greenlang/gl001/resilience"
)

func resilienceBackoff() resilience.Backoff {
	return resilience.Backoff{Initial: time.Millisecond, Max: 2 * time.Millisecond}
}
