package opcua_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/greenlang/gl001/scada"
	"github.com/greenlang/gl001/scada/opcua"
)

// Events configured without anything to deliver them to: Run refuses at
// once, permanently, instead of dropping them.
func TestEventsWithoutEventSink(t *testing.T) {
	sim := sharedSim(t)
	cfg := insecure(sim, opcua.Tag{Name: "temp", NodeID: sim.NodeID("Boiler1.Temp")})
	cfg.Events = &opcua.EventConfig{}
	src, err := opcua.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = src.Run(ctx, newRecorder()) // a plain Sink, not a scada.EventSink
	if !errors.Is(err, opcua.ErrNoEventSink) || !errors.Is(err, scada.ErrPermanent) || ctx.Err() != nil {
		t.Fatalf("Run = %v, want ErrNoEventSink, permanent", err)
	}
}

// A server that cannot serve events (gopcua's refuses event monitored items
// and ConditionRefresh) costs the events, counted, never the points.
func TestEventsRefusedPointsFlow(t *testing.T) {
	sim := sharedSim(t)
	cfg := insecure(sim, opcua.Tag{Name: "temp", NodeID: sim.NodeID("Boiler1.Temp")})
	cfg.Events = &opcua.EventConfig{Types: []string{"i=2915"}, MinSeverity: 100,
		Sink: scada.EventSinkFunc(func(context.Context, []scada.Event) error { return nil })}
	src, err := opcua.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	rec := newRecorder()
	stop, _, _ := run(t, src, rec)
	rec.waitFor(t, "temperatures", func(ps []scada.Point) bool { return len(byTag(ps, "temp")) >= 3 })
	if err := stop(); !errors.Is(err, context.Canceled) {
		t.Fatalf("Run = %v", err)
	}
	st := src.EventStats()
	if st.EventItems+st.EventItemsRejected != 1 || st.Events != 0 {
		t.Fatalf("event stats = %+v, want the one event item accounted for", st)
	}
}
