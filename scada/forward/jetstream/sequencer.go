package jetstream

import (
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// sequencer keeps a consumer's messages in stream order across a lost
// delivery. When a consumer's leader changes (a server of an R3 stream
// going away, or stepping down), messages the old leader had sent may never
// reach the client; the stream delivers them again only after AckWait,
// after newer ones. The sequencer sees the loss as a jump in the consumer's
// delivery sequence (every delivery, a first one or one again, takes the
// next number), holds every message that comes after it (keeping them from
// being redelivered with InProgress) and releases them in stream order once
// the server confirms that nothing else is outstanding: its consumer has no
// unacknowledged delivery but those held (see [sequencer.settled]).
//
// The jump is the only sign of a loss the client has: the message that
// shows it may be a first delivery or one again (a message not acknowledged
// within AckWait, or handed back), and the lost deliveries may be first
// ones or deliveries again of messages handed back, so neither the kind of
// the message that shows the jump nor how many lost ones came back proves
// that the gap is closed. The count of lost deliveries is only a hint of
// when to ask the server.
type sequencer struct {
	ackWait time.Duration

	next    uint64 // the consumer sequence expected next; 0 before the first
	holding bool
	// missing is the deliveries lost minus the deliveries again that came
	// since; at 0 or below the gap may be closed, and the server is asked.
	missing int
	held    []jetstream.Msg // one per stream sequence
	heldAt  map[uint64]int  // stream sequence -> index in held
	hint    bool            // missing came to 0 or below: ask the server
	since   time.Time
	touched time.Time

	mu    *sync.Mutex
	stats *SourceStats
}

func (q *sequencer) count(gap bool) {
	if q.stats == nil {
		return
	}
	q.mu.Lock()
	if gap {
		q.stats.Gaps++
	} else {
		q.stats.GapsGivenUp++
	}
	q.mu.Unlock()
}

func streamSeq(m jetstream.Msg) uint64 {
	md, err := m.Metadata()
	if err != nil {
		return 0
	}
	return md.Sequence.Stream
}

// push takes m and appends to out the messages ready to process, in order.
// known tells a message the Source has (acknowledged, or waiting in out)
// from one it has not: while holding, a delivery again of a known message
// goes to out (the Source acknowledges it without delivering it twice), and
// any other is held.
func (q *sequencer) push(m jetstream.Msg, out []jetstream.Msg, known func(uint64) bool) []jetstream.Msg {
	md, err := m.Metadata()
	if err != nil {
		return append(out, m) // the Source rejects it
	}
	d, sseq := md.Sequence.Consumer, md.Sequence.Stream
	if q.next != 0 && d > q.next {
		// Deliveries q.next to d-1 were lost, while holding or not.
		if !q.holding {
			now := time.Now()
			q.holding, q.missing, q.held, q.heldAt = true, 0, q.held[:0], make(map[uint64]int)
			q.since, q.touched = now, now
			q.count(true)
		}
		q.missing += int(d - q.next)
	}
	q.next = max(q.next, d+1)
	if !q.holding {
		return append(out, m)
	}
	if known(sseq) {
		return append(out, m)
	}
	if i, ok := q.heldAt[sseq]; ok {
		q.held[i] = m // a held message delivered again: the newer delivery is the one to acknowledge
	} else {
		if md.NumDelivered > 1 {
			q.missing-- // perhaps a lost one come again
			q.hint = q.hint || q.missing <= 0
		}
		q.heldAt[sseq] = len(q.held)
		q.held = append(q.held, m)
	}
	_ = m.InProgress()
	return out
}

// mayBeClosed reports, once each time, that a delivery again came while
// as many as were lost had come: time to ask the server whether the gap is
// closed.
func (q *sequencer) mayBeClosed() bool {
	h := q.hint && q.holding
	q.hint = false
	return h
}

// settled releases the held messages in stream order when the server's
// count of unacknowledged deliveries (numAckPending, from the consumer's
// info, asked for after every message before the held ones was
// acknowledged) is no more than the messages held: every delivery the
// consumer has outstanding is then held here, and nothing is missing.
// The held messages are themselves unacknowledged deliveries, so a lost one
// not yet back makes the count larger. The count of a replicated
// consumer's leader includes every delivery it or an earlier leader sent
// (nats-server replicates a delivery before it sends it, see
// consumer.replicateDeliveries, and a new raft leader applies its log
// before it leads, see raft.switchToLeader), so it is not smaller than the
// truth. Messages in flight to the Source and acknowledgements not yet
// processed only make it larger.
func (q *sequencer) settled(numAckPending int, out []jetstream.Msg) []jetstream.Msg {
	if !q.holding || numAckPending > len(q.held) {
		return out
	}
	return q.release(out)
}

// tick keeps the held messages from being redelivered and gives up waiting
// after a while (releasing in order what it has).
func (q *sequencer) tick(out []jetstream.Msg) []jetstream.Msg {
	if !q.holding {
		return out
	}
	now := time.Now()
	if now.Sub(q.since) > 3*q.ackWait {
		q.count(false)
		return q.release(out)
	}
	if now.Sub(q.touched) > q.ackWait/3 {
		for _, m := range q.held {
			_ = m.InProgress()
		}
		q.touched = now
	}
	return out
}

func (q *sequencer) release(out []jetstream.Msg) []jetstream.Msg {
	all := q.held
	slices.SortStableFunc(all, func(a, b jetstream.Msg) int {
		sa, sb := streamSeq(a), streamSeq(b)
		switch {
		case sa < sb:
			return -1
		case sa > sb:
			return 1
		}
		return 0
	})
	out = append(out, all...)
	q.holding, q.missing, q.hint = false, 0, false
	q.held, q.heldAt = nil, nil
	return out
}

func containsSeq(ms []jetstream.Msg, seq uint64) bool {
	return slices.ContainsFunc(ms, func(m jetstream.Msg) bool { return streamSeq(m) == seq })
}
