package jetstream

import (
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// sequencer keeps a consumer's messages in stream order across a lost
// delivery. When a consumer's leader changes (a server of an R3 stream
// going away), messages the old leader had sent may never reach the
// client; the stream delivers them again only after AckWait, after newer
// ones. The sequencer sees the gap in the consumer's delivery sequence,
// holds the newer messages (keeping them from being redelivered with
// InProgress) until the missing ones are back, and releases all of them
// in stream order.
type sequencer struct {
	ackWait time.Duration

	next      uint64 // the consumer sequence expected next; 0 before the first
	holding   bool
	missing   int
	floor     uint64 // the stream sequence of the first held message
	held      []jetstream.Msg
	recovered []jetstream.Msg
	since     time.Time
	touched   time.Time

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
func (q *sequencer) push(m jetstream.Msg, out []jetstream.Msg, wasAcked func(uint64) bool) []jetstream.Msg {
	md, err := m.Metadata()
	if err != nil {
		return append(out, m) // the Source rejects it
	}
	d, sseq := md.Sequence.Consumer, md.Sequence.Stream
	if !q.holding {
		if q.next != 0 && d > q.next && md.NumDelivered == 1 {
			now := time.Now()
			q.holding, q.missing, q.floor = true, int(d-q.next), sseq
			q.held = append(q.held[:0], m)
			q.since, q.touched = now, now
			q.count(true)
			q.next = d + 1
			_ = m.InProgress()
			return out
		}
		q.next = max(q.next, d+1)
		return append(out, m)
	}
	q.next = max(q.next, d+1)
	switch {
	case wasAcked(sseq):
		return append(out, m) // a delivery again of what was acknowledged
	case sseq < q.floor:
		if !containsSeq(q.recovered, sseq) {
			q.missing--
		}
		q.recovered = replaceSeq(q.recovered, m, sseq)
	default:
		q.held = replaceSeq(q.held, m, sseq)
		_ = m.InProgress()
	}
	if q.missing <= 0 {
		return q.release(out)
	}
	return out
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

// heldCount is how many distinct messages the sequencer holds.
func (q *sequencer) heldCount() int { return len(q.held) + len(q.recovered) }

func (q *sequencer) release(out []jetstream.Msg) []jetstream.Msg {
	all := append(q.recovered, q.held...)
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
	q.holding, q.missing = false, 0
	q.held, q.recovered = nil, nil
	return out
}

func containsSeq(ms []jetstream.Msg, seq uint64) bool {
	return slices.ContainsFunc(ms, func(m jetstream.Msg) bool { return streamSeq(m) == seq })
}

// replaceSeq adds m, replacing an earlier delivery of the same message.
func replaceSeq(ms []jetstream.Msg, m jetstream.Msg, seq uint64) []jetstream.Msg {
	for i := range ms {
		if streamSeq(ms[i]) == seq {
			ms[i] = m
			return ms
		}
	}
	return append(ms, m)
}
