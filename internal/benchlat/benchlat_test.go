package benchlat

import (
	"testing"
	"time"
)

func TestPercentileNearestRank(t *testing.T) {
	lat := make([]time.Duration, 100)
	for i := range lat {
		lat[i] = time.Duration(i+1) * time.Microsecond // 1..100 µs
	}
	for _, c := range []struct {
		p    float64
		want float64
	}{{0.50, 50}, {0.99, 99}, {1, 100}, {0.001, 1}} {
		if got := Percentile(lat, c.p); got != c.want {
			t.Errorf("Percentile(%v) = %v, want %v", c.p, got, c.want)
		}
	}
	if got := Percentile(lat[:1], 0.99); got != 1 {
		t.Errorf("one sample: %v, want 1", got)
	}
}
