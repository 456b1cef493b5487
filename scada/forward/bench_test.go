package forward_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/greenlang/gl001/scada"
	"github.com/greenlang/gl001/scada/buffer"
	"github.com/greenlang/gl001/scada/forward"
)

// nullTarget acknowledges every batch at once: what is left is the
// Forwarder's own cost (reading, batching, the window, committing).
type nullTarget struct{}

func (nullTarget) Send(context.Context, forward.Batch) error { return nil }

type donePending struct{}

func (donePending) Wait(context.Context) error { return nil }

func (nullTarget) Start(context.Context, forward.Batch) (forward.Pending, error) {
	return donePending{}, nil
}

// BenchmarkForwarder measures the Forwarder alone from a memory Buffer to a
// target that acknowledges at once.
func BenchmarkForwarder(b *testing.B) {
	const batch = 8192
	mem, err := buffer.NewMemory(buffer.MemoryConfig{MaxBytes: -1})
	if err != nil {
		b.Fatal(err)
	}
	defer mem.Close()
	pts := make([]scada.Point, batch)
	for i := range pts {
		pts[i] = scada.Point{Tag: fmt.Sprintf("t%d", i%1000), Value: float64(i), Time: time.Unix(int64(i), 0), Source: "s"}
	}
	f, err := forward.New(forward.Config{Buffer: mem, Consumer: "bench", Edge: "e", Target: nullTarget{}, MaxPoints: batch, Window: 16, MaxDelay: time.Millisecond})
	if err != nil {
		b.Fatal(err)
	}
	for range b.N {
		if _, err := mem.Append(context.Background(), pts); err != nil {
			b.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	b.ResetTimer()
	go func() { done <- f.Run(ctx) }()
	for f.Stats().Committed < buffer.Offset(b.N*batch) {
		time.Sleep(50 * time.Microsecond)
	}
	b.StopTimer()
	cancel()
	<-done
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "points/s")
}
