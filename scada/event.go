package scada

import (
	"context"
	"iter"
	"time"
)

// Event is one event or alarm a server reported: a burner trip, a flame
// failure, a high-pressure limit. Events are not points: they have no value
// and quality, they have a severity and a message, and alarms (conditions)
// have a state that changes (active, acknowledged, confirmed).
//
// The fields follow OPC UA's BaseEventType and ConditionType (Part 5 and
// Part 9); other protocols fill what they have. Condition is nil for a plain
// event.
type Event struct {
	Source      string    // the name of the Source that delivered it
	Time        time.Time // when the event happened, at the device (OPC UA Time)
	ReceiveTime time.Time // when the server received it (OPC UA ReceiveTime); zero when unknown
	EventType   string    // the type of the event, e.g. the node id "i=9341" (ExclusiveLimitAlarmType)
	SourceNode  string    // the node the event is about, e.g. "ns=1;s=Boiler1.SteamTemp"
	SourceName  string    // the name of that node, as the server reports it
	// Severity is the urgency, 1 (lowest) to 1000 (highest), as OPC UA
	// defines it: 801-1000 high, 601-800 medium high, 401-600 medium, 201-400
	// medium low, 1-200 low.
	Severity uint16
	Message  string // the server's text, in the server's locale
	// ID identifies this occurrence (OPC UA EventId): opaque bytes, needed to
	// acknowledge or confirm an alarm.
	ID []byte

	// Condition holds the state of an alarm; nil for an event that is not a
	// condition.
	Condition *Condition

	// Fields holds the values of the extra fields the configuration selected,
	// by the name the configuration gave them. Numbers are float64, Booleans
	// bool, texts string, times time.Time, byte strings []byte; a field the
	// server did not send is absent.
	Fields map[string]any
}

// Condition is the state of an alarm or condition when its event was
// reported (OPC UA ConditionType and its subtypes).
type Condition struct {
	// ID is the condition's own node (OPC UA ConditionId): the object to call
	// Acknowledge and Confirm on, together with the Event's ID.
	ID string
	// Name is the condition's name, e.g. "HighTemperature".
	Name string
	// Branch is the branch (OPC UA BranchId); empty for the current state.
	// A branch is an earlier state of the condition that still needs an
	// acknowledgement.
	Branch string
	// Retain is true while the condition is of interest to a client (active,
	// or not yet acknowledged or confirmed). A Retain false event is the
	// last one for the condition: it may be forgotten.
	Retain       bool
	Active       bool // the alarm condition is active (ActiveState/Id)
	Acknowledged bool // the operator acknowledged it (AckedState/Id)
	Confirmed    bool // the operator confirmed it (ConfirmedState/Id); true when the server does not support it
	// State is the text of the active state the server gave, e.g. "High",
	// "HighHigh", "Active"; empty when it sent none.
	State string
}

// EventSink receives batches of events, like [Sink] receives points. A
// Source delivers events only to an EventSink: the Sink given to Run when it
// implements EventSink too, or the one its configuration names.
//
// DeliverEvents returns nil once it has accepted the batch; it may not retain
// the slice after it returns (the Events themselves, with their ID, Fields
// and Condition, are not modified afterwards and may be kept).
type EventSink interface {
	DeliverEvents(ctx context.Context, batch []Event) error
}

// EventSinkFunc adapts a function to an EventSink.
type EventSinkFunc func(ctx context.Context, batch []Event) error

// DeliverEvents calls f(ctx, batch).
func (f EventSinkFunc) DeliverEvents(ctx context.Context, batch []Event) error { return f(ctx, batch) }

// ConditionAcker is an optional capability of a Source that reports alarms:
// acknowledge or confirm the state of a condition an [Event] reported, with
// an operator's comment. ev must be an event of a condition (ev.Condition
// not nil) with its ID. Acknowledging something already acknowledged fails
// with the server's error.
type ConditionAcker interface {
	Acknowledge(ctx context.Context, ev Event, comment string) error
	Confirm(ctx context.Context, ev Event, comment string) error
}

// HistoryReader is an optional capability of a Source: read the raw values
// a server's historian kept for a tag over the half-open interval
// [from, to), oldest first.
//
// The sequence yields points until the history is exhausted, then stops; a
// problem that ends the read is yielded as the last error. A problem with
// one value (out of the range asked for, not numeric) is yielded as an
// error that matches [ErrBadInput], and the values after it keep coming: a
// caller that wants only the good values skips those errors. Breaking out of
// the loop releases what the server holds for the read.
type HistoryReader interface {
	History(ctx context.Context, tag string, from, to time.Time) iter.Seq2[Point, error]
}

// Backfilled is an info bit of a [Quality] (bit 12, one of the bits OPC UA
// Part 4 leaves reserved in a status code's info bits) that marks a point
// read from the server's history to fill a gap after an outage, rather than
// received live. It does not change the point's severity or its code:
// [Quality.Code] and [Quality.IsGood] ignore it. Test it with
// [Quality.IsBackfilled].
const Backfilled Quality = 1 << 12

// IsBackfilled reports whether q carries the [Backfilled] bit.
func (q Quality) IsBackfilled() bool { return q&Backfilled != 0 }
