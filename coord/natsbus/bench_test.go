package natsbus_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/greenlang/gl001/coord"
	"github.com/greenlang/gl001/coord/natsbus"
	"github.com/greenlang/gl001/internal/benchlat"
)

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
	benchlat.Report(b, lat)
}

// BenchmarkBroadcast99NATS measures a Coordinator broadcast to 99 agents
// through an embedded nats-server: HS256-signed commands and replies, every
// signature verified, the replies aggregated. Goal: p99 below 5 ms.
func BenchmarkBroadcast99NATS(b *testing.B) { benchBroadcast99NATS(b, false) }

// BenchmarkBroadcast99NATSUnsigned is BenchmarkBroadcast99NATS without
// signatures, to show what signing costs.
func BenchmarkBroadcast99NATSUnsigned(b *testing.B) { benchBroadcast99NATS(b, true) }

func benchBroadcast99NATS(b *testing.B, unsigned bool) {
	f := startNATSFleet(b, 99, unsigned, loadHandler)
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
	benchlat.Report(b, lat)
}

// BenchmarkBroadcast99NATSBare is the floor under BenchmarkBroadcast99NATS on
// the same machine: plain nats.go scatter-gather to 99 responders, no
// envelope, no signatures, no aggregation.
func BenchmarkBroadcast99NATSBare(b *testing.B) {
	srv := startServer(b)
	agents, client := connect(b, srv), connect(b, srv)
	for i := range 99 {
		if _, err := agents.Subscribe(fmt.Sprintf("bare.agent.%d", i), func(m *nats.Msg) {
			_ = m.Respond([]byte(`{"load":1}`))
		}); err != nil {
			b.Fatal(err)
		}
	}
	if err := agents.Flush(); err != nil {
		b.Fatal(err)
	}
	inbox := nats.NewInbox()
	replies := make(chan *nats.Msg, 256)
	sub, err := client.ChanSubscribe(inbox, replies)
	if err != nil {
		b.Fatal(err)
	}
	defer sub.Unsubscribe()
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		t0 := time.Now()
		for i := range 99 {
			if err := client.PublishRequest(fmt.Sprintf("bare.agent.%d", i), inbox, []byte(`{}`)); err != nil {
				b.Fatal(err)
			}
		}
		for range 99 {
			select {
			case <-replies:
			case <-time.After(10 * time.Second):
				b.Fatal("reply missing")
			}
		}
		lat = append(lat, time.Since(t0))
	}
	b.StopTimer()
	benchlat.Report(b, lat)
}

// BenchmarkCodec encodes a typical signed command into a NATS message and
// decodes it again: the per-message work this package adds on each side.
func BenchmarkCodec(b *testing.B) {
	now := time.Now()
	m := coord.Message{
		ID: coord.NewID(), Type: coord.TypeQuery, From: "GL-001", To: "GL-042", Name: "boiler_load",
		ReplyTo: "_INBOX.X.Y", CorrelationID: coord.NewID(), Time: now, Deadline: now.Add(5 * time.Second),
		Payload:   []byte(`{"boiler":"B-1"}`),
		Signature: "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJHTC0wMDEifQ.c2lnbmF0dXJlLWJ5dGVzLWdvLWhlcmUtMzItYnl0ZXM",
	}
	b.ReportAllocs()
	for b.Loop() {
		msg, err := natsbus.Encode("gl001.agent.GL-042", &m)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := natsbus.Decode(msg); err != nil {
			b.Fatal(err)
		}
	}
}
