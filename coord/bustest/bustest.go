// Package bustest is the conformance suite every coord.Bus implementation
// passes: ordering per subject, wildcards, request/reply with every message
// field, request timeout, no responders, unsubscribe, close, slow subscribers
// and concurrent use.
//
// It is an ordinary package rather than a test helper inside coord so that the
// local bus, coord/natsbus and any Bus written outside this module (over
// another broker) run exactly the same checks:
//
//	func TestConformance(t *testing.T) {
//		bustest.TestBus(t, func(t *testing.T) coord.Bus { return newMyBus(t) })
//	}
package bustest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/greenlang/gl001/coord"
)

// wait is how long the suite waits for something that should happen at once.
// It is generous because CI machines are loaded; a passing run never waits
// this long.
const wait = 10 * time.Second

// TestBus runs the suite. newBus returns a fresh, empty Bus for each subtest;
// the suite closes it, and newBus may register t.Cleanup for anything else it
// started (a server, a connection).
func TestBus(t *testing.T, newBus func(t *testing.T) coord.Bus) {
	tests := []struct {
		name string
		fn   func(t *testing.T, b coord.Bus)
	}{
		{"OrderPerSubject", testOrder},
		{"Wildcards", testWildcards},
		{"RequestReply", testRequestReply},
		{"RequestTimeout", testRequestTimeout},
		{"RequestCancel", testRequestCancel},
		{"NoResponders", testNoResponders},
		{"BadSubjects", testBadSubjects},
		{"Unsubscribe", testUnsubscribe},
		{"SlowSubscriber", testSlowSubscriber},
		{"Concurrent", testConcurrent},
		{"Close", testClose},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := newBus(t)
			t.Cleanup(func() { _ = b.Close() })
			tc.fn(t, b)
		})
	}
}

// collector records what a subscription receives.
type collector struct {
	mu   sync.Mutex
	msgs []coord.Message
	more chan struct{}
}

func newCollector() *collector { return &collector{more: make(chan struct{}, 1)} }

func (c *collector) handle(_ context.Context, m coord.Message) {
	c.mu.Lock()
	c.msgs = append(c.msgs, m)
	c.mu.Unlock()
	select {
	case c.more <- struct{}{}:
	default:
	}
}

// waitFor waits until the collector holds n messages, or fails.
func (c *collector) waitFor(t *testing.T, n int) []coord.Message {
	t.Helper()
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		c.mu.Lock()
		got := slices.Clone(c.msgs)
		c.mu.Unlock()
		if len(got) >= n {
			return got
		}
		select {
		case <-c.more:
		case <-timer.C:
			t.Fatalf("received %d messages, want %d", len(got), n)
		}
	}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	t.Cleanup(cancel)
	return ctx
}

func num(i int) coord.Message {
	return coord.Message{ID: coord.NewID(), Payload: json.RawMessage(strconv.Itoa(i))}
}

func payloadInt(t *testing.T, m coord.Message) int {
	t.Helper()
	n, err := strconv.Atoi(string(m.Payload))
	if err != nil {
		t.Fatalf("payload %q: %v", m.Payload, err)
	}
	return n
}

func mustSub(t *testing.T, b coord.Bus, subject string, h coord.Handler) coord.Subscription {
	t.Helper()
	s, err := b.Subscribe(subject, h)
	if err != nil {
		t.Fatalf("Subscribe(%q): %v", subject, err)
	}
	return s
}

func mustPub(t *testing.T, b coord.Bus, subject string, m coord.Message) {
	t.Helper()
	if err := b.Publish(ctxT(t), subject, m); err != nil {
		t.Fatalf("Publish(%q): %v", subject, err)
	}
}

// until waits for the message with the given id and returns what arrived
// before it, fences excluded; everything up to and including it is removed.
func (c *collector) until(t *testing.T, id string) []coord.Message {
	t.Helper()
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		c.mu.Lock()
		i := slices.IndexFunc(c.msgs, func(m coord.Message) bool { return m.ID == id })
		var out []coord.Message
		if i >= 0 {
			for _, m := range c.msgs[:i] {
				if m.Name != fenceName {
					out = append(out, m)
				}
			}
			c.msgs = slices.Delete(c.msgs, 0, i+1)
		}
		c.mu.Unlock()
		if i >= 0 {
			return out
		}
		select {
		case <-c.more:
		case <-timer.C:
			t.Fatalf("fence %s never arrived", id)
		}
	}
}

const fenceName = "bustest.fence"

// fence publishes a marker on subject; messages published earlier by this
// goroutine reach a live subscription before it.
func fence(t *testing.T, b coord.Bus, subject string) string {
	t.Helper()
	id := coord.NewID()
	mustPub(t, b, subject, coord.Message{ID: id, Name: fenceName})
	return id
}

// ready makes sure a subscription is live end to end before the test relies
// on it (a networked bus may register interest asynchronously): it publishes
// fences on subject until c sees one, then clears c.
func ready(t *testing.T, b coord.Bus, subject string, c *collector) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for {
		id := fence(t, b, subject)
		select {
		case <-c.more:
		case <-time.After(20 * time.Millisecond):
		}
		c.mu.Lock()
		seen := slices.ContainsFunc(c.msgs, func(m coord.Message) bool { return m.ID == id })
		c.mu.Unlock()
		if seen {
			c.until(t, id)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("subscription on %q never became ready", subject)
		}
	}
}

func testOrder(t *testing.T, b coord.Bus) {
	const n = 2000
	c := newCollector()
	mustSub(t, b, "order.x", c.handle)
	ready(t, b, "order.x", c)
	for i := range n {
		mustPub(t, b, "order.x", num(i))
	}
	got := c.waitFor(t, n)
	for i, m := range got[:n] {
		if v := payloadInt(t, m); v != i {
			t.Fatalf("message %d carries %d: out of order", i, v)
		}
		if m.Subject != "order.x" {
			t.Fatalf("Subject = %q, want order.x", m.Subject)
		}
	}
}

func testWildcards(t *testing.T, b coord.Bus) {
	patterns := []string{"w.a", "w.*", "w.*.x", "w.>", "w.a.>", "*.a", ">"}
	subjects := []string{"w.a", "w.b", "w.b.x", "w.a.x", "w.a.y.z", "v.a", "w"}
	want := map[string][]string{}
	for _, p := range patterns {
		for _, s := range subjects {
			if coord.MatchSubject(p, s) {
				want[p] = append(want[p], s)
			}
		}
	}
	// Sanity check of the rules themselves, so the suite fails loudly if
	// MatchSubject ever drifts from NATS semantics.
	wantRules := map[string][]string{
		"w.a":   {"w.a"},
		"w.*":   {"w.a", "w.b"},
		"w.*.x": {"w.b.x", "w.a.x"},
		"w.>":   {"w.a", "w.b", "w.b.x", "w.a.x", "w.a.y.z"},
		"w.a.>": {"w.a.x", "w.a.y.z"},
		"*.a":   {"w.a", "v.a"},
		">":     subjects,
	}
	if !maps.EqualFunc(want, wantRules, slices.Equal) {
		t.Fatalf("MatchSubject disagrees with NATS rules:\n got %v\nwant %v", want, wantRules)
	}

	cols := map[string]*collector{}
	fenceOn := map[string]string{}
	for _, p := range patterns {
		c := newCollector()
		cols[p] = c
		mustSub(t, b, p, c.handle)
		fenceOn[p] = want[p][0]
	}
	// Make each subscription live, then clear every collector: a fence on
	// subject s is waited for by every collector whose pattern matches s.
	settle := func() map[string][]coord.Message {
		got := map[string][]coord.Message{}
		for _, p := range patterns {
			s := fenceOn[p]
			id := fence(t, b, s)
			for q, c := range cols {
				if coord.MatchSubject(q, s) {
					got[q] = append(got[q], c.until(t, id)...)
				}
			}
		}
		return got
	}
	for _, p := range patterns {
		ready(t, b, fenceOn[p], cols[p])
	}
	settle()
	for i, s := range subjects {
		mustPub(t, b, s, num(i))
	}
	got := settle()
	for _, p := range patterns {
		var subj []string
		for _, m := range got[p] {
			subj = append(subj, m.Subject)
		}
		slices.Sort(subj)
		w := slices.Clone(want[p])
		slices.Sort(w)
		if !slices.Equal(subj, w) {
			t.Errorf("pattern %q received %v, want %v", p, subj, w)
		}
	}
}

func sampleMessage() coord.Message {
	now := time.Now().UTC().Truncate(time.Microsecond)
	return coord.Message{
		ID:            coord.NewID(),
		Type:          coord.TypeQuery,
		From:          "GL-001",
		To:            "GL-042",
		Name:          "boiler_efficiency",
		CorrelationID: "cmd-7",
		Time:          now,
		Deadline:      now.Add(time.Minute),
		Headers:       map[string]string{"Trace-Id": "abc123", "X-Unit": "°C"},
		Payload:       json.RawMessage(`{"boiler":"B-1","window":"15m"}`),
		Signature:     "sig.nat.ure",
	}
}

func sameFields(t *testing.T, what string, got, want coord.Message) {
	t.Helper()
	if got.ID != want.ID || got.Type != want.Type || got.From != want.From || got.To != want.To ||
		got.Name != want.Name || got.CorrelationID != want.CorrelationID || got.Signature != want.Signature {
		t.Errorf("%s: envelope = %+v\nwant %+v", what, got, want)
	}
	if !got.Time.Equal(want.Time) || !got.Deadline.Equal(want.Deadline) {
		t.Errorf("%s: times = %v, %v; want %v, %v", what, got.Time, got.Deadline, want.Time, want.Deadline)
	}
	if !maps.Equal(got.Headers, want.Headers) && !(len(got.Headers) == 0 && len(want.Headers) == 0) {
		t.Errorf("%s: headers = %v, want %v", what, got.Headers, want.Headers)
	}
	if string(got.Payload) != string(want.Payload) {
		t.Errorf("%s: payload = %s, want %s", what, got.Payload, want.Payload)
	}
	if (got.Error == nil) != (want.Error == nil) || (got.Error != nil && *got.Error != *want.Error) {
		t.Errorf("%s: error = %v, want %v", what, got.Error, want.Error)
	}
}

func testRequestReply(t *testing.T, b coord.Bus) {
	req := sampleMessage()
	resp := sampleMessage()
	resp.Type = coord.TypeResponse
	resp.From, resp.To = "GL-042", "GL-001"
	resp.Error = &coord.ReplyError{Code: coord.CodeDenied, Message: "not allowed"}
	resp.Payload = nil
	resp.Headers = nil

	var gotReq coord.Message
	var once sync.Once
	got := make(chan struct{})
	mustSub(t, b, "rr.agent.GL-042", func(ctx context.Context, m coord.Message) {
		once.Do(func() { gotReq = m; close(got) })
		if m.ReplyTo == "" {
			t.Errorf("request has no ReplyTo")
			return
		}
		if err := b.Publish(ctx, m.ReplyTo, resp); err != nil {
			t.Errorf("reply: %v", err)
		}
	})
	var r coord.Message
	var err error
	deadline := time.Now().Add(wait)
	for {
		r, err = b.Request(ctxT(t), "rr.agent.GL-042", req)
		// A networked bus may not have registered the subscription yet.
		if !errors.Is(err, coord.ErrNoResponders) || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("Request: %v", err)
	}
	<-got
	sameFields(t, "request as received", gotReq, req)
	if gotReq.Subject != "rr.agent.GL-042" {
		t.Errorf("request Subject = %q", gotReq.Subject)
	}
	sameFields(t, "reply", r, resp)
	if !errors.Is(r.Error, coord.ErrDenied) {
		t.Errorf("reply error %v does not match ErrDenied", r.Error)
	}
}

func testRequestTimeout(t *testing.T, b coord.Bus) {
	c := newCollector()
	mustSub(t, b, "silent.x", c.handle) // never replies
	ready(t, b, "silent.x", c)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := b.Request(ctx, "silent.x", num(1))
	if !errors.Is(err, coord.ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Request to a silent subscriber = %v, want ErrTimeout and DeadlineExceeded", err)
	}
	// The message deadline bounds the wait too.
	m := num(2)
	m.Deadline = time.Now().Add(50 * time.Millisecond)
	_, err = b.Request(ctxT(t), "silent.x", m)
	if !errors.Is(err, coord.ErrTimeout) {
		t.Fatalf("Request past the message deadline = %v, want ErrTimeout", err)
	}
}

func testRequestCancel(t *testing.T, b coord.Bus) {
	c := newCollector()
	mustSub(t, b, "silent.y", c.handle)
	ready(t, b, "silent.y", c)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := b.Request(ctx, "silent.y", num(1))
		errc <- err
	}()
	c.waitFor(t, 1) // the request is out
	cancel()
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled Request = %v, want context.Canceled", err)
		}
	case <-time.After(wait):
		t.Fatal("cancelled Request did not return")
	}
}

func testNoResponders(t *testing.T, b coord.Bus) {
	start := time.Now()
	_, err := b.Request(ctxT(t), "nobody.home", num(1))
	if !errors.Is(err, coord.ErrNoResponders) {
		t.Fatalf("Request with no subscriber = %v, want ErrNoResponders", err)
	}
	if errors.Is(err, coord.ErrTimeout) {
		t.Fatalf("no responders reported as a timeout after %v", time.Since(start))
	}
}

func testBadSubjects(t *testing.T, b coord.Bus) {
	for _, s := range []string{"", "a..b", ".a", "a.", "a b", "a.*", "a.>"} {
		if err := b.Publish(ctxT(t), s, num(1)); !errors.Is(err, coord.ErrBadSubject) {
			t.Errorf("Publish(%q) = %v, want ErrBadSubject", s, err)
		}
		if _, err := b.Request(ctxT(t), s, num(1)); !errors.Is(err, coord.ErrBadSubject) {
			t.Errorf("Request(%q) = %v, want ErrBadSubject", s, err)
		}
	}
	for _, s := range []string{"", "a..b", "a.>.b", "a b", "a."} {
		if _, err := b.Subscribe(s, func(context.Context, coord.Message) {}); !errors.Is(err, coord.ErrBadSubject) {
			t.Errorf("Subscribe(%q) = %v, want ErrBadSubject", s, err)
		}
	}
}

func testUnsubscribe(t *testing.T, b coord.Bus) {
	gone, stay := newCollector(), newCollector()
	sg := mustSub(t, b, "u.x", gone.handle)
	mustSub(t, b, "u.x", stay.handle)
	ready(t, b, "u.x", gone)
	ready(t, b, "u.x", stay)
	if sg.Subject() != "u.x" {
		t.Errorf("Subject() = %q", sg.Subject())
	}
	gone.mu.Lock()
	gone.msgs = nil
	gone.mu.Unlock()
	if err := sg.Unsubscribe(); err != nil {
		t.Fatalf("Unsubscribe: %v", err)
	}
	if err := sg.Unsubscribe(); !errors.Is(err, coord.ErrClosed) {
		t.Errorf("second Unsubscribe = %v, want ErrClosed", err)
	}
	stay.mu.Lock()
	stay.msgs = nil
	stay.mu.Unlock()
	for i := range 10 {
		mustPub(t, b, "u.x", num(i))
	}
	stay.waitFor(t, 10)
	// Both subscriptions were on the same subject from the same publisher;
	// the survivor has everything, so the unsubscribed one would have had it
	// by now too.
	gone.mu.Lock()
	n := 0
	for _, m := range gone.msgs {
		if m.Name != fenceName { // a fence may still have been in flight
			n++
		}
	}
	gone.mu.Unlock()
	if n != 0 {
		t.Errorf("unsubscribed handler received %d messages", n)
	}
}

func testSlowSubscriber(t *testing.T, b coord.Bus) {
	release := make(chan struct{})
	var releaseOnce sync.Once
	t.Cleanup(func() { releaseOnce.Do(func() { close(release) }) })
	slowGot := make(chan struct{}, 1)
	mustSub(t, b, "slow.x", func(ctx context.Context, m coord.Message) {
		select {
		case slowGot <- struct{}{}:
		default:
		}
		select {
		case <-release:
		case <-ctx.Done():
		}
	})
	fast := newCollector()
	mustSub(t, b, "slow.x", fast.handle)
	ready(t, b, "slow.x", fast)
	select {
	case <-slowGot: // the slow handler is now blocked
	case <-time.After(wait):
		t.Fatal("slow subscriber never got a message")
	}
	const n = 200
	for i := range n {
		mustPub(t, b, "slow.x", num(i))
	}
	fast.waitFor(t, n) // not held up by the blocked subscriber
	releaseOnce.Do(func() { close(release) })
}

func testConcurrent(t *testing.T, b coord.Bus) {
	const workers, each = 4, 100
	c := newCollector()
	mustSub(t, b, "conc.>", c.handle)
	ready(t, b, "conc.ready", c)
	mustSub(t, b, "conc.echo.*", func(ctx context.Context, m coord.Message) {
		r := m
		r.Type = coord.TypeResponse
		_ = b.Publish(ctx, m.ReplyTo, r)
	})
	var wg sync.WaitGroup
	errs := make(chan error, workers*each*2)
	for w := range workers {
		wg.Go(func() {
			subj := fmt.Sprintf("conc.pub.%d", w)
			for i := range each {
				if err := b.Publish(ctxT(t), subj, num(w*each+i)); err != nil {
					errs <- err
				}
			}
		})
		wg.Go(func() {
			subj := fmt.Sprintf("conc.echo.%d", w)
			for i := range each {
				m := num(i)
				r, err := b.Request(ctxT(t), subj, m)
				for retry := 0; errors.Is(err, coord.ErrNoResponders) && retry < 1000; retry++ {
					// Interest not yet propagated on a networked bus.
					time.Sleep(time.Millisecond)
					r, err = b.Request(ctxT(t), subj, m)
				}
				switch {
				case err != nil:
					errs <- err
				case r.ID != m.ID:
					errs <- fmt.Errorf("reply %s to request %s", r.ID, m.ID)
				}
			}
		})
		wg.Go(func() {
			for range 20 {
				s, err := b.Subscribe(fmt.Sprintf("conc.churn.%d", w), func(context.Context, coord.Message) {})
				if err != nil {
					errs <- err
					return
				}
				if err := s.Unsubscribe(); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	// "conc.>" sees the published messages and the requests; the replies go
	// to inboxes it does not match.
	got := c.until(t, fence(t, b, "conc.end"))
	seen := map[string]map[int]bool{}
	for _, m := range got {
		if seen[m.Subject] == nil {
			seen[m.Subject] = map[int]bool{}
		}
		seen[m.Subject][payloadInt(t, m)] = true
	}
	for w := range workers {
		if n := len(seen[fmt.Sprintf("conc.pub.%d", w)]); n != each {
			t.Errorf("publisher %d: %d distinct messages delivered, want %d", w, n, each)
		}
	}
}

func testClose(t *testing.T, b coord.Bus) {
	ctxDone := make(chan struct{})
	started := make(chan struct{})
	s := mustSub(t, b, "close.x", func(ctx context.Context, m coord.Message) {
		close(started)
		<-ctx.Done()
		close(ctxDone)
	})
	deadline := time.After(wait)
	for delivered := false; !delivered; {
		mustPub(t, b, "close.x", num(1))
		select {
		case <-started:
			delivered = true
		case <-time.After(20 * time.Millisecond):
		case <-deadline:
			t.Fatal("handler never started")
		}
	}
	pending := make(chan error, 1)
	mustSub(t, b, "close.silent", func(context.Context, coord.Message) {})
	go func() {
		_, err := b.Request(ctxT(t), "close.silent", num(2))
		pending <- err
	}()
	if err := b.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	select {
	case <-ctxDone:
	case <-time.After(wait):
		t.Fatal("handler context not cancelled by Close")
	}
	select {
	case err := <-pending:
		if err == nil {
			t.Error("pending Request succeeded across Close")
		}
	case <-time.After(wait):
		t.Fatal("pending Request not released by Close")
	}
	if err := b.Close(); !errors.Is(err, coord.ErrClosed) {
		t.Errorf("second Close = %v, want ErrClosed", err)
	}
	if err := b.Publish(ctxT(t), "close.x", num(1)); !errors.Is(err, coord.ErrClosed) {
		t.Errorf("Publish after Close = %v, want ErrClosed", err)
	}
	if _, err := b.Subscribe("close.y", func(context.Context, coord.Message) {}); !errors.Is(err, coord.ErrClosed) {
		t.Errorf("Subscribe after Close = %v, want ErrClosed", err)
	}
	if _, err := b.Request(ctxT(t), "close.x", num(1)); !errors.Is(err, coord.ErrClosed) {
		t.Errorf("Request after Close = %v, want ErrClosed", err)
	}
	if err := s.Unsubscribe(); !errors.Is(err, coord.ErrClosed) {
		t.Errorf("Unsubscribe after Close = %v, want ErrClosed", err)
	}
}
