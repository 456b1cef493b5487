package opcua

import (
	"context"
	"slices"
	"time"

	"github.com/gopcua/opcua/ua"

	"github.com/greenlang/gl001/scada"
)

// BackfillConfig fills the gap an outage leaves from the server's history.
//
// When Enabled, the Source remembers, per tag, the source timestamp of the
// last point (not Bad) its Sink accepted. After a reconnect, the first live
// point of each tag that is newer than that ends the tag's gap (last,
// live), which is read from the server's history (HistoryRead, raw
// values); the points read are delivered before the live point, with the
// [scada.Backfilled] quality bit set. The gaps that end in one publish
// response (or one Read of polling) are read together, many tags per
// HistoryRead as [Source.HistoryTags] does, and delivered in batches of
// Config.BatchSize as they arrive. A live point not newer than the last one delivered is dropped as
// already delivered (counted in EventStats.Duplicates): with backfill, the
// points of a tag reach the Sink in increasing timestamp order, with no
// duplicate and, when the server kept the history, no gap.
//
// What the server did not historize cannot be filled; a history read that
// fails is logged and counted (EventStats.HistoryErrors) and the live
// points go on. The memory is the Source's: a new Source (a restarted
// process) starts without it, unless Last tells it where its Buffer ends.
type BackfillConfig struct {
	Enabled bool
	// Last, if set, gives the timestamp of the newest point already stored
	// for a tag (where the caller's Buffer ends; zero for none). It is asked
	// once per tag, when the Source has no memory of its own (a restarted
	// process): the first session then fills the gap from there. It is
	// called from Run's goroutine and must not block for long.
	Last func(tag string) time.Time
	// MaxGap caps the history read after a long outage: only the last
	// MaxGap before the first live point is read. Default 24 h.
	MaxGap time.Duration
}

// backfillState is a session's backfill: which tags still need their gap
// read, and the newest timestamp appended per tag.
type backfillState struct {
	ctx      context.Context // the Run's, for the history reads made from handle
	pending  []bool
	waiting  int     // pending tags left
	appended []int64 // unix nanos
	gaps     []gap   // of the response being handled (reused)
}

// gap is the hole of tag i: (from, to), from the newest point delivered
// before the outage to the first live point of the session.
type gap struct {
	i        int
	from, to time.Time
}

// startBackfill prepares the session's backfill when it is configured.
func (ss *session) startBackfill(ctx context.Context) {
	if !ss.cfg.Backfill.Enabled {
		return
	}
	bf := &backfillState{ctx: ctx, pending: make([]bool, len(ss.tags)), appended: make([]int64, len(ss.tags))}
	if f := ss.cfg.Backfill.Last; f != nil && !ss.s.lastAsked {
		ss.s.lastAsked = true
		for i, t := range ss.cfg.Tags {
			if ts := f(t.Name); !ts.IsZero() && ss.s.last[i] == 0 {
				ss.s.last[i] = ts.UnixNano()
			}
		}
	}
	for i, last := range ss.s.last {
		bf.pending[i] = last != 0
		bf.appended[i] = last
		if last != 0 {
			bf.waiting++
		}
	}
	ss.bf = bf
}

// backfillScan is called with the live values of one response (a publish
// response, a Read) before they are emitted, with value(k) the tag index
// and DataValue of the k-th of n values. It reads the gaps of the tags
// whose first live point of the session is among them, all at once
// (readBackfill), and appends the points read, so that they precede the
// live points in the batch. An error is the Sink's: the session ends.
func (ss *session) backfillScan(n int, value func(k int) (int, *ua.DataValue), now time.Time) error {
	bf := ss.bf
	if bf == nil || bf.waiting == 0 {
		return nil
	}
	bf.gaps = bf.gaps[:0]
	for k := range n {
		i, dv := value(k)
		if i < 0 || i >= len(bf.pending) || !bf.pending[i] {
			continue
		}
		_, q, ts, _ := mapValue(dv, now)
		if q.IsBad() || ts.UnixNano() <= bf.appended[i] {
			continue // not a live point that ends the gap: emit counts or drops it
		}
		bf.pending[i] = false
		bf.waiting--
		// From the last point itself, which is skipped below: servers keep
		// time at a coarser resolution than Go (node-opcua in milliseconds),
		// so a start just after it would be rounded back to it anyway.
		from := time.Unix(0, ss.s.last[i])
		if maxGap := ss.cfg.Backfill.MaxGap; ts.Sub(from) > maxGap {
			ss.cfg.Logger.Warn("opcua: backfill gap longer than MaxGap, reading only the end",
				"source", ss.cfg.Name, "tag", ss.tags[i].Name, "gap", ts.Sub(from), "max", maxGap)
			from = ts.Add(-maxGap)
		}
		bf.gaps = append(bf.gaps, gap{i: i, from: from, to: ts})
	}
	if len(bf.gaps) == 0 {
		return nil
	}
	return ss.readBackfill(bf.gaps)
}

// readBackfill reads the gaps with multi-node history reads. A HistoryRead
// has one interval for all its nodes, so the gaps are grouped: sorted by
// start, a gap joins the group when its start is at most its own length
// (or a minute) after the group's, so no tag reads more than about twice
// its gap. Each group reads [its earliest start, its latest end) and keeps
// per tag only the points inside the tag's own gap. The points are
// appended to the batch, which is delivered whenever it holds BatchSize
// points, so a long gap never sits in memory whole.
func (ss *session) readBackfill(gaps []gap) error {
	slices.SortFunc(gaps, func(a, b gap) int { return a.from.Compare(b.from) })
	for len(gaps) > 0 {
		n, from, to := 1, gaps[0].from, gaps[0].to
		for ; n < len(gaps); n++ {
			g := gaps[n]
			if g.from.Sub(from) > max(g.to.Sub(g.from), time.Minute) {
				break
			}
			to = later(to, g.to)
		}
		if err := ss.readGroup(gaps[:n], from, to); err != nil {
			return err
		}
		gaps = gaps[n:]
	}
	return nil
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// readGroup reads one group of gaps over [from, to).
func (ss *session) readGroup(group []gap, from, to time.Time) error {
	bf := ss.bf
	end := make(map[int]int64, len(group)) // tag -> its first live point, unix nanos
	idx := make([]int, len(group))
	for k, g := range group {
		idx[k] = g.i
		end[g.i] = g.to.UnixNano()
	}
	var sinkErr error
	err := ss.readHistory(bf.ctx, idx, from, to, func(i int, p scada.Point, err error) bool {
		if err != nil {
			ss.cfg.Logger.Warn("opcua: backfill", "source", ss.cfg.Name, "tag", ss.tags[i].Name, "err", err)
			return true
		}
		n := p.Time.UnixNano()
		if n <= ss.s.last[i] || n >= end[i] {
			return true // delivered before the outage, or live
		}
		p.Quality |= scada.Backfilled
		ss.batch = append(ss.batch, p)
		ss.s.ev.backfilled.Add(1)
		bf.appended[i] = max(bf.appended[i], n)
		if len(ss.batch) >= ss.cfg.BatchSize {
			if sinkErr = ss.flush(bf.ctx); sinkErr != nil {
				return false
			}
		}
		return true
	})
	if sinkErr != nil {
		return sinkErr
	}
	if err != nil {
		if bf.ctx.Err() != nil {
			return bf.ctx.Err()
		}
		// The read failed as a whole (the connection, a timeout): the live
		// points go on, as when the server kept no history.
		ss.cfg.Logger.Warn("opcua: backfill read failed", "source", ss.cfg.Name, "tags", len(idx), "err", err)
		ss.s.ev.historyErrors.Add(1)
	}
	return nil
}

// backfillBefore is called for each live point of tag i before it is
// appended (after backfillScan read the gap): it reports whether the live
// point is to be kept (false: already delivered).
func (ss *session) backfillBefore(i int, q scada.Quality, ts time.Time) bool {
	bf := ss.bf
	if bf == nil || q.IsBad() {
		return true
	}
	n := ts.UnixNano()
	if bf.appended[i] != 0 && n <= bf.appended[i] {
		ss.s.ev.duplicates.Add(1)
		return false
	}
	bf.appended[i] = n
	return true
}

// backfillDelivered records the newest timestamps of a batch the Sink
// accepted.
func (ss *session) backfillDelivered(batch []scada.Point) {
	if ss.bf == nil {
		return
	}
	for k := range batch {
		p := &batch[k]
		if p.Quality.IsBad() {
			continue
		}
		if i, ok := ss.s.index[p.Tag]; ok {
			ss.s.last[i] = max(ss.s.last[i], p.Time.UnixNano())
		}
	}
}
