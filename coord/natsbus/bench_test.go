package natsbus_test

import (
	"context"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/greenlang/gl001/coord"
	"github.com/greenlang/gl001/coord/natsbus"
)

func reportLatency(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	q := func(p float64) float64 {
		i := min(len(lat)-1, max(0, int(math.Ceil(p*float64(len(lat))))-1))
		return float64(lat[i]) / float64(time.Microsecond)
	}
	b.ReportMetric(q(0.50), "p50-us")
	b.ReportMetric(q(0.99), "p99-us")
}

// BenchmarkRequestNATS measures one request/reply round trip through an
// embedded nats-server, requester and responder on separate connections.
func BenchmarkRequestNATS(b *testing.B) {
	srv := startServer(b)
	client := newBus(b, connect(b, srv), natsbus.Config{})
	server := newBus(b, connect(b, srv), natsbus.Config{})
	if _, err := server.Subscribe("gl001.agent.GL-002", func(ctx context.Context, m coord.Message) {
		_ = server.Publish(ctx, m.ReplyTo, coord.Message{ID: m.ID, Type: coord.TypeResponse, Payload: m.Payload})
	}); err != nil {
		b.Fatal(err)
	}
	if err := server.Conn().Flush(); err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	req := coord.Message{ID: "q", Type: coord.TypeQuery, From: "GL-001", Name: "read_temp", Payload: []byte(`{"boiler":"B-1"}`)}
	lat := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		t0 := time.Now()
		if _, err := client.Request(ctx, "gl001.agent.GL-002", req); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
	}
	b.StopTimer()
	reportLatency(b, lat)
}

// BenchmarkBroadcast99NATS measures a Coordinator broadcast to 99 agents
// through an embedded nats-server: HS256-signed commands and replies, every
// signature verified, the replies aggregated. Goal: p99 below 5 ms.
func BenchmarkBroadcast99NATS(b *testing.B) {
	f := startNATSFleet(b, 99, loadHandler)
	ctx := context.Background()
	cmd := coord.Command{Name: "boiler_load", Query: true, Aggregate: coord.Average, Field: "load", Timeout: 10 * time.Second}
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
			b.Fatalf("%d answered, failed %v", len(res.Answered), res.Failed)
		}
	}
	b.StopTimer()
	reportLatency(b, lat)
}
