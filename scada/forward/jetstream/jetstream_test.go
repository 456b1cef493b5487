package jetstream_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/greenlang/gl001/scada"
	"github.com/greenlang/gl001/scada/buffer"
	"github.com/greenlang/gl001/scada/forward"
	fjs "github.com/greenlang/gl001/scada/forward/jetstream"
	"github.com/greenlang/gl001/scada/forward/wire"
)

// TestForwardToSourceExactlyOnce forwards from a memory Buffer (which keeps
// every field of a Point) and checks that each point arrives once, in order
// per tag, with its value, unit, quality, time, score and reasons intact.
func TestForwardToSourceExactlyOnce(t *testing.T) {
	n := startNode(t)
	nc := connect(t, n.url())
	ensureStream(t, nc, 1)
	b, err := buffer.NewMemory(buffer.MemoryConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	const total, tags = 20000, 50
	for i := 0; i < total; i += 1000 {
		if _, err := b.Append(context.Background(), genPoints(i, 1000, tags, 5)); err != nil {
			t.Fatal(err)
		}
	}
	col := newCollector()
	want := genPoints(0, total, tags, 5)
	byKey := map[string]scada.Point{}
	for _, p := range want {
		byKey[p.Tag+"/"+strconv.FormatFloat(p.Value, 'g', -1, 64)] = p
	}
	col.want = func(p scada.Point) error {
		w := byKey[p.Tag+"/"+strconv.FormatFloat(p.Value, 'g', -1, 64)]
		if p != w {
			return fmt.Errorf("point %+v arrived as %+v", w, p)
		}
		return nil
	}
	runSource(t, nc, "central", col)
	f, _ := newForwarder(t, b, nc, func(c *forward.Config) { c.Window = 8 })
	stop := runForwarder(t, f)
	col.waitFor(t, total, time.Minute)
	waitCommitted(t, f, total, time.Minute)
	stop()
	col.check(t, total, tags)
	if st := f.Stats(); st.Points != total || st.Redelivered != 0 || st.LagPoints != 0 {
		t.Fatalf("forwarder stats %+v", st)
	}
}

// TestResumeAfterPartialBatch publishes the first of the two messages of a
// batch by hand, as a Forwarder that died between them would have, and
// checks that a new Forwarder sends only the rest.
func TestResumeAfterPartialBatch(t *testing.T) {
	n := startNode(t)
	nc := connect(t, n.url())
	ensureStream(t, nc, 1)
	b := openDisk(t, t.TempDir())
	defer b.Close()
	const tags = 4
	pts := genPoints(0, 100, tags, 2)
	if _, err := b.Append(context.Background(), pts); err != nil {
		t.Fatal(err)
	}
	f, tg := newForwarder(t, b, nc, func(c *forward.Config) { c.MaxPoints = 60 })
	// The first batch would be [0, 60): parts s0 (tags t0, t2) and s1.
	var e wire.Encoder
	var sel []int32
	for i := range 60 {
		if pts[i].Source == "s0" {
			sel = append(sel, int32(i))
		}
	}
	stream := forward.Stream{Edge: "edge-1", Buffer: b.ID()}
	data := e.Append(nil, wire.Header{Edge: "edge-1", Buffer: b.ID(), Source: "s0", First: 0, Last: 59}, pts[:60], sel)
	m := &nats.Msg{Subject: tg.Subject(stream, "s0"), Data: data, Header: nats.Header{
		fjs.HeaderVersion: {"1"}, fjs.HeaderEdge: {"edge-1"}, fjs.HeaderBuffer: {b.ID()}, fjs.HeaderSource: {"s0"},
		fjs.HeaderFirst: {"0"}, fjs.HeaderLast: {"59"}, fjs.HeaderPart: {"1"}, fjs.HeaderParts: {"2"},
		jetstream.MsgIDHeader: {fjs.MsgID(stream, 0, 59, 1)},
	}}
	js, _ := jetstream.New(nc)
	if _, err := js.PublishMsg(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	col := newCollector()
	runSource(t, nc, "central", col)
	stop := runForwarder(t, f)
	waitCommitted(t, f, 100, time.Minute)
	col.waitFor(t, 100, time.Minute)
	stop()
	col.check(t, 100, tags)
	if st := f.Stats(); !st.ResumeFound || st.Resumed != 0 {
		t.Fatalf("stats %+v: want the resume at 0, the partial batch", st)
	}
}

// TestResumeSkipsStoredBatches: a Forwarder whose cursor was never
// committed finds everything in the stream and sends nothing again.
func TestResumeSkipsStoredBatches(t *testing.T) {
	n := startNode(t)
	nc := connect(t, n.url())
	ensureStream(t, nc, 1)
	dir := t.TempDir()
	b := openDisk(t, dir)
	defer b.Close()
	if _, err := b.Append(context.Background(), genPoints(0, 3000, 10, 3)); err != nil {
		t.Fatal(err)
	}
	// A Forwarder on another consumer name stands for the first life.
	f1, _ := newForwarder(t, b, nc, func(c *forward.Config) { c.Consumer = "first-life" })
	stop := runForwarder(t, f1)
	waitCommitted(t, f1, 3000, time.Minute)
	stop()
	if _, err := b.Append(context.Background(), genPoints(3000, 500, 10, 3)); err != nil {
		t.Fatal(err)
	}
	f2, _ := newForwarder(t, b, nc, nil)
	stop = runForwarder(t, f2)
	waitCommitted(t, f2, 3500, time.Minute)
	stop()
	if st := f2.Stats(); st.Skipped != 3000 || st.Points != 500 {
		t.Fatalf("second life: %+v, want 3000 skipped and 500 sent", st)
	}
	col := newCollector()
	runSource(t, nc, "central", col)
	col.waitFor(t, 3500, time.Minute)
	col.check(t, 3500, 10)
}

func TestSourceTerminatesBadMessages(t *testing.T) {
	n := startNode(t)
	nc := connect(t, n.url())
	ensureStream(t, nc, 1)
	js, _ := jetstream.New(nc)
	tg, err := fjs.New(fjs.Config{Conn: nc, Stream: streamName})
	if err != nil {
		t.Fatal(err)
	}
	stream := forward.Stream{Edge: "e", Buffer: "b"}
	send := func(from int) {
		t.Helper()
		pts := genPoints(from, 10, 1, 1)
		if err := tg.Send(context.Background(), forward.Batch{Stream: stream, First: buffer.Offset(from), Points: pts}); err != nil {
			t.Fatal(err)
		}
	}
	publish := func(subj string, data []byte, h nats.Header) {
		t.Helper()
		if _, err := js.PublishMsg(context.Background(), &nats.Msg{Subject: subj, Data: data, Header: h}); err != nil {
			t.Fatal(err)
		}
	}
	var e wire.Encoder
	good := e.Append(nil, wire.Header{Edge: "e", Buffer: "b", Source: "s0", First: 0, Last: 0}, genPoints(0, 1, 1, 1), nil)
	v2 := append([]byte{0x08, 0x02}, good[2:]...)
	corrupt := append([]byte(nil), good...)
	corrupt[len(corrupt)/2] ^= 0xff

	send(0)
	publish("gl001.points.e.s0", v2, nil)                                     // unknown version
	publish("gl001.points.e.s0", good[:len(good)-5], nil)                     // truncated
	publish("gl001.points.e.s0", corrupt, nil)                                // corrupt
	publish("gl001.points.e.s0", good, nats.Header{fjs.HeaderVersion: {"7"}}) // unknown version by header
	publish("gl001.points.e", good, nil)                                      // foreign subject
	publish("gl001.points.e.other", good, nil)                                // subject of another source
	send(10)

	var mu sync.Mutex
	var bad []error
	src, err := fjs.NewSource(fjs.SourceConfig{Conn: nc, Stream: streamName, Durable: "c", OnBadInput: func(err error) {
		mu.Lock()
		bad = append(bad, err)
		mu.Unlock()
	}})
	if err != nil {
		t.Fatal(err)
	}
	col := newCollector()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx, col) }()
	col.waitFor(t, 20, 30*time.Second)
	for src.Stats().Bad < 6 {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Run: %v", err)
	}
	col.check(t, 20, 1)
	st := src.Stats()
	if st.Bad != 6 || st.BadVersion != 2 || st.BadDecode != 2 || st.BadSubject != 2 || st.Messages != 2 {
		t.Fatalf("stats %+v", st)
	}
	mu.Lock()
	for _, err := range bad {
		var be *fjs.BadMessageError
		if !errors.As(err, &be) || !errors.Is(err, scada.ErrBadInput) || be.Sequence == 0 {
			t.Errorf("bad input error %v: want a *BadMessageError matching scada.ErrBadInput", err)
		}
	}
	mu.Unlock()
	// Terminated messages are not delivered again: the consumer has
	// nothing pending.
	cons, err := js.Consumer(context.Background(), streamName, "c")
	if err != nil {
		t.Fatal(err)
	}
	info, err := cons.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if info.NumAckPending != 0 || info.NumPending != 0 {
		t.Fatalf("consumer still has %d unacknowledged and %d pending", info.NumAckPending, info.NumPending)
	}
}

func TestEnsureStreamConflicts(t *testing.T) {
	n := startNode(t)
	nc := connect(t, n.url())
	js, _ := jetstream.New(nc)
	ctx := context.Background()
	if _, err := fjs.EnsureStream(ctx, js, fjs.StreamConfig{Name: "S", MaxAge: time.Hour, Duplicates: time.Minute}); err != nil {
		t.Fatal(err)
	}
	if _, err := fjs.EnsureStream(ctx, js, fjs.StreamConfig{Name: "S", MaxAge: time.Hour, Duplicates: time.Minute}); err != nil {
		t.Fatalf("the same settings again: %v", err)
	}
	_, err := fjs.EnsureStream(ctx, js, fjs.StreamConfig{Name: "S", MaxAge: 2 * time.Hour, Duplicates: 2 * time.Minute, Memory: true})
	if !errors.Is(err, fjs.ErrStreamConflict) {
		t.Fatalf("conflicting settings: %v", err)
	}
	for _, want := range []string{"storage", "max age", "duplicate window"} {
		if !contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
	if err := (fjs.StreamConfig{Name: "a.b", Replicas: 7}).Validate(); err == nil {
		t.Fatal("Validate accepted a bad name and 7 replicas")
	}
}

func TestToken(t *testing.T) {
	for in, want := range map[string]string{"plc1": "plc1", "": "%", "a.b c": "a%2Eb%20c", "%": "%25", "x>*": "x%3E%2A"} {
		if got := fjs.Token(in); got != want {
			t.Errorf("Token(%q) = %q, want %q", in, got, want)
		}
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

// TestResendBesideHeldBatch: the stream holds a batch and a later one
// stored while the one between was lost (its Gl-Acked says so), all of one
// source. The Forwarder resumes, sends the lost batch, none of whose
// points the stream holds, leaves the stored one out and goes on: the
// stream ends up with every offset once.
func TestResendBesideHeldBatch(t *testing.T) {
	n := startNode(t)
	nc := connect(t, n.url())
	ensureStream(t, nc, 1)
	b := openDisk(t, t.TempDir())
	defer b.Close()
	const total, per, tags = 240, 60, 4
	pts := genPoints(0, total, tags, 1)
	if _, err := b.Append(context.Background(), pts); err != nil {
		t.Fatal(err)
	}
	f, tg := newForwarder(t, b, nc, func(c *forward.Config) { c.MaxPoints = per })
	stream := forward.Stream{Edge: "edge-1", Buffer: b.ID()}
	js, _ := jetstream.New(nc)
	var e wire.Encoder
	publish := func(first int, acked, ackedSeq uint64) uint64 {
		t.Helper()
		last := first + per - 1
		data := e.Append(nil, wire.Header{Edge: "edge-1", Buffer: b.ID(), Source: "s0", First: buffer.Offset(first), Last: buffer.Offset(last)}, pts[first:last+1], nil)
		m := &nats.Msg{Subject: tg.Subject(stream, "s0"), Data: data, Header: nats.Header{
			fjs.HeaderVersion: {"1"}, fjs.HeaderEdge: {"edge-1"}, fjs.HeaderBuffer: {b.ID()}, fjs.HeaderSource: {"s0"},
			fjs.HeaderFirst: {strconv.Itoa(first)}, fjs.HeaderLast: {strconv.Itoa(last)}, fjs.HeaderPart: {"1"}, fjs.HeaderParts: {"1"},
			fjs.HeaderAcked: {strconv.FormatUint(acked, 10)}, fjs.HeaderAckedSeq: {strconv.FormatUint(ackedSeq, 10)},
			jetstream.MsgIDHeader: {fjs.MsgID(stream, buffer.Offset(first), buffer.Offset(last), 1)},
		}}
		ack, err := js.PublishMsg(context.Background(), m)
		if err != nil {
			t.Fatal(err)
		}
		return ack.Sequence
	}
	seq := publish(0, 0, 0)
	publish(2*per, per, seq) // [60, 120) was lost
	stop := runForwarder(t, f)
	waitCommitted(t, f, total, time.Minute)
	stop()

	st, err := js.Stream(context.Background(), streamName)
	if err != nil {
		t.Fatal(err)
	}
	count := map[buffer.Offset]int{}
	for seq := uint64(1); ; {
		m, err := st.GetMsg(context.Background(), seq, jetstream.WithGetMsgSubject("gl001.points.edge-1.>"))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		seq = m.Sequence + 1
		var d wire.Decoded
		if err := wire.Decode(m.Data, &d); err != nil {
			t.Fatal(err)
		}
		for _, o := range d.Offsets {
			count[o]++
		}
	}
	for o := range buffer.Offset(total) {
		if count[o] != 1 {
			t.Fatalf("offset %d stored %d times (stats %+v)", o, count[o], f.Stats())
		}
	}
}
