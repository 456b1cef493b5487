package forward_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/greenlang/gl001/scada/buffer"
	"github.com/greenlang/gl001/scada/forward"
)

func TestBackfillLetsLivePointsThrough(t *testing.T) {
	b := newMemory(t)
	s := newStore()
	const backlog, tags = 20000, 10
	appendPoints(t, b, 0, backlog, tags)

	var mu sync.Mutex
	var events []string
	var liveAcked, backfillAcked int
	var liveBeforeBacklogDone bool
	cfg := forward.Config{Buffer: b, Consumer: "fwd", Edge: "e1", Target: pipeStore{s}, MaxPoints: 500, MaxDelay: time.Millisecond,
		Backfill: forward.Backfill{After: 5000, Rate: 20000, CheckEvery: time.Millisecond},
		OnAck: func(a forward.Ack) {
			mu.Lock()
			defer mu.Unlock()
			if testing.Verbose() {
				events = append(events, fmt.Sprintf("%s %s %d-%d", time.Now().Format("05.000"), a.Lane, a.First, a.Next))
			}
			switch a.Lane {
			case "live":
				liveAcked += a.Points
				if backfillAcked < backlog {
					liveBeforeBacklogDone = true
				}
			case "backfill":
				backfillAcked += a.Points
			}
		}}
	f, err := forward.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	stop := run(t, f)
	// Live points while the backlog drains at 20,000 points/s (a second).
	for i := range 20 {
		appendPoints(t, b, backlog+i*tags, tags, tags)
		time.Sleep(5 * time.Millisecond)
	}
	total := backlog + 20*tags
	s.waitFor(t, total)
	for f.Stats().Backfilling || f.Stats().Committed != buffer.Offset(total) {
		time.Sleep(time.Millisecond)
	}
	stop()
	s.checkExactlyOnce(t, total, false)
	mu.Lock()
	defer mu.Unlock()
	if !liveBeforeBacklogDone {
		t.Log(events)
		t.Fatalf("live points did not overtake the backlog: live %d, backfill %d", liveAcked, backfillAcked)
	}
	// The lanes merged: only the main cursor is left.
	for _, c := range b.Stats().Consumers {
		if c.Name != "fwd" {
			t.Fatalf("cursor %s left after the merge", c.Name)
		}
	}
	// Each lane kept its points in order: per tag, the backlog's values
	// count up, and so do the live ones.
	checkLanesInOrder(t, s)
}

// checkLanesInOrder checks that each tag's values arrive as two runs
// interleaved, each counting up by one: the backlog from 0, and the live
// lane from wherever the split put it.
func checkLanesInOrder(t *testing.T, s *store) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	backlog, live := map[string]float64{}, map[string]float64{}
	for _, p := range s.points {
		switch v, ok := live[p.Tag]; {
		case p.Value == backlog[p.Tag]:
			backlog[p.Tag]++
		case !ok:
			live[p.Tag] = p.Value + 1
		case p.Value == v:
			live[p.Tag]++
		default:
			t.Fatalf("tag %s: %v arrived when the backlog was at %v and the live lane at %v", p.Tag, p.Value, backlog[p.Tag], v)
		}
	}
}

// TestBackfillSurvivesRestart stops the Forwarder while it is split, then
// runs a new one on the same Buffer: the lanes resume from their cursors
// and re-sent batches have their old boundaries, so the store (which drops
// a batch it has seen) holds every point once.
func TestBackfillSurvivesRestart(t *testing.T) {
	b := newMemory(t)
	s := newStore()
	const backlog, tags = 20000, 10
	appendPoints(t, b, 0, backlog, tags)
	cfg := forward.Config{Buffer: b, Consumer: "fwd", Edge: "e1", Target: pipeStore{s}, MaxPoints: 300, MaxDelay: time.Millisecond,
		Backfill: forward.Backfill{After: 5000, Rate: 40000, CheckEvery: time.Millisecond}}
	for round := range 3 {
		f, err := forward.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		stop := run(t, f)
		appendPoints(t, b, backlog+round*tags, tags, tags)
		s.waitFor(t, 3000*(round+1))
		if err := stop(); err != context.Canceled {
			t.Fatalf("round %d: Run: %v", round, err)
		}
		if round < 2 && !f.Stats().Backfilling {
			t.Fatalf("round %d: not split any more", round)
		}
	}
	f, err := forward.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	stop := run(t, f)
	total := backlog + 3*tags
	s.waitFor(t, total)
	for f.Stats().Backfilling || f.Stats().Committed != buffer.Offset(total) {
		time.Sleep(time.Millisecond)
	}
	stop()
	s.checkExactlyOnce(t, total, false)
	checkLanesInOrder(t, s)
}
