// Package benchlat reports latency percentiles from benchmarks, so every
// latency benchmark of the module reports them the same way.
package benchlat

import (
	"math"
	"slices"
	"testing"
	"time"
)

// Report sorts lat, the per-operation latencies of a benchmark, and reports
// their median and 99th percentile in microseconds as the metrics p50-us and
// p99-us (nearest-rank percentiles). It reports nothing for no latencies.
func Report(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	b.ReportMetric(Percentile(lat, 0.50), "p50-us")
	b.ReportMetric(Percentile(lat, 0.99), "p99-us")
}

// Percentile returns the nearest-rank p-quantile (0 < p <= 1) of sorted, in
// microseconds.
func Percentile(sorted []time.Duration, p float64) float64 {
	i := min(len(sorted)-1, max(0, int(math.Ceil(p*float64(len(sorted))))-1))
	return float64(sorted[i]) / float64(time.Microsecond)
}
