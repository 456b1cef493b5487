package jetstream_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/goleak"

	"github.com/greenlang/gl001/scada"
	"github.com/greenlang/gl001/scada/buffer"
	"github.com/greenlang/gl001/scada/forward"
	fjs "github.com/greenlang/gl001/scada/forward/jetstream"
	"github.com/greenlang/gl001/scada/sourcetest"
)

// TestSourceConformance runs the scada.Source suite against the JetStream
// Source: the "simulator" is an edge publishing one point per Set through
// the Target, to a file-backed stream on a server the suite stops and
// starts.
func TestSourceConformance(t *testing.T) {
	n := startNode(t)
	pub := connect(t, n.url())
	ensureStream(t, pub, 1)
	sub := connect(t, n.url())
	tg, err := fjs.New(fjs.Config{Conn: pub, Stream: streamName})
	if err != nil {
		t.Fatal(err)
	}
	// Both connections get their request and acknowledgement subscriptions
	// now, so the suite counts them as there before it started.
	var next buffer.Offset = 1
	if err := tg.Send(context.Background(), forward.Batch{Stream: forward.Stream{Edge: "edge", Buffer: "b"},
		Points: []scada.Point{{Tag: "boiler1.temp", Value: 1000, Time: time.Now(), Source: "plc1"}}}); err != nil {
		t.Fatal(err)
	}
	js, err := jetstream.New(sub)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.Stream(context.Background(), streamName); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	durables := 0
	sourcetest.TestSource(t, sourcetest.Harness{
		Name: "plc1",
		Tags: []string{"boiler1.temp", "boiler1.flow"},
		New: func(t *testing.T) scada.Source {
			mu.Lock()
			durables++
			d := durables
			mu.Unlock()
			src, err := fjs.NewSource(fjs.SourceConfig{Name: "plc1", Conn: sub, Stream: streamName,
				Durable: "conformance-" + string(rune('a'+d)), StartTime: time.Now(), ConnectWait: 5 * time.Second,
				// A delivery that went to the pull request of a Run the suite
				// cancelled comes back only after AckWait, and the Source holds
				// newer messages behind it until then: keep that well inside
				// the suite's own 30 s waits.
				AckWait: 3 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			return src
		},
		Set: func(tag string, v float64) error {
			mu.Lock()
			first := next
			next++
			mu.Unlock()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			return tg.Send(ctx, forward.Batch{Stream: forward.Stream{Edge: "edge", Buffer: "b"}, First: first,
				Points: []scada.Point{{Tag: tag, Value: v, Quality: scada.Good, Time: time.Now(), Source: "plc1"}}})
		},
		Stop:             func() error { n.stop(); return nil },
		Start:            func() error { n.start(); return nil },
		Features:         sourcetest.Features{ChangeDriven: true},
		IgnoreGoroutines: serverGoroutines(),
	})
}

// serverGoroutines are the goroutines of the nats-server the suite stops
// and starts (with the consumers it keeps for each Source, which outlive
// a Run by design), and of the caller's connections reconnecting to it.
func serverGoroutines() []goleak.Option {
	var opts []goleak.Option
	for _, f := range []string{
		"(*Server).acceptConnections", "(*client).readLoop", "(*client).writeLoop",
		"(*consumerFileStore).flushLoop", "(*consumer).processInboundNextMsgReqs", "(*consumer).processInboundAcks",
		"(*consumer).loopAndGatherMsgs", "(*Server).processJSAPIRoutedRequests", "(*Server).internalReceiveLoop",
		"(*stream).signalConsumersLoop", "(*stream).internalLoop", "(*sendq).internalLoop",
		"(*fileStore).flushStreamStateLoop", "(*Server).startRateLimitLogExpiration.func1",
		"(*Server).startGWReplyMapExpiration.func1", "(*Server).internalSendLoop", "(*Server).delayedAPIResponder",
	} {
		opts = append(opts, goleak.IgnoreAnyFunction("github.com/nats-io/nats-server/v2/server."+f))
	}
	opts = append(opts,
		goleak.IgnoreAnyFunction("github.com/nats-io/nats-server/v2/server/ats.Register.func1"),
		goleak.IgnoreAnyFunction("github.com/nats-io/nats%2ego.(*Conn).flusher"),
		goleak.IgnoreAnyFunction("github.com/nats-io/nats%2ego.(*Conn).readLoop"),
		goleak.IgnoreAnyFunction("github.com/nats-io/nats%2ego.(*Conn).doReconnect"),
		goleak.IgnoreAnyFunction("github.com/nats-io/nats.go/jetstream.(*jetStream).resetPendingAcksOnReconnect"),
	)
	return opts
}
