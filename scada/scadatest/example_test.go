package scadatest_test

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/greenlang/gl001/scada"
	"github.com/greenlang/gl001/scada/modbus"
	"github.com/greenlang/gl001/scada/scadatest"
)

// A Modbus TCP server with an energy meter at unit 1, read by the SDK's
// Modbus source as a real meter would be: set the registers, point the
// source at Addr, and the points arrive at the sink.
func Example() {
	srv, err := scadatest.NewModbusServer(scadatest.ModbusConfig{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()
	bits := math.Float32bits(842.5) // a float32 in two input registers, high word first
	srv.SetRegisters(1, scadatest.ModbusInput, 0, uint16(bits>>16), uint16(bits))

	src, err := modbus.New(modbus.Config{Name: "meters", Address: srv.Addr(), Devices: []modbus.Device{{
		UnitID: 1, PollInterval: 100 * time.Millisecond,
		Tags: []modbus.Tag{{Name: "meter1.power_kw", Table: modbus.InputRegister, Address: 0, Type: modbus.Float32, Unit: "kW"}},
	}}})
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	got := make(chan scada.Point, 1)
	runErr := src.Run(ctx, scada.SinkFunc(func(_ context.Context, batch []scada.Point) error {
		select {
		case got <- batch[0]:
			cancel() // one poll is enough here
		default:
		}
		return nil
	}))
	select {
	case p := <-got:
		fmt.Println(p.Tag, p.Value, p.Unit, p.Quality)
	default:
		fmt.Println("no point:", runErr)
	}
	// Output:
	// meter1.power_kw 842.5 kW Good
}

// An MQTT broker: publish on a topic and a subscriber (here the broker's
// own inline client; in a test, the SDK's MQTT source at URL) receives it.
func ExampleMQTTBroker() {
	b, err := scadatest.NewMQTTBroker(scadatest.MQTTBrokerConfig{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer b.Close()
	got := make(chan string, 1)
	if err := b.Subscribe("plant/+/temp", func(topic string, payload []byte) { got <- topic + " " + string(payload) }); err != nil {
		fmt.Println(err)
		return
	}
	if err := b.Publish("plant/boiler1/temp", []byte(`{"value": 485.2, "unit": "°C"}`), 1, false); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(<-got)
	// Output:
	// plant/boiler1/temp {"value": 485.2, "unit": "°C"}
}
