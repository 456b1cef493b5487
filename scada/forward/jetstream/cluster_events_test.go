package jetstream_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/greenlang/gl001/scada"
	"github.com/greenlang/gl001/scada/buffer"
	"github.com/greenlang/gl001/scada/forward"
	fjs "github.com/greenlang/gl001/scada/forward/jetstream"
)

// eventCollector records what an EventSource delivers and checks it as it
// comes: the events are genEvents' in order, each once.
type eventCollector struct {
	mu   sync.Mutex
	next int
	errs []string
}

func (c *eventCollector) DeliverEvents(_ context.Context, evs []scada.Event) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, ev := range evs {
		if want := fmt.Sprintf("alarm %d", c.next); ev.Message != want && len(c.errs) < 10 {
			c.errs = append(c.errs, fmt.Sprintf("event %d: %q, want %q", c.next, ev.Message, want))
		}
		c.next++
	}
	return nil
}

// waitFor waits until n events arrived, failing on the first one out of
// sequence.
func (c *eventCollector) waitFor(t *testing.T, n int, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		c.mu.Lock()
		got, errs := c.next, append([]string(nil), c.errs...)
		c.mu.Unlock()
		if len(errs) > 0 {
			t.Fatalf("the central side saw events out of sequence: %v", errs)
		}
		if got >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d events arrived, want %d", got, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// siteEventSource reads one edge's events back, running again after a
// lost connection as a Collector would.
func siteEventSource(t *testing.T, nc *nats.Conn, edge string, col scada.EventSink) *fjs.EventSource {
	t.Helper()
	src, err := fjs.NewEventSource(fjs.SourceConfig{Name: "central", Conn: nc, Stream: streamName, Durable: "ce-" + edge,
		Filter: "gl001.events." + edge + ".>", AckWait: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			if err := src.Run(ctx, col); err != nil && ctx.Err() == nil {
				select {
				case <-time.After(50 * time.Millisecond):
				case <-ctx.Done():
				}
			}
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
	return src
}

// testEventsLeaderKilled forwards events (beside points) to the R3 stream
// and stops the stream leader mid-forward: the EventSource must deliver
// every event once, in order.
func testEventsLeaderKilled(t *testing.T, nodes []*node, nc *nats.Conn) {
	const edge, total, chunk = "events-leader-killed", 6000, 50
	col := &eventCollector{}
	src := siteEventSource(t, nc, edge, col)
	b := openDisk(t, t.TempDir())
	defer b.Close()
	f, _ := newForwarder(t, b, nc, func(c *forward.Config) { c.Edge = edge })
	stop := runForwarder(t, f)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("forwarder events %+v; source %+v", f.EventStats(), src.Stats())
		}
	})
	appended := make(chan struct{})
	go func() {
		defer close(appended)
		for i := 0; i < total; i += chunk {
			if _, err := b.AppendEvents(context.Background(), genEvents(i, chunk)); err != nil {
				t.Errorf("AppendEvents: %v", err)
				return
			}
			time.Sleep(2 * time.Millisecond)
		}
	}()
	waitEventsCommittedWithin(t, f, total/3, time.Minute)
	leader := streamLeader(t, nc)
	// The consumer's leader is moved to the same server, so that its
	// deliveries in flight are lost with it.
	moveConsumerLeader(t, nc, "ce-"+edge, leader)
	var killed *node
	for _, n := range nodes {
		if n.opts.ServerName == leader {
			killed = n
		}
	}
	t.Logf("stopping stream leader %s at %d events committed", leader, f.EventStats().Committed)
	killed.stop()
	<-appended
	waitEventsCommittedWithin(t, f, total, 2*time.Minute)
	killed.start()
	col.waitFor(t, total, 2*time.Minute)
	stop()
	col.mu.Lock()
	got := col.next
	col.mu.Unlock()
	if got != total {
		t.Fatalf("%d events delivered, want exactly %d", got, total)
	}
	t.Logf("forwarder events %+v; source %+v", f.EventStats(), src.Stats())
	waitClusterReady(t, nodes)
	waitReplicasCurrent(t, nc)
}

func waitEventsCommittedWithin(t *testing.T, f *forward.Forwarder, n int, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for f.EventStats().Committed < bufferOffset(n) {
		if time.Now().After(deadline) {
			t.Fatalf("event lane: %+v, want %d committed", f.EventStats(), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func bufferOffset(n int) buffer.Offset { return buffer.Offset(n) }

// moveConsumerLeader steps the durable's leader down until the server
// named leader leads it.
func moveConsumerLeader(t *testing.T, nc *nats.Conn, durable, leader string) {
	t.Helper()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		ci, err := js.Consumer(ctx, streamName, durable)
		cancel()
		if err == nil {
			if c := ci.CachedInfo().Cluster; c != nil && c.Leader == leader {
				return
			}
			if _, err := nc.Request("$JS.API.CONSUMER.LEADER.STEPDOWN."+streamName+"."+durable, nil, 2*time.Second); err != nil {
				t.Logf("consumer leader stepdown: %v", err)
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the consumer %s did not move to %s", durable, leader)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
