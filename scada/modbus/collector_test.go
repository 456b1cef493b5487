package modbus

import (
	"context"
	"testing"
	"time"

	"github.com/greenlang/gl001/resilience"
	"github.com/greenlang/gl001/scada"
	"github.com/greenlang/gl001/scada/scadatest"
)

// TestReconnectUnderCollector: the device restarts while a scada.Collector
// supervises the Source; the Collector's next Run resumes the stream.
func TestReconnectUnderCollector(t *testing.T) {
	srv := newServer(t, scadatest.ModbusConfig{})
	srv.SetRegisters(1, scadatest.ModbusHolding, 0, 7)
	src := newSource(t, Config{Name: "plc", Address: srv.Addr(), Timeout: 2 * time.Second,
		Devices: []Device{{UnitID: 1, PollInterval: 5 * time.Millisecond, Tags: []Tag{{Name: "v"}}}}})
	sink := newCollector()
	failed := make(chan struct{}, 1)
	col, err := scada.NewCollector(scada.CollectorConfig{
		Sink: sink,
		OnHealthChange: func(h scada.SourceHealth) {
			if h.LastError != "" {
				select {
				case failed <- struct{}{}:
				default:
				}
			}
		},
		Backoff: resilience.Backoff{Initial: 5 * time.Millisecond, Max: 20 * time.Millisecond},
		Breaker: resilience.BreakerConfig{FailureThreshold: -1},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer col.Close()
	if err := col.Add("plc", src); err != nil {
		t.Fatal(err)
	}
	hasValue := func(v float64) func([]scada.Point) bool {
		return func(ps []scada.Point) bool {
			for _, p := range ps {
				if p.Quality.IsGood() && p.Value == v {
					return true
				}
			}
			return false
		}
	}
	sink.waitFor(t, "points before the restart", hasValue(7))

	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-failed:
	case <-time.After(wait):
		t.Fatal("the Collector never saw the connection fail")
	}
	srv.SetRegisters(1, scadatest.ModbusHolding, 0, 8)
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	sink.waitFor(t, "points after the restart", hasValue(8))
	if h, _ := col.HealthOf("plc"); h.Reconnects < 1 {
		t.Errorf("health after the restart: %+v", h)
	}
	if err := col.Remove(context.Background(), "plc"); err != nil {
		t.Fatal(err)
	}
	if st := src.Stats(); st.Connects < 2 {
		t.Errorf("%d connects", st.Connects)
	}
}
