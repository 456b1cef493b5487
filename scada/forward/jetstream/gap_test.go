package jetstream_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/greenlang/gl001/scada"
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

// TestSourceKeepsGapAcrossSinkError makes the Source hold a message behind
// a lost delivery while a message before the gap goes to the Sink, and the
// Sink fails. The held message must not come back before the lost one: the
// Source keeps both the batch and the gap for its next Run. The messages
// are batches of one source, so the per-tag sequences show any reordering.
//
// The lost delivery: while the Source's pull request waits at the server,
// another puller asks for one message, and the server serves the two in
// turn, so of A, B and C the other puller gets B and keeps it unacknowledged
// until AckWait. The Source is kept busy in Sink.Deliver meanwhile, so that
// A and C are both in when it goes on.
func TestSourceKeepsGapAcrossSinkError(t *testing.T) {
	n := startNode(t)
	nc := connect(t, n.url())
	ensureStream(t, nc, 1)
	tg, err := fjs.New(fjs.Config{Conn: nc, Stream: streamName})
	if err != nil {
		t.Fatal(err)
	}
	const tags, per = 5, 50
	stream := forward.Stream{Edge: "edge-1", Buffer: "buf"}
	sent := 0
	send := func() {
		t.Helper()
		b := forward.Batch{Stream: stream, First: buffer.Offset(sent * per), Points: genPoints(sent*per, per, tags, 1)}
		if err := tg.Send(context.Background(), b); err != nil {
			t.Fatalf("Send %d: %v", sent, err)
		}
		sent++
	}
	const ackWait = time.Second
	src, err := fjs.NewSource(fjs.SourceConfig{Name: "central", Conn: nc, Stream: streamName, Durable: "gap", AckWait: ackWait})
	if err != nil {
		t.Fatal(err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	cons, err := js.CreateConsumer(context.Background(), streamName, jetstream.ConsumerConfig{
		Durable: "gap", AckPolicy: jetstream.AckExplicitPolicy, AckWait: ackWait,
		FilterSubject: "gl001.points.>", MaxAckPending: 1 << 16})
	if err != nil {
		t.Fatal(err)
	}
	info := func() *jetstream.ConsumerInfo {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		ci, err := cons.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return ci
	}
	waitInfo := func(what string, ok func(*jetstream.ConsumerInfo) bool) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for ci := info(); !ok(ci); ci = info() {
			if time.Now().After(deadline) {
				t.Fatalf("waiting for %s: %+v", what, ci)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}

	col := newCollector()
	// The Sink passes points through, except when armed: it then holds
	// the next call until block closes, and fails the call after it if a
	// gap is open at that moment.
	var (
		mu       sync.Mutex
		armed    int // 1: hold the next call; 2: fail the next if a gap is open
		block    chan struct{}
		blocked  chan struct{}
		gaps0    uint64
		injected bool
	)
	sink := scada.SinkFunc(func(ctx context.Context, pts []scada.Point) error {
		mu.Lock()
		state, bl, bd := armed, block, blocked
		switch state {
		case 1:
			armed = 2
		case 2:
			armed = 0
		}
		mu.Unlock()
		switch state {
		case 1: // the first message: held in the Sink while A, B, C go out
			close(bd)
			select {
			case <-bl:
			case <-ctx.Done():
				return ctx.Err()
			}
		case 2: // A, with C held behind the gap: the Sink fails
			if src.Stats().Gaps > gaps0 {
				mu.Lock()
				injected = true
				mu.Unlock()
				return errors.New("sink unavailable")
			}
		}
		return col.Deliver(ctx, pts)
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			if err := src.Run(ctx, sink); err != nil && ctx.Err() == nil {
				select {
				case <-time.After(20 * time.Millisecond):
				case <-ctx.Done():
				}
			}
		}
	}()
	defer func() { cancel(); <-done }()

	// A and C reach the Source together almost always; on a loaded
	// machine C can come after A went to the Sink, and the attempt is
	// made again.
	for attempt := 1; ; attempt++ {
		mu.Lock()
		armed, block, blocked = 1, make(chan struct{}), make(chan struct{})
		bl, bd := block, blocked
		mu.Unlock()
		send() // the first message
		<-bd
		gaps0 = src.Stats().Gaps
		base := info().Delivered.Consumer // the first message's delivery
		// The other puller's request waits behind the Source's.
		thief := connect(t, n.url())
		tjs, err := jetstream.New(thief)
		if err != nil {
			t.Fatal(err)
		}
		tcons, err := tjs.Consumer(context.Background(), streamName, "gap")
		if err != nil {
			t.Fatal(err)
		}
		stolen := make(chan int, 1)
		go func() {
			got, err := tcons.Fetch(1, jetstream.FetchMaxWait(30*time.Second))
			k := 0
			if err == nil {
				for range got.Messages() {
					k++
				}
			}
			stolen <- k
		}()
		waitInfo("two waiting pull requests", func(ci *jetstream.ConsumerInfo) bool { return ci.NumWaiting >= 2 })
		send() // A
		send() // B
		send() // C
		if k := <-stolen; k != 1 {
			t.Fatalf("the other puller got %d messages, want 1", k)
		}
		thief.Close()
		// The Source has been sent A and C (the reply comes after them on
		// the same connection).
		waitInfo("A and C delivered", func(ci *jetstream.ConsumerInfo) bool { return ci.Delivered.Consumer >= base+3 })
		close(bl)
		col.waitFor(t, sent*per, time.Minute)
		mu.Lock()
		inj := injected
		mu.Unlock()
		if inj {
			break
		}
		if attempt == 5 {
			t.Fatalf("in 5 attempts the Sink was never called with a gap open: %+v", src.Stats())
		}
		t.Logf("attempt %d: C came after A went to the Sink; again", attempt)
	}
	col.check(t, sent*per, tags)
	if st := src.Stats(); st.GapsGivenUp != 0 || st.Points != uint64(sent*per) {
		t.Fatalf("source stats %+v", st)
	}
}

// TestSourceHoldsGapShownByRedelivery loses a delivery of a message the
// Source had handed back, so that what shows the gap is itself a delivery
// again, not a first one. The Source gets A and B, its Sink fails, and it
// hands them back; another puller takes the delivery again of one of them
// and keeps it until AckWait; then C is sent and the Source runs again. The
// first message it gets is the other one of A and B, delivered again after
// the lost delivery: the Source must hold it and C until the lost one comes
// back, and deliver A, B, C in order. (A Source that took a jump shown by a
// delivery again for no gap delivered the lost one last.)
func TestSourceHoldsGapShownByRedelivery(t *testing.T) {
	n := startNode(t)
	nc := connect(t, n.url())
	ensureStream(t, nc, 1)
	tg, err := fjs.New(fjs.Config{Conn: nc, Stream: streamName})
	if err != nil {
		t.Fatal(err)
	}
	const tags, per = 5, 50
	stream := forward.Stream{Edge: "edge-1", Buffer: "buf"}
	sent := 0
	send := func() {
		t.Helper()
		b := forward.Batch{Stream: stream, First: buffer.Offset(sent * per), Points: genPoints(sent*per, per, tags, 1)}
		if err := tg.Send(context.Background(), b); err != nil {
			t.Fatalf("Send %d: %v", sent, err)
		}
		sent++
	}
	const ackWait = 2 * time.Second
	src, err := fjs.NewSource(fjs.SourceConfig{Name: "central", Conn: nc, Stream: streamName, Durable: "gap", AckWait: ackWait})
	if err != nil {
		t.Fatal(err)
	}
	send() // A
	send() // B
	// The Sink fails: the Source hands back what it has.
	failing := scada.SinkFunc(func(context.Context, []scada.Point) error { return errors.New("sink unavailable") })
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := src.Run(ctx, failing); err == nil || ctx.Err() != nil {
		t.Fatalf("Run with a failing Sink: %v", err)
	}

	// Another puller takes the next delivery again and keeps it.
	thief := connect(t, n.url())
	js, err := jetstream.New(thief)
	if err != nil {
		t.Fatal(err)
	}
	cons, err := js.Consumer(ctx, streamName, "gap")
	if err != nil {
		t.Fatal(err)
	}
	got, err := cons.Fetch(1, jetstream.FetchMaxWait(10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	var stolen []string
	for m := range got.Messages() {
		md, err := m.Metadata()
		if err != nil {
			t.Fatal(err)
		}
		if md.Sequence.Stream > 2 || md.NumDelivered < 2 {
			t.Fatalf("the other puller got stream sequence %d, delivery %d; want A or B again", md.Sequence.Stream, md.NumDelivered)
		}
		stolen = append(stolen, fmt.Sprintf("stream sequence %d, consumer sequence %d", md.Sequence.Stream, md.Sequence.Consumer))
	}
	if len(stolen) != 1 {
		t.Fatalf("the other puller got %d messages, want 1", len(stolen))
	}
	thief.Close()
	t.Logf("lost delivery: %s", stolen[0])
	send() // C

	col := newCollector()
	rctx, rcancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for rctx.Err() == nil {
			if err := src.Run(rctx, col); err != nil && rctx.Err() == nil {
				select {
				case <-time.After(20 * time.Millisecond):
				case <-rctx.Done():
				}
			}
		}
	}()
	defer func() { rcancel(); <-done }()
	col.waitFor(t, sent*per, time.Minute)
	rcancel()
	<-done
	col.check(t, sent*per, tags)
	if st := src.Stats(); st.Gaps == 0 || st.GapsGivenUp != 0 || st.Points != uint64(sent*per) {
		t.Fatalf("source stats %+v", st)
	}
}
