package modbus_test

import (
	"context"
	"testing"
	"time"

	"github.com/greenlang/gl001/resilience"
	"github.com/greenlang/gl001/scada"
	"github.com/greenlang/gl001/scada/guard"
	"github.com/greenlang/gl001/scada/guard/guardtest"
	"github.com/greenlang/gl001/scada/modbus"
	"github.com/greenlang/gl001/scada/scadatest"
)

// The write guard over Modbus/TCP, against the simulator, reading through
// the Source (Read) and through its polls (guard.Latest).
func TestGuard(t *testing.T) {
	for _, via := range []string{"read", "polls"} {
		t.Run(via, func(t *testing.T) {
			sim, err := scadatest.NewModbusServer(scadatest.ModbusConfig{})
			if err != nil {
				t.Fatal(err)
			}
			defer sim.Close()
			sim.SetRegisters(1, scadatest.ModbusHolding, 10, 40)
			src, err := modbus.New(modbus.Config{
				Name: "boiler1", Address: sim.Addr(),
				Devices: []modbus.Device{{UnitID: 1, PollInterval: 50 * time.Millisecond, Tags: []modbus.Tag{
					{Name: "firing_rate", Address: 10, Type: modbus.Int16, Unit: "%", Writable: true},
				}}},
			})
			if err != nil {
				t.Fatal(err)
			}
			var reader scada.Reader = src
			var sink scada.Sink = scada.SinkFunc(discard)
			if via == "polls" {
				lat := guard.NewLatest(sink)
				reader, sink = lat, lat
			}
			col, err := scada.NewCollector(scada.CollectorConfig{Sink: sink,
				Backoff: resilience.Backoff{Initial: 20 * time.Millisecond, Max: 100 * time.Millisecond}})
			if err != nil {
				t.Fatal(err)
			}
			defer col.Close()
			if err := col.Add("boiler1", src); err != nil {
				t.Fatal(err)
			}
			guardtest.Run(t, guardtest.Device{
				Writer: src,
				Reader: reader,
				Tag:    "firing_rate",
				Truth: func() (float64, error) {
					return float64(int16(sim.Registers(1, scadatest.ModbusHolding, 10, 1)[0])), nil
				},
				IgnoreWrites: sim.IgnoreWrites,
				// An exception for the register: reads turn Bad
				// (BadDeviceFailure) and writes are refused.
				SetBad:       fault(sim),
				RefuseWrites: fault(sim),
				Disconnect:   func() { _ = sim.Stop() },
				Reconnect: func() {
					n := src.Stats().Connects
					_ = sim.Start()
					deadline := time.Now().Add(30 * time.Second)
					for st := src.Stats(); !st.Connected || st.Connects <= n; st = src.Stats() {
						if time.Now().After(deadline) {
							t.Fatal("the source did not reconnect")
						}
						time.Sleep(10 * time.Millisecond)
					}
				},
			})
		})
	}
}

func discard(context.Context, []scada.Point) error { return nil }

// fault returns a switch for a server-failure exception on register 10.
func fault(sim *scadatest.ModbusServer) func(bool) {
	var remove func()
	return func(on bool) {
		if on {
			remove = sim.AddFault(scadatest.ModbusFault{UnitID: 1, Table: scadatest.ModbusHolding, First: 10, Exception: 4})
		} else if remove != nil {
			remove()
			remove = nil
		}
	}
}
