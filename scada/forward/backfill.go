package forward

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/greenlang/gl001/scada/buffer"
)

// Backfill configures how a Forwarder drains a backlog without starving live
// points. The zero value disables it: one lane reads the Buffer in order,
// so after an outage fresh points wait behind the backlog.
//
// Enabled, the Forwarder splits when it finds more than After points
// unacknowledged (at start, or after the target was away): a live lane
// starts at the newest durable point and forwards what arrives from then
// on, as before; a backfill lane forwards the backlog, from the committed
// cursor up to where the live lane started, at most Rate points per
// second. When the backfill lane is through, the lanes merge back into
// one. Both lanes share the target and the breaker.
//
// Why two lanes: the backlog is on disk already and costs nothing to keep,
// while a live point is worth most in its first seconds; a second cursor
// is what a Buffer offers for free, and a rate on the backfill leaves the
// rest of the link to the live lane however long the backlog. Serving
// newest-first from one cursor instead would leave the cursor unable to
// commit until the whole backlog is through.
//
// What it costs: while split, a tag's points reach the target out of time
// order (the live ones first). Each lane keeps its own points in order and
// sends each point once; a batch re-sent after a crash has the same
// boundaries as before (the backfill lane cuts by count only; the live lane
// keeps one batch in flight and records its end in the Buffer before
// sending it), so a target that drops repeated batch ids (a JetStream
// stream's duplicate window) still sees every point once. Within one lane
// the Resumer is not asked while split.
//
// The split state lives in the Buffer as cursors of its own beside
// Config.Consumer: Consumer+".live", Consumer+".split" and Consumer+".sent".
type Backfill struct {
	// After is the backlog, in points, above which the Forwarder splits.
	// Zero disables backfill.
	After uint64
	// Rate is the most points per second the backfill lane sends: the share
	// of the link it may take. Required when After is set.
	Rate float64
	// CheckEvery is how often a single lane looks at its backlog (default
	// 1s).
	CheckEvery time.Duration
}

// Enabled reports whether backfill is on.
func (b Backfill) Enabled() bool { return b.After > 0 }

func (b Backfill) validate() error {
	if !b.Enabled() {
		return nil
	}
	var errs []error
	if !(b.Rate > 0) {
		errs = append(errs, fmt.Errorf("forward: Backfill.Rate must be positive, got %v", b.Rate))
	}
	if b.CheckEvery < 0 {
		errs = append(errs, fmt.Errorf("forward: Backfill.CheckEvery %v is negative", b.CheckEvery))
	}
	return errors.Join(errs...)
}

func (b Backfill) withDefaults() Backfill {
	if b.CheckEvery == 0 {
		b.CheckEvery = time.Second
	}
	return b
}

func (f *Forwarder) auxCursor(suffix string) string { return f.cfg.Consumer + suffix }

// backfillActive reports whether the Buffer records a split in progress.
func (f *Forwarder) backfillActive() bool {
	_, ok := f.cursor(f.auxCursor(".split"))
	return ok
}

func (f *Forwarder) cursor(name string) (buffer.Offset, bool) {
	for _, c := range f.cfg.Buffer.Stats().Consumers {
		if c.Name == name {
			return c.Cursor, true
		}
	}
	return 0, false
}

// runLanes alternates between one lane and, while a backlog drains, two.
func (f *Forwarder) runLanes(ctx context.Context, start buffer.Offset) error {
	b := f.cfg.Buffer
	liveName, splitName, sentName := f.auxCursor(".live"), f.auxCursor(".split"), f.auxCursor(".sent")
	for {
		split, ok := f.cursor(splitName)
		if !ok {
			for _, n := range []string{liveName, sentName} {
				if err := b.Forget(ctx, n); err != nil {
					return err
				}
			}
			l := f.newLane(laneLive, f.cfg.Consumer, start, noStop, true)
			l.splitAfter = f.cfg.Backfill.After
			err := l.run(ctx)
			l.commit.stop()
			if err != nil {
				return err
			}
			// The lane stopped reading and emptied its window: split at
			// the newest durable point.
			at := max(b.Stats().Durable, l.next)
			if err := b.Commit(ctx, liveName, at); err != nil {
				return err
			}
			if err := b.Commit(ctx, splitName, at); err != nil {
				return err
			}
			f.log.Info("backlog: forwarding live points first", "backlog", uint64(at-l.next), "from", l.next, "live", at)
			start = l.next
			continue
		}

		main, _ := f.cursor(f.cfg.Consumer)
		live, ok := f.cursor(liveName)
		if !ok {
			live = split
		}
		f.update(func(s *Stats) { s.Backfilling, s.Committed = true, main })
		f.mu.Lock()
		f.splitAt = split
		f.mu.Unlock()

		bf := f.newLane(laneBackfill, f.cfg.Consumer, main, split, true)
		bf.fixed = true
		bf.limiter = rate.NewLimiter(rate.Limit(f.cfg.Backfill.Rate), max(1, min(f.cfg.MaxPoints, int(f.cfg.Backfill.Rate))))
		lv := f.newLane(laneLive, liveName, live, noStop, false)
		lv.window = 1
		lv.sentMark = sentName
		if sent, ok := f.cursor(sentName); ok && sent > live {
			lv.cutAt = sent
		}
		stopCtx, stopLive := context.WithCancel(context.Background())
		lv.stopReq = stopCtx

		var wg sync.WaitGroup
		var bfErr, lvErr error
		lctx, cancel := context.WithCancel(ctx)
		wg.Add(2)
		go func() {
			defer wg.Done()
			bfErr = bf.run(lctx)
			bf.commit.stop()
			if bfErr != nil {
				cancel()
			}
			stopLive()
		}()
		go func() {
			defer wg.Done()
			lvErr = lv.run(lctx)
			lv.commit.stop()
			if lvErr != nil {
				cancel()
			}
		}()
		wg.Wait()
		cancel()
		stopLive()
		if err := errors.Join(bfErr, lvErr); err != nil {
			return err
		}
		// Merge: the backlog is through and the live lane stopped at a
		// batch boundary with nothing in flight.
		at := lv.next
		if err := b.Commit(ctx, f.cfg.Consumer, at); err != nil {
			return err
		}
		for _, n := range []string{splitName, liveName, sentName} {
			if err := b.Forget(ctx, n); err != nil {
				return err
			}
		}
		f.update(func(s *Stats) { s.Backfilling, s.BackfillLeft, s.Committed = false, 0, at })
		f.log.Info("backlog forwarded; one lane again", "cursor", at)
		start = at
	}
}
