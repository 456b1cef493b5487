package jetstream_test

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/greenlang/gl001/scada"
	"github.com/greenlang/gl001/scada/buffer"
	"github.com/greenlang/gl001/scada/forward"
	fjs "github.com/greenlang/gl001/scada/forward/jetstream"
)

// Example forwards an edge's Buffer to a JetStream stream and reads the
// points back on the central side.
func Example() {
	dir, cleanup := exampleDir()
	defer cleanup()
	srv, _ := server.NewServer(&server.Options{Host: "127.0.0.1", Port: server.RANDOM_PORT, JetStream: true,
		StoreDir: dir, NoLog: true, NoSigs: true})
	go srv.Start()
	defer srv.WaitForShutdown()
	defer srv.Shutdown()
	srv.ReadyForConnections(10 * time.Second)
	nc, _ := nats.Connect(srv.ClientURL())
	defer nc.Close()
	ctx, cancel := context.WithCancel(context.Background())

	js, _ := jetstream.New(nc)
	if _, err := fjs.EnsureStream(ctx, js, fjs.StreamConfig{Name: "POINTS"}); err != nil {
		fmt.Println(err)
		cancel()
		return
	}

	// The edge: a Buffer drained by a Forwarder into the stream.
	buf, _ := buffer.NewMemory(buffer.MemoryConfig{})
	defer buf.Close()
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	buf.Append(ctx, []scada.Point{
		{Tag: "boiler1.steam_temp", Value: 451.5, Unit: "degC", Score: 98, Scored: true, Time: t0, Source: "plc1"},
		{Tag: "boiler1.flow", Value: 12.25, Unit: "kg/s", Score: 91, Scored: true, Time: t0, Source: "plc2"},
	})
	target, _ := fjs.New(fjs.Config{Conn: nc, Stream: "POINTS"})
	fwd, _ := forward.New(forward.Config{Buffer: buf, Consumer: "central", Edge: "boilerhouse-1", Target: target})
	var wg sync.WaitGroup
	wg.Go(func() { fwd.Run(ctx) })

	// The central side: a Source delivering to a Sink.
	got := make(chan scada.Point, 10)
	src, _ := fjs.NewSource(fjs.SourceConfig{Name: "edges", Conn: nc, Stream: "POINTS", Durable: "orchestrator"})
	wg.Go(func() {
		src.Run(ctx, scada.SinkFunc(func(_ context.Context, batch []scada.Point) error {
			for _, p := range batch {
				got <- p
			}
			return nil
		}))
	})
	for range 2 {
		p := <-got
		fmt.Printf("%s %s = %g %s, score %d\n", p.Source, p.Tag, p.Value, p.Unit, p.Score)
	}
	cancel()
	wg.Wait()
	// Output:
	// plc1 boiler1.steam_temp = 451.5 degC, score 98
	// plc2 boiler1.flow = 12.25 kg/s, score 91
}
