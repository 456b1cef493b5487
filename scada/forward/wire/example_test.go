package wire_test

import (
	"fmt"
	"time"

	"github.com/greenlang/gl001/scada"
	"github.com/greenlang/gl001/scada/forward/wire"
)

func Example() {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	pts := []scada.Point{
		{Tag: "boiler1.steam_temp", Value: 451.5, Unit: "degC", Quality: scada.Good, Score: 98, Scored: true, Time: t0, Source: "plc1"},
		{Tag: "boiler1.flow", Value: 12.25, Unit: "kg/s", Quality: scada.UncertainLastUsableValue, Time: t0.Add(time.Second), Source: "plc1"},
	}
	var e wire.Encoder
	msg := e.Append(nil, wire.Header{Edge: "boilerhouse-1", Buffer: "0f3c", Source: "plc1", First: 40, Last: 41}, pts, nil)

	var d wire.Decoded
	if err := wire.Decode(msg, &d); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(d.Edge, d.Source, d.First, d.Last, d.Count)
	for i, p := range d.Points {
		fmt.Println(d.Offsets[i], p.Tag, p.Value, p.Unit, p.Quality, p.Scored, p.Score, p.Time.Format(time.RFC3339))
	}
	// A damaged message is refused with a typed error.
	msg[len(msg)/2] ^= 1
	fmt.Println(wire.Decode(msg, &d) != nil)
	// Output:
	// boilerhouse-1 plc1 40 41 2
	// 40 boiler1.steam_temp 451.5 degC Good true 98 2026-03-01T12:00:00Z
	// 41 boiler1.flow 12.25 kg/s UncertainLastUsableValue false 0 2026-03-01T12:00:01Z
	// true
}
