package modbus_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/greenlang/gl001/scada"
	"github.com/greenlang/gl001/scada/modbus"
	"github.com/greenlang/gl001/scada/scadatest"
)

// A Source reads a device and delivers its points; here the device is the
// in-process simulator.
func Example() {
	sim, err := scadatest.NewModbusServer(scadatest.ModbusConfig{})
	if err != nil {
		panic(err)
	}
	defer sim.Close()
	sim.SetRegisters(1, scadatest.ModbusInput, 0, 0x42F6, 0xE979) // 123.456 as float32
	sim.SetRegisters(1, scadatest.ModbusHolding, 100, 655)        // 65.5 in tenths
	sim.SetBits(1, scadatest.ModbusCoil, 3, true)

	src, err := modbus.New(modbus.Config{
		Name:    "boiler1",
		Address: sim.Addr(),
		Devices: []modbus.Device{{UnitID: 1, PollInterval: time.Second, Tags: []modbus.Tag{
			{Name: "steam_temp", Table: modbus.InputRegister, Address: 0, Type: modbus.Float32, Unit: "degC"},
			{Name: "setpoint", Address: 100, Type: modbus.Int16, Scale: 0.1, Unit: "degC", Writable: true},
			{Name: "burner_on", Table: modbus.Coil, Address: 3},
		}}},
	})
	if err != nil {
		panic(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	err = src.Run(ctx, scada.SinkFunc(func(_ context.Context, batch []scada.Point) error {
		for _, p := range batch {
			fmt.Printf("%s %s = %.3f %s (%v)\n", p.Source, p.Tag, p.Value, p.Unit, p.Quality)
		}
		cancel() // one poll is enough here
		return nil
	}))
	fmt.Println("Run returned", err)
	// Output:
	// boiler1 setpoint = 65.500 degC (Good)
	// boiler1 steam_temp = 123.456 degC (Good)
	// boiler1 burner_on = 1.000  (Good)
	// Run returned <nil>
}

// An exception fails only the tags of its request; the rest of the poll is
// delivered.
func Example_exception() {
	sim, err := scadatest.NewModbusServer(scadatest.ModbusConfig{})
	if err != nil {
		panic(err)
	}
	defer sim.Close()
	sim.SetRegisters(1, scadatest.ModbusHolding, 0, 10)
	sim.SetRegisters(1, scadatest.ModbusHolding, 20, 30)
	sim.AddFault(scadatest.ModbusFault{UnitID: 1, Table: scadatest.ModbusHolding, First: 10, Exception: 2})

	src, err := modbus.New(modbus.Config{
		Name: "meter", Address: sim.Addr(),
		OnError: func(err error) {
			var ex *modbus.ExceptionError
			if errors.As(err, &ex) {
				fmt.Printf("unit %d address %d: %v\n", ex.UnitID, ex.Address, ex.Code)
			}
		},
		Devices: []modbus.Device{{UnitID: 1, Tags: []modbus.Tag{
			{Name: "a", Address: 0}, {Name: "missing", Address: 10}, {Name: "c", Address: 20},
		}}},
	})
	if err != nil {
		panic(err)
	}
	conn, err := src.Dial(context.Background())
	if err != nil {
		panic(err)
	}
	defer conn.Close()
	err = conn.Poll(context.Background(), scada.SinkFunc(func(_ context.Context, batch []scada.Point) error {
		for _, p := range batch {
			fmt.Printf("%s = %v (%v)\n", p.Tag, p.Value, p.Quality)
		}
		return nil
	}))
	fmt.Println("Poll returned", err)
	fmt.Println("exceptions by code:", src.Stats().ByException)
	// Output:
	// unit 1 address 10: modbus exception 2 (illegal data address)
	// a = 10 (Good)
	// missing = 0 (BadNodeIdUnknown)
	// c = 30 (Good)
	// Poll returned <nil>
	// exceptions by code: map[modbus exception 2 (illegal data address):1]
}

// Write sets a writable tag through the running connection; Scale and Offset
// are undone and the value is encoded in the tag's type and order.
func ExampleSource_Write() {
	sim, err := scadatest.NewModbusServer(scadatest.ModbusConfig{})
	if err != nil {
		panic(err)
	}
	defer sim.Close()
	src, err := modbus.New(modbus.Config{Name: "boiler1", Address: sim.Addr(),
		Devices: []modbus.Device{{UnitID: 1, Tags: []modbus.Tag{
			{Name: "setpoint", Address: 100, Type: modbus.Int16, Scale: 0.1, Unit: "degC", Writable: true},
			{Name: "steam_temp", Table: modbus.InputRegister, Address: 0},
		}}}})
	if err != nil {
		panic(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	connected := make(chan struct{})
	done := make(chan error)
	go func() {
		var once bool
		done <- src.Run(ctx, scada.SinkFunc(func(context.Context, []scada.Point) error {
			if !once {
				once = true
				close(connected)
			}
			return nil
		}))
	}()
	<-connected

	fmt.Println(src.Write(ctx, "setpoint", 72.5))
	fmt.Println("register 100 holds", sim.Registers(1, scadatest.ModbusHolding, 100, 1)[0])
	err = src.Write(ctx, "steam_temp", 1)
	fmt.Println(err, errors.Is(err, scada.ErrNotWritable))
	cancel()
	fmt.Println("Run returned", <-done)
	// Output:
	// <nil>
	// register 100 holds 725
	// modbus: tag "steam_temp": scada: tag is not writable true
	// Run returned <nil>
}

// Plan shows the reads one poll makes.
func ExampleSource_Plan() {
	var tags []modbus.Tag
	for i := range 100 {
		tags = append(tags, modbus.Tag{Name: fmt.Sprint("r", i), Address: i})
	}
	tags = append(tags,
		modbus.Tag{Name: "flow", Address: 104, Type: modbus.Float32},
		modbus.Tag{Name: "alarm", Table: modbus.DiscreteInput, Address: 7},
	)
	src, err := modbus.New(modbus.Config{Name: "plc", Address: "10.0.0.5:502", MaxGap: 4,
		Devices: []modbus.Device{{UnitID: 1, Tags: tags}}})
	if err != nil {
		panic(err)
	}
	for _, r := range src.Plan() {
		fmt.Printf("unit %d %s %d+%d: %d tags\n", r.UnitID, r.Table, r.Address, r.Quantity, len(r.Tags))
	}
	// Output:
	// unit 1 holding 0+106: 101 tags
	// unit 1 discrete 7+1: 1 tags
}

// Validate reports every problem of a configuration at once.
func ExampleConfig_Validate() {
	cfg := modbus.Config{Name: "plc", Address: "10.0.0.5:502", Devices: []modbus.Device{{UnitID: 1, Tags: []modbus.Tag{
		{Name: "t1", Address: 0, Type: modbus.Float32},
		{Name: "t2", Address: 1, Type: modbus.Int16},
		{Name: "t3", Address: 70000},
	}}}}
	fmt.Println(cfg.Validate())
	// Output:
	// modbus: device 0 (unit 1) tag "t3": address 70000 is outside 0..65535
	// modbus: device 0 (unit 1): tags "t1" (float32 0..1) and "t2" (int16 1..1) overlap
}

func ExampleParseReference() {
	table, addr, err := modbus.ParseReference("40108")
	fmt.Println(table, addr, err)
	// Output: holding 107 <nil>
}
