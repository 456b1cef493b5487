package forward_test

import (
	"context"
	"fmt"
	"time"

	"github.com/greenlang/gl001/scada"
	"github.com/greenlang/gl001/scada/buffer"
	"github.com/greenlang/gl001/scada/forward"
)

// printTarget is a Target that prints what it is sent.
type printTarget struct{}

func (printTarget) Send(_ context.Context, b forward.Batch) error {
	fmt.Printf("batch [%d, %d) from %s\n", b.First, b.Next(), b.Stream.Edge)
	for _, p := range b.Points {
		fmt.Printf("  %s %s = %g %s (score %d)\n", p.Source, p.Tag, p.Value, p.Unit, p.Score)
	}
	return nil
}

func ExampleForwarder() {
	buf, _ := buffer.NewMemory(buffer.MemoryConfig{})
	defer buf.Close()
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	buf.Append(context.Background(), []scada.Point{
		{Tag: "boiler1.steam_temp", Value: 451.5, Unit: "degC", Score: 98, Scored: true, Time: t0, Source: "plc1"},
		{Tag: "boiler1.flow", Value: 12.25, Unit: "kg/s", Score: 91, Scored: true, Time: t0, Source: "plc1"},
	})

	f, err := forward.New(forward.Config{Buffer: buf, Consumer: "central", Edge: "boilerhouse-1", Target: printTarget{}})
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- f.Run(ctx) }()
	for f.Stats().Committed < 2 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	<-done
	st := f.Stats()
	fmt.Println("committed", st.Committed, "batches", st.Batches, "lag", st.LagPoints)
	// Output:
	// batch [0, 2) from boilerhouse-1
	//   plc1 boiler1.steam_temp = 451.5 degC (score 98)
	//   plc1 boiler1.flow = 12.25 kg/s (score 91)
	// committed 2 batches 1 lag 0
}
