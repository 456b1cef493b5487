package opcua

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/gopcua/opcua/id"
	"github.com/gopcua/opcua/ua"

	"github.com/greenlang/gl001/scada"
)

// eventCounters are the counters of events, history reads and backfill.
type eventCounters struct {
	events, badEvents, refreshes     atomic.Uint64
	historyPoints, historyErrors     atomic.Uint64
	backfilled, duplicates           atomic.Uint64
	historyRequests, historyReleases atomic.Uint64
	eventItems, eventItemsRejected   atomic.Int64
}

// EventStats is the part of [Stats] about events, history and backfill.
type EventStats struct {
	Events             uint64 // events delivered
	BadEvents          uint64 // event field lists with a missing or mistyped field (*EventFieldError), delivered or not
	ConditionRefreshes uint64 // ConditionRefresh calls the server accepted
	EventItems         int    // event monitored items of the current session
	EventItemsRejected int    // event monitored items the server refused in the current session
	HistoryPoints      uint64 // points read from history (History and backfill)
	HistoryErrors      uint64 // history problems: bad values, out-of-range timestamps, refused or stuck reads
	Backfilled         uint64 // points delivered by backfill
	Duplicates         uint64 // live points dropped by backfill as already delivered
	HistoryRequests    uint64 // HistoryRead requests that read values (History, HistoryTags and backfill)
	HistoryReleases    uint64 // HistoryRead requests that released continuation points (a read stopped early or failed)
}

// EventStats returns a snapshot of the event, history and backfill counters.
func (s *Source) EventStats() EventStats {
	c := &s.ev
	return EventStats{
		Events: c.events.Load(), BadEvents: c.badEvents.Load(), ConditionRefreshes: c.refreshes.Load(),
		EventItems: int(c.eventItems.Load()), EventItemsRejected: int(c.eventItemsRejected.Load()),
		HistoryPoints: c.historyPoints.Load(), HistoryErrors: c.historyErrors.Load(),
		Backfilled: c.backfilled.Load(), Duplicates: c.duplicates.Load(),
		HistoryRequests: c.historyRequests.Load(), HistoryReleases: c.historyReleases.Load(),
	}
}

// eventState is a session's event subscription.
type eventState struct {
	sink   scada.EventSink
	subID  uint32
	base   uint32 // the client handle of the first object
	n      uint32 // objects monitored
	fields []EventField
	batch  []scada.Event
}

// subscribeEvents creates the event subscription and its monitored items,
// then asks the server to refresh the conditions.
func (ss *session) subscribeEvents(ctx context.Context) error {
	ec := ss.cfg.Events
	if ec == nil {
		return nil
	}
	st := &eventState{sink: ec.Sink, fields: ec.Fields, base: uint32(len(ss.tags))}
	if st.sink == nil {
		es, ok := ss.sink.(scada.EventSink)
		if !ok {
			return ss.fatal("subscribe events", ErrNoEventSink)
		}
		st.sink = es
	}
	ns := ss.c.Namespaces()
	filter, err := eventFilter(ec, ns)
	if err != nil {
		return ss.fatal("subscribe events", err)
	}
	objects := ec.Objects
	if len(objects) == 0 {
		objects = []string{ua.NewNumericNodeID(0, id.Server).String()}
	}
	cfg := ss.cfg
	res, err := call[*ua.CreateSubscriptionResponse](ctx, ss, "CreateSubscription", &ua.CreateSubscriptionRequest{
		RequestedPublishingInterval: ms(cfg.PublishingInterval),
		RequestedLifetimeCount:      cfg.KeepAliveCount * 6,
		RequestedMaxKeepAliveCount:  cfg.KeepAliveCount,
		PublishingEnabled:           true,
	})
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return ss.fatal("create event subscription", err)
	}
	st.subID = res.SubscriptionID
	ss.subIDs = append(ss.subIDs, res.SubscriptionID)
	ss.s.stats.subscriptions.Store(int64(len(ss.subIDs)))
	ss.ev = st

	queue := ec.QueueSize
	if queue == 0 {
		queue = 1000
	}
	var items []*ua.MonitoredItemCreateRequest
	for k, o := range objects {
		eid, err := ua.ParseExpandedNodeID(o, ns)
		if err != nil {
			ss.s.ev.eventItemsRejected.Add(1)
			cfg.Logger.Warn("opcua: event object not resolved", "source", cfg.Name, "object", o, "err", err)
			continue
		}
		items = append(items, &ua.MonitoredItemCreateRequest{
			ItemToMonitor:  &ua.ReadValueID{NodeID: eid.NodeID, AttributeID: ua.AttributeIDEventNotifier, DataEncoding: &ua.QualifiedName{}},
			MonitoringMode: ua.MonitoringModeReporting,
			RequestedParameters: &ua.MonitoringParameters{
				ClientHandle:  st.base + uint32(k),
				Filter:        ua.NewExtensionObject(filter),
				QueueSize:     queue,
				DiscardOldest: true,
			},
		})
	}
	st.n = uint32(len(objects))
	if len(items) == 0 {
		return nil
	}
	mres, err := call[*ua.CreateMonitoredItemsResponse](ctx, ss, "CreateMonitoredItems", &ua.CreateMonitoredItemsRequest{
		SubscriptionID:     st.subID,
		TimestampsToReturn: ua.TimestampsToReturnBoth,
		ItemsToCreate:      items,
	})
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return ss.fatal("create event monitored items", err)
	}
	ok := 0
	for k, r := range mres.Results {
		if r == nil || ua.StatusCode(r.StatusCode)&0x80000000 != 0 {
			code := scada.Bad
			if r != nil {
				code = scada.Quality(r.StatusCode)
			}
			ss.s.ev.eventItemsRejected.Add(1)
			cfg.Logger.Warn("opcua: event monitored item refused", "source", cfg.Name, "item", k,
				"err", &StatusError{Op: "CreateMonitoredItems", Code: code})
			continue
		}
		ok++
	}
	ss.s.ev.eventItems.Store(int64(ok))
	if ok == 0 {
		return nil
	}
	// ConditionRefresh: the server reports every retained condition again,
	// between a RefreshStartEvent and a RefreshEndEvent.
	_, err = ss.callMethod(ctx, ua.NewNumericNodeID(0, id.ConditionType).String(),
		ua.NewNumericNodeID(0, id.ConditionType_ConditionRefresh).String(), []*ua.Variant{ua.MustVariant(st.subID)})
	switch {
	case err == nil:
		ss.s.ev.refreshes.Add(1)
	case ctx.Err() != nil:
		return ctx.Err()
	case isConnLoss(err):
		return ss.fatal("condition refresh", err)
	default:
		// A server without conditions may refuse the refresh: events still flow.
		cfg.Logger.Warn("opcua: condition refresh refused", "source", cfg.Name, "err", err)
	}
	return nil
}

// handleEvents maps one event notification list to events.
func (ss *session) handleEvents(n *ua.EventNotificationList) {
	st := ss.ev
	for _, f := range n.Events {
		if st == nil || f == nil || f.ClientHandle < st.base || f.ClientHandle >= st.base+st.n {
			ss.s.stats.badInput.Add(1)
			continue
		}
		if refreshMarker(f.EventFields) {
			continue // RefreshStartEvent, RefreshEndEvent: markers only, and servers leave their fields empty
		}
		ev, ok, err := mapEvent(f.EventFields, st.fields, ss.cfg.Name)
		if err != nil {
			ss.s.ev.badEvents.Add(1)
			ss.cfg.Logger.Debug("opcua: event with bad fields", "source", ss.cfg.Name, "delivered", ok, "err", err)
		}
		if !ok {
			continue
		}
		st.batch = append(st.batch, ev)
	}
}

// refreshMarker reports whether an event field list is a RefreshStartEvent
// or a RefreshEndEvent, which frame the events of a ConditionRefresh.
func refreshMarker(fields []*ua.Variant) bool {
	if len(fields) <= fEventType || fields[fEventType] == nil {
		return false
	}
	n, ok := fields[fEventType].Value().(*ua.NodeID)
	if !ok || n == nil || n.Namespace() != 0 {
		return false
	}
	switch n.IntID() {
	case id.RefreshStartEventType, id.RefreshEndEventType:
		return true
	}
	return false
}

// flushEvents delivers the pending events in batches of at most BatchSize.
func (ss *session) flushEvents(ctx context.Context) error {
	st := ss.ev
	if st == nil || len(st.batch) == 0 {
		return nil
	}
	err := chunks(st.batch, ss.cfg.BatchSize, func(b []scada.Event) error {
		if err := st.sink.DeliverEvents(ctx, b); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("opcua: deliver events: %w", err)
		}
		ss.s.ev.events.Add(uint64(len(b)))
		return nil
	})
	clear(st.batch)
	st.batch = st.batch[:0]
	return err
}

var errEventsInPollMode = errors.New("opcua: config: Events need subscriptions: PollInterval must be 0")
