package opcua

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gopcua/opcua/id"
	"github.com/gopcua/opcua/ua"

	"github.com/greenlang/gl001/scada"
)

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// How the publish loop waits for a publish response that is missing from the
// sequence: at least seqGrace (two publishing intervals if longer), and at
// most seqLimit responses of the subscription held back meanwhile.
const (
	seqGrace = 2 * time.Second
	seqLimit = 1024
)

// subscribe creates the subscriptions and monitored items, keeps publish
// requests in flight and delivers what the server publishes until ctx ends or
// the connection, the session or a subscription fails.
//
// gopcua's own Subscription machinery is not used: it keeps one publish
// request in flight, hides keep-alives (so a watchdog cannot tell a quiet
// server from a dead one) and, with AutoReconnect, can report Connected while
// its subscriptions are gone. Here the publish loop is ours.
func (ss *session) subscribe(ctx context.Context) error {
	var handles []uint32
	for i := range ss.tags {
		if ss.tags[i].node != nil {
			handles = append(handles, uint32(i))
		}
	}
	if len(handles) == 0 {
		// Nothing to monitor: every tag is unknown. Keep the session, and
		// watch it, so Run still ends when the server goes away.
		if err := ss.flush(ctx); err != nil {
			return err
		}
		return ss.idle(ctx)
	}
	err := chunks(handles, ss.cfg.MaxItemsPerSubscription, func(group []uint32) error {
		return ss.createSubscription(ctx, group)
	})
	if err != nil {
		return err
	}
	if err := ss.subscribeEvents(ctx); err != nil {
		return err
	}
	if err := ss.flush(ctx); err != nil {
		return err
	}
	scada.NotifyConnected(ss.sink)
	return ss.publishLoop(ctx)
}

func (ss *session) createSubscription(ctx context.Context, group []uint32) error {
	cfg := ss.cfg
	res, err := call[*ua.CreateSubscriptionResponse](ctx, ss, "CreateSubscription", &ua.CreateSubscriptionRequest{
		RequestedPublishingInterval: ms(cfg.PublishingInterval),
		RequestedLifetimeCount:      cfg.KeepAliveCount * 6, // the spec asks for at least 3x the keep-alive count
		RequestedMaxKeepAliveCount:  cfg.KeepAliveCount,
		PublishingEnabled:           true,
	})
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return ss.fatal("create subscription", err)
	}
	ss.subIDs = append(ss.subIDs, res.SubscriptionID)
	ss.s.stats.subscriptions.Store(int64(len(ss.subIDs)))

	var filter *ua.ExtensionObject
	if cfg.DeadbandType != DeadbandNone {
		filter = ua.NewExtensionObject(&ua.DataChangeFilter{
			Trigger:       ua.DataChangeTriggerStatusValue,
			DeadbandType:  uint32(cfg.DeadbandType), // None 0, Absolute 1, Percent 2, as in the spec
			DeadbandValue: cfg.Deadband,
		})
	} else {
		filter = ua.NewExtensionObject(nil)
	}
	now := time.Now()
	return chunks(group, ss.monLimit, func(part []uint32) error {
		items := make([]*ua.MonitoredItemCreateRequest, len(part))
		for k, h := range part {
			items[k] = &ua.MonitoredItemCreateRequest{
				ItemToMonitor: &ua.ReadValueID{
					NodeID:       ss.tags[h].node,
					AttributeID:  ua.AttributeIDValue,
					DataEncoding: &ua.QualifiedName{},
				},
				MonitoringMode: ua.MonitoringModeReporting,
				RequestedParameters: &ua.MonitoringParameters{
					ClientHandle:     h,
					SamplingInterval: ms(cfg.SamplingInterval),
					Filter:           filter,
					QueueSize:        cfg.QueueSize,
					DiscardOldest:    true,
				},
			}
		}
		res, err := call[*ua.CreateMonitoredItemsResponse](ctx, ss, "CreateMonitoredItems", &ua.CreateMonitoredItemsRequest{
			SubscriptionID:     res.SubscriptionID,
			TimestampsToReturn: ua.TimestampsToReturnBoth,
			ItemsToCreate:      items,
		})
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return ss.fatal("create monitored items", err)
		}
		if len(res.Results) != len(part) {
			return ss.fatal("create monitored items", fmt.Errorf("%d results for %d items", len(res.Results), len(part)))
		}
		ok := 0
		for k, r := range res.Results {
			if r == nil || scada.Quality(r.StatusCode).IsBad() {
				code := scada.Bad
				if r != nil {
					code = scada.Quality(r.StatusCode)
				}
				h := int(part[k])
				ss.tagProblem(h, code.Code(), &StatusError{Op: "CreateMonitoredItems", Code: code})
				ss.appendPoint(h, 0, code, now)
				continue
			}
			ok++
		}
		ss.s.stats.monitored.Add(int64(ok))
		return nil
	})
}

// idle reads the server's state every NoDataTimeout/3 until ctx ends or the
// read fails: a session with nothing to monitor still notices a lost server.
func (ss *session) idle(ctx context.Context) error {
	t := time.NewTicker(ss.cfg.NoDataTimeout / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
		req := &ua.ReadRequest{NodesToRead: []*ua.ReadValueID{readValueID(ua.NewNumericNodeID(0, id.Server_ServerStatus_State), ua.AttributeIDValue)}}
		if _, err := call[*ua.ReadResponse](ctx, ss, "Read", req); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return ss.fatal("read server state", err)
		}
	}
}

// publisher keeps publish requests in flight and passes the responses on.
type publisher struct {
	mu   sync.Mutex
	acks []*ua.SubscriptionAcknowledgement

	out     chan *ua.PublishResponse
	errc    chan error
	workers atomic.Int32 // workers still running
}

func (p *publisher) ack(subID, seq uint32) {
	p.mu.Lock()
	p.acks = append(p.acks, &ua.SubscriptionAcknowledgement{SubscriptionID: subID, SequenceNumber: seq})
	p.mu.Unlock()
}

func (p *publisher) takeAcks() []*ua.SubscriptionAcknowledgement {
	p.mu.Lock()
	defer p.mu.Unlock()
	a := p.acks
	p.acks = nil
	if a == nil {
		a = []*ua.SubscriptionAcknowledgement{}
	}
	return a
}

// requeue puts acknowledgements back for the next request.
func (p *publisher) requeue(acks []*ua.SubscriptionAcknowledgement) {
	if len(acks) == 0 {
		return
	}
	p.mu.Lock()
	p.acks = append(acks, p.acks...)
	p.mu.Unlock()
}

// worker sends publish requests one after the other until ctx ends or the
// connection fails; several workers keep several requests in flight.
func (ss *session) worker(ctx context.Context, p *publisher, wait time.Duration) {
	for ctx.Err() == nil {
		acks := p.takeAcks()
		req := &ua.PublishRequest{SubscriptionAcknowledgements: acks}
		var res *ua.PublishResponse
		rctx, cancel := context.WithTimeout(ctx, wait)
		err := ss.c.Send(rctx, req, func(v ua.Response) error {
			r, ok := v.(*ua.PublishResponse)
			if !ok {
				return fmt.Errorf("unexpected response %T to Publish", v)
			}
			res = r
			return nil
		})
		cancel()
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			p.requeue(acks) // the server may not have seen them
			switch {
			case errors.Is(err, ua.StatusBadTimeout), errors.Is(err, context.DeadlineExceeded):
				// The server held the request longer than we wait. Not an
				// error by itself: the watchdog decides whether the server is gone.
				continue
			case errors.Is(err, ua.StatusBadTooManyPublishRequests):
				// The server queues fewer requests than we keep in flight:
				// this worker retires, the others go on; the last one stays.
				if p.workers.Add(-1) > 0 {
					return
				}
				p.workers.Add(1)
				select {
				case <-ctx.Done():
					return
				case <-time.After(100 * time.Millisecond):
				}
				continue
			}
			select {
			case p.errc <- statusErr("Publish", err):
			default:
			}
			return
		}
		select {
		case p.out <- res:
		case <-ctx.Done():
			return
		}
	}
}

// sequencer puts the publish responses of each subscription back in sequence
// order: with several requests in flight, two responses can be handed over
// out of order, and on a loaded machine the worker holding the earlier one may
// not run again before several later ones have arrived. A missing number is
// therefore waited for by time, not by count: up to grace after the first
// response was held back for it (or until limit responses are held, to bound
// memory); after that it is a gap, and the held responses go on in order.
type sequencer struct {
	grace time.Duration
	limit int
	subs  map[uint32]*subSeq
}

type subSeq struct {
	next  uint32 // 0 until the first data message
	held  map[uint32]*ua.PublishResponse
	since time.Time // when the wait for next began; zero when nothing is held
}

// push returns the responses ready to process, in order, and how many
// sequence numbers were skipped.
func (q *sequencer) push(res *ua.PublishResponse, ready []*ua.PublishResponse, now time.Time) ([]*ua.PublishResponse, int) {
	st := q.subs[res.SubscriptionID]
	if st == nil {
		st = &subSeq{held: map[uint32]*ua.PublishResponse{}}
		q.subs[res.SubscriptionID] = st
	}
	n := res.NotificationMessage.SequenceNumber
	switch {
	case st.next == 0 || n == st.next:
		ready = append(ready, res)
		st.next = nextSeq(n)
		st.since = time.Time{}
	case seqBefore(n, st.next):
		ready = append(ready, res) // late, but never dropped
		return ready, 0
	default:
		st.held[n] = res
	}
	return q.release(st, ready, now)
}

// expire releases, for every subscription, what waited longer than grace
// for a missing number.
func (q *sequencer) expire(ready []*ua.PublishResponse, now time.Time) ([]*ua.PublishResponse, int) {
	gaps := 0
	for _, st := range q.subs {
		var g int
		ready, g = q.release(st, ready, now)
		gaps += g
	}
	return ready, gaps
}

// release appends the held responses of st that are next in order, giving
// up on a missing number once it was waited for long enough.
func (q *sequencer) release(st *subSeq, ready []*ua.PublishResponse, now time.Time) ([]*ua.PublishResponse, int) {
	gaps := 0
	for {
		if r, ok := st.held[st.next]; ok {
			delete(st.held, st.next)
			ready = append(ready, r)
			st.next = nextSeq(st.next)
			st.since = time.Time{}
			continue
		}
		if len(st.held) == 0 {
			st.since = time.Time{}
			return ready, gaps
		}
		if st.since.IsZero() {
			st.since = now
		}
		if now.Sub(st.since) < q.grace && len(st.held) < q.limit {
			return ready, gaps
		}
		// Give up on the missing numbers: take the smallest held one.
		keys := make([]uint32, 0, len(st.held))
		for k := range st.held {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(i, j int) bool { return seqBefore(keys[i], keys[j]) })
		gaps += int(keys[0] - st.next)
		st.next = keys[0]
	}
}

// nextSeq is the sequence number after n: OPC UA skips 0 when it wraps.
func nextSeq(n uint32) uint32 {
	if n == math.MaxUint32 {
		return 1
	}
	return n + 1
}

// seqBefore compares sequence numbers that wrap around.
func seqBefore(a, b uint32) bool { return int32(a-b) < 0 }

func (ss *session) publishLoop(ctx context.Context) error {
	cfg := ss.cfg
	inflight := cfg.PublishRequests
	if inflight == 0 {
		inflight = min(len(ss.subIDs)+1, 8)
	}
	// A publish request waits at the server for data or the next keep-alive.
	wait := 2*cfg.PublishingInterval*time.Duration(cfg.KeepAliveCount) + cfg.RequestTimeout

	p := &publisher{out: make(chan *ua.PublishResponse, inflight), errc: make(chan error, 1)}
	wctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() {
		stop()
		wg.Wait()
	}()
	p.workers.Store(int32(inflight))
	for range inflight {
		wg.Go(func() { ss.worker(wctx, p, wait) })
	}

	seq := &sequencer{grace: max(seqGrace, 2*cfg.PublishingInterval), limit: seqLimit, subs: map[uint32]*subSeq{}}
	watchdog := time.NewTicker(min(cfg.NoDataTimeout/4, time.Second))
	defer watchdog.Stop()
	var ready []*ua.PublishResponse
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-p.errc:
			if isConnLoss(err) {
				return ss.fatal("publish", err)
			}
			return ss.fatal("publish", fmt.Errorf("%w: %w", ErrSubscriptionLost, err))
		case <-watchdog.C:
			if since := time.Since(ss.lastLife); since > cfg.NoDataTimeout {
				return ss.fatal("watchdog", fmt.Errorf("%w (%v)", ErrNoData, since.Round(time.Millisecond)))
			}
			// A quiet subscription still gives up on a missing number.
			var gaps int
			ready, gaps = seq.expire(ready[:0], time.Now())
			if err := ss.release(ctx, p, ready, gaps); err != nil {
				return err
			}
			clear(ready)
		case res := <-p.out:
			now := time.Now()
			ss.lastLife = now
			ss.s.stats.lastData.Store(now.UnixNano())
			if res.NotificationMessage == nil || len(res.NotificationMessage.NotificationData) == 0 {
				ss.s.stats.keepAlives.Add(1)
				continue
			}
			var gaps int
			ready, gaps = seq.push(res, ready[:0], now)
			if err := ss.release(ctx, p, ready, gaps); err != nil {
				return err
			}
			clear(ready)
		}
	}
}

// release handles the responses the sequencer released, acknowledges them
// and delivers their points.
func (ss *session) release(ctx context.Context, p *publisher, ready []*ua.PublishResponse, gaps int) error {
	if gaps > 0 {
		ss.s.stats.sequenceGaps.Add(uint64(gaps))
		ss.cfg.Logger.Warn("opcua: publish sequence gap", "source", ss.cfg.Name, "missing", gaps)
	}
	if len(ready) == 0 {
		return nil
	}
	now := time.Now()
	for _, r := range ready {
		if err := ss.handle(r, now); err != nil {
			return err
		}
		p.ack(r.SubscriptionID, r.NotificationMessage.SequenceNumber)
	}
	return ss.flush(ctx)
}

// handle maps one publish response's notifications to points.
func (ss *session) handle(res *ua.PublishResponse, now time.Time) error {
	ss.s.stats.publishes.Add(1)
	if ss.bf != nil && ss.bf.waiting > 0 {
		// Backfill first: the gaps end at live points of this response.
		var items []*ua.MonitoredItemNotification
		for _, eo := range res.NotificationMessage.NotificationData {
			if eo == nil {
				continue
			}
			if n, ok := eo.Value.(*ua.DataChangeNotification); ok {
				items = append(items, n.MonitoredItems...)
			}
		}
		err := ss.backfillScan(len(items), func(k int) (int, *ua.DataValue) {
			if it := items[k]; it != nil && it.ClientHandle < uint32(len(ss.tags)) {
				return int(it.ClientHandle), it.Value
			}
			return -1, nil
		}, now)
		if err != nil {
			return err
		}
	}
	for _, eo := range res.NotificationMessage.NotificationData {
		if eo == nil {
			continue
		}
		switch n := eo.Value.(type) {
		case *ua.DataChangeNotification:
			for _, item := range n.MonitoredItems {
				if item == nil || item.ClientHandle >= uint32(len(ss.tags)) {
					ss.s.stats.badInput.Add(1)
					continue
				}
				ss.emit(int(item.ClientHandle), item.Value, now)
			}
		case *ua.EventNotificationList:
			ss.handleEvents(n)
		case *ua.StatusChangeNotification:
			if ua.StatusCode(n.Status)&0x80000000 != 0 {
				return ss.fatal("subscription", fmt.Errorf("%w: %w", ErrSubscriptionLost,
					&StatusError{Op: "StatusChangeNotification", Code: scada.Quality(n.Status)}))
			}
		}
	}
	return nil
}
