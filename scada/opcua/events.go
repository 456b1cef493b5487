package opcua

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gopcua/opcua/id"
	"github.com/gopcua/opcua/ua"

	"github.com/greenlang/gl001/scada"
)

// EventConfig subscribes a [Source] to events and alarms (OPC UA Part 4,
// 7.22.3 EventFilter; Part 9 conditions). Set Config.Events to use it.
//
// Every (re)connect creates the event monitored items anew and then calls
// ConditionRefresh, so the server reports every condition it retains (the
// active alarms, those not yet acknowledged) again: a restarted collector
// learns which alarms are active. Such a refresh may repeat a condition
// state already delivered before the connection was lost; a consumer keys
// conditions by Condition.ID and Condition.Branch, and the last state wins.
type EventConfig struct {
	// Sink receives the events. Nil uses the Sink given to Run, which must
	// then implement scada.EventSink (Run fails with ErrNoEventSink
	// otherwise).
	Sink scada.EventSink
	// Objects are the nodes whose events are monitored, in any node id
	// form Tag.NodeID accepts. Default: the Server object (i=2253), which
	// reports the events of the whole server.
	Objects []string
	// Types restricts the events to these event types and their subtypes
	// (node ids; an OfType where clause, several joined by Or), e.g.
	// "i=2915" (AlarmConditionType). Empty takes every event.
	Types []string
	// MinSeverity, when above 0, takes only events with Severity >= it.
	MinSeverity uint16
	// Fields selects more event fields, delivered in Event.Fields.
	Fields []EventField
	// QueueSize is the server's queue of events per monitored object.
	// Default 1000.
	QueueSize uint32
}

// EventField selects one more field of the events (a select clause).
type EventField struct {
	// Name is the key of the value in scada.Event.Fields. Required, unique.
	Name string
	// Type is the event type that defines the field (a node id). Default
	// BaseEventType (i=2041).
	Type string
	// Path is the browse path from the event to the field: browse names
	// separated by "/", each optionally "<namespace index>:<name>", e.g.
	// "LimitState/CurrentState" or "2:BurnerStage".
	Path string
}

// ErrNoEventSink is returned by Run when Config.Events is set but neither
// EventConfig.Sink nor the Sink given to Run takes events. Not retryable:
// fix the wiring.
var ErrNoEventSink error = refusal("opcua: events configured but no scada.EventSink to deliver them to")

// The standard select clauses, in the order of the event field list.
const (
	fEventID = iota
	fEventType
	fSourceNode
	fSourceName
	fTime
	fReceiveTime
	fMessage
	fSeverity
	fConditionID
	fConditionName
	fBranchID
	fRetain
	fActiveState
	fActiveID
	fAckedID
	fConfirmedID
	numStdFields
)

// stdFieldNames name the standard fields in errors.
var stdFieldNames = [numStdFields]string{
	"EventId", "EventType", "SourceNode", "SourceName", "Time", "ReceiveTime", "Message", "Severity",
	"ConditionId", "ConditionName", "BranchId", "Retain", "ActiveState", "ActiveState/Id",
	"AckedState/Id", "ConfirmedState/Id",
}

// Type definitions of the standard fields.
const (
	typeBaseEvent                = id.BaseEventType
	typeCondition                = id.ConditionType
	typeAcknowledgeableCondition = id.AcknowledgeableConditionType
	typeAlarmCondition           = id.AlarmConditionType
)

func operand(typ uint32, attr ua.AttributeID, path ...string) *ua.SimpleAttributeOperand {
	return operandNode(ua.NewNumericNodeID(0, typ), attr, path...)
}

func operandNode(typ *ua.NodeID, attr ua.AttributeID, path ...string) *ua.SimpleAttributeOperand {
	bp := make([]*ua.QualifiedName, 0, len(path))
	for _, p := range path {
		var ns uint16
		if i := strings.IndexByte(p, ':'); i > 0 {
			var n uint16
			if _, err := fmt.Sscanf(p[:i], "%d", &n); err == nil {
				ns, p = n, p[i+1:]
			}
		}
		bp = append(bp, &ua.QualifiedName{NamespaceIndex: ns, Name: p})
	}
	return &ua.SimpleAttributeOperand{TypeDefinitionID: typ, BrowsePath: bp, AttributeID: attr}
}

// stdSelect returns the standard select clauses, indexed by the f constants.
func stdSelect() []*ua.SimpleAttributeOperand {
	v := ua.AttributeIDValue
	return []*ua.SimpleAttributeOperand{
		fEventID:       operand(typeBaseEvent, v, "EventId"),
		fEventType:     operand(typeBaseEvent, v, "EventType"),
		fSourceNode:    operand(typeBaseEvent, v, "SourceNode"),
		fSourceName:    operand(typeBaseEvent, v, "SourceName"),
		fTime:          operand(typeBaseEvent, v, "Time"),
		fReceiveTime:   operand(typeBaseEvent, v, "ReceiveTime"),
		fMessage:       operand(typeBaseEvent, v, "Message"),
		fSeverity:      operand(typeBaseEvent, v, "Severity"),
		fConditionID:   operand(typeCondition, ua.AttributeIDNodeID), // the condition node itself
		fConditionName: operand(typeCondition, v, "ConditionName"),
		fBranchID:      operand(typeCondition, v, "BranchId"),
		fRetain:        operand(typeCondition, v, "Retain"),
		fActiveState:   operand(typeAlarmCondition, v, "ActiveState"),
		fActiveID:      operand(typeAlarmCondition, v, "ActiveState", "Id"),
		fAckedID:       operand(typeAcknowledgeableCondition, v, "AckedState", "Id"),
		fConfirmedID:   operand(typeAcknowledgeableCondition, v, "ConfirmedState", "Id"),
	}
}

// validate reports the problems of an EventConfig.
func (e *EventConfig) validate() []error {
	if e == nil {
		return nil
	}
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("opcua: config: Events: "+format, args...))
	}
	for i, o := range e.Objects {
		if err := checkNodeID(o); err != nil {
			bad("Objects[%d]: %v", i, err)
		}
	}
	for i, t := range e.Types {
		if err := checkNodeID(t); err != nil {
			bad("Types[%d]: %v", i, err)
		}
	}
	if e.MinSeverity > 1000 {
		bad("MinSeverity %d: severities run from 1 to 1000", e.MinSeverity)
	}
	seen := map[string]bool{}
	for i, f := range e.Fields {
		switch {
		case f.Name == "":
			bad("Fields[%d]: Name is required", i)
		case seen[f.Name]:
			bad("Fields[%d]: duplicate name %q", i, f.Name)
		}
		seen[f.Name] = true
		if f.Type != "" {
			if err := checkNodeID(f.Type); err != nil {
				bad("Fields[%d] (%s): Type: %v", i, f.Name, err)
			}
		}
		if f.Path == "" || strings.Contains(f.Path, "//") || strings.HasPrefix(f.Path, "/") || strings.HasSuffix(f.Path, "/") {
			bad("Fields[%d] (%s): Path %q: want browse names separated by /", i, f.Name, f.Path)
		}
	}
	return errs
}

// eventFilter builds the EventFilter of the configuration: the standard
// select clauses, the caller's, and the where clause.
func eventFilter(e *EventConfig, ns []string) (*ua.EventFilter, error) {
	sel := stdSelect()
	for _, f := range e.Fields {
		typ := ua.NewNumericNodeID(0, typeBaseEvent)
		if f.Type != "" {
			eid, err := ua.ParseExpandedNodeID(f.Type, ns)
			if err != nil {
				return nil, fmt.Errorf("opcua: event field %s: type %q: %w", f.Name, f.Type, err)
			}
			typ = eid.NodeID
		}
		sel = append(sel, operandNode(typ, ua.AttributeIDValue, strings.Split(f.Path, "/")...))
	}
	var terms []*filterNode
	if len(e.Types) > 0 {
		var types []*filterNode
		for _, t := range e.Types {
			eid, err := ua.ParseExpandedNodeID(t, ns)
			if err != nil {
				return nil, fmt.Errorf("opcua: event type %q: %w", t, err)
			}
			types = append(types, &filterNode{op: ua.FilterOperatorOfType, lits: []*ua.ExtensionObject{
				ua.NewExtensionObject(&ua.LiteralOperand{Value: ua.MustVariant(eid.NodeID)}),
			}})
		}
		terms = append(terms, join(ua.FilterOperatorOr, types))
	}
	if e.MinSeverity > 0 {
		terms = append(terms, &filterNode{op: ua.FilterOperatorGreaterThanOrEqual, lits: []*ua.ExtensionObject{
			ua.NewExtensionObject(operand(typeBaseEvent, ua.AttributeIDValue, "Severity")),
			ua.NewExtensionObject(&ua.LiteralOperand{Value: ua.MustVariant(e.MinSeverity)}),
		}})
	}
	where := &ua.ContentFilter{}
	if len(terms) > 0 {
		where.Elements = flatten(join(ua.FilterOperatorAnd, terms))
	}
	return &ua.EventFilter{SelectClauses: sel, WhereClause: where}, nil
}

// filterNode is one element of a where clause before it is flattened: its
// operands are literal operands (lits) or other elements (kids), not both.
type filterNode struct {
	op   ua.FilterOperator
	lits []*ua.ExtensionObject
	kids []*filterNode
}

// join combines terms with a binary operator, left to right.
func join(op ua.FilterOperator, terms []*filterNode) *filterNode {
	n := terms[0]
	for _, t := range terms[1:] {
		n = &filterNode{op: op, kids: []*filterNode{n, t}}
	}
	return n
}

// flatten lays the tree out as a ContentFilter wants it: the root first,
// every element before the elements it refers to.
func flatten(root *filterNode) []*ua.ContentFilterElement {
	var out []*ua.ContentFilterElement
	var visit func(n *filterNode) uint32
	visit = func(n *filterNode) uint32 {
		at := uint32(len(out))
		el := &ua.ContentFilterElement{FilterOperator: n.op, FilterOperands: n.lits}
		out = append(out, el)
		for _, k := range n.kids {
			el.FilterOperands = append(el.FilterOperands, ua.NewExtensionObject(&ua.ElementOperand{Index: visit(k)}))
		}
		return at
	}
	visit(root)
	return out
}

// EventFieldError is an event field the server sent missing or with a type
// the field cannot have. It matches scada.ErrBadInput. The event is still
// delivered without the field when the field is optional; an event without
// a usable EventId, EventType, Time or Severity is dropped and counted.
type EventFieldError struct {
	Field string // the field's name, e.g. "Severity" or a caller's EventField.Name
	Got   string // what arrived: a type name, "nothing" when missing
	Want  string // the type the field must have
}

func (e *EventFieldError) Error() string {
	return fmt.Sprintf("opcua: event field %s: got %s, want %s", e.Field, e.Got, e.Want)
}

// Is matches scada.ErrBadInput.
func (e *EventFieldError) Is(target error) bool { return target == scada.ErrBadInput }

// errEventDropped marks a mapping error that drops the whole event.
var errEventDropped = errors.New("event dropped")

// fieldReader reads typed values out of an event field list and collects
// the problems.
type fieldReader struct {
	vals []*ua.Variant
	errs []error
	drop bool
}

func (r *fieldReader) get(i int) any {
	if i >= len(r.vals) || r.vals[i] == nil {
		return nil
	}
	return r.vals[i].Value()
}

func (r *fieldReader) fail(name string, v any, want string, required bool) {
	got := "nothing"
	if v != nil {
		got = fmt.Sprintf("%T", v)
	}
	r.errs = append(r.errs, &EventFieldError{Field: name, Got: got, Want: want})
	if required {
		r.drop = true
	}
}

func (r *fieldReader) nodeID(i int, required bool) string {
	switch v := r.get(i).(type) {
	case *ua.NodeID:
		if v != nil {
			return v.String()
		}
	case *ua.ExpandedNodeID:
		if v != nil && v.NodeID != nil {
			return v.NodeID.String()
		}
	case nil:
		if !required {
			return ""
		}
	}
	r.fail(stdFieldNames[i], r.get(i), "NodeId", required)
	return ""
}

func (r *fieldReader) str(i int) string {
	switch v := r.get(i).(type) {
	case string:
		return v
	case *ua.LocalizedText:
		if v != nil {
			return v.Text
		}
		return ""
	case nil:
		return ""
	}
	r.fail(stdFieldNames[i], r.get(i), "String", false)
	return ""
}

func (r *fieldReader) time(i int, required bool) time.Time {
	switch v := r.get(i).(type) {
	case time.Time:
		if !v.IsZero() || !required {
			return v
		}
	case nil:
		if !required {
			return time.Time{}
		}
	}
	r.fail(stdFieldNames[i], r.get(i), "DateTime", required)
	return time.Time{}
}

// boolean reads a Boolean; missing gives def.
func (r *fieldReader) boolean(i int, def bool) bool {
	switch v := r.get(i).(type) {
	case bool:
		return v
	case nil:
		return def
	}
	r.fail(stdFieldNames[i], r.get(i), "Boolean", false)
	return def
}

// mapEvent turns one event field list into a scada.Event. It returns the
// event, whether it can be delivered, and the problems found (each an
// *EventFieldError), joined.
func mapEvent(vals []*ua.Variant, extra []EventField, source string) (scada.Event, bool, error) {
	r := &fieldReader{vals: vals}
	if want := numStdFields + len(extra); len(vals) != want {
		r.errs = append(r.errs, &EventFieldError{Field: "(field list)", Got: fmt.Sprintf("%d fields", len(vals)), Want: fmt.Sprintf("%d fields", want)})
		if len(vals) <= fSeverity {
			r.drop = true
		}
	}
	ev := scada.Event{Source: source}
	switch v := r.get(fEventID).(type) {
	case []byte:
		if len(v) > 0 {
			ev.ID = v
			break
		}
		r.fail("EventId", v, "a non-empty ByteString", true)
	default:
		r.fail("EventId", v, "ByteString", true)
	}
	ev.EventType = r.nodeID(fEventType, true)
	ev.SourceNode = r.nodeID(fSourceNode, false)
	ev.SourceName = r.str(fSourceName)
	ev.Time = r.time(fTime, true)
	ev.ReceiveTime = r.time(fReceiveTime, false)
	ev.Message = r.str(fMessage)
	switch v := r.get(fSeverity).(type) {
	case uint16:
		if v >= 1 && v <= 1000 {
			ev.Severity = v
			break
		}
		r.fail("Severity", v, "UInt16 from 1 to 1000", true)
	default:
		r.fail("Severity", v, "UInt16", true)
	}
	if cid := r.nodeID(fConditionID, false); cid != "" {
		c := &scada.Condition{ID: cid}
		c.Name = r.str(fConditionName)
		c.Branch = r.nodeID(fBranchID, false)
		if c.Branch == "i=0" { // the null node id: no branch
			c.Branch = ""
		}
		c.Retain = r.boolean(fRetain, false)
		c.State = r.str(fActiveState)
		c.Active = r.boolean(fActiveID, false)
		c.Acknowledged = r.boolean(fAckedID, true)
		c.Confirmed = r.boolean(fConfirmedID, true)
		ev.Condition = c
	}
	for k, f := range extra {
		i := numStdFields + k
		if i >= len(vals) || vals[i] == nil || vals[i].Value() == nil {
			continue
		}
		v, ok := fieldValue(vals[i])
		if !ok {
			r.errs = append(r.errs, &EventFieldError{Field: f.Name, Got: fmt.Sprintf("%T", vals[i].Value()), Want: "a number, Boolean, text, time or byte string"})
			continue
		}
		if ev.Fields == nil {
			ev.Fields = make(map[string]any, len(extra))
		}
		ev.Fields[f.Name] = v
	}
	err := errors.Join(r.errs...)
	if r.drop {
		err = fmt.Errorf("%w: %w", errEventDropped, err)
	}
	return ev, !r.drop, err
}

// fieldValue converts a caller-selected field to the types Event.Fields
// documents.
func fieldValue(v *ua.Variant) (any, bool) {
	if f, ok := toFloat(v); ok {
		if b, isBool := v.Value().(bool); isBool {
			return b, true
		}
		return f, true
	}
	switch x := v.Value().(type) {
	case string:
		return x, true
	case *ua.LocalizedText:
		if x == nil {
			return "", true
		}
		return x.Text, true
	case time.Time:
		return x, true
	case []byte:
		return x, true
	case *ua.NodeID:
		if x == nil {
			return "", true
		}
		return x.String(), true
	case *ua.QualifiedName:
		if x == nil {
			return "", true
		}
		return x.Name, true
	}
	return nil, false
}
