package guard

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"sync/atomic"
	"time"

	"github.com/greenlang/gl001/scada"
)

// Request is one write someone asked for.
type Request struct {
	// Requester is the authenticated identity that asked: the sender of a
	// verified coord message, an operator's login. Empty is refused.
	Requester string
	// Ref ties the audit record to what asked for the write (the message
	// id, a ticket). Optional; never put a secret or a token in it.
	Ref   string
	Tag   string
	Value float64
}

// Record is the audit record of one write attempt, allowed or refused.
// Old is known when HaveOld, ReadBack when HaveReadBack.
type Record struct {
	Time         time.Time // when the attempt started
	Requester    string
	Ref          string
	Tag          string
	Requested    float64
	Old          float64 // the value before the write
	OldQuality   scada.Quality
	HaveOld      bool
	ReadBack     float64 // the last value read back after the write
	HaveReadBack bool
	Result       Result
	Detail       string        // why, in words, when the result is not OK
	Err          error         // the underlying error (the device's, the connection's), if any
	Duration     time.Duration // the whole attempt, including the wait for the tag's turn
}

// Awaiter is an optional capability of a Config.Reader: wait until the
// tag's latest value satisfies ok, and return it; when ctx ends first,
// return the latest value seen (Quality Bad and a zero Time if none) and
// ctx.Err(). [Latest] implements it, so a read-back through it waits for
// the subscription to report the value instead of polling.
type Awaiter interface {
	Await(ctx context.Context, tag string, ok func(scada.Point) bool) (scada.Point, error)
}

// Guard stands between whoever asks for a write and the device. Every
// attempt through [Guard.Apply] is checked against the requester's
// permission and the tag's [Limits], serialised with the other writes of
// the same tag, written, read back and audited. A Guard is safe for
// concurrent use and starts no goroutines.
type Guard struct {
	cfg   Config
	log   *slog.Logger
	tags  map[string]*tagState
	stats [len(resultNames)]atomic.Uint64
}

// tagState serialises the writes of one tag. turn holds one token: whoever
// holds it owns lastWrite.
type tagState struct {
	limits    Limits
	turn      chan struct{}
	lastWrite time.Time // when the last write was sent; zero before the first
}

// New checks cfg and returns a Guard.
func New(cfg Config) (*Guard, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.Rules = append([]Rule(nil), cfg.Rules...)
	cfg.Tags = maps.Clone(cfg.Tags)
	if cfg.PollInterval == 0 {
		cfg.PollInterval = 50 * time.Millisecond
	}
	g := &Guard{cfg: cfg, log: cfg.Logger, tags: make(map[string]*tagState, len(cfg.Tags))}
	if g.log == nil {
		g.log = slog.New(slog.DiscardHandler)
	}
	for tag, l := range cfg.Tags {
		ts := &tagState{limits: l, turn: make(chan struct{}, 1)}
		ts.turn <- struct{}{}
		g.tags[tag] = ts
	}
	return g, nil
}

// Stats counts the attempts by result.
type Stats struct {
	Attempts uint64
	ByResult map[Result]uint64 // only results that occurred
}

// Stats returns a snapshot of the counters.
func (g *Guard) Stats() Stats {
	st := Stats{ByResult: map[Result]uint64{}}
	for r := range g.stats {
		if n := g.stats[r].Load(); n > 0 {
			st.ByResult[Result(r)] = n
			st.Attempts += n
		}
	}
	return st
}

// As returns a scada.Writer that writes through g on behalf of requester,
// for code that takes a scada.Writer. Its errors are those of Apply.
func (g *Guard) As(requester string) scada.Writer { return &asWriter{g, requester} }

type asWriter struct {
	g         *Guard
	requester string
}

func (w *asWriter) Write(ctx context.Context, tag string, value float64) error {
	_, err := w.g.Apply(ctx, Request{Requester: w.requester, Tag: tag, Value: value})
	return err
}

// Apply checks, writes and confirms one write, in this order: the
// requester's permission, the tag's configuration and range, then (in the
// tag's turn: concurrent writes of one tag run one after the other) the
// minimum interval, the current value (its quality, the connection), the
// step and the rate; then it writes (unless DryRun) and reads the value
// back until it is within Tolerance or ConfirmWithin has passed.
//
// Every call produces exactly one audit [Record] (to the Logger and
// OnAudit), which Apply also returns. The error is nil for Confirmed and
// DryRun, and a *[Error] otherwise; errors.Is tells the reasons apart. A
// write while the device is unreachable is refused with [ErrDisconnected]:
// nothing is queued.
func (g *Guard) Apply(ctx context.Context, req Request) (Record, error) {
	start := time.Now()
	rec := Record{Time: start, Requester: req.Requester, Ref: req.Ref, Tag: req.Tag, Requested: req.Value}
	err := g.apply(ctx, req, &rec)
	rec.Duration = time.Since(start)
	g.audit(rec)
	return rec, err
}

func (g *Guard) apply(ctx context.Context, req Request, rec *Record) error {
	refuse := func(r Result, err error, f string, a ...any) error {
		rec.Result, rec.Detail, rec.Err = r, fmt.Sprintf(f, a...), err
		return &Error{Result: r, Tag: req.Tag, Requester: req.Requester, Detail: rec.Detail, Err: err}
	}
	if req.Requester == "" {
		return refuse(NotPermitted, nil, "no requester")
	}
	if !allowed(g.cfg.Rules, req.Requester, req.Tag) {
		return refuse(NotPermitted, nil, "no rule allows it")
	}
	ts, ok := g.tags[req.Tag]
	if !ok {
		return refuse(NotConfigured, nil, "no limits for the tag")
	}
	l := ts.limits
	if !finite(req.Value) || req.Value < l.Min || req.Value > l.Max {
		return refuse(OutOfRange, nil, "%v outside [%v, %v]", req.Value, l.Min, l.Max)
	}

	select {
	case <-ts.turn:
	case <-ctx.Done():
		return refuse(Canceled, ctx.Err(), "waiting for an earlier write of the tag")
	}
	defer func() { ts.turn <- struct{}{} }()

	now := time.Now()
	if l.MinInterval > 0 && !ts.lastWrite.IsZero() {
		if since := now.Sub(ts.lastWrite); since < l.MinInterval {
			return refuse(TooSoon, nil, "last write %v ago, minimum interval %v", since.Round(time.Millisecond), l.MinInterval)
		}
	}
	cur, err := g.cfg.Reader.Read(ctx, req.Tag)
	if err != nil {
		if isDisconnect(err) {
			return refuse(Disconnected, err, "reading the current value")
		}
		return refuse(NoCurrentValue, err, "reading the current value")
	}
	rec.Old, rec.OldQuality, rec.HaveOld = cur.Value, cur.Quality, true
	if disconnectedQuality(cur.Quality) {
		return refuse(Disconnected, nil, "current quality %v", cur.Quality)
	}
	if !cur.Quality.IsGood() && (l.RequireGood || l.MaxStep > 0 || l.MaxRate > 0) {
		return refuse(BadQuality, nil, "current quality %v", cur.Quality)
	}
	if l.MaxStep > 0 {
		if step := math.Abs(req.Value - cur.Value); step > l.MaxStep {
			return refuse(StepTooLarge, nil, "step %v from %v exceeds %v", step, cur.Value, l.MaxStep)
		}
	}
	if l.MaxRate > 0 && !ts.lastWrite.IsZero() {
		secs := now.Sub(ts.lastWrite).Seconds()
		if rate := math.Abs(req.Value-cur.Value) / secs; rate > l.MaxRate {
			return refuse(RateTooHigh, nil, "%.4g per second since the last write exceeds %v", rate, l.MaxRate)
		}
	}
	if g.cfg.DryRun {
		rec.Result = DryRun
		return nil
	}

	ts.lastWrite = time.Now()
	if err := g.cfg.Writer.Write(ctx, req.Tag, req.Value); err != nil {
		if isDisconnect(err) {
			// The connection was found lost only now (a cached current value
			// looked fine). Nothing is retried or queued.
			return refuse(Disconnected, err, "the connection failed while the write was sent")
		}
		return refuse(WriteFailed, err, "the device did not take the write")
	}
	p, ok, err := g.readBack(ctx, req.Tag, l, req.Value)
	if !p.Time.IsZero() || ok {
		rec.ReadBack, rec.HaveReadBack = p.Value, true
	}
	if !ok {
		detail := fmt.Sprintf("no read-back within %v of %v", l.confirmWithin(), req.Value)
		if rec.HaveReadBack {
			detail = fmt.Sprintf("read back %v (%v) instead of %v within %v", p.Value, p.Quality, req.Value, l.confirmWithin())
		}
		return refuse(Unconfirmed, err, "%s", detail)
	}
	rec.Result = Confirmed
	return nil
}

// readBack reads the tag until it shows want (Good, within tolerance) or
// ConfirmWithin passes. It returns the last point seen, whether it matched,
// and the last error when it did not.
func (g *Guard) readBack(ctx context.Context, tag string, l Limits, want float64) (scada.Point, bool, error) {
	ctx, cancel := context.WithTimeout(ctx, l.confirmWithin())
	defer cancel()
	match := func(p scada.Point) bool { return p.Quality.IsGood() && l.matches(want, p.Value) }
	if aw, ok := g.cfg.Reader.(Awaiter); ok {
		p, err := aw.Await(ctx, tag, match)
		if err == nil && match(p) {
			return p, true, nil
		}
		return p, false, err
	}
	var last scada.Point
	var lastErr error
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			if lastErr == nil {
				lastErr = ctx.Err()
			}
			return last, false, lastErr
		case <-t.C:
		}
		p, err := g.cfg.Reader.Read(ctx, tag)
		switch {
		case err == nil && match(p):
			return p, true, nil
		case err == nil:
			last, lastErr = p, nil
			if last.Time.IsZero() {
				last.Time = time.Now() // a point was read: its value is known
			}
		case ctx.Err() == nil:
			lastErr = err
		}
		t.Reset(g.cfg.PollInterval)
	}
}

// isDisconnect reports whether a read error means the device is
// unreachable.
func isDisconnect(err error) bool {
	return errors.Is(err, scada.ErrConnection) || errors.Is(err, scada.ErrClosed)
}

// disconnectedQuality reports whether a point's quality says the connection
// to the device is lost (what a Source delivers when it loses it).
func disconnectedQuality(q scada.Quality) bool {
	switch q.Code() {
	case scada.BadNoCommunication, scada.BadNotConnected, scada.BadCommunicationError, scada.BadTimeout:
		return true
	}
	return false
}

func (g *Guard) audit(rec Record) {
	g.stats[rec.Result].Add(1)
	attrs := make([]slog.Attr, 0, 12)
	attrs = append(attrs,
		slog.String("requester", rec.Requester),
		slog.String("tag", rec.Tag),
		slog.Float64("requested", rec.Requested),
		slog.String("result", rec.Result.String()),
		slog.Duration("duration", rec.Duration),
	)
	if rec.Ref != "" {
		attrs = append(attrs, slog.String("ref", rec.Ref))
	}
	if rec.HaveOld {
		attrs = append(attrs, slog.Float64("old", rec.Old), slog.String("old_quality", rec.OldQuality.String()))
	}
	if rec.HaveReadBack {
		attrs = append(attrs, slog.Float64("read_back", rec.ReadBack))
	}
	if rec.Detail != "" {
		attrs = append(attrs, slog.String("detail", rec.Detail))
	}
	if rec.Err != nil {
		attrs = append(attrs, slog.String("err", rec.Err.Error()))
	}
	level := slog.LevelInfo
	if !rec.Result.OK() {
		level = slog.LevelWarn
	}
	g.log.LogAttrs(context.Background(), level, "scada write", attrs...)
	if g.cfg.OnAudit != nil {
		g.cfg.OnAudit(rec)
	}
}
