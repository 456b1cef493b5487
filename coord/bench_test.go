package coord_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/greenlang/gl001/coord"
	"github.com/greenlang/gl001/internal/benchlat"
)

// BenchmarkRequestLocal measures one request/reply round trip on the
// in-process bus. Goal: p99 below 20 µs.
func BenchmarkRequestLocal(b *testing.B) {
	bus, err := coord.NewLocalBus(coord.LocalBusConfig{})
	if err != nil {
		b.Fatal(err)
	}
	defer bus.Close()
	_, err = bus.Subscribe("gl001.agent.GL-002", func(ctx context.Context, m coord.Message) {
		_ = bus.Publish(ctx, m.ReplyTo, coord.Message{ID: m.ID, Type: coord.TypeResponse, Payload: m.Payload})
	})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	req := coord.Message{ID: "q", Type: coord.TypeQuery, Name: "read_temp", Payload: []byte(`{"boiler":"B-1"}`)}
	lat := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		t0 := time.Now()
		if _, err := bus.Request(ctx, "gl001.agent.GL-002", req); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
	}
	b.StopTimer()
	benchlat.Report(b, lat)
}

// BenchmarkBroadcast99Local measures a Coordinator broadcast to 99 in-process
// agents (unsigned: the process is the trust boundary) with the replies
// averaged. Goal: p99 below 200 µs.
func BenchmarkBroadcast99Local(b *testing.B) {
	f := newFleet(b, 99, fleetOpts{handlers: valueHandlers})
	ctx := context.Background()
	cmd := coord.Command{Name: "read_temp", Query: true, Params: tempParams{"B-1"}, Aggregate: coord.Average, Field: "temp"}
	lat := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		t0 := time.Now()
		res, err := f.coord.Execute(ctx, cmd)
		if err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
		if len(res.Answered) != 99 {
			b.Fatalf("%d answered", len(res.Answered))
		}
	}
	b.StopTimer()
	benchlat.Report(b, lat)
}

// BenchmarkBroadcast99LocalBare is the floor under BenchmarkBroadcast99Local
// on the same machine: the in-process bus alone, 99 subscribers answering a
// published message on a shared inbox, no Coordinator, Agent, JSON or
// aggregation.
func BenchmarkBroadcast99LocalBare(b *testing.B) {
	bus, err := coord.NewLocalBus(coord.LocalBusConfig{})
	if err != nil {
		b.Fatal(err)
	}
	defer bus.Close()
	ctx := context.Background()
	reply := coord.Message{Type: coord.TypeResponse, Payload: []byte(`{"temp":1}`)}
	subjects := make([]string, 99)
	for i := range subjects {
		subjects[i] = fmt.Sprintf("bare.agent.%d", i)
		if _, err := bus.Subscribe(subjects[i], func(ctx context.Context, m coord.Message) {
			_ = bus.Publish(ctx, m.ReplyTo, reply)
		}); err != nil {
			b.Fatal(err)
		}
	}
	replies := make(chan struct{}, 256)
	inbox := coord.NewInbox()
	if _, err := bus.Subscribe(inbox, func(context.Context, coord.Message) { replies <- struct{}{} }); err != nil {
		b.Fatal(err)
	}
	req := coord.Message{Type: coord.TypeQuery, ReplyTo: inbox, Payload: []byte(`{}`)}
	lat := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		t0 := time.Now()
		for _, s := range subjects {
			if err := bus.Publish(ctx, s, req); err != nil {
				b.Fatal(err)
			}
		}
		timeout := time.NewTimer(10 * time.Second)
		for range subjects {
			select {
			case <-replies:
			case <-timeout.C:
				b.Fatal("reply missing")
			}
		}
		lat = append(lat, time.Since(t0))
		timeout.Stop()
	}
	b.StopTimer()
	benchlat.Report(b, lat)
}
