package opcua

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"iter"
	"time"

	"github.com/gopcua/opcua/ua"

	"github.com/greenlang/gl001/scada"
)

// HistoryError is a history read the server refused or answered badly: a
// bad status for the node (BadContinuationPointInvalid,
// BadHistoryOperationUnsupported ...) or an answer that is not raw history
// data. It ends the read. Code is zero when the answer, not a status, was
// wrong.
type HistoryError struct {
	Tag  string
	Code scada.Quality
	Err  error // the cause when Code is zero
}

func (e *HistoryError) Error() string {
	if e.Code != 0 {
		return fmt.Sprintf("opcua: history of %s: %v", e.Tag, (&StatusError{Op: "HistoryRead", Code: e.Code}).Error())
	}
	return fmt.Sprintf("opcua: history of %s: %v", e.Tag, e.Err)
}

// Unwrap returns the *StatusError, or the cause.
func (e *HistoryError) Unwrap() error {
	if e.Code != 0 {
		return &StatusError{Op: "HistoryRead", Code: e.Code}
	}
	return e.Err
}

// HistoryValueError is one value of a history answer that cannot be used:
// its timestamp is outside the interval asked for, it has no timestamp, or
// it is not numeric. It matches scada.ErrBadInput; the values after it are
// still read.
type HistoryValueError struct {
	Tag      string
	Time     time.Time
	From, To time.Time
	Err      error // errOutOfRange, errNoTimestamp or the mapping error
}

func (e *HistoryValueError) Error() string {
	return fmt.Sprintf("opcua: history of %s: value at %s: %v", e.Tag, e.Time.Format(time.RFC3339Nano), e.Err)
}

// Unwrap returns the cause.
func (e *HistoryValueError) Unwrap() error { return e.Err }

// Is matches scada.ErrBadInput.
func (e *HistoryValueError) Is(target error) bool { return target == scada.ErrBadInput }

var (
	errOutOfRange  = errors.New("timestamp outside the interval asked for")
	errNoTimestamp = errors.New("no source timestamp")
	// errStuck: the server answered a continuation point with no values and
	// the same continuation point, which would loop for ever.
	errStuck = errors.New("the continuation point did not advance")
)

// History reads the raw values the server's historian kept for tag over
// [from, to), oldest first (HistoryRead with ReadRawModifiedDetails),
// following continuation points page by page. It implements
// scada.HistoryReader; see there for how errors are yielded. The points
// carry the quality the historian stored; History does not set the
// scada.Backfilled bit (backfill does).
//
// A refused read or a bad answer is a *HistoryError and ends the sequence;
// a value outside [from, to), without a timestamp or not numeric is a
// *HistoryValueError and the read goes on. A value at exactly to, which
// some servers return as the end bound, is skipped without an error. Both
// are counted in EventStats.HistoryErrors. Breaking out of the loop, or ctx
// ending, releases the server's continuation point
// (ReleaseContinuationPoints). History is [Source.HistoryTags] with one tag.
func (s *Source) History(ctx context.Context, tag string, from, to time.Time) iter.Seq2[scada.Point, error] {
	return func(yield func(scada.Point, error) bool) {
		if _, ok := s.index[tag]; !ok {
			yield(scada.Point{}, fmt.Errorf("opcua: history %q: %w", tag, scada.ErrUnknownTag))
			return
		}
		for p, err := range s.HistoryTags(ctx, []string{tag}, from, to) {
			if !yield(p, err) {
				return
			}
		}
	}
}

// HistoryTags reads the raw history of several tags over [from, to) with
// HistoryRead requests of many nodes each: at most
// Config.HistoryNodesPerRead, fewer when the server advertises a smaller
// MaxNodesPerHistoryReadData, MaxHistoryContinuationPoints or
// MaxNodesPerRead (Stats.MaxNodesPerHistoryRead is the limit used). Each
// node follows its own continuation points; a node that finishes early
// makes room for the next tag.
//
// The points of one tag come oldest first; the tags interleave page by
// page (Config.HistoryPageSize values of a node at a time). Errors are
// yielded as by [Source.History], except that a *HistoryError ends the read
// of its tag only (its Tag says which) and the other tags are still read.
// A tag name that is not configured yields an error matching
// scada.ErrUnknownTag and the others are read. An error that is not about
// one tag (the connection failed, ctx ended) ends the sequence. Breaking
// out of the loop, or ctx ending, releases every continuation point the
// server holds for the read.
func (s *Source) HistoryTags(ctx context.Context, tags []string, from, to time.Time) iter.Seq2[scada.Point, error] {
	return func(yield func(scada.Point, error) bool) {
		idx := make([]int, 0, len(tags))
		seen := make(map[int]bool, len(tags))
		for _, tag := range tags {
			i, ok := s.index[tag]
			if !ok {
				if !yield(scada.Point{}, fmt.Errorf("opcua: history %q: %w", tag, scada.ErrUnknownTag)) {
					return
				}
				continue
			}
			if !seen[i] {
				seen[i] = true
				idx = append(idx, i)
			}
		}
		if len(idx) == 0 {
			return
		}
		stopped := false
		err := s.withSession(ctx, func(ss *session) error {
			if ss.historyLimit == 0 { // a connection of its own: ask the server
				if err := ss.readLimits(ctx); err != nil || ss.historyLimit == 0 {
					ss.historyLimit = ss.cfg.HistoryNodesPerRead // a server that does not answer gets the default
				}
			}
			ns := ss.c.Namespaces()
			nodes := idx[:0:0]
			for _, i := range idx {
				t := &ss.tags[i]
				eid, err := ua.ParseExpandedNodeID(t.NodeID, ns)
				if err != nil {
					ss.s.ev.historyErrors.Add(1)
					if !yield(scada.Point{}, &HistoryError{Tag: t.Name, Code: scada.BadNodeIDUnknown}) {
						stopped = true
						return nil
					}
					continue
				}
				t.node = eid.NodeID
				nodes = append(nodes, i)
			}
			for _, i := range nodes {
				if ss.tags[i].unit == "" {
					_ = ss.lookupUnits(ctx) // the unit is a nicety: a failure here leaves it empty
					break
				}
			}
			return ss.readHistory(ctx, nodes, from, to, func(_ int, p scada.Point, err error) bool {
				if !yield(p, err) {
					stopped = true
					return false
				}
				return true
			})
		})
		if err != nil && !stopped {
			yield(scada.Point{}, err)
		}
	}
}

// historyNode is one node of a multi-node history read: the tag's index
// and the continuation point the server gave for it (nil before the first
// page).
type historyNode struct {
	i  int
	cp []byte
}

// readHistory reads the raw history of the tags idx (resolved) over
// [from, to) on this session, in requests of at most ss.historyLimit nodes
// (see HistoryTags), and calls yield with each point or per-tag error and
// the tag's index. It returns the error that ended the whole read (a
// request failed, ctx ended); yield returning false ends it with nil. The
// continuation points still open when it returns, for whatever reason, are
// released. Per-tag problems are counted in EventStats.HistoryErrors.
func (ss *session) readHistory(ctx context.Context, idx []int, from, to time.Time, yield func(i int, p scada.Point, err error) bool) error {
	limit := max(ss.historyLimit, 1)
	details := ua.NewExtensionObject(&ua.ReadRawModifiedDetails{
		StartTime: from, EndTime: to, NumValuesPerNode: uint32(ss.cfg.HistoryPageSize),
	})
	var open []historyNode // nodes with a continuation point: released on the way out
	defer func() { ss.releaseHistory(ctx, details, open) }()
	fail := func(i int, err error) bool {
		ss.s.ev.historyErrors.Add(1)
		return yield(i, scada.Point{}, err)
	}
	next := idx
	now := time.Now()
	for len(open) > 0 || len(next) > 0 {
		// The nodes under way first, then new ones up to the limit: at most
		// limit continuation points are open at the server at a time.
		k := min(max(limit-len(open), 0), len(next))
		req := make([]historyNode, 0, len(open)+k)
		req = append(req, open...)
		for _, i := range next[:k] {
			req = append(req, historyNode{i: i})
		}
		next = next[k:]
		nodes := make([]*ua.HistoryReadValueID, len(req))
		for n, h := range req {
			nodes[n] = &ua.HistoryReadValueID{NodeID: ss.tags[h.i].node, DataEncoding: &ua.QualifiedName{}, ContinuationPoint: h.cp}
		}
		ss.s.ev.historyRequests.Add(1)
		res, err := call[*ua.HistoryReadResponse](ctx, ss, "HistoryRead", &ua.HistoryReadRequest{
			HistoryReadDetails: details, TimestampsToReturn: ua.TimestampsToReturnSource, NodesToRead: nodes,
		})
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return err // open still holds what to release
		}
		ss.lastLife = time.Now() // a history answer is a sign of life, as a publish response is
		open = open[:0]
		if len(res.Results) != len(req) {
			ss.releaseHistory(ctx, details, req)
			for _, h := range req {
				if !fail(h.i, &HistoryError{Tag: ss.tags[h.i].Name, Err: fmt.Errorf("%d results for %d nodes: %w", len(res.Results), len(req), scada.ErrBadInput)}) {
					return nil
				}
			}
			continue
		}
		for n, r := range res.Results {
			h := req[n]
			keep, more := ss.historyResult(h, r, from, to, now, yield, fail)
			var rcp []byte
			if r != nil {
				rcp = r.ContinuationPoint
			}
			switch {
			case !more: // the caller stopped: release this node's and the rest's
				open = append(open, historyNode{i: h.i, cp: rcp})
				for m := n + 1; m < len(req); m++ {
					if r := res.Results[m]; r != nil {
						open = append(open, historyNode{i: req[m].i, cp: r.ContinuationPoint})
					}
				}
				open = withCP(open)
				return nil
			case keep:
				open = append(open, historyNode{i: h.i, cp: rcp})
			case len(rcp) > 0: // a node that failed with a continuation point: free it
				ss.releaseHistory(ctx, details, []historyNode{{i: h.i, cp: rcp}})
			}
		}
	}
	return nil
}

// historyResult handles one node's result: it yields the values and
// reports whether the node goes on with the result's continuation point
// (keep) and whether the caller wants more (more).
func (ss *session) historyResult(h historyNode, r *ua.HistoryReadResult, from, to, now time.Time,
	yield func(int, scada.Point, error) bool, fail func(int, error) bool) (keep, more bool) {
	t := &ss.tags[h.i]
	if r == nil {
		return false, fail(h.i, &HistoryError{Tag: t.Name, Err: fmt.Errorf("no result: %w", scada.ErrBadInput)})
	}
	if scada.Quality(r.StatusCode).IsBad() {
		return false, fail(h.i, &HistoryError{Tag: t.Name, Code: scada.Quality(r.StatusCode)})
	}
	var values []*ua.DataValue
	if r.HistoryData != nil && r.HistoryData.Value != nil {
		hd, isData := r.HistoryData.Value.(*ua.HistoryData)
		if !isData {
			return false, fail(h.i, &HistoryError{Tag: t.Name, Err: fmt.Errorf("history data of type %T: %w", r.HistoryData.Value, scada.ErrBadInput)})
		}
		values = hd.DataValues
	}
	for _, dv := range values {
		if dv != nil && dv.SourceTimestamp.Equal(to) {
			continue // the end bound, which some servers (node-opcua) return: not in [from, to)
		}
		p, err := ss.historyPoint(h.i, dv, from, to, now)
		if err != nil {
			if !fail(h.i, err) {
				return false, false
			}
			continue
		}
		ss.s.ev.historyPoints.Add(1)
		if !yield(h.i, p, nil) {
			return false, false
		}
	}
	if len(r.ContinuationPoint) == 0 {
		return false, true
	}
	if len(values) == 0 && bytes.Equal(r.ContinuationPoint, h.cp) {
		return false, fail(h.i, &HistoryError{Tag: t.Name, Err: fmt.Errorf("%w: %w", errStuck, scada.ErrBadInput)})
	}
	return true, true
}

// withCP returns the nodes of ns that hold a continuation point.
func withCP(ns []historyNode) []historyNode {
	out := ns[:0:0]
	for _, h := range ns {
		if len(h.cp) > 0 {
			out = append(out, h)
		}
	}
	return out
}

// releaseHistory asks the server to free the continuation points of ns
// (HistoryRead with ReleaseContinuationPoints), in requests of at most
// ss.historyLimit nodes, even when ctx has ended: the server would keep
// them until the session closes otherwise. It is best effort: a failure is
// logged at debug level, as the server frees them with the session anyway.
func (ss *session) releaseHistory(ctx context.Context, details *ua.ExtensionObject, ns []historyNode) {
	ns = withCP(ns)
	if len(ns) == 0 {
		return
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), min(ss.cfg.RequestTimeout, 5*time.Second))
	defer cancel()
	_ = chunks(ns, max(ss.historyLimit, 1), func(part []historyNode) error {
		nodes := make([]*ua.HistoryReadValueID, len(part))
		for n, h := range part {
			nodes[n] = &ua.HistoryReadValueID{NodeID: ss.tags[h.i].node, DataEncoding: &ua.QualifiedName{}, ContinuationPoint: h.cp}
		}
		ss.s.ev.historyReleases.Add(1)
		_, err := call[*ua.HistoryReadResponse](rctx, ss, "HistoryRead", &ua.HistoryReadRequest{
			HistoryReadDetails: details, TimestampsToReturn: ua.TimestampsToReturnSource,
			ReleaseContinuationPoints: true, NodesToRead: nodes,
		})
		if err != nil {
			ss.cfg.Logger.Debug("opcua: releasing history continuation points", "source", ss.cfg.Name, "nodes", len(part), "err", err)
		}
		return err
	})
}

// historyPoint maps one value of a history answer.
func (ss *session) historyPoint(i int, dv *ua.DataValue, from, to, now time.Time) (scada.Point, error) {
	t := &ss.tags[i]
	if dv == nil || dv.EncodingMask&ua.DataValueSourceTimestamp == 0 || dv.SourceTimestamp.IsZero() {
		return scada.Point{}, &HistoryValueError{Tag: t.Name, From: from, To: to, Err: errNoTimestamp}
	}
	ts := dv.SourceTimestamp
	if ts.Before(from) || !ts.Before(to) {
		return scada.Point{}, &HistoryValueError{Tag: t.Name, Time: ts, From: from, To: to, Err: errOutOfRange}
	}
	v, q, ts, err := mapValue(dv, now)
	if err != nil {
		return scada.Point{}, &HistoryValueError{Tag: t.Name, Time: ts, From: from, To: to, Err: err}
	}
	return scada.Point{Tag: t.Name, Value: v, Unit: t.unit, Quality: q, Time: ts, Source: ss.cfg.Name}, nil
}

var _ scada.HistoryReader = (*Source)(nil)
