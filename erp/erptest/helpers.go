package erptest

import (
	"crypto/tls"
	"iter"
	"time"

	"github.com/greenlang/gl001/erp"
	"github.com/greenlang/gl001/resilience"
	"github.com/greenlang/gl001/resilience/httpretry"
)

// FastConnConfig returns connection settings for a client of a fake: the
// system name, authentication and TLS configuration given, no rate limit, a
// 10 s timeout and up to 3 retries 1 to 2 ms apart, so that tests of
// retries and injected faults run in milliseconds.
func FastConnConfig(system string, auth erp.Auth, tlsConf *tls.Config) erp.ConnConfig {
	return erp.ConnConfig{
		System:            system,
		Auth:              auth,
		TLS:               tlsConf,
		RequestsPerMinute: -1,
		Timeout:           10 * time.Second,
		Retry: httpretry.Config{MaxRetries: 3,
			Backoff: resilience.Backoff{Initial: time.Millisecond, Max: 2 * time.Millisecond}},
	}
}

// Collect drains a record stream such as erp.Client.Energy returns and
// hands back the records and the errors it yielded, each in order.
func Collect[T any](seq iter.Seq2[T, error]) ([]T, []error) {
	var recs []T
	var errs []error
	for r, err := range seq {
		if err != nil {
			errs = append(errs, err)
			continue
		}
		recs = append(recs, r)
	}
	return recs, errs
}
