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

// historyPage is how many values one HistoryRead asks for.
const historyPage = 1000

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
// some servers return as the end bound, is skipped without an error. Both are counted in
// EventStats.HistoryErrors.
func (s *Source) History(ctx context.Context, tag string, from, to time.Time) iter.Seq2[scada.Point, error] {
	return func(yield func(scada.Point, error) bool) {
		i, ok := s.index[tag]
		if !ok {
			yield(scada.Point{}, fmt.Errorf("opcua: history %q: %w", tag, scada.ErrUnknownTag))
			return
		}
		stopped := false
		err := s.withSession(ctx, func(ss *session) error {
			eid, err := ua.ParseExpandedNodeID(ss.tags[i].NodeID, ss.c.Namespaces())
			if err != nil {
				return &TagError{Tag: tag, NodeID: ss.tags[i].NodeID, Err: &StatusError{Op: "HistoryRead", Code: scada.BadNodeIDUnknown}}
			}
			ss.tags[i].node = eid.NodeID
			if ss.tags[i].unit == "" {
				_ = ss.lookupUnits(ctx) // the unit is a nicety: a failure here leaves it empty
			}
			for p, err := range ss.history(ctx, i, from, to) {
				if !yield(p, err) {
					stopped = true
					return nil
				}
			}
			return nil
		})
		if err != nil && !stopped {
			yield(scada.Point{}, err)
		}
	}
}

// history reads the raw history of tag i over [from, to) on this session.
func (ss *session) history(ctx context.Context, i int, from, to time.Time) iter.Seq2[scada.Point, error] {
	return func(yield func(scada.Point, error) bool) {
		t := &ss.tags[i]
		details := ua.NewExtensionObject(&ua.ReadRawModifiedDetails{
			StartTime: from, EndTime: to, NumValuesPerNode: historyPage,
		})
		var cp []byte
		defer func() {
			if len(cp) > 0 { // stopped early: let the server free the read
				rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ss.cfg.RequestTimeout)
				defer cancel()
				_, _ = call[*ua.HistoryReadResponse](rctx, ss, "HistoryRead", &ua.HistoryReadRequest{
					HistoryReadDetails: details, TimestampsToReturn: ua.TimestampsToReturnSource, ReleaseContinuationPoints: true,
					NodesToRead: []*ua.HistoryReadValueID{{NodeID: t.node, DataEncoding: &ua.QualifiedName{}, ContinuationPoint: cp}},
				})
			}
		}()
		fail := func(err error) {
			ss.s.ev.historyErrors.Add(1)
			cp = nil // a bad read has nothing to release
			yield(scada.Point{}, err)
		}
		now := time.Now()
		for {
			res, err := call[*ua.HistoryReadResponse](ctx, ss, "HistoryRead", &ua.HistoryReadRequest{
				HistoryReadDetails: details, TimestampsToReturn: ua.TimestampsToReturnSource,
				NodesToRead: []*ua.HistoryReadValueID{{NodeID: t.node, DataEncoding: &ua.QualifiedName{}, ContinuationPoint: cp}},
			})
			if err != nil {
				cp = nil
				yield(scada.Point{}, err)
				return
			}
			if len(res.Results) != 1 || res.Results[0] == nil {
				fail(&HistoryError{Tag: t.Name, Err: fmt.Errorf("%d results for 1 node: %w", len(res.Results), scada.ErrBadInput)})
				return
			}
			r := res.Results[0]
			if scada.Quality(r.StatusCode).IsBad() {
				fail(&HistoryError{Tag: t.Name, Code: scada.Quality(r.StatusCode)})
				return
			}
			var values []*ua.DataValue
			if r.HistoryData != nil && r.HistoryData.Value != nil {
				hd, ok := r.HistoryData.Value.(*ua.HistoryData)
				if !ok {
					fail(&HistoryError{Tag: t.Name, Err: fmt.Errorf("history data of type %T: %w", r.HistoryData.Value, scada.ErrBadInput)})
					return
				}
				values = hd.DataValues
			}
			for _, dv := range values {
				if dv != nil && dv.SourceTimestamp.Equal(to) {
					continue // the end bound, which some servers (node-opcua) return: not in [from, to)
				}
				p, err := ss.historyPoint(i, dv, from, to, now)
				if err != nil {
					ss.s.ev.historyErrors.Add(1)
					if !yield(scada.Point{}, err) {
						cp = r.ContinuationPoint
						return
					}
					continue
				}
				ss.s.ev.historyPoints.Add(1)
				if !yield(p, nil) {
					cp = r.ContinuationPoint
					return
				}
			}
			if len(r.ContinuationPoint) == 0 {
				return
			}
			if len(values) == 0 && bytes.Equal(r.ContinuationPoint, cp) {
				fail(&HistoryError{Tag: t.Name, Err: fmt.Errorf("%w: %w", errStuck, scada.ErrBadInput)})
				cp = r.ContinuationPoint // released on the way out
				return
			}
			cp = r.ContinuationPoint
		}
	}
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
