package guard

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path"
	"sync/atomic"
	"time"

	"github.com/greenlang/gl001/scada"
)

// Action is what an [AckRequest] asks of a condition.
type Action uint8

// The actions on a condition.
const (
	Acknowledge Action = iota + 1 // the operator has seen the alarm (AcknowledgeableConditionType.Acknowledge)
	Confirm                       // the operator confirms the alarm was dealt with (AcknowledgeableConditionType.Confirm)
)

// String returns "acknowledge" or "confirm".
func (a Action) String() string {
	switch a {
	case Acknowledge:
		return "acknowledge"
	case Confirm:
		return "confirm"
	}
	return fmt.Sprintf("action(%d)", uint8(a))
}

// AckRequest is one acknowledge or confirm someone asked for.
type AckRequest struct {
	// Requester is the authenticated identity that asked (an operator's
	// login, the verified sender of a coord message). Empty is refused.
	Requester string
	// Ref ties the audit record to what asked (a ticket, a message id).
	// Optional; never put a secret or a token in it.
	Ref    string
	Action Action
	// Event is the condition's event to acknowledge or confirm: its
	// Condition (with its ID) and its ID (the OPC UA EventId) are required.
	// Acknowledge the newest event of the condition: a server refuses an
	// event id it has replaced.
	Event scada.Event
	// Comment is the operator's comment the server records with the
	// acknowledgement. It is audited; keep secrets out of it.
	Comment string
}

// AckRecord is the audit record of one acknowledge or confirm attempt,
// allowed or refused.
type AckRecord struct {
	Time          time.Time // when the attempt started
	Requester     string
	Ref           string
	Action        Action
	Source        string // the Source that reported the event (Event.Source)
	Condition     string // the condition id (Condition.ID)
	ConditionName string
	Branch        string
	SourceNode    string
	Comment       string
	Result        Result
	Detail        string        // why, in words, when the result is not OK
	Err           error         // the underlying error (the server's, the connection's), if any
	Duration      time.Duration // the whole attempt
}

// AckConfig configures an [Acks].
type AckConfig struct {
	// Acker acknowledges and confirms on the server: the Source that
	// reported the events (opcua.Source implements scada.ConditionAcker).
	// Required.
	Acker scada.ConditionAcker
	// Connected, if set, tells whether the Source is connected now (its
	// Collector health). A request while it says false is refused with
	// Disconnected without calling the Acker. Without it, a connection
	// error from the Acker is what reports the disconnection.
	Connected func() bool
	// Rules say who may acknowledge or confirm which conditions. They have
	// the shape of the write rules: a rule's Tags patterns match a
	// condition when they match its id (Condition.ID), its name
	// (Condition.Name) or the node it is about (Event.SourceNode). The
	// first rule that matches requester and condition decides; no match
	// refuses. No rules: nobody may acknowledge.
	Rules []Rule
	// DryRun checks and audits every request but calls nothing: the result
	// is DryRun instead of Accepted.
	DryRun bool
	// Logger receives one audit record per attempt (Info when it succeeded,
	// Warn otherwise). Nil discards.
	Logger *slog.Logger
	// OnAudit, if set, receives every audit record, synchronously, after
	// the attempt. It must not block long.
	OnAudit func(AckRecord)
}

// Validate checks the config and reports every problem at once.
func (c AckConfig) Validate() error {
	var errs []error
	if c.Acker == nil {
		errs = append(errs, fmt.Errorf("%w: no Acker", ErrBadConfig))
	}
	for i, r := range c.Rules {
		for _, list := range [][]string{r.Requesters, r.Tags} {
			for _, pat := range list {
				if _, err := path.Match(pat, ""); err != nil {
					errs = append(errs, fmt.Errorf("%w: rule %d: pattern %q: %w", ErrBadConfig, i, pat, err))
				}
			}
		}
	}
	return errors.Join(errs...)
}

// Acks is the guard of acknowledgements: every acknowledge and confirm of
// an alarm through it is checked against the requester's permission,
// refused while the Source is unreachable (never queued), called on the
// Source unless DryRun, and audited, like the writes of a [Guard]. An Acks
// is safe for concurrent use and starts no goroutines.
type Acks struct {
	cfg   AckConfig
	log   *slog.Logger
	stats [len(resultNames)]atomic.Uint64
}

// NewAcks checks cfg and returns an Acks.
func NewAcks(cfg AckConfig) (*Acks, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.Rules = append([]Rule(nil), cfg.Rules...)
	a := &Acks{cfg: cfg, log: cfg.Logger}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	return a, nil
}

// Stats returns a snapshot of the counters, by result.
func (a *Acks) Stats() Stats {
	st := Stats{ByResult: map[Result]uint64{}}
	for r := range a.stats {
		if n := a.stats[r].Load(); n > 0 {
			st.ByResult[Result(r)] = n
			st.Attempts += n
		}
	}
	return st
}

// Apply checks and performs one acknowledge or confirm, in this order: the
// requester, the event (a condition's, with the ids the server needs), the
// rules, the connection; then it calls the Acker (unless DryRun).
//
// Every call produces exactly one audit [AckRecord] (to the Logger and
// OnAudit), which Apply also returns. The error is nil for Accepted and
// DryRun, and a *[Error] otherwise (its Action names the action, its Tag
// the condition id); errors.Is tells the reasons apart: [ErrNotPermitted],
// [ErrNotCondition], [ErrDisconnected] (nothing is queued), [ErrCanceled],
// [ErrCallFailed].
func (a *Acks) Apply(ctx context.Context, req AckRequest) (AckRecord, error) {
	start := time.Now()
	rec := AckRecord{Time: start, Requester: req.Requester, Ref: req.Ref, Action: req.Action,
		Source: req.Event.Source, SourceNode: req.Event.SourceNode, Comment: req.Comment}
	if c := req.Event.Condition; c != nil {
		rec.Condition, rec.ConditionName, rec.Branch = c.ID, c.Name, c.Branch
	}
	err := a.apply(ctx, req, &rec)
	rec.Duration = time.Since(start)
	a.audit(rec)
	return rec, err
}

// As returns a scada.ConditionAcker that acknowledges and confirms through
// a on behalf of requester, for code that takes a ConditionAcker. Its
// errors are those of Apply.
func (a *Acks) As(requester string) scada.ConditionAcker { return asAcker{a, requester} }

type asAcker struct {
	a         *Acks
	requester string
}

func (x asAcker) Acknowledge(ctx context.Context, ev scada.Event, comment string) error {
	_, err := x.a.Apply(ctx, AckRequest{Requester: x.requester, Action: Acknowledge, Event: ev, Comment: comment})
	return err
}

func (x asAcker) Confirm(ctx context.Context, ev scada.Event, comment string) error {
	_, err := x.a.Apply(ctx, AckRequest{Requester: x.requester, Action: Confirm, Event: ev, Comment: comment})
	return err
}

func (a *Acks) apply(ctx context.Context, req AckRequest, rec *AckRecord) error {
	refuse := func(r Result, err error, f string, args ...any) error {
		rec.Result, rec.Detail, rec.Err = r, fmt.Sprintf(f, args...), err
		return &Error{Result: r, Action: req.Action.String(), Tag: rec.Condition, Requester: req.Requester, Detail: rec.Detail, Err: err}
	}
	if req.Requester == "" {
		return refuse(NotPermitted, nil, "no requester")
	}
	if req.Action != Acknowledge && req.Action != Confirm {
		return refuse(NotPermitted, nil, "unknown action %v", req.Action)
	}
	c := req.Event.Condition
	switch {
	case c == nil:
		return refuse(NotCondition, nil, "the event has no condition")
	case c.ID == "":
		return refuse(NotCondition, nil, "the condition has no id")
	case len(req.Event.ID) == 0:
		return refuse(NotCondition, nil, "the event has no event id")
	}
	if !allowedCondition(a.cfg.Rules, req.Requester, c.ID, c.Name, req.Event.SourceNode) {
		return refuse(NotPermitted, nil, "no rule allows it")
	}
	if a.cfg.Connected != nil && !a.cfg.Connected() {
		return refuse(Disconnected, nil, "the source is not connected")
	}
	if err := ctx.Err(); err != nil {
		return refuse(Canceled, err, "before the call")
	}
	if a.cfg.DryRun {
		rec.Result = DryRun
		return nil
	}
	var err error
	if req.Action == Acknowledge {
		err = a.cfg.Acker.Acknowledge(ctx, req.Event, req.Comment)
	} else {
		err = a.cfg.Acker.Confirm(ctx, req.Event, req.Comment)
	}
	switch {
	case err == nil:
		rec.Result = Accepted
		return nil
	case isDisconnect(err):
		return refuse(Disconnected, err, "the connection failed")
	case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		if ctx.Err() != nil {
			return refuse(Canceled, err, "during the call")
		}
	}
	return refuse(CallFailed, err, "the server refused the %v", req.Action)
}

// allowedCondition reports whether the rules let requester act on the
// condition, matched by its id, its name or its source node.
func allowedCondition(rules []Rule, requester string, names ...string) bool {
	for _, r := range rules {
		if !matchAny(r.Requesters, requester) {
			continue
		}
		for _, n := range names {
			if n != "" && matchAny(r.Tags, n) {
				return !r.Deny
			}
		}
	}
	return false
}

func (a *Acks) audit(rec AckRecord) {
	a.stats[rec.Result].Add(1)
	attrs := make([]slog.Attr, 0, 12)
	attrs = append(attrs,
		slog.String("requester", rec.Requester),
		slog.String("action", rec.Action.String()),
		slog.String("condition", rec.Condition),
		slog.String("result", rec.Result.String()),
		slog.Duration("duration", rec.Duration),
	)
	for _, kv := range [][2]string{{"ref", rec.Ref}, {"source", rec.Source}, {"name", rec.ConditionName},
		{"branch", rec.Branch}, {"source_node", rec.SourceNode}, {"comment", rec.Comment}, {"detail", rec.Detail}} {
		if kv[1] != "" {
			attrs = append(attrs, slog.String(kv[0], kv[1]))
		}
	}
	if rec.Err != nil {
		attrs = append(attrs, slog.String("err", rec.Err.Error()))
	}
	level := slog.LevelInfo
	if !rec.Result.OK() {
		level = slog.LevelWarn
	}
	a.log.LogAttrs(context.Background(), level, "scada condition ack", attrs...)
	if a.cfg.OnAudit != nil {
		a.cfg.OnAudit(rec)
	}
}
