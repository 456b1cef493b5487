package forward

import (
	"context"
	"errors"
	"iter"
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/greenlang/gl001/scada"
	"github.com/greenlang/gl001/scada/buffer"
)

const (
	laneLive     = "live"
	laneBackfill = "backfill"
)

// noStop is the stop offset of a lane that never ends.
const noStop = buffer.Offset(math.MaxUint64)

// flight is one batch sent and not yet committed.
type flight struct {
	b        Batch
	sent     time.Time
	oldest   time.Time // the source time of its first point
	newest   time.Time // the newest source time among its points
	done     bool
	err      error
	acked    bool
	attempts int
	rejected bool
	borrowed bool // b.Points is the Buffer's or Read's, not the lane's to reuse
}

type result struct {
	fl  *flight
	err error
}

// lane reads one cursor of the Buffer and keeps a window of batches in
// flight. The Forwarder runs one lane, or two while backfilling.
type lane struct {
	f        *Forwarder
	kind     string
	consumer string
	next     buffer.Offset // the offset after the last point read
	stop     buffer.Offset // the lane ends once it has read up to here
	// fixed cuts batches by count and bytes only, never by time, so that
	// the same start offset gives the same batches after a restart.
	fixed   bool
	limiter *rate.Limiter
	window  int
	// splitAfter, when set, makes the lane stop (to split in two) once its
	// backlog exceeds it; lastCheck is when it last looked.
	splitAfter uint64
	lastCheck  time.Time
	// sentMark names a cursor the lane commits to a batch's end before
	// sending it, and cutAt, when set, ends the first batch there: so a
	// batch re-sent after a restart has its old boundaries.
	sentMark string
	cutAt    buffer.Offset
	// stopReq, once done, asks the lane to stop reading and finish.
	stopReq context.Context

	cur      []scada.Point   // the batch being filled: [curFirst, next)
	borrowed bool            // cur is points the lane may keep but not change or extend
	stable   bool            // the Buffer's Scan points may be kept (buffer.StableScanner)
	free     [][]scada.Point // slices of acknowledged batches, for reuse
	curFirst buffer.Offset
	curBytes int
	curStart time.Time

	q       []*flight
	results chan result
	wg      sync.WaitGroup
	commit  *committer

	scanNext func() (buffer.Batch, error, bool)
	scanStop func()
	scanFrom buffer.Offset
	scanDry  bool // the last scan reached the end of the log
}

func (f *Forwarder) newLane(kind, consumer string, start, stop buffer.Offset, report bool) *lane {
	l := &lane{
		f: f, kind: kind, consumer: consumer, next: start, stop: stop,
		window: f.cfg.Window,
	}
	if s, ok := f.cfg.Buffer.(buffer.StableScanner); ok && s.ScanStable() {
		l.stable = true
	}
	l.results = make(chan result, l.window+1)
	l.commit = newCommitter(f, consumer, start, report)
	return l
}

// run forwards until the lane has delivered up to its stop offset (nil),
// ctx ends or the Buffer fails.
func (l *lane) run(ctx context.Context) error {
	defer l.closeScan()
	defer l.join()
	for {
		if err := l.commit.failed(); err != nil {
			return err
		}
		l.drain()
		if l.failed() {
			if err := l.recover(ctx); err != nil {
				return err
			}
			continue
		}
		l.checkStop()
		if l.next >= l.stop && len(l.cur) == 0 && len(l.q) == 0 {
			return l.commit.flush(ctx)
		}
		if len(l.q) < l.window {
			if l.next < l.stop {
				if err := l.fill(ctx); err != nil {
					return err
				}
			}
			if l.ready() {
				if err := l.dispatch(ctx); err != nil {
					return err
				}
				continue
			}
		}
		if err := l.wait(ctx); err != nil {
			return err
		}
	}
}

// checkStop ends the lane's reading when asked to, or when its backlog
// calls for a split.
func (l *lane) checkStop() {
	if l.stop != noStop {
		return
	}
	if l.stopReq != nil {
		if l.stopReq.Err() != nil {
			l.stop = l.next
			return
		}
	}
	if l.splitAfter > 0 && time.Since(l.lastCheck) >= l.f.cfg.Backfill.CheckEvery {
		l.lastCheck = time.Now()
		if d := l.f.cfg.Buffer.Stats().Durable; d > l.next && uint64(d-l.next) > l.splitAfter {
			l.stop = l.next
		}
	}
}

// ready reports whether the batch being filled should go now.
func (l *lane) ready() bool {
	if len(l.cur) == 0 {
		return false
	}
	cfg := &l.f.cfg
	if len(l.cur) >= cfg.MaxPoints || l.curBytes >= cfg.MaxBytes || l.next >= l.stop || l.fixed ||
		l.cutAt != 0 && l.next >= l.cutAt {
		return true
	}
	return time.Since(l.curStart) >= cfg.MaxDelay
}

// wait blocks until something changes: a result, the batch's delay, new
// points in the Buffer.
func (l *lane) wait(ctx context.Context) error {
	var timer <-chan time.Time
	switch {
	case len(l.cur) > 0 && len(l.q) < l.window:
		t := time.NewTimer(max(0, l.f.cfg.MaxDelay-time.Since(l.curStart)))
		defer t.Stop()
		timer = t.C
	case len(l.q) == 0 && len(l.cur) == 0 && l.scanDry:
		// Idle: block in Read until a point arrives past the cursor,
		// which is where the lane is once its commits are through.
		return l.readBlocking(ctx)
	case len(l.q) < l.window && l.next < l.stop:
		// In flight and caught up: look for new points now and then.
		t := time.NewTimer(l.f.cfg.MaxDelay)
		defer t.Stop()
		timer = t.C
	}
	select {
	case r := <-l.results:
		l.apply(r)
	case <-timer:
		l.scanDry = false
	case <-ctx.Done():
		return ctx.Err()
	}
	return nil
}

func (l *lane) readBlocking(ctx context.Context) error {
	if err := l.commit.flush(ctx); err != nil {
		return err
	}
	max := min(l.f.cfg.MaxPoints, l.room())
	rctx := ctx
	if l.stopReq != nil {
		var cancel context.CancelFunc
		rctx, cancel = context.WithCancel(ctx)
		defer cancel()
		defer context.AfterFunc(l.stopReq, cancel)()
	}
	b, err := l.f.cfg.Buffer.Read(rctx, l.consumer, max)
	if err != nil {
		if ctx.Err() == nil && rctx.Err() != nil {
			return nil // asked to stop
		}
		return err
	}
	l.scanDry = false
	if b.First != l.next {
		// The committed cursor is where this lane's acknowledged prefix
		// ends; anything else is points retention took.
		if b.First < l.next {
			// Points were missed past the cursor: move it over them so
			// that Read blocks for new points.
			l.commit.set(l.next)
			return l.commit.flush(ctx)
		}
		l.missed(uint64(b.First - l.next))
	}
	if len(b.Points) > 0 {
		l.curFirst, l.next = b.First, b.First
		l.curStart = time.Now()
		l.take(b.Points, true) // Read's points are the caller's
	}
	return nil
}

// room is how many points the lane may still read before its stop.
func (l *lane) room() int {
	if l.stop == noStop {
		return math.MaxInt
	}
	return int(min(uint64(l.stop-l.next), math.MaxInt32))
}

// take adds to the batch being filled as many of pts as it has room for,
// and returns how many. keep says that the lane may keep pts (read-only):
// a batch that starts with them then uses them as they are, without a
// copy.
func (l *lane) take(pts []scada.Point, keep bool) int {
	cfg := &l.f.cfg
	room := min(cfg.MaxPoints-len(l.cur), len(pts))
	if l.stop != noStop {
		room = min(room, int(min(uint64(l.stop-l.next), uint64(room))))
	}
	if l.cutAt != 0 && l.next < l.cutAt {
		room = min(room, int(min(uint64(l.cutAt-l.next), uint64(room))))
	} else if l.cutAt != 0 && len(l.cur) > 0 {
		room = 0
	}
	n := 0
	for n < room && l.curBytes < cfg.MaxBytes {
		l.curBytes += pointBytes(&pts[n])
		n++
	}
	if n == 0 {
		return 0
	}
	switch {
	case len(l.cur) == 0 && keep:
		l.cur, l.borrowed = pts[:n:n], true
	case l.borrowed:
		// More points for a batch of kept ones: copied together.
		own := append(l.newBatch(), l.cur...)
		l.cur, l.borrowed = append(own, pts[:n]...), false
	default:
		if l.cur == nil {
			l.cur = l.newBatch()
		}
		l.cur = append(l.cur, pts[:n]...)
	}
	l.next += buffer.Offset(n)
	return n
}

// newBatch returns an empty slice for a batch, reusing one of an
// acknowledged batch when there is one.
func (l *lane) newBatch() []scada.Point {
	if k := len(l.free); k > 0 {
		s := l.free[k-1]
		l.free = l.free[:k-1]
		return s
	}
	return make([]scada.Point, 0, min(l.f.cfg.MaxPoints, 1<<16))
}

// pointBytes estimates the size of a point on the wire, generously.
func pointBytes(p *scada.Point) int { return 24 + len(p.Tag) + len(p.Unit) }

func (l *lane) missed(n uint64) {
	l.f.update(func(s *Stats) { s.Missed += n })
	l.f.log.Warn("points dropped by the buffer's retention before they were forwarded", "points", n, "lane", l.kind)
}

// fill tops up the batch being filled from the Buffer without blocking.
func (l *lane) fill(ctx context.Context) error {
	cfg := &l.f.cfg
	for len(l.cur) < cfg.MaxPoints && l.curBytes < cfg.MaxBytes && l.next < l.stop {
		if l.scanNext == nil || l.scanFrom != l.next {
			if l.scanDry && l.scanNext == nil {
				return nil
			}
			l.openScan(ctx)
		}
		b, err, ok := l.scanNext()
		if !ok {
			l.closeScan()
			l.scanDry = true
			return nil
		}
		if err != nil {
			l.closeScan()
			if errors.Is(err, buffer.ErrCorrupt) {
				continue // the segment is quarantined; the next scan skips it
			}
			return err
		}
		if b.First > l.next {
			if len(l.cur) > 0 {
				// A gap: the batch must stay contiguous. Send what we have
				// and come back for the rest.
				l.closeScan()
				l.curBytes = cfg.MaxBytes // ready: the batch goes as it is
				return nil
			}
			l.missed(uint64(b.First - l.next))
			l.next = b.First
		} else if b.First < l.next {
			skip := int(l.next - b.First)
			if skip >= len(b.Points) {
				l.scanFrom = b.First + buffer.Offset(len(b.Points))
				continue
			}
			b.Points = b.Points[skip:]
			b.First = l.next
		}
		if len(l.cur) == 0 {
			l.curFirst = l.next
			l.curStart = time.Now()
		}
		n := l.take(b.Points, l.stable)
		l.scanFrom = b.First + buffer.Offset(len(b.Points))
		if n < len(b.Points) {
			// The batch is full; the scan resumes inside this run.
			l.closeScan()
			return nil
		}
	}
	return nil
}

func (l *lane) openScan(ctx context.Context) {
	l.closeScan()
	l.scanNext, l.scanStop = iter.Pull2(l.f.cfg.Buffer.Scan(ctx, l.next))
	l.scanFrom = l.next
	l.scanDry = false
}

func (l *lane) closeScan() {
	if l.scanStop != nil {
		l.scanStop()
	}
	l.scanNext, l.scanStop = nil, nil
}

// dispatch sends the batch being filled.
func (l *lane) dispatch(ctx context.Context) error {
	b := Batch{Stream: l.f.stream, First: l.curFirst, Points: l.cur, Backfill: l.kind == laneBackfill}
	borrowed := l.borrowed
	l.cur, l.curBytes, l.borrowed = nil, 0, false
	if l.cutAt != 0 && b.Next() >= l.cutAt {
		l.cutAt = 0
	} else if l.sentMark != "" {
		if err := l.f.cfg.Buffer.Commit(ctx, l.sentMark, b.Next()); err != nil {
			return err
		}
	}
	if l.limiter != nil {
		if err := l.limiter.WaitN(ctx, min(len(b.Points), l.limiter.Burst())); err != nil {
			return err
		}
	}
	fl := &flight{b: b, borrowed: borrowed}
	fl.oldest = b.Points[0].Time
	for i := range b.Points {
		if t := b.Points[i].Time; t.After(fl.newest) {
			fl.newest = t
		}
	}
	l.q = append(l.q, fl)
	l.start(ctx, fl)
	l.f.update(func(s *Stats) { s.InFlight++ })
	return nil
}

// start sends fl; its outcome arrives on l.results.
func (l *lane) start(ctx context.Context, fl *flight) {
	fl.attempts++
	if fl.sent.IsZero() {
		fl.sent = time.Now()
	}
	fl.done, fl.err = false, nil
	sctx, cancel := context.WithTimeout(ctx, l.f.cfg.SendTimeout)
	p, err := l.f.pipe.Start(sctx, fl.b)
	if err != nil {
		cancel()
		l.results <- result{fl, err}
		return
	}
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		err := p.Wait(sctx)
		cancel()
		l.results <- result{fl, err}
	}()
}

// drain applies the results that are in without blocking.
func (l *lane) drain() {
	for {
		select {
		case r := <-l.results:
			l.apply(r)
		default:
			return
		}
	}
}

func (l *lane) apply(r result) {
	fl := r.fl
	fl.done, fl.err = true, r.err
	switch {
	case r.err == nil:
		fl.acked = true
		l.f.breaker.Success()
		l.f.update(func(s *Stats) {
			s.Batches++
			s.Points += uint64(len(fl.b.Points))
			if fl.attempts > 1 {
				s.Redelivered++
			}
		})
		if l.f.cfg.OnAck != nil {
			a := Ack{First: fl.b.First, Next: fl.b.Next(), Points: len(fl.b.Points),
				Latency: time.Since(fl.sent), Redelivered: fl.attempts > 1, Lane: l.kind}
			if !fl.newest.IsZero() {
				a.Age = time.Since(fl.newest)
			}
			l.f.cfg.OnAck(a)
		}
	case isRejected(r.err):
		fl.acked, fl.rejected = true, true
		l.f.update(func(s *Stats) {
			s.Rejected++
			s.RejectedPoints += uint64(len(fl.b.Points))
			s.LastError = r.err.Error()
		})
		l.f.log.Error("target refused a batch as bad input; skipping it", "first", fl.b.First, "points", len(fl.b.Points), "error", r.err)
	default:
		l.f.breaker.Failure()
		l.f.update(func(s *Stats) { s.Failures++ })
		l.f.log.Warn("send failed", "first", fl.b.First, "points", len(fl.b.Points), "lane", l.kind, "error", r.err)
	}
	l.advance()
}

// advance commits the acknowledged prefix of the window.
func (l *lane) advance() {
	n := 0
	for n < len(l.q) && l.q[n].acked {
		n++
	}
	if n == 0 {
		return
	}
	next := l.q[n-1].b.Next()
	for _, fl := range l.q[:n] {
		if len(l.free) < 4 && !fl.borrowed {
			clear(fl.b.Points)
			l.free = append(l.free, fl.b.Points[:0])
		}
	}
	clear(l.q[:n])
	l.q = l.q[n:]
	var oldest time.Time
	if len(l.q) > 0 {
		oldest = l.q[0].oldest
	}
	l.f.update(func(s *Stats) { s.InFlight -= n })
	l.f.setOldest(l.kind, oldest)
	l.commit.set(next)
}

func (l *lane) failed() bool {
	for _, fl := range l.q {
		if fl.done && !fl.acked {
			return true
		}
	}
	return false
}

// recover handles a failed send: it lets every batch in flight finish,
// then sends the unacknowledged ones again, one at a time and in order,
// with the same boundaries (so a target that deduplicates by batch sees
// the same ids), backing off between attempts and respecting the breaker.
// Pipelining resumes once every one of them is acknowledged.
func (l *lane) recover(ctx context.Context) error {
	var last error
	for _, fl := range l.q {
		if fl.done && !fl.acked {
			last = fl.err
		}
	}
	l.f.setState(StateBackingOff, last)
	for l.pending() > 0 {
		select {
		case r := <-l.results:
			l.apply(r)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	attempt := 0
	for _, fl := range append([]*flight(nil), l.q...) {
		for !fl.acked {
			for !l.f.breaker.Allow() {
				l.f.setState(StateBreakerOpen, last)
				if err := sleep(ctx, l.f.cfg.Backoff.Delay(attempt)); err != nil {
					return err
				}
				attempt++
			}
			if err := sleep(ctx, l.f.cfg.Backoff.Delay(attempt)); err != nil {
				return err
			}
			l.start(ctx, fl)
			select {
			case r := <-l.results:
				l.apply(r)
			case <-ctx.Done():
				return ctx.Err()
			}
			if !fl.acked {
				last = fl.err
				attempt++
				l.f.setState(StateBackingOff, last)
			}
		}
	}
	l.f.setState(StateForwarding, nil)
	return nil
}

func (l *lane) pending() int {
	n := 0
	for _, fl := range l.q {
		if !fl.done {
			n++
		}
	}
	return n
}

// join waits for every send in flight to finish (they end with ctx).
func (l *lane) join() {
	l.wg.Wait()
	l.drain()
}

// committer moves the lane's Buffer cursor to the acknowledged prefix in a
// goroutine of its own, so that the fsync of a commit does not hold up the
// window. Commits coalesce: only the latest offset is written.
type committer struct {
	f        *Forwarder
	consumer string
	report   bool // the lane's cursor is the one Stats shows

	mu       sync.Mutex
	want     buffer.Offset
	done     buffer.Offset
	err      error
	progress chan struct{} // closed and replaced after every commit
	kick     chan struct{}
	quit     chan struct{}
	stopped  chan struct{}
}

func newCommitter(f *Forwarder, consumer string, at buffer.Offset, report bool) *committer {
	c := &committer{f: f, consumer: consumer, report: report, want: at, done: at,
		progress: make(chan struct{}), kick: make(chan struct{}, 1),
		quit: make(chan struct{}), stopped: make(chan struct{})}
	go c.loop()
	return c
}

func (c *committer) loop() {
	defer close(c.stopped)
	for {
		select {
		case <-c.kick:
		case <-c.quit:
			c.once(true)
			return
		}
		c.once(false)
	}
}

// once commits the latest wanted offset. Commits use a context of their
// own: a commit of acknowledged points is worth finishing at shutdown.
func (c *committer) once(final bool) {
	c.mu.Lock()
	want, done := c.want, c.done
	c.mu.Unlock()
	if want == done {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	err := c.f.cfg.Buffer.Commit(ctx, c.consumer, want)
	cancel()
	c.mu.Lock()
	if err != nil {
		if c.err == nil && !final {
			c.err = err
		}
	} else {
		c.done = want
	}
	close(c.progress)
	c.progress = make(chan struct{})
	c.mu.Unlock()
	if err == nil && c.report {
		c.f.update(func(s *Stats) { s.Committed = want })
	}
}

func (c *committer) set(next buffer.Offset) {
	c.mu.Lock()
	if next > c.want {
		c.want = next
	}
	c.mu.Unlock()
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

func (c *committer) failed() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// flush waits until every wanted offset is committed.
func (c *committer) flush(ctx context.Context) error {
	for {
		c.mu.Lock()
		done, want, err, ch := c.done, c.want, c.err, c.progress
		c.mu.Unlock()
		if err != nil {
			return err
		}
		if done >= want {
			return nil
		}
		select {
		case c.kick <- struct{}{}:
		default:
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// stop commits what is wanted and ends the goroutine.
func (c *committer) stop() {
	select {
	case <-c.quit:
	default:
		close(c.quit)
	}
	<-c.stopped
}

// setOldest records the source time of the oldest unacknowledged point of a
// lane, for Stats.LagAge.
func (f *Forwarder) setOldest(kind string, t time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.oldest == nil {
		f.oldest = make(map[string]time.Time)
	}
	f.oldest[kind] = t
}
