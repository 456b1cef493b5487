package jetstream_test

import (
	"context"
	"errors"
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
	"github.com/greenlang/gl001/scada/forward/wire"
)

// genEvents returns n events numbered from `from`, in runs of 7 of one of
// two sources; Message carries the number.
func genEvents(from, n int) []scada.Event {
	evs := make([]scada.Event, n)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range evs {
		j := from + i
		evs[i] = scada.Event{
			Source: fmt.Sprintf("opcua%d", j/7%2), Time: t0.Add(time.Duration(j) * time.Second), EventType: "i=9341",
			SourceNode: "ns=1;s=Boiler1.Temp", Severity: uint16(1 + j%1000), Message: fmt.Sprintf("alarm %d", j),
			ID: []byte{byte(j), byte(j >> 8)}, Fields: map[string]any{"seq": float64(j)},
			Condition: &scada.Condition{Name: "HighTemperature", Active: j%2 == 0, Retain: true},
		}
	}
	return evs
}

// streamEvents decodes every event message in the stream, checking each
// subject.
func streamEvents(t *testing.T, nc *nats.Conn) (offsets []buffer.Offset, evs []scada.Event) {
	t.Helper()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := js.Stream(ctx, streamName)
	if err != nil {
		t.Fatal(err)
	}
	for seq := uint64(1); ; {
		m, err := st.GetMsg(ctx, seq, jetstream.WithGetMsgSubject("gl001.events.>"))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return offsets, evs
		}
		if err != nil {
			t.Fatal(err)
		}
		seq = m.Sequence + 1
		var d wire.DecodedEvents
		if err := wire.DecodeEvents(m.Data, &d); err != nil {
			t.Fatalf("message %d: %v", m.Sequence, err)
		}
		if want := "gl001.events.edge-1." + fjs.Token(d.Source); m.Subject != want || m.Header.Get("Content-Type") != wire.EventContentType {
			t.Fatalf("message %d on %s (%s), want %s", m.Sequence, m.Subject, m.Header.Get("Content-Type"), want)
		}
		offsets = append(offsets, d.Offsets...)
		evs = append(evs, d.Events...)
	}
}

func checkStreamEvents(t *testing.T, nc *nats.Conn, n int) {
	t.Helper()
	offsets, evs := streamEvents(t, nc)
	if len(evs) != n {
		t.Fatalf("the stream holds %d events, want %d", len(evs), n)
	}
	want := genEvents(0, n)
	for i := range evs {
		w := want[i]
		w.Time = w.Time.UTC()
		if offsets[i] != buffer.Offset(i) || evs[i].Message != w.Message || evs[i].Source != w.Source ||
			!evs[i].Time.Equal(w.Time) || *evs[i].Condition != *w.Condition || evs[i].Fields["seq"] != w.Fields["seq"] {
			t.Fatalf("event %d at offset %d: %+v, want %+v", i, offsets[i], evs[i], w)
		}
	}
}

func waitEventsCommitted(t *testing.T, f *forward.Forwarder, n buffer.Offset) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for f.EventStats().Committed < n {
		if time.Now().After(deadline) {
			t.Fatalf("event lane: %+v, want %d committed", f.EventStats(), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestForwardEventsExactlyOnce forwards a disk buffer's event log beside
// its points, then restarts the edge as if the event cursor's last commit
// had been lost: ResumeEvents finds where the stream's events end, so no
// event is stored twice, and the events after the restart follow.
func TestForwardEventsExactlyOnce(t *testing.T) {
	n := startNode(t)
	nc := connect(t, n.url())
	ensureStream(t, nc, 1)
	dir := t.TempDir()
	b := openDisk(t, dir)
	ctx := context.Background()
	for i := 0; i < 300; i += 50 {
		if _, err := b.AppendEvents(ctx, genEvents(i, 50)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := b.Append(ctx, genPoints(0, 500, 10, 2)); err != nil {
		t.Fatal(err)
	}
	f, _ := newForwarder(t, b, nc, nil)
	stop := runForwarder(t, f)
	waitEventsCommitted(t, f, 300)
	waitCommitted(t, f, 500, time.Minute)
	stop()
	checkStreamEvents(t, nc, 300)

	// The commit is lost: the cursor goes back to 150.
	if err := b.CommitEvents(ctx, "central", 150); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	b = openDisk(t, dir)
	defer b.Close()
	if _, err := b.AppendEvents(ctx, genEvents(300, 40)); err != nil {
		t.Fatal(err)
	}
	f, _ = newForwarder(t, b, nc, nil)
	stop = runForwarder(t, f)
	waitEventsCommitted(t, f, 340)
	stop()
	if st := f.EventStats(); st.Skipped != 150 || st.Events != 40 {
		t.Fatalf("EventStats after restart: %+v", st)
	}
	checkStreamEvents(t, nc, 340)

	// The central side: every event once, in order, and a bad message
	// between them terminated and counted.
	if err := nc.Publish("gl001.events.edge-1.opcua0", []byte("not an event batch")); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	var bad []error
	var badMu sync.Mutex
	src, err := fjs.NewEventSource(fjs.SourceConfig{Name: "central", Conn: nc, Stream: streamName, Durable: "central-events",
		OnBadInput: func(err error) { badMu.Lock(); bad = append(bad, err); badMu.Unlock() }})
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan []scada.Event, 100)
	sctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- src.Run(sctx, scada.EventSinkFunc(func(_ context.Context, evs []scada.Event) error {
			got <- append([]scada.Event(nil), evs...) // the slice is the Source's
			return nil
		}))
	}()
	var all []scada.Event
	deadline := time.After(time.Minute)
	for len(all) < 340 || src.Stats().Bad == 0 {
		select {
		case evs := <-got:
			all = append(all, evs...)
		case <-deadline:
			t.Fatalf("EventSource delivered %d events: %+v", len(all), src.Stats())
		case <-time.After(10 * time.Millisecond):
		}
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("EventSource.Run: %v", err)
	}
	for i, ev := range all {
		if ev.Message != fmt.Sprintf("alarm %d", i) {
			t.Fatalf("event %d: %q", i, ev.Message)
		}
	}
	if len(all) != 340 {
		t.Fatalf("%d events delivered, want 340", len(all))
	}
	badMu.Lock()
	defer badMu.Unlock()
	if st := src.Stats(); st.Events != 340 || st.Bad != 1 || len(bad) != 1 || !errors.Is(bad[0], scada.ErrBadInput) {
		t.Fatalf("EventSource stats %+v, bad %v", st, bad)
	}
}
