package opcua

import (
	"context"
	"time"

	"github.com/greenlang/gl001/scada"
)

// BackfillConfig fills the gap an outage leaves from the server's history.
//
// When Enabled, the Source remembers, per tag, the source timestamp of the
// last point (not Bad) its Sink accepted. After a reconnect, the first live
// point of each tag that is newer than that triggers a history read of
// the gap (last, live) (HistoryRead, raw values); the points read are
// delivered before the live point, with the [scada.Backfilled] quality bit
// set. A live point not newer than the last one delivered is dropped as
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
	appended []int64 // unix nanos
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
	}
	ss.bf = bf
}

// backfillBefore is called for each live point of tag i before it is
// appended: it reads and appends the gap before the tag's first live point
// of the session, and reports whether the live point is to be kept (false:
// already delivered).
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
	if bf.pending[i] {
		bf.pending[i] = false
		// From the last point itself, which is skipped below: servers keep
		// time at a coarser resolution than Go (node-opcua in milliseconds),
		// so a start just after it would be rounded back to it anyway.
		from := time.Unix(0, ss.s.last[i])
		if maxGap := ss.cfg.Backfill.MaxGap; ts.Sub(from) > maxGap {
			ss.cfg.Logger.Warn("opcua: backfill gap longer than MaxGap, reading only the end",
				"source", ss.cfg.Name, "tag", ss.tags[i].Name, "gap", ts.Sub(from), "max", maxGap)
			from = ts.Add(-maxGap)
		}
		for p, err := range ss.history(bf.ctx, i, from, ts) {
			if err != nil {
				ss.cfg.Logger.Warn("opcua: backfill", "source", ss.cfg.Name, "tag", ss.tags[i].Name, "err", err)
				continue
			}
			if p.Time.UnixNano() <= ss.s.last[i] {
				continue // delivered before the outage
			}
			p.Quality |= scada.Backfilled
			ss.batch = append(ss.batch, p)
			ss.s.ev.backfilled.Add(1)
			bf.appended[i] = max(bf.appended[i], p.Time.UnixNano())
		}
	}
	bf.appended[i] = max(bf.appended[i], n)
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
