package sparkplug_test

import (
	"fmt"
	"time"

	"github.com/greenlang/gl001/scada/mqtt"
	"github.com/greenlang/gl001/scada/mqtt/sparkplug"
)

// The decoder learns aliases from a birth, decodes data by alias, and asks
// for a rebirth when it meets an alias it does not know.
func ExampleDecoder() {
	dec, err := sparkplug.NewDecoder(sparkplug.Config{})
	if err != nil {
		panic(err)
	}
	publish := func(topic string, payload []byte) error {
		var p sparkplug.Payload
		_ = sparkplug.Unmarshal(payload, &p)
		fmt.Printf("published %s: %s=%v\n", topic, p.Metrics[0].Name, p.Metrics[0].Bool)
		return nil
	}
	decode := func(topic string, p sparkplug.Payload) {
		points, err := dec.Decode(nil, &mqtt.Message{
			Topic: topic, Payload: sparkplug.Marshal(nil, &p), Received: time.Unix(0, 0), Publish: publish,
		})
		for _, pt := range points {
			fmt.Printf("%s = %g %s %v\n", pt.Tag, pt.Value, pt.Unit, pt.Quality)
		}
		if err != nil {
			fmt.Println("error:", err)
		}
	}

	decode("spBv1.0/plant/NBIRTH/edge1", sparkplug.Payload{Seq: 0, HasSeq: true, Metrics: []sparkplug.Metric{
		{Name: "bdSeq", DataType: sparkplug.Int64, Kind: sparkplug.LongValue, Long: 1},
		{Name: "boiler/steam_temp", Alias: 1, HasAlias: true, DataType: sparkplug.Double, Kind: sparkplug.DoubleValue, Double: 450,
			Properties: []sparkplug.Property{{Key: "engUnit", Kind: sparkplug.StringValue, String: "degC"}}},
	}})
	decode("spBv1.0/plant/NDATA/edge1", sparkplug.Payload{Seq: 1, HasSeq: true, Metrics: []sparkplug.Metric{
		{Alias: 1, HasAlias: true, Kind: sparkplug.DoubleValue, Double: 452.5},
		{Alias: 7, HasAlias: true, Kind: sparkplug.DoubleValue, Double: 1},
	}})
	decode("spBv1.0/plant/NDEATH/edge1", sparkplug.Payload{Metrics: []sparkplug.Metric{
		{Name: "bdSeq", DataType: sparkplug.Int64, Kind: sparkplug.LongValue, Long: 1},
	}})
	// Output:
	// plant/edge1/boiler/steam_temp = 450 degC Good
	// published spBv1.0/plant/NCMD/edge1: Node Control/Rebirth=true
	// plant/edge1/boiler/steam_temp = 452.5 degC Good
	// error: sparkplug: unknown metric alias: 1 of 2 metrics
	// plant/edge1/boiler/steam_temp = 0 degC BadNoCommunication
}
