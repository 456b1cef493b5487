package opcua_test

import (
	"errors"
	"testing"
	"time"

	"github.com/greenlang/gl001/resilience"
	"github.com/greenlang/gl001/scada"
	"github.com/greenlang/gl001/scada/opcua"
	"github.com/greenlang/gl001/scada/scadatest"
)

// TestServerRestartUnderCollector stops the server mid-stream, removes one
// node while it is down and starts it again on the same port. The Collector
// reruns the Source: values resume, the gap is marked with BadNoCommunication
// for every tag, and only the removed node's tag goes Bad afterwards.
func TestServerRestartUnderCollector(t *testing.T) {
	sim := newSim(t, scadatest.OPCUAConfig{
		UpdateInterval: 20 * time.Millisecond,
		Tags: []scadatest.OPCUATag{
			{Name: "Steam.Flow", Initial: 10, Step: 1},
			{Name: "Steam.Pressure", Initial: 300, Step: 1},
			{Name: "Feed.Temp.subscribe", Initial: 80, Step: 1},
			{Name: "Feed.Temp.poll", Initial: 80, Step: 1},
		},
	})
	for _, mode := range []string{"subscribe", "poll"} {
		t.Run(mode, func(t *testing.T) {
			removed := "Feed.Temp." + mode
			tagErr := make(chan error, 16)
			cfg := insecure(sim,
				opcua.Tag{Name: "flow", NodeID: sim.NodeID("Steam.Flow")},
				opcua.Tag{Name: "pressure", NodeID: sim.NodeID("Steam.Pressure")},
				opcua.Tag{Name: "feed", NodeID: sim.NodeID(removed)},
			)
			cfg.OnTagError = func(err error) { tagErr <- err }
			cfg.DialTimeout = 2 * time.Second
			if mode == "poll" {
				cfg.PollInterval = 20 * time.Millisecond
			}
			src, err := opcua.New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			rec := newRecorder()
			col, err := scada.NewCollector(scada.CollectorConfig{
				Sink:    rec,
				Backoff: resilience.Backoff{Initial: 20 * time.Millisecond, Max: 200 * time.Millisecond},
				Breaker: resilience.BreakerConfig{FailureThreshold: -1},
			})
			if err != nil {
				t.Fatal(err)
			}
			defer col.Close()
			if err := col.Add("boiler", src); err != nil {
				t.Fatal(err)
			}
			rec.waitFor(t, "values before the restart", func(ps []scada.Point) bool {
				return len(byTag(ps, "flow")) >= 3 && len(byTag(ps, "feed")) >= 3
			})

			if err := sim.Stop(); err != nil {
				t.Fatal(err)
			}
			ps := rec.waitFor(t, "BadNoCommunication for every tag", func(ps []scada.Point) bool {
				n := 0
				for _, p := range ps {
					if p.Quality.Code() == scada.BadNoCommunication {
						n++
					}
				}
				return n >= 3
			})
			mark := len(ps)
			for _, tag := range []string{"flow", "pressure", "feed"} {
				got := byTag(ps, tag)
				if p := got[len(got)-1]; p.Quality.Code() != scada.BadNoCommunication || p.Value != 0 {
					t.Fatalf("%s at disconnect = %+v, want BadNoCommunication without a value", tag, p)
				}
			}
			if err := sim.Remove(removed); err != nil {
				t.Fatal(err)
			}
			if err := sim.Start(); err != nil {
				t.Fatal(err)
			}
			ps = rec.waitFor(t, "values after the restart", func(ps []scada.Point) bool {
				after := ps[mark:]
				return len(byTag(after, "flow")) >= 3 && len(byTag(after, "pressure")) >= 3 && len(byTag(after, "feed")) >= 1
			})
			after := ps[mark:]
			for _, tag := range []string{"flow", "pressure"} {
				got := byTag(after, tag)
				if p := got[len(got)-1]; !p.Quality.IsGood() {
					t.Fatalf("%s after restart = %+v, want Good", tag, p)
				}
			}
			for _, p := range byTag(after, "feed") {
				if p.Quality.Code() != scada.BadNodeIDUnknown || p.Value != 0 {
					t.Fatalf("removed node's tag after restart = %+v, want BadNodeIdUnknown", p)
				}
			}
			select {
			case err := <-tagErr:
				if !errors.Is(err, scada.ErrUnknownTag) {
					t.Fatalf("tag error %v, want scada.ErrUnknownTag", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("no tag error for the removed node")
			}
			h, ok := col.HealthOf("boiler")
			if !ok || h.Reconnects < 1 {
				t.Fatalf("health = %+v, want at least one reconnect", h)
			}
			if st := src.Stats(); st.Disconnects < 1 || st.Connects < 2 {
				t.Fatalf("source stats = %+v", st)
			}
		})
	}

	// A session with nothing to monitor (every node unknown) still notices
	// that the server went away.
	t.Run("nothing to monitor", func(t *testing.T) {
		cfg := insecure(sim, opcua.Tag{Name: "ghost", NodeID: sim.NodeID("Nowhere")})
		cfg.NoDataTimeout = 300 * time.Millisecond
		cfg.RequestTimeout = time.Second
		src, err := opcua.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		rec := newRecorder()
		_, done, result := run(t, src, rec)
		rec.waitFor(t, "the ghost's Bad point", func(ps []scada.Point) bool { return len(ps) > 0 })
		if err := sim.Stop(); err != nil {
			t.Fatal(err)
		}
		defer sim.Start()
		select {
		case <-done:
			if err := result(); !errors.Is(err, scada.ErrConnection) {
				t.Fatalf("Run = %v, want scada.ErrConnection", err)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("Run did not notice the server going away")
		}
	})
}
