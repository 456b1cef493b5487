package guard_test

import (
	"context"
	"testing"

	"github.com/greenlang/gl001/scada/guard"
)

// BenchmarkApply measures the guard's own cost per confirmed write (the
// device is in memory and confirms at once): checks, the tag's turn, the
// current value, the read-back and the audit record (logger discarding).
func BenchmarkApply(b *testing.B) {
	dev := newMemDevice(map[string]float64{"t": 40})
	g, err := guard.New(guard.Config{Writer: dev, Reader: dev, Rules: []guard.Rule{{Requesters: []string{"GL-0*"}, Tags: []string{"t"}}},
		Tags: map[string]guard.Limits{"t": {Min: 0, Max: 100, MaxStep: 10}}})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, err := g.Apply(ctx, guard.Request{Requester: "GL-001", Tag: "t", Value: float64(40 + i%2)}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRefusal measures a write refused by its range: no device call.
func BenchmarkRefusal(b *testing.B) {
	dev := newMemDevice(map[string]float64{"t": 40})
	g, _ := guard.New(guard.Config{Writer: dev, Reader: dev, Rules: []guard.Rule{{}},
		Tags: map[string]guard.Limits{"t": {Min: 0, Max: 100}}})
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := g.Apply(ctx, guard.Request{Requester: "GL-001", Tag: "t", Value: 500}); err == nil {
			b.Fatal("accepted")
		}
	}
}
