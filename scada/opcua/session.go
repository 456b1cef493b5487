package opcua

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	gopcua "github.com/gopcua/opcua"
	"github.com/gopcua/opcua/id"
	"github.com/gopcua/opcua/ua"

	"github.com/greenlang/gl001/scada"
)

// Defaults for servers that do not publish their operation limits.
const (
	defaultReadLimit      = 500
	defaultMonitoredLimit = 1000
)

// session is the state of one connection: what Run builds after connecting
// and throws away when the connection ends.
type session struct {
	s    *Source
	cfg  Config
	c    *gopcua.Client
	sink scada.Sink

	tags  []tagState // index = monitored item client handle
	batch []scada.Point

	readLimit, browseLimit, monLimit int
	historyLimit                     int // nodes per HistoryRead (history.go)

	subIDs   []uint32
	lastLife time.Time

	ev *eventState    // nil without Config.Events
	bf *backfillState // nil without Config.Backfill
}

type tagState struct {
	Tag
	node     *ua.NodeID // nil when the id did not resolve
	unit     string
	reported scada.Quality // the last per-tag problem reported, to report each change once
}

func newSession(s *Source, c *gopcua.Client, sink scada.Sink) *session {
	ss := &session{s: s, cfg: s.cfg, c: c, sink: sink, tags: make([]tagState, len(s.cfg.Tags))}
	for i, t := range s.cfg.Tags {
		ss.tags[i] = tagState{Tag: t, unit: t.Unit}
	}
	return ss
}

// call sends one request with the configured timeout and returns its typed
// response. Errors are classified: see fatal.
func call[R ua.Response](ctx context.Context, ss *session, op string, req ua.Request) (R, error) {
	var res R
	// gopcua numbers a request's chunk before it looks at ctx: a request
	// sent with a context already ended is dropped after taking a sequence
	// number, and the server closes the channel at the gap. Do not send one.
	if err := ctx.Err(); err != nil {
		return res, err
	}
	ctx, cancel := context.WithTimeout(ctx, ss.cfg.RequestTimeout)
	defer cancel()
	err := ss.c.Send(ctx, req, func(v ua.Response) error {
		r, ok := v.(R)
		if !ok {
			return fmt.Errorf("unexpected response %T to %s", v, op)
		}
		res = r
		return nil
	})
	if err != nil {
		return res, statusErr(op, err)
	}
	return res, nil
}

// fatal wraps an error that ends the session.
func (ss *session) fatal(op string, err error) error {
	return &ConnError{Endpoint: ss.cfg.Endpoint, Op: op, Err: err}
}

func (ss *session) run(ctx context.Context) error {
	ss.lastLife = time.Now()
	ss.startBackfill(ctx)
	ss.resolve()
	if err := ss.readLimits(ctx); err != nil {
		return err
	}
	if err := ss.lookupUnits(ctx); err != nil {
		return err
	}
	if err := ss.flush(ctx); err != nil {
		return err
	}
	if ss.cfg.PollInterval > 0 {
		return ss.poll(ctx)
	}
	return ss.subscribe(ctx)
}

// resolve parses every tag's node id against the server's namespace array.
// A tag whose namespace URI the server does not have gets a Bad point and a
// TagError; the others go on.
func (ss *session) resolve() {
	ns := ss.c.Namespaces()
	now := time.Now()
	for i := range ss.tags {
		t := &ss.tags[i]
		eid, err := ua.ParseExpandedNodeID(t.NodeID, ns)
		if err != nil {
			ss.tagProblem(i, scada.BadNodeIDUnknown, &StatusError{Op: "resolve", Code: scada.BadNodeIDUnknown})
			ss.appendPoint(i, 0, scada.BadNodeIDUnknown, now)
			continue
		}
		t.node = eid.NodeID
	}
}

// readLimits reads the server's operation limits so that Read, Browse,
// CreateMonitoredItems and HistoryRead are split to what the server accepts.
func (ss *session) readLimits(ctx context.Context) error {
	ids := []uint32{
		id.Server_ServerCapabilities_OperationLimits_MaxNodesPerRead,
		id.Server_ServerCapabilities_OperationLimits_MaxNodesPerBrowse,
		id.Server_ServerCapabilities_OperationLimits_MaxMonitoredItemsPerCall,
		id.Server_ServerCapabilities_OperationLimits_MaxNodesPerHistoryReadData,
		id.Server_ServerCapabilities_MaxHistoryContinuationPoints,
	}
	req := &ua.ReadRequest{TimestampsToReturn: ua.TimestampsToReturnNeither}
	for _, n := range ids {
		req.NodesToRead = append(req.NodesToRead, readValueID(ua.NewNumericNodeID(0, n), ua.AttributeIDValue))
	}
	res, err := call[*ua.ReadResponse](ctx, ss, "Read", req)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return ss.fatal("read operation limits", err)
	}
	limit := func(i, def int) int {
		if i >= len(res.Results) || res.Results[i] == nil || res.Results[i].Status != ua.StatusOK || res.Results[i].Value == nil {
			return def
		}
		f, ok := toFloat(res.Results[i].Value)
		if !ok || f < 1 {
			return def // 0 means "no limit" in OPC UA; keep requests moderate anyway
		}
		return int(min(f, 1<<20))
	}
	ss.readLimit = limit(0, defaultReadLimit)
	ss.browseLimit = limit(1, ss.readLimit)
	ss.monLimit = limit(2, defaultMonitoredLimit)
	// HistoryRead: the configured cap, lowered by MaxNodesPerHistoryReadData
	// and by MaxHistoryContinuationPoints (every node of a request may need
	// one; past the limit the server answers BadNoContinuationPoints), and
	// by MaxNodesPerRead, which some servers (node-opcua) apply to
	// HistoryRead as well.
	ss.historyLimit = min(ss.cfg.HistoryNodesPerRead, limit(3, ss.cfg.HistoryNodesPerRead),
		limit(4, ss.cfg.HistoryNodesPerRead), ss.readLimit)
	ss.s.stats.readLimit.Store(int64(ss.readLimit))
	ss.s.stats.monitoredLimit.Store(int64(ss.monLimit))
	ss.s.stats.historyLimit.Store(int64(ss.historyLimit))
	return nil
}

// chunks calls f with consecutive slices of at most n of xs.
func chunks[T any](xs []T, n int, f func([]T) error) error {
	for len(xs) > 0 {
		k := min(n, len(xs))
		if err := f(xs[:k]); err != nil {
			return err
		}
		xs = xs[k:]
	}
	return nil
}

// tagProblem reports a per-tag problem once per change of its code.
func (ss *session) tagProblem(i int, code scada.Quality, err error) {
	t := &ss.tags[i]
	if t.reported == code {
		return
	}
	t.reported = code
	ss.s.tagError(&TagError{Tag: t.Name, NodeID: t.NodeID, Err: err})
}

// isTagProblem reports whether a Bad status is about the node itself (it
// does not exist, cannot be read) rather than about the device behind it.
func isTagProblem(q scada.Quality) bool {
	switch q.Code() {
	case scada.BadNodeIDUnknown, 0x80330000 /* BadNodeIdInvalid */, scada.BadNotReadable,
		scada.BadUserAccessDenied, 0x80350000 /* BadAttributeIdInvalid */, scada.BadTypeMismatch:
		return true
	}
	return false
}

// emit maps one DataValue of tag i and appends the point.
func (ss *session) emit(i int, dv *ua.DataValue, now time.Time) {
	v, q, ts, err := mapValue(dv, now)
	switch {
	case err != nil:
		ss.s.stats.badInput.Add(1)
		ss.tagProblem(i, q, err)
	case isTagProblem(q):
		ss.tagProblem(i, q.Code(), &StatusError{Op: "value", Code: q})
	case !q.IsBad():
		ss.tags[i].reported = 0
	}
	if ss.bf != nil && !ss.backfillBefore(i, q, ts) {
		return
	}
	ss.appendPoint(i, v, q, ts)
}

func (ss *session) appendPoint(i int, v float64, q scada.Quality, ts time.Time) {
	t := &ss.tags[i]
	ss.batch = append(ss.batch, scada.Point{Tag: t.Name, Value: v, Unit: t.unit, Quality: q, Time: ts, Source: ss.cfg.Name})
}

// flush delivers the pending points in batches of at most BatchSize.
func (ss *session) flush(ctx context.Context) error {
	var bad uint64
	for _, p := range ss.batch {
		if p.Quality.IsBad() {
			bad++
		}
	}
	err := chunks(ss.batch, ss.cfg.BatchSize, func(b []scada.Point) error {
		if err := ss.sink.Deliver(ctx, b); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("opcua: deliver: %w", err)
		}
		ss.s.stats.points.Add(uint64(len(b)))
		ss.backfillDelivered(b)
		return nil
	})
	if err == nil {
		ss.s.stats.badPoints.Add(bad)
		err = ss.flushEvents(ctx)
	}
	clear(ss.batch) // drop the strings for the GC; the Sink keeps copies
	ss.batch = ss.batch[:0]
	return err
}

// deliverNoCommunication gives every tag one BadNoCommunication point, so a
// consumer sees the gap when the connection is lost.
func (ss *session) deliverNoCommunication(ctx context.Context) {
	if ctx.Err() != nil {
		return
	}
	now := time.Now()
	ss.batch = ss.batch[:0]
	for i := range ss.tags {
		ss.appendPoint(i, 0, scada.BadNoCommunication, now)
	}
	dctx, cancel := context.WithTimeout(ctx, ss.cfg.RequestTimeout)
	defer cancel()
	if err := ss.flush(dctx); err != nil {
		ss.cfg.Logger.Warn("opcua: delivering the no-communication points failed", "source", ss.cfg.Name, "err", err)
	}
}

// close deletes the subscriptions and closes the session and the channel,
// bounded in time even when the server is gone.
func (ss *session) close(ctx context.Context) {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), min(ss.cfg.RequestTimeout, 5*time.Second))
	defer cancel()
	if len(ss.subIDs) > 0 {
		_ = ss.c.Send(cctx, &ua.DeleteSubscriptionsRequest{SubscriptionIDs: ss.subIDs}, func(ua.Response) error { return nil })
	}
	_ = ss.c.Close(cctx)
}

// isConnLoss reports whether err from a Send means the channel is gone.
func isConnLoss(err error) bool {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return true
	}
	var se *StatusError
	if errors.As(err, &se) {
		return connectionCode(ua.StatusCode(se.Code))
	}
	return false
}

// readValueID is a ReadValueID with every field set: requests sent with
// Client.Send are encoded as they are, and a nil field does not encode.
func readValueID(n *ua.NodeID, attr ua.AttributeID) *ua.ReadValueID {
	return &ua.ReadValueID{NodeID: n, AttributeID: attr, DataEncoding: &ua.QualifiedName{}}
}

// noView is the "no view" a BrowseRequest needs.
func noView() *ua.ViewDescription {
	return &ua.ViewDescription{ViewID: ua.NewTwoByteNodeID(0)}
}
