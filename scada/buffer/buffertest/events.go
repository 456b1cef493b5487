package buffertest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/greenlang/gl001/scada"
	"github.com/greenlang/gl001/scada/buffer"
)

// TestEventLog runs the event checks against h: the buffers h opens must
// implement [buffer.EventLog]. [TestBuffer] runs them when Features.Events is
// set. Each is also an exported function:
//
//   - EventsRoundTrip: every field of an event comes back, Fields of every
//     documented type with their type, others through JSON.
//   - EventsRejectBadInput: bad events are refused whole, counted, and good
//     ones around them kept.
//   - EventsCursors: per-consumer event cursors, independent of the point
//     cursors; rewind, Forget, out of range.
//   - EventsReadWaits: ReadEvents blocks for data, ends with ctx and Close.
//   - EventsConcurrentAppenders: nothing lost, doubled or reordered.
//   - EventsRetentionByAge, EventsRetentionByBytes: drops counted and
//     reported (DropEvent.Events set) with the unread events per consumer.
//   - EventsReopen (Features.Persistent): events and event cursors survive.
func TestEventLog(t *testing.T, h Harness) {
	tests := []struct {
		name string
		fn   func(t *testing.T, h Harness)
	}{
		{"EventsRoundTrip", TestEventsRoundTrip},
		{"EventsRejectBadInput", TestEventsRejectBadInput},
		{"EventsCursors", TestEventsCursors},
		{"EventsReadWaits", TestEventsReadWaits},
		{"EventsConcurrentAppenders", TestEventsConcurrentAppenders},
		{"EventsRetentionByAge", TestEventsRetentionByAge},
		{"EventsRetentionByBytes", TestEventsRetentionByBytes},
	}
	if h.Features.Persistent {
		tests = append(tests, struct {
			name string
			fn   func(t *testing.T, h Harness)
		}{"EventsReopen", TestEventsReopen})
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, h) })
	}
}

func openEvents(t *testing.T, h Harness, store string, cfg Config) (buffer.Buffer, buffer.EventLog) {
	t.Helper()
	b := openStore(t, h, store, cfg)
	l, ok := b.(buffer.EventLog)
	if !ok {
		t.Fatalf("%T does not implement buffer.EventLog", b)
	}
	return b, l
}

// testEvents returns n events numbered from seq: Fields["seq"] is the number,
// so order and uniqueness can be checked. Every other one is a condition.
func testEvents(seq, n int) []scada.Event {
	evs := make([]scada.Event, n)
	for i := range evs {
		k := seq + i
		evs[i] = scada.Event{
			Source:      "boiler1",
			Time:        t0.Add(time.Duration(k) * time.Second),
			ReceiveTime: t0.Add(time.Duration(k)*time.Second + 1500*time.Microsecond),
			EventType:   "i=9341",
			SourceNode:  fmt.Sprintf("ns=1;s=Boiler1.Temp%d", k%3),
			SourceName:  "SteamTemp",
			Severity:    uint16(1 + k%1000),
			Message:     fmt.Sprintf("steam temperature high (%d)", k),
			ID:          []byte{byte(k), byte(k >> 8), 0xAB, 0},
			Fields:      map[string]any{"seq": float64(k)},
		}
		if k%2 == 0 {
			evs[i].Condition = &scada.Condition{
				ID: "ns=1;s=Boiler1.HighTemp", Name: "HighTemperature", Branch: "",
				Retain: true, Active: k%4 == 0, Acknowledged: k%3 == 0, Confirmed: true, State: "High",
			}
		}
	}
	return evs
}

func eventSeq(ev scada.Event) int {
	f, _ := ev.Fields["seq"].(float64)
	return int(f)
}

// SameEvent reports whether a and b are the same event: every field equal,
// times to the instant, an empty ID or Fields equal to a nil one, field
// values of type time.Time compared as instants and []byte by content.
func SameEvent(a, b scada.Event) bool {
	if a.Source != b.Source || !a.Time.Equal(b.Time) || !a.ReceiveTime.Equal(b.ReceiveTime) ||
		a.EventType != b.EventType || a.SourceNode != b.SourceNode || a.SourceName != b.SourceName ||
		a.Severity != b.Severity || a.Message != b.Message || !bytes.Equal(a.ID, b.ID) {
		return false
	}
	if (a.Condition == nil) != (b.Condition == nil) || (a.Condition != nil && *a.Condition != *b.Condition) {
		return false
	}
	if len(a.Fields) != len(b.Fields) {
		return false
	}
	for k, va := range a.Fields {
		vb, ok := b.Fields[k]
		if !ok {
			return false
		}
		switch va := va.(type) {
		case time.Time:
			if tb, ok := vb.(time.Time); !ok || !va.Equal(tb) {
				return false
			}
		case []byte:
			if bb, ok := vb.([]byte); !ok || !bytes.Equal(va, bb) {
				return false
			}
		default:
			if !reflect.DeepEqual(va, vb) {
				return false
			}
		}
	}
	return true
}

func mustAppendEvents(t *testing.T, l buffer.EventLog, evs []scada.Event) buffer.Offset {
	t.Helper()
	off, err := l.AppendEvents(context.Background(), evs)
	if err != nil {
		t.Fatalf("AppendEvents: %v", err)
	}
	return off
}

// readAllEvents reads what consumer has from its cursor to the end of the log
// as it is, without committing.
func readAllEvents(t *testing.T, l buffer.EventLog, consumer string) (buffer.EventBatch, error) {
	t.Helper()
	end := l.EventStats().Durable
	ctx := readTimeout(t)
	var all buffer.EventBatch
	for first := true; ; first = false {
		b, err := l.ReadEvents(ctx, consumer, 7)
		if err != nil {
			return all, err
		}
		if first {
			all.First, all.Missed = b.First, b.Missed
		} else if b.Missed != 0 || b.First != all.Next() {
			return all, fmt.Errorf("gap inside the log: read at %d after %d, missed %d", b.First, all.Next(), b.Missed)
		}
		all.Events = append(all.Events, b.Events...)
		if err := l.CommitEvents(ctx, consumer, b.Next()); err != nil {
			return all, err
		}
		if b.Next() >= end {
			return all, nil
		}
	}
}

func TestEventsRoundTrip(t *testing.T, h Harness) {
	b, l := openEvents(t, h, t.TempDir(), Config{})
	ctx := readTimeout(t)
	if _, ok := b.(scada.EventSink); !ok {
		t.Fatalf("%T is not a scada.EventSink", b)
	}
	if off := mustAppendEvents(t, l, nil); off != 0 {
		t.Fatalf("empty AppendEvents at %d, want 0", off)
	}
	evs := testEvents(0, 10)
	at := time.Date(2026, 3, 1, 10, 0, 0, 123456789, time.FixedZone("CET", 3600))
	evs[3].Fields = map[string]any{
		"float": 1.25, "zero-float": 0.0, "bool": true, "text": "Überdruck", "time": at,
		"zero": time.Time{}, "bytes": []byte{0, 1, 255}, "nil": nil,
		// Other types go through JSON.
		"int": 42, "list": []string{"a", "b"}, "obj": map[string]int{"x": 1},
	}
	evs[4].ID, evs[4].Fields, evs[4].Time, evs[4].ReceiveTime = nil, nil, time.Time{}, time.Time{}
	evs[5].Condition = &scada.Condition{Branch: "ns=1;g=2", State: "HighHigh"}
	evs[6].Severity = 1000
	evs[7].Message = strings.Repeat("x", buffer.MaxStringLen)
	if err := b.(scada.EventSink).DeliverEvents(ctx, evs[:4]); err != nil {
		t.Fatalf("DeliverEvents: %v", err)
	}
	if off := mustAppendEvents(t, l, evs[4:]); off != 4 {
		t.Fatalf("second AppendEvents at %d, want 4", off)
	}
	got, err := readAllEvents(t, l, "c")
	if err != nil || got.First != 0 || got.Missed != 0 || len(got.Events) != len(evs) {
		t.Fatalf("read: First %d, Missed %d, %d events, %v", got.First, got.Missed, len(got.Events), err)
	}
	want := evs
	want[3].Fields = map[string]any{
		"float": 1.25, "zero-float": 0.0, "bool": true, "text": "Überdruck", "time": at,
		"zero": time.Time{}, "bytes": []byte{0, 1, 255}, "nil": nil,
		"int": float64(42), "list": []any{"a", "b"}, "obj": map[string]any{"x": float64(1)},
	}
	for i := range want {
		if !SameEvent(got.Events[i], want[i]) {
			t.Fatalf("event %d:\n got %+v\nwant %+v", i, got.Events[i], want[i])
		}
		if got.Events[i].Time.Location() != time.UTC {
			t.Fatalf("event %d time not in UTC: %v", i, got.Events[i].Time)
		}
	}
	if ft := got.Events[3].Fields["time"].(time.Time); ft.Location() != time.UTC {
		t.Fatalf("time field not in UTC: %v", ft)
	}
	st := l.EventStats()
	if st.Next != 10 || st.Durable != 10 || st.Events != 10 || st.Appended != 10 || st.Batches != 2 || st.Bytes <= 0 {
		t.Fatalf("EventStats: %+v", st)
	}
	// Points are a separate log.
	if ps := b.Stats(); ps.Next != 0 || ps.Appended != 0 {
		t.Fatalf("points Stats after events: %+v", ps)
	}
}

func TestEventsRejectBadInput(t *testing.T, h Harness) {
	_, l := openEvents(t, h, t.TempDir(), Config{})
	mustAppendEvents(t, l, testEvents(0, 3))
	bad := []func(*scada.Event){
		func(e *scada.Event) { e.Message = strings.Repeat("m", buffer.MaxStringLen+1) },
		func(e *scada.Event) { e.ID = make([]byte, buffer.MaxStringLen+1) },
		func(e *scada.Event) { e.Fields["ch"] = make(chan int) },
		func(e *scada.Event) { e.Condition = &scada.Condition{Name: strings.Repeat("n", buffer.MaxStringLen+1)} },
	}
	for i, f := range bad {
		evs := testEvents(100, 3)
		f(&evs[1])
		if _, err := l.AppendEvents(context.Background(), evs); !errors.Is(err, scada.ErrBadInput) {
			t.Fatalf("bad event %d: %v, want ErrBadInput", i, err)
		}
	}
	if off := mustAppendEvents(t, l, testEvents(3, 2)); off != 3 {
		t.Fatalf("AppendEvents after refusals at %d, want 3", off)
	}
	st := l.EventStats()
	if st.Rejected != uint64(len(bad)) || st.Next != 5 || st.Appended != 5 {
		t.Fatalf("EventStats: %+v", st)
	}
	all, err := readAllEvents(t, l, "c")
	if err != nil || len(all.Events) != 5 {
		t.Fatalf("read %d events, %v", len(all.Events), err)
	}
	for i, ev := range all.Events {
		if eventSeq(ev) != i {
			t.Fatalf("event %d has seq %d", i, eventSeq(ev))
		}
	}
}

func TestEventsCursors(t *testing.T, h Harness) {
	b, l := openEvents(t, h, t.TempDir(), Config{})
	ctx := readTimeout(t)
	mustAppendEvents(t, l, testEvents(0, 10))
	mustAppend(t, b, testPoints(0, 10, t0))
	got, err := l.ReadEvents(ctx, "a", 4)
	if err != nil || got.First != 0 || len(got.Events) != 4 {
		t.Fatalf("ReadEvents: %+v, %v", got, err)
	}
	// Without a commit the same events come again.
	again, err := l.ReadEvents(ctx, "a", 4)
	if err != nil || again.First != 0 || eventSeq(again.Events[0]) != 0 {
		t.Fatalf("ReadEvents again: %+v, %v", again, err)
	}
	if err := l.CommitEvents(ctx, "a", got.Next()); err != nil {
		t.Fatal(err)
	}
	// The point cursor of "a" is its own.
	if pb, err := b.Read(ctx, "a", 100); err != nil || pb.First != 0 || len(pb.Points) != 10 {
		t.Fatalf("Read points: First %d, %d points, %v", pb.First, len(pb.Points), err)
	}
	if err := b.Commit(ctx, "a", 10); err != nil {
		t.Fatal(err)
	}
	got, err = l.ReadEvents(ctx, "a", 100)
	if err != nil || got.First != 4 || len(got.Events) != 6 || eventSeq(got.Events[0]) != 4 {
		t.Fatalf("ReadEvents after commit: First %d, %d events, %v", got.First, len(got.Events), err)
	}
	// Another consumer starts at the oldest event.
	if bb, err := l.ReadEvents(ctx, "b", 100); err != nil || bb.First != 0 {
		t.Fatalf("ReadEvents b: First %d, %v", bb.First, err)
	}
	// Rewind.
	if err := l.CommitEvents(ctx, "a", 2); err != nil {
		t.Fatal(err)
	}
	if got, err := l.ReadEvents(ctx, "a", 1); err != nil || got.First != 2 || eventSeq(got.Events[0]) != 2 {
		t.Fatalf("ReadEvents after rewind: %+v, %v", got, err)
	}
	if err := l.CommitEvents(ctx, "a", 11); !errors.Is(err, buffer.ErrOutOfRange) {
		t.Fatalf("CommitEvents beyond the end: %v", err)
	}
	if err := l.CommitEvents(ctx, "", 0); err == nil {
		t.Fatal("CommitEvents with an empty consumer name succeeded")
	}
	if err := l.CommitEvents(ctx, "a", 10); err != nil {
		t.Fatal(err)
	}
	st := l.EventStats()
	if len(st.Consumers) != 2 || st.Consumers[0].Name != "a" || st.Consumers[0].Cursor != 10 || st.Consumers[0].Lag != 0 ||
		st.Consumers[1].Name != "b" || st.Consumers[1].Lag != 10 {
		t.Fatalf("Consumers: %+v", st.Consumers)
	}
	if err := l.ForgetEvents(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if st := l.EventStats(); len(st.Consumers) != 1 || st.Consumers[0].Name != "b" {
		t.Fatalf("Consumers after Forget: %+v", st.Consumers)
	}
	if ps := b.Stats(); len(ps.Consumers) != 1 || ps.Consumers[0].Name != "a" || ps.Consumers[0].Cursor != 10 {
		t.Fatalf("point consumers after ForgetEvents: %+v", ps.Consumers)
	}
}

func TestEventsReadWaits(t *testing.T, h Harness) {
	b, l := openEvents(t, h, t.TempDir(), Config{})
	ctx := readTimeout(t)
	done := make(chan buffer.EventBatch, 1)
	errc := make(chan error, 1)
	go func() {
		got, err := l.ReadEvents(ctx, "c", 10)
		if err != nil {
			errc <- err
			return
		}
		done <- got
	}()
	mustAppendEvents(t, l, testEvents(0, 3))
	select {
	case got := <-done:
		if got.First != 0 || len(got.Events) == 0 || eventSeq(got.Events[0]) != 0 {
			t.Fatalf("ReadEvents: %+v", got)
		}
	case err := <-errc:
		t.Fatal(err)
	}
	// A read at the end waits until ctx ends...
	if err := l.CommitEvents(ctx, "d", 3); err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithCancel(ctx)
	go func() {
		_, err := l.ReadEvents(cctx, "d", 10)
		errc <- err
	}()
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("ReadEvents with a canceled ctx: %v", err)
	}
	// ... or the buffer closes.
	if err := l.CommitEvents(ctx, "c", 3); err != nil {
		t.Fatal(err)
	}
	go func() {
		_, err := l.ReadEvents(ctx, "c", 10)
		errc <- err
	}()
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; !errors.Is(err, scada.ErrClosed) {
		t.Fatalf("ReadEvents across Close: %v", err)
	}
	if _, err := l.AppendEvents(ctx, testEvents(3, 1)); !errors.Is(err, scada.ErrClosed) {
		t.Fatalf("AppendEvents after Close: %v", err)
	}
	if _, err := l.ReadEvents(ctx, "c", 1); !errors.Is(err, scada.ErrClosed) {
		t.Fatalf("ReadEvents after Close: %v", err)
	}
}

func TestEventsConcurrentAppenders(t *testing.T, h Harness) {
	_, l := openEvents(t, h, t.TempDir(), Config{})
	const writers, batches, per = 4, 25, 5
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range batches {
				evs := testEvents(w*10000+i*per, per)
				if _, err := l.AppendEvents(context.Background(), evs); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	// A consumer follows the writers.
	ctx := readTimeout(t)
	next := make([]int, writers)
	for n := 0; n < writers*batches*per; {
		b, err := l.ReadEvents(ctx, "follower", 13)
		if err != nil {
			t.Fatal(err)
		}
		if b.Missed != 0 || b.First != buffer.Offset(n) {
			t.Fatalf("ReadEvents at %d: First %d, Missed %d", n, b.First, b.Missed)
		}
		for _, ev := range b.Events {
			s := eventSeq(ev)
			w := s / 10000
			if s%10000 != next[w] {
				t.Fatalf("writer %d: event %d after %d", w, s%10000, next[w])
			}
			next[w]++
		}
		n += len(b.Events)
		if err := l.CommitEvents(ctx, "follower", b.Next()); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	if st := l.EventStats(); st.Next != writers*batches*per || st.Batches != writers*batches {
		t.Fatalf("EventStats: %+v", st)
	}
}

func TestEventsRetentionByAge(t *testing.T, h Harness) {
	clock := newFakeClock()
	var mu sync.Mutex
	var drops []buffer.DropEvent
	_, l := openEvents(t, h, t.TempDir(), Config{Now: clock.Now, OnDrop: func(e buffer.DropEvent) {
		mu.Lock()
		drops = append(drops, e)
		mu.Unlock()
	}})
	ctx := readTimeout(t)
	mustAppendEvents(t, l, testEvents(0, 10))
	clock.Advance(time.Hour)
	mustAppendEvents(t, l, testEvents(10, 10))
	if err := l.CommitEvents(ctx, "alarms", 5); err != nil {
		t.Fatal(err)
	}
	if err := l.CommitEvents(ctx, "done", 20); err != nil {
		t.Fatal(err)
	}
	clock.Advance(buffer.DefaultBufferMaxAge - 30*time.Minute)
	mustAppendEvents(t, l, testEvents(20, 10))
	st := l.EventStats()
	if st.First != 10 || st.Dropped.Age != 10 || st.Dropped.Bytes != 0 || st.DroppedBytes <= 0 || st.Events != 20 {
		t.Fatalf("after age retention: %+v", st)
	}
	mu.Lock()
	if len(drops) != 1 || !drops[0].Events || drops[0].Reason != buffer.DropAge || drops[0].From != 0 || drops[0].To != 10 || drops[0].Points != 10 {
		t.Fatalf("drops %+v", drops)
	}
	if u := drops[0].Unread; len(u) != 1 || u["alarms"] != 5 {
		t.Fatalf("Unread = %v, want alarms:5", u)
	}
	mu.Unlock()
	b, err := l.ReadEvents(ctx, "alarms", 100)
	if err != nil || b.First != 10 || b.Missed != 5 || len(b.Events) != 20 || eventSeq(b.Events[0]) != 10 {
		t.Fatalf("ReadEvents after retention: First %d, Missed %d, %d events, %v", b.First, b.Missed, len(b.Events), err)
	}
	// Reads apply retention too.
	clock.Advance(time.Hour)
	if b, err := l.ReadEvents(ctx, "late", 100); err != nil || b.First != 20 || len(b.Events) != 10 {
		t.Fatalf("ReadEvents an hour later: First %d, %d events, %v", b.First, len(b.Events), err)
	}
	if st := l.EventStats(); st.Dropped.Age != 20 {
		t.Fatalf("Dropped.Age = %d, want 20", st.Dropped.Age)
	}
}

func TestEventsRetentionByBytes(t *testing.T, h Harness) {
	var mu sync.Mutex
	var dropped uint64
	var droppedBytes int64
	const cap = 16 << 10
	_, l := openEvents(t, h, t.TempDir(), Config{EventMaxBytes: cap, OnDrop: func(e buffer.DropEvent) {
		mu.Lock()
		defer mu.Unlock()
		if !e.Events || e.Reason != buffer.DropBytes {
			t.Errorf("drop %+v, want events by bytes", e)
		}
		dropped += e.Points
		droppedBytes += e.Bytes
	}})
	total := 0
	for range 100 {
		mustAppendEvents(t, l, testEvents(total, 5))
		total += 5
	}
	st := l.EventStats()
	mu.Lock()
	defer mu.Unlock()
	if st.Dropped.Bytes == 0 || st.Dropped.Bytes != dropped || st.DroppedBytes != droppedBytes {
		t.Fatalf("EventStats dropped %d events / %d bytes, hook saw %d / %d", st.Dropped.Bytes, st.DroppedBytes, dropped, droppedBytes)
	}
	if uint64(st.First) != dropped || st.Events != uint64(total)-dropped || st.Bytes > cap {
		t.Fatalf("EventStats %+v after dropping %d of %d", st, dropped, total)
	}
	all, err := readAllEvents(t, l, "c")
	if err != nil || all.First != st.First || all.Missed != 0 || uint64(len(all.Events)) != st.Events || eventSeq(all.Events[0]) != int(st.First) {
		t.Fatalf("read from the oldest: First %d, Missed %d, %d events, %v", all.First, all.Missed, len(all.Events), err)
	}
}

func TestEventsReopen(t *testing.T, h Harness) {
	store := t.TempDir()
	ctx := readTimeout(t)
	b, l := openEvents(t, h, store, Config{})
	var want []scada.Event
	for i := range 5 {
		evs := testEvents(i*12, 12)
		want = append(want, evs...)
		mustAppendEvents(t, l, evs)
	}
	if err := l.CommitEvents(ctx, "alarms", 25); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var drops []buffer.DropEvent
	_, l = openEvents(t, h, store, Config{OnDrop: func(e buffer.DropEvent) {
		mu.Lock()
		drops = append(drops, e)
		mu.Unlock()
	}})
	st := l.EventStats()
	if st.Next != 60 || st.Durable != 60 || st.First != 0 || st.Events != 60 || st.Dropped.Total() != 0 {
		t.Fatalf("EventStats after reopen: %+v", st)
	}
	if len(st.Consumers) != 1 || st.Consumers[0].Name != "alarms" || st.Consumers[0].Cursor != 25 {
		t.Fatalf("Consumers after reopen: %+v", st.Consumers)
	}
	all, err := readAllEvents(t, l, "alarms")
	if err != nil || all.First != 25 || len(all.Events) != 35 {
		t.Fatalf("read after reopen: First %d, %d events, %v", all.First, len(all.Events), err)
	}
	for i, ev := range all.Events {
		if !SameEvent(ev, want[25+i]) {
			t.Fatalf("event %d:\n got %+v\nwant %+v", 25+i, ev, want[25+i])
		}
	}
	if off := mustAppendEvents(t, l, testEvents(60, 1)); off != 60 {
		t.Fatalf("AppendEvents after reopen at %d, want 60", off)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(drops) != 0 {
		t.Fatalf("drops on a clean reopen: %+v", drops)
	}
}
