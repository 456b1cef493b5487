package opcua

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gopcua/opcua/ua"

	"github.com/greenlang/gl001/scada"
)

// goodFields is the field list of an active, unacknowledged limit alarm,
// with one extra field (a Double).
func goodFields() []*ua.Variant {
	t0 := time.Date(2026, 12, 6, 22, 0, 0, 0, time.UTC)
	v := make([]*ua.Variant, numStdFields+1)
	v[fEventID] = ua.MustVariant([]byte{1, 2, 3})
	v[fEventType] = ua.MustVariant(ua.NewNumericNodeID(0, 9341))
	v[fSourceNode] = ua.MustVariant(ua.NewStringNodeID(1, "Boiler1.SteamTemp"))
	v[fSourceName] = ua.MustVariant("SteamTemp")
	v[fTime] = ua.MustVariant(t0)
	v[fReceiveTime] = ua.MustVariant(t0.Add(time.Millisecond))
	v[fMessage] = ua.MustVariant(ua.NewLocalizedText("steam temperature high"))
	v[fSeverity] = ua.MustVariant(uint16(800))
	v[fConditionID] = ua.MustVariant(ua.NewStringNodeID(1, "Boiler1.HighTemp"))
	v[fConditionName] = ua.MustVariant("HighTemp")
	v[fBranchID] = ua.MustVariant(ua.NewTwoByteNodeID(0))
	v[fRetain] = ua.MustVariant(true)
	v[fActiveState] = ua.MustVariant(ua.NewLocalizedText("High"))
	v[fActiveID] = ua.MustVariant(true)
	v[fAckedID] = ua.MustVariant(false)
	v[fConfirmedID] = &ua.Variant{} // a server without Confirm sends nothing
	v[numStdFields] = ua.MustVariant(float64(412.5))
	return v
}

var extraFields = []EventField{{Name: "limit", Path: "HighLimit", Type: "i=9341"}}

func TestMapEventGood(t *testing.T) {
	ev, ok, err := mapEvent(goodFields(), extraFields, "plc1")
	if !ok || err != nil {
		t.Fatalf("mapEvent = ok %v, err %v", ok, err)
	}
	c := ev.Condition
	if ev.Severity != 800 || ev.EventType != "i=9341" || ev.SourceNode != "ns=1;s=Boiler1.SteamTemp" || ev.Message != "steam temperature high" ||
		string(ev.ID) != "\x01\x02\x03" || ev.Source != "plc1" || ev.SourceName != "SteamTemp" || ev.ReceiveTime.Sub(ev.Time) != time.Millisecond {
		t.Fatalf("event = %+v", ev)
	}
	if c == nil || c.ID != "ns=1;s=Boiler1.HighTemp" || c.Name != "HighTemp" || c.Branch != "" || !c.Retain || !c.Active || c.Acknowledged || !c.Confirmed || c.State != "High" {
		t.Fatalf("condition = %+v", c)
	}
	if ev.Fields["limit"] != 412.5 {
		t.Fatalf("fields = %v", ev.Fields)
	}
}

// An event without a condition has Condition nil.
func TestMapEventPlain(t *testing.T) {
	v := goodFields()
	for i := fConditionID; i < numStdFields; i++ {
		v[i] = &ua.Variant{}
	}
	ev, ok, err := mapEvent(v, extraFields, "plc1")
	if !ok || err != nil || ev.Condition != nil {
		t.Fatalf("mapEvent = %+v, ok %v, err %v", ev, ok, err)
	}
}

func TestMapEventBadFields(t *testing.T) {
	for _, tc := range []struct {
		name    string
		field   int
		value   *ua.Variant
		deliver bool
	}{
		{"severity mistyped", fSeverity, ua.MustVariant("high"), false},
		{"severity out of range", fSeverity, ua.MustVariant(uint16(1001)), false},
		{"severity zero", fSeverity, ua.MustVariant(uint16(0)), false},
		{"event id missing", fEventID, &ua.Variant{}, false},
		{"event id empty", fEventID, ua.MustVariant([]byte{}), false},
		{"time mistyped", fTime, ua.MustVariant(int32(5)), false},
		{"event type mistyped", fEventType, ua.MustVariant(true), false},
		{"source name mistyped", fSourceName, ua.MustVariant(int32(5)), true},
		{"acked mistyped", fAckedID, ua.MustVariant("yes"), true},
		{"extra field mistyped", numStdFields, ua.MustVariant(ua.NewTwoByteExpandedNodeID(1)), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := goodFields()
			v[tc.field] = tc.value
			ev, ok, err := mapEvent(v, extraFields, "plc1")
			var fe *EventFieldError
			if ok != tc.deliver || !errors.Is(err, scada.ErrBadInput) || !errors.As(err, &fe) {
				t.Fatalf("mapEvent = %+v, ok %v, err %v; want ok %v and an *EventFieldError", ev, ok, err, tc.deliver)
			}
		})
	}
	// Too few fields: an answer to another filter.
	if _, ok, err := mapEvent(goodFields()[:3], nil, "plc1"); ok || !errors.Is(err, scada.ErrBadInput) {
		t.Fatalf("three fields: ok %v, err %v", ok, err)
	}
}

// A notification with a bad event between two good ones delivers the two
// and counts the bad one.
func TestHandleEventsIsolatesBadEvents(t *testing.T) {
	src := &Source{cfg: Config{Name: "plc1"}.withDefaults()}
	ss := &session{s: src, cfg: src.cfg, ev: &eventState{base: 5, n: 1, fields: extraFields}}
	bad := goodFields()
	bad[fSeverity] = ua.MustVariant("critical")
	marker := goodFields() // a RefreshStartEvent, severity 0 as servers send it: skipped, not bad
	marker[fEventType] = ua.MustVariant(ua.NewNumericNodeID(0, 2787))
	marker[fSeverity] = ua.MustVariant(uint16(0))
	ss.handleEvents(&ua.EventNotificationList{Events: []*ua.EventFieldList{
		{ClientHandle: 5, EventFields: marker},
		{ClientHandle: 5, EventFields: goodFields()},
		{ClientHandle: 5, EventFields: bad},
		nil,
		{ClientHandle: 99, EventFields: goodFields()}, // not an event item
		{ClientHandle: 5, EventFields: goodFields()},
	}})
	if n := len(ss.ev.batch); n != 2 {
		t.Fatalf("%d events pending, want 2", n)
	}
	if st := src.EventStats(); st.BadEvents != 1 {
		t.Fatalf("stats = %+v, want 1 bad event", st)
	}
	if n := src.stats.badInput.Load(); n != 2 {
		t.Fatalf("bad input = %d, want 2 (nil list, unknown handle)", n)
	}
}

// FuzzEventFields feeds the event mapping field lists of any length with
// values of any type: it never panics, delivers only events with the
// required fields, and every problem is an *EventFieldError.
func FuzzEventFields(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17})
	f.Add([]byte{3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		r := &fuzzReader{b: data}
		n := int(r.byte()) % (numStdFields + 4)
		if len(data) > 0 && data[0] == 3 {
			n = numStdFields + 1
		}
		vals := make([]*ua.Variant, n)
		good := goodFields()
		for i := range vals {
			switch k := r.byte() % 12; k {
			case 0:
				if i < len(good) {
					vals[i] = good[i]
				}
			case 1:
				vals[i] = &ua.Variant{}
			case 2:
				vals[i] = ua.MustVariant(uint16(r.uint32()))
			case 3:
				vals[i] = ua.MustVariant([]byte{r.byte()})
			case 4:
				vals[i] = ua.MustVariant(time.Unix(int64(r.uint32()), 0))
			case 5:
				vals[i] = ua.MustVariant(ua.NewNumericNodeID(uint16(r.byte()), r.uint32()))
			case 6:
				vals[i] = ua.MustVariant(r.byte()%2 == 0)
			case 7:
				vals[i] = ua.MustVariant(string([]byte{r.byte(), r.byte()}))
			case 8:
				vals[i] = ua.MustVariant(ua.NewLocalizedText(string([]byte{r.byte()})))
			case 9:
				vals[i] = ua.MustVariant(float64(r.uint32()))
			case 10:
				vals[i] = ua.MustVariant([]float64{1, 2})
			default:
				vals[i] = nil
			}
		}
		ev, ok, err := mapEvent(vals, extraFields, "fuzz")
		if !ok && err == nil {
			t.Fatal("an event dropped without an error")
		}
		if err != nil {
			var fe *EventFieldError
			if !errors.Is(err, scada.ErrBadInput) || !errors.As(err, &fe) {
				t.Fatalf("error %v is not an *EventFieldError", err)
			}
		}
		if ok && (len(ev.ID) == 0 || ev.Severity < 1 || ev.Severity > 1000 || ev.Time.IsZero() || ev.EventType == "") {
			t.Fatalf("delivered an event without its required fields: %+v", ev)
		}
	})
}

// The where clause: OfType for each type joined by Or, and a severity
// minimum, joined by And with the root first.
func TestEventFilterWhereClause(t *testing.T) {
	f, err := eventFilter(&EventConfig{Types: []string{"i=2915", "i=9341"}, MinSeverity: 500, Fields: extraFields}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.SelectClauses) != numStdFields+1 {
		t.Fatalf("%d select clauses", len(f.SelectClauses))
	}
	el := f.WhereClause.Elements
	ops := make([]ua.FilterOperator, len(el))
	for i, e := range el {
		ops[i] = e.FilterOperator
	}
	want := []ua.FilterOperator{ua.FilterOperatorAnd, ua.FilterOperatorOr, ua.FilterOperatorOfType, ua.FilterOperatorOfType, ua.FilterOperatorGreaterThanOrEqual}
	if len(ops) != len(want) {
		t.Fatalf("operators %v, want %v", ops, want)
	}
	for i := range ops {
		if ops[i] != want[i] {
			t.Fatalf("operators %v, want %v", ops, want)
		}
	}
	for i, e := range el {
		for _, o := range e.FilterOperands {
			if eo, ok := o.Value.(*ua.ElementOperand); ok && eo.Index <= uint32(i) {
				t.Fatalf("element %d refers back to %d", i, eo.Index)
			}
		}
	}
	if f, _ := eventFilter(&EventConfig{}, nil); len(f.WhereClause.Elements) != 0 {
		t.Fatalf("no types, no severity: where clause %+v, want empty", f.WhereClause)
	}
}

func TestEventConfigValidate(t *testing.T) {
	cfg := Config{Endpoint: "opc.tcp://127.0.0.1:4840", SecurityPolicy: PolicyNone, SecurityMode: ModeNone,
		Tags: []Tag{{Name: "a", NodeID: "ns=1;s=a"}}, PollInterval: time.Second,
		Events:   &EventConfig{Objects: []string{"ns=x;i=1"}, MinSeverity: 2000, Fields: []EventField{{Name: "a", Path: "/b"}, {Name: "a", Path: "c"}}},
		Backfill: BackfillConfig{Enabled: true, MaxGap: -1}, HistoryPageSize: -1}
	err := cfg.Validate()
	if err == nil {
		t.Fatal("Validate = nil")
	}
	for _, want := range []string{"Objects[0]", "MinSeverity", "Path", "duplicate name", "PollInterval", "MaxGap", "HistoryPageSize"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Validate = %v, missing %q", err, want)
		}
	}
}
