package jetstream_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/greenlang/gl001/scada/buffer"
	"github.com/greenlang/gl001/scada/forward"
	fjs "github.com/greenlang/gl001/scada/forward/jetstream"
)

// TestSourceHoldsGapAcrossReconnect loses a delivery of the Source's
// consumer (another puller takes it and never acknowledges it), so the
// Source holds the newer message behind the gap; then the server goes away
// and comes back. The next Run must go on holding the newer message until
// the lost one is delivered again after AckWait, and deliver both in
// order.
func TestSourceHoldsGapAcrossReconnect(t *testing.T) {
	n := startNode(t)
	nc := connect(t, n.url())
	ensureStream(t, nc, 1)
	tg, err := fjs.New(fjs.Config{Conn: nc, Stream: streamName})
	if err != nil {
		t.Fatal(err)
	}
	const tags, per = 10, 100
	stream := forward.Stream{Edge: "edge-1", Buffer: "buf"}
	send := func(i int) {
		t.Helper()
		b := forward.Batch{Stream: stream, First: buffer.Offset(i * per), Points: genPoints(i*per, per, tags, 1)}
		if err := tg.Send(context.Background(), b); err != nil {
			t.Fatalf("Send %d: %v", i, err)
		}
	}
	const ackWait = 2 * time.Second
	src, err := fjs.NewSource(fjs.SourceConfig{Name: "central", Conn: nc, Stream: streamName, Durable: "gap", AckWait: ackWait})
	if err != nil {
		t.Fatal(err)
	}
	col := newCollector()
	run := func() (stop func()) {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			defer close(done)
			for ctx.Err() == nil {
				if err := src.Run(ctx, col); err != nil && ctx.Err() == nil {
					select {
					case <-time.After(20 * time.Millisecond):
					case <-ctx.Done():
					}
				}
			}
		}()
		return func() { cancel(); <-done }
	}

	// The Source sees the first message (consumer sequence 1).
	send(0)
	stop := run()
	col.waitFor(t, per, 30*time.Second)
	stop()

	// Another puller takes the second (sequence 2) and keeps it.
	send(1)
	send(2)
	thief := connect(t, n.url())
	js, err := jetstream.New(thief)
	if err != nil {
		t.Fatal(err)
	}
	cons, err := js.Consumer(context.Background(), streamName, "gap")
	if err != nil {
		t.Fatal(err)
	}
	got, err := cons.Fetch(1, jetstream.FetchMaxWait(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	stolen := 0
	for m := range got.Messages() {
		if md, err := m.Metadata(); err == nil && md.Sequence.Consumer == 2 {
			stolen++
		}
	}
	if stolen != 1 {
		t.Fatalf("the other puller did not get consumer sequence 2")
	}
	thief.Close()

	// The Source gets sequence 3, sees the gap and holds it.
	stop = run()
	defer func() { stop() }()
	deadline := time.Now().Add(30 * time.Second)
	for src.Stats().Gaps == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no gap seen: %+v", src.Stats())
		}
		time.Sleep(10 * time.Millisecond)
	}
	// The connection goes away while the Source holds the message.
	n.stop()
	n.start()
	col.waitFor(t, 3*per, time.Minute)
	stop()
	col.check(t, 3*per, tags)
	if st := src.Stats(); st.GapsGivenUp != 0 {
		t.Fatalf("the Source gave up waiting: %+v", st)
	}
}
