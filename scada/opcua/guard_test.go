package opcua_test

import (
	"testing"
	"time"

	"github.com/greenlang/gl001/resilience"
	"github.com/greenlang/gl001/scada"
	"github.com/greenlang/gl001/scada/guard"
	"github.com/greenlang/gl001/scada/guard/guardtest"
	"github.com/greenlang/gl001/scada/opcua"
	"github.com/greenlang/gl001/scada/scadatest"
)

// The write guard over OPC UA, against the simulator, reading through the
// Source (Read) and through its subscription (guard.Latest).
func TestGuard(t *testing.T) {
	for _, via := range []string{"read", "subscription"} {
		t.Run(via, func(t *testing.T) {
			sim := newSim(t, scadatest.OPCUAConfig{Tags: []scadatest.OPCUATag{
				{Name: "FiringRate", Type: scadatest.OPCUAInt32, Initial: 40, Writable: true},
			}})
			src, err := opcua.New(insecure(sim, opcua.Tag{Name: "firing_rate", NodeID: sim.NodeID("FiringRate"), Writable: true}))
			if err != nil {
				t.Fatal(err)
			}
			var reader scada.Reader = src
			var sink scada.Sink = newRecorder()
			if via == "subscription" {
				lat := guard.NewLatest(sink)
				reader, sink = lat, lat
			}
			col, err := scada.NewCollector(scada.CollectorConfig{Sink: sink,
				Backoff: resilience.Backoff{Initial: 20 * time.Millisecond, Max: 100 * time.Millisecond}})
			if err != nil {
				t.Fatal(err)
			}
			defer col.Close()
			if err := col.Add("sim", src); err != nil {
				t.Fatal(err)
			}

			guardtest.Run(t, guardtest.Device{
				Writer:       src,
				Reader:       reader,
				Tag:          "firing_rate",
				Truth:        func() (float64, error) { return sim.Value("FiringRate") },
				IgnoreWrites: func(on bool) { _ = sim.IgnoreWrites("FiringRate", on) },
				Disconnect:   func() { _ = sim.Stop() },
				Reconnect: func() {
					n := src.Stats().Connects
					_ = sim.Start()
					waitUntil(t, "the source reconnected", func() bool { st := src.Stats(); return st.Connected && st.Connects > n })
				},
				ConfirmWithin: 10 * time.Second,
				SetBad: func(on bool) {
					q := scada.Good
					if on {
						q = scada.BadSensorFailure
					}
					_ = sim.SetStatus("FiringRate", q)
				},
				RefuseWrites: func(on bool) { _ = sim.RefuseWrites("FiringRate", on) },
			})
		})
	}
}

// waitUntil polls cond until it holds; the deadline only bounds a failure.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
