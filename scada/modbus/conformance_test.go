package modbus_test

import (
	"fmt"
	"math"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/greenlang/gl001/scada"
	"github.com/greenlang/gl001/scada/modbus"
	"github.com/greenlang/gl001/scada/scadatest"
	"github.com/greenlang/gl001/scada/sourcetest"
)

// TestConformance runs the suite every scada.Source passes against a gateway
// with two unit ids, with tags of several types, tables, word orders and a
// scale.
func TestConformance(t *testing.T) {
	sim, err := scadatest.NewModbusServer(scadatest.ModbusConfig{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sim.Close() })

	// Each tag, and how a value in engineering units is written to the
	// simulator's registers.
	type simTag struct {
		unit uint8
		tag  modbus.Tag
		set  func(v float64) []uint16
	}
	tags := []simTag{
		{1, modbus.Tag{Name: "u1.int16", Address: 0, Type: modbus.Int16},
			func(v float64) []uint16 { return []uint16{uint16(int16(v))} }},
		{1, modbus.Tag{Name: "u1.input.uint16", Table: modbus.InputRegister, Address: 1},
			func(v float64) []uint16 { return []uint16{uint16(v)} }},
		{1, modbus.Tag{Name: "u1.float32", Address: 10, Type: modbus.Float32},
			func(v float64) []uint16 {
				b := math.Float32bits(float32(v))
				return []uint16{uint16(b >> 16), uint16(b)}
			}},
		{1, modbus.Tag{Name: "u1.int32.cdab", Table: modbus.InputRegister, Address: 20, Type: modbus.Int32, Order: modbus.CDAB},
			func(v float64) []uint16 { b := uint32(int32(v)); return []uint16{uint16(b), uint16(b >> 16)} }},
		{2, modbus.Tag{Name: "u2.uint32.half", Address: 30, Type: modbus.Uint32, Scale: 0.5},
			func(v float64) []uint16 { b := uint32(v * 2); return []uint16{uint16(b >> 16), uint16(b)} }},
	}
	var names []string
	byName := map[string]simTag{}
	for _, st := range tags {
		names = append(names, st.tag.Name)
		byName[st.tag.Name] = st
	}
	set := func(tag string, v float64) error {
		st, ok := byName[tag]
		if !ok {
			return fmt.Errorf("no tag %q", tag)
		}
		table := scadatest.ModbusHolding
		if st.tag.Table == modbus.InputRegister {
			table = scadatest.ModbusInput
		}
		sim.SetRegisters(st.unit, table, uint16(st.tag.Address), st.set(v)...)
		return nil
	}
	for i, name := range names {
		if err := set(name, float64(100+i)); err != nil {
			t.Fatal(err)
		}
	}

	sourcetest.TestSource(t, sourcetest.Harness{
		Name: "boilerhouse-modbus",
		Tags: names,
		New: func(t *testing.T) scada.Source {
			cfg := modbus.Config{Name: "boilerhouse-modbus", Address: sim.Addr()}
			for _, unit := range []uint8{1, 2} {
				d := modbus.Device{UnitID: unit, PollInterval: 50 * time.Millisecond}
				for _, st := range tags {
					if st.unit == unit {
						d.Tags = append(d.Tags, st.tag)
					}
				}
				cfg.Devices = append(cfg.Devices, d)
			}
			src, err := modbus.New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			return src
		},
		Set:   set,
		Stop:  sim.Stop,
		Start: sim.Start,
		// Start runs the server library's accept loop in a new goroutine.
		IgnoreGoroutines: []goleak.Option{
			goleak.IgnoreAnyFunction("github.com/simonvetter/modbus.(*ModbusServer).acceptTCPClients"),
		},
		// The defaults: Modbus reads current values, Run ends on a lost
		// connection and on a sink error (see Source.Run).
	})
}
