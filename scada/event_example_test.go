package scada_test

import (
	"context"
	"fmt"

	"github.com/greenlang/gl001/scada"
)

// Backfilled points keep their OPC UA severity and code: only the info bit
// tells them from live ones.
func ExampleQuality_IsBackfilled() {
	q := scada.Good | scada.Backfilled
	fmt.Println(q.IsGood(), q.IsBackfilled(), q.Code() == scada.Good)
	fmt.Println(scada.GoodClamped.IsBackfilled())
	// Output:
	// true true true
	// false
}

// An EventSink that keeps the alarms still of interest, keyed by condition
// and branch, the last state winning, as a status page would.
func ExampleEventSink() {
	active := map[string]scada.Event{}
	sink := scada.EventSinkFunc(func(_ context.Context, evs []scada.Event) error {
		for _, e := range evs {
			c := e.Condition
			if c == nil {
				continue // a plain event: log it, do not keep it
			}
			key := c.ID + "|" + c.Branch
			if c.Retain {
				active[key] = e
			} else {
				delete(active, key)
			}
		}
		return nil
	})
	high := scada.Condition{ID: "ns=1;s=Boiler1.FlueTempAlarm", Name: "FlueTempHigh", Retain: true, Active: true}
	_ = sink.DeliverEvents(context.Background(), []scada.Event{{Severity: 800, Message: "flue gas too hot", Condition: &high}})
	fmt.Println(len(active), active["ns=1;s=Boiler1.FlueTempAlarm|"].Message)

	cleared := high
	cleared.Active, cleared.Acknowledged, cleared.Retain = false, true, false
	_ = sink.DeliverEvents(context.Background(), []scada.Event{{Severity: 800, Message: "back to normal", Condition: &cleared}})
	fmt.Println(len(active))
	// Output:
	// 1 flue gas too hot
	// 0
}
