package opcua_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/greenlang/gl001/scada"
	"github.com/greenlang/gl001/scada/opcua"
	"github.com/greenlang/gl001/scada/scadatest"
)

func TestSubscribeReceivesChanges(t *testing.T) {
	sim := newSim(t, scadatest.OPCUAConfig{
		UpdateInterval: 20 * time.Millisecond,
		Tags: []scadatest.OPCUATag{
			{Name: "Boiler1.Temp", Initial: 100, Step: 0.5, Unit: "degC"},
			{Name: "Boiler1.Running", Type: scadatest.OPCUABoolean, Initial: 1},
			{Name: "Boiler1.Count", Type: scadatest.OPCUAInt32, Initial: 7, Step: 1},
		},
	})
	src, err := opcua.New(insecure(sim,
		opcua.Tag{Name: "temp", NodeID: sim.NodeID("Boiler1.Temp")},
		opcua.Tag{Name: "running", NodeID: "nsu=" + sim.NamespaceURI() + ";s=Boiler1.Running"},
		opcua.Tag{Name: "count", NodeID: sim.NodeID("Boiler1.Count"), Unit: "1"},
	))
	if err != nil {
		t.Fatal(err)
	}
	rec := newRecorder()
	stop, _ := run(t, src, rec)
	ps := rec.waitFor(t, "changing temperature and counter", func(ps []scada.Point) bool {
		return len(byTag(ps, "temp")) >= 3 && len(byTag(ps, "count")) >= 3 && len(byTag(ps, "running")) >= 1
	})
	temps := byTag(ps, "temp")
	for i, p := range temps {
		if !p.Quality.IsGood() || p.Unit != "degC" || p.Source != "sim" || p.Time.IsZero() {
			t.Fatalf("temp point %d = %+v", i, p)
		}
		if i > 0 && p.Value <= temps[i-1].Value {
			t.Fatalf("temperature did not increase: %v then %v", temps[i-1].Value, p.Value)
		}
	}
	if r := byTag(ps, "running")[0]; r.Value != 1 || !r.Quality.IsGood() {
		t.Fatalf("running = %+v, want 1 Good", r)
	}
	if c := byTag(ps, "count")[0]; c.Unit != "1" {
		t.Fatalf("count unit = %q, want the override", c.Unit)
	}
	if st := src.Stats(); !st.Connected || st.Connects != 1 || st.Points == 0 || st.MonitoredItems != 3 || st.Subscriptions != 1 {
		t.Fatalf("stats while running = %+v", st)
	}
	if err := stop(); !errors.Is(err, context.Canceled) {
		t.Fatalf("Run after cancel = %v, want context.Canceled", err)
	}
	if st := src.Stats(); st.Connected || st.Disconnects != 0 {
		t.Fatalf("stats after stop = %+v", st)
	}
}
