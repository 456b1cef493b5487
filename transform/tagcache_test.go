package transform

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/greenlang/gl001/scada"
)

// TestTagCacheIdentity checks that the address-keyed cache never confuses
// tags: substrings sharing their first byte's address, equal tags at
// different addresses, and more tags than the cache has slots.
func TestTagCacheIdentity(t *testing.T) {
	const n = 3 * tagCacheSize
	cfg := CalibrateConfig{Tags: map[string]Calibration{}}
	for i := range n {
		cfg.Tags["boiler"+strconv.Itoa(i)] = Calibration{Factor: float64(i + 2)}
	}
	cfg.Tags["boiler"] = Calibration{Factor: -1}
	c, err := NewCalibrator(cfg)
	if err != nil {
		t.Fatal(err)
	}
	backing := "boiler1" + "7" // built at run time: "boiler1", "boiler17" and "boiler" share an address
	backing = strings.Clone(backing)
	for round := range 3 {
		batch := []scada.Point{pt(backing[:6], 1, "", t0), pt(backing[:7], 1, "", t0), pt(backing, 1, "", t0), pt(strings.Clone(backing[:7]), 1, "", t0)}
		for i := range n {
			batch = append(batch, pt("boiler"+strconv.Itoa(i), 1, "", t0)) // a fresh string each round
		}
		out, _ := c.Process(context.Background(), batch)
		want := []float64{-1, 3, 19, 3}
		for i, w := range want {
			if out[i].Value != w {
				t.Fatalf("round %d: %q calibrated to %v, want %v", round, out[i].Tag, out[i].Value, w)
			}
		}
		for i := range n {
			if got := out[4+i].Value; got != float64(i+2) {
				t.Fatalf("round %d: boiler%d calibrated to %v", round, i, got)
			}
		}
	}
}
