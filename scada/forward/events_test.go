package forward_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/greenlang/gl001/scada"
	"github.com/greenlang/gl001/scada/buffer"
	"github.com/greenlang/gl001/scada/forward"
)

// eventStore is a Target that also takes events, like a stream with a
// duplicate window: an event batch whose (First, Next) it has seen is
// acknowledged and dropped. It can fail sends on demand and answer
// ResumeEvents.
type eventStore struct {
	*store
	emu      sync.Mutex
	eseen    map[[2]buffer.Offset]bool
	events   []scada.Event
	eoffsets []buffer.Offset
	efail    func(b forward.EventBatch, attempt int) error
	eattempt map[buffer.Offset]int
	echanged chan struct{}
}

func newEventStore() *eventStore {
	return &eventStore{store: newStore(), eseen: map[[2]buffer.Offset]bool{}, eattempt: map[buffer.Offset]int{}, echanged: make(chan struct{}, 1)}
}

func (s *eventStore) SendEvents(ctx context.Context, b forward.EventBatch) error {
	s.emu.Lock()
	defer s.emu.Unlock()
	s.eattempt[b.First]++
	if s.efail != nil {
		if err := s.efail(b, s.eattempt[b.First]); err != nil {
			return err
		}
	}
	id := [2]buffer.Offset{b.First, b.Next()}
	if s.eseen[id] {
		return nil
	}
	s.eseen[id] = true
	for i, ev := range b.Events {
		s.events = append(s.events, ev)
		s.eoffsets = append(s.eoffsets, b.First+buffer.Offset(i))
	}
	select {
	case s.echanged <- struct{}{}:
	default:
	}
	return nil
}

func (s *eventStore) eventCount() int {
	s.emu.Lock()
	defer s.emu.Unlock()
	return len(s.events)
}

func (s *eventStore) waitForEvents(t *testing.T, n int) {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for s.eventCount() < n {
		select {
		case <-s.echanged:
		case <-time.After(10 * time.Millisecond):
		case <-deadline:
			t.Fatalf("store holds %d events, want %d", s.eventCount(), n)
		}
	}
}

// checkEventsOnce checks that the store holds the events [from, n) once
// each, in order, each the event appended at its offset.
func (s *eventStore) checkEventsOnce(t *testing.T, from, n int) {
	t.Helper()
	s.emu.Lock()
	defer s.emu.Unlock()
	if len(s.events) != n-from {
		t.Fatalf("%d events stored, want %d", len(s.events), n-from)
	}
	for i, ev := range s.events {
		if want := buffer.Offset(from + i); s.eoffsets[i] != want || ev.Message != fmt.Sprintf("alarm %d", want) {
			t.Fatalf("event %d: offset %d, message %q", i, s.eoffsets[i], ev.Message)
		}
	}
}

type resumingEventStore struct{ *eventStore }

func (r resumingEventStore) ResumeEvents(ctx context.Context, s forward.Stream) (buffer.Offset, bool, error) {
	r.emu.Lock()
	defer r.emu.Unlock()
	if len(r.eoffsets) == 0 {
		return 0, false, nil
	}
	return r.eoffsets[len(r.eoffsets)-1] + 1, true, nil
}

func appendEvents(t *testing.T, b buffer.EventLog, from, n int) {
	t.Helper()
	evs := make([]scada.Event, n)
	for i := range evs {
		evs[i] = scada.Event{Source: "opcua", Time: time.Now(), Severity: 700, Message: fmt.Sprintf("alarm %d", from+i),
			Condition: &scada.Condition{Name: "High", Active: true}}
	}
	if _, err := b.AppendEvents(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
}

func TestForwardsEventsOnceBesidePoints(t *testing.T) {
	b := newMemory(t)
	s := newEventStore()
	// Every event batch fails on its first attempt, so each is sent again
	// with the same boundaries.
	s.efail = func(_ forward.EventBatch, attempt int) error {
		if attempt == 1 {
			return errors.New("link down")
		}
		return nil
	}
	f, err := forward.New(forward.Config{Buffer: b, Consumer: "central", Edge: "edge1", Target: s, Backoff: fastBackoff})
	if err != nil {
		t.Fatal(err)
	}
	stop := run(t, f)
	for i := range 10 {
		appendPoints(t, b, i*100, 100, 5)
		appendEvents(t, b, i*30, 30)
	}
	s.waitFor(t, 1000)
	s.waitForEvents(t, 300)
	if err := stop(); !errors.Is(err, context.Canceled) {
		t.Fatalf("Run: %v", err)
	}
	s.checkExactlyOnce(t, 1000, true)
	s.checkEventsOnce(t, 0, 300)
	st := f.EventStats()
	if !st.Enabled || st.Committed != 300 || st.Events != 300 || st.Failures == 0 || st.Lag != 0 {
		t.Fatalf("EventStats: %+v", st)
	}
	if c := b.EventStats().Consumers; len(c) != 1 || c[0].Name != "central" || c[0].Cursor != 300 {
		t.Fatalf("event cursors: %+v", c)
	}
}

func TestNoEventLaneWithoutEventTarget(t *testing.T) {
	b := newMemory(t)
	f, err := forward.New(forward.Config{Buffer: b, Consumer: "central", Edge: "edge1", Target: newStore()})
	if err != nil {
		t.Fatal(err)
	}
	appendEvents(t, b, 0, 3)
	stop := run(t, f)
	if err := stop(); !errors.Is(err, context.Canceled) {
		t.Fatalf("Run: %v", err)
	}
	if st := f.EventStats(); st.Enabled || st.Events != 0 {
		t.Fatalf("EventStats: %+v", st)
	}
	if c := b.EventStats().Consumers; len(c) != 0 {
		t.Fatalf("event cursors: %+v", c)
	}
}

func TestRejectedEventBatchIsSkipped(t *testing.T) {
	b := newMemory(t)
	s := newEventStore()
	s.efail = func(eb forward.EventBatch, _ int) error {
		if eb.First == 0 {
			return fmt.Errorf("no: %w", scada.ErrBadInput)
		}
		return nil
	}
	f, err := forward.New(forward.Config{Buffer: b, Consumer: "central", Edge: "edge1", Target: s, Backoff: fastBackoff})
	if err != nil {
		t.Fatal(err)
	}
	appendEvents(t, b, 0, 5)
	stop := run(t, f)
	// Wait until the refused batch is committed, then send more.
	for f.EventStats().Committed < 5 {
		time.Sleep(5 * time.Millisecond)
	}
	appendEvents(t, b, 5, 5)
	s.waitForEvents(t, 5)
	stop()
	s.checkEventsOnce(t, 5, 10)
	if st := f.EventStats(); st.Rejected != 1 || st.RejectedEvents != 5 || st.Committed != 10 {
		t.Fatalf("EventStats: %+v", st)
	}
}

// TestEventsResumeAfterRestart: a disk buffer and a forwarder stopped
// midway and started again, with the target answering ResumeEvents: every
// event arrives once, the ones the target acknowledged before the restart
// are not sent again even though the cursor was not committed.
func TestEventsResumeAfterRestart(t *testing.T) {
	dir := t.TempDir()
	b, err := buffer.OpenDisk(buffer.DiskConfig{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	s := newEventStore()
	target := resumingEventStore{s}
	appendEvents(t, b, 0, 100)
	// The target already holds events 0..39, sent by a process that died
	// before committing.
	if err := s.SendEvents(context.Background(), forward.EventBatch{First: 0, Events: readEventsN(t, b, 40)}); err != nil {
		t.Fatal(err)
	}
	f, err := forward.New(forward.Config{Buffer: b, Consumer: "central", Edge: "edge1", Target: target, Backoff: fastBackoff})
	if err != nil {
		t.Fatal(err)
	}
	stop := run(t, f)
	s.waitForEvents(t, 100)
	stop()
	if st := f.EventStats(); st.Skipped != 40 || st.Committed != 100 {
		t.Fatalf("EventStats: %+v", st)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	b, err = buffer.OpenDisk(buffer.DiskConfig{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	appendEvents(t, b, 100, 50)
	f, err = forward.New(forward.Config{Buffer: b, Consumer: "central", Edge: "edge1", Target: target, Backoff: fastBackoff})
	if err != nil {
		t.Fatal(err)
	}
	stop = run(t, f)
	s.waitForEvents(t, 150)
	stop()
	s.checkEventsOnce(t, 0, 150)
}

func readEventsN(t *testing.T, b buffer.EventLog, n int) []scada.Event {
	t.Helper()
	eb, err := b.ReadEvents(context.Background(), "peek", n)
	if err != nil || len(eb.Events) != n {
		t.Fatalf("ReadEvents: %d events, %v", len(eb.Events), err)
	}
	if err := b.ForgetEvents(context.Background(), "peek"); err != nil {
		t.Fatal(err)
	}
	return eb.Events
}

// TestEventLaneStopsWhenTheBufferCloses: closing the buffer ends Run with
// an error matching scada.ErrClosed, both lanes stopped.
func TestEventLaneStopsWhenTheBufferCloses(t *testing.T) {
	b, err := buffer.NewMemory(buffer.MemoryConfig{})
	if err != nil {
		t.Fatal(err)
	}
	s := newEventStore()
	f, err := forward.New(forward.Config{Buffer: b, Consumer: "central", Edge: "edge1", Target: s, Backoff: fastBackoff})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- f.Run(context.Background()) }()
	appendEvents(t, b, 0, 3)
	s.waitForEvents(t, 3)
	b.Close()
	if err := <-done; !errors.Is(err, scada.ErrClosed) {
		t.Fatalf("Run after Close: %v", err)
	}
}
