package wire_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/greenlang/gl001/scada"
	"github.com/greenlang/gl001/scada/forward/wire"
)

// An alarm travels with its condition state, its event id and its fields.
func ExampleAppendEvents() {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	evs := []scada.Event{{
		Source: "opcua1", Time: t0, EventType: "i=9341", SourceNode: "ns=1;s=Boiler1.SteamTemp",
		Severity: 800, Message: "Steam temperature high", ID: []byte{0x1f, 0x2e},
		Condition: &scada.Condition{Name: "HighTemperature", Active: true, Retain: true, State: "High"},
		Fields:    map[string]any{"limit": 185.0},
	}}
	msg, err := wire.AppendEvents(nil, wire.Header{Edge: "boilerhouse-1", Buffer: "0f3c", Source: "opcua1", First: 7, Last: 7}, evs, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	var d wire.DecodedEvents
	if err := wire.DecodeEvents(msg, &d); err != nil {
		fmt.Println(err)
		return
	}
	ev := d.Events[0]
	fmt.Println(d.Edge, d.Source, d.Offsets[0], ev.Severity, ev.Message, ev.Condition.Name, ev.Condition.State, ev.Fields["limit"], ev.Time.Format(time.RFC3339))
	// A damaged message is refused with a typed error.
	msg[len(msg)/2] ^= 1
	fmt.Println(errors.Is(wire.DecodeEvents(msg, &d), wire.ErrDecode))
	// Output:
	// boilerhouse-1 opcua1 7 800 Steam temperature high HighTemperature High 185 2026-03-01T12:00:00Z
	// true
}
