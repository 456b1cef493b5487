package mqtt_test

import (
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"

	"go.uber.org/goleak"

	"github.com/greenlang/gl001/scada"
	"github.com/greenlang/gl001/scada/mqtt"
	"github.com/greenlang/gl001/scada/scadatest"
	"github.com/greenlang/gl001/scada/sourcetest"
)

// TestConformance runs the suite every scada.Source passes against the
// in-process broker: numbers on mapped topics and JSON documents, at QoS 1
// and 0. The simulated devices publish retained messages, as sensors that
// report their current value do.
func TestConformance(t *testing.T) {
	b, err := scadatest.NewMQTTBroker(scadatest.MQTTBrokerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })

	jsonDec, err := mqtt.NewJSONDecoder(mqtt.JSONConfig{Value: "v"})
	if err != nil {
		t.Fatal(err)
	}
	subs := []mqtt.Subscription{
		{Topic: "plant/{site}/{device}/{tag}", Tag: "{site}.{device}.{tag}", QoS: 1},
		{Topic: "json/{device}", Tag: "{device}.json", QoS: 1, Decoder: jsonDec},
		{Topic: "qos0/{tag}", Tag: "{tag}", QoS: 0},
	}
	topics := map[string]string{ // tag -> topic
		"north.boiler1.steam_temp": "plant/north/boiler1/steam_temp",
		"north.boiler1.o2":         "plant/north/boiler1/o2",
		"meter7.json":              "json/meter7",
		"stack_temp":               "qos0/stack_temp",
	}
	tags := []string{"north.boiler1.steam_temp", "north.boiler1.o2", "meter7.json", "stack_temp"}
	set := func(tag string, v float64) error {
		topic, ok := topics[tag]
		if !ok {
			return fmt.Errorf("no tag %q", tag)
		}
		payload := strconv.FormatFloat(v, 'g', -1, 64)
		if topic[:5] == "json/" {
			payload = `{"v":` + payload + `}`
		}
		return b.Publish(topic, []byte(payload), 1, true)
	}
	for i, tag := range tags {
		if err := set(tag, float64(100+i)); err != nil {
			t.Fatal(err)
		}
	}

	var clients atomic.Int64
	sourcetest.TestSource(t, sourcetest.Harness{
		Name: "boilerhouse-mqtt",
		Tags: tags,
		New: func(t *testing.T) scada.Source {
			src, err := mqtt.New(mqtt.Config{
				Name:          "boilerhouse-mqtt",
				Broker:        b.URL(),
				ClientID:      "gl001-conformance-" + strconv.FormatInt(clients.Add(1), 10),
				Subscriptions: subs,
			})
			if err != nil {
				t.Fatal(err)
			}
			return src
		},
		Set:   set,
		Stop:  b.Stop,
		Start: b.Start,
		Features: sourcetest.Features{
			// A Run delivers what is published while it runs and what the
			// persistent session queued, not the current value of every tag:
			// a resumed session does not replay retained messages (retain
			// handling 1, see the package documentation), and a broker
			// restarted without persistence has none. Run ends when the
			// connection is lost and when the sink fails, the defaults.
			ChangeDriven: true,
		},
		// Start runs the broker's event loop and listener anew.
		IgnoreGoroutines: []goleak.Option{
			goleak.IgnoreAnyFunction("github.com/mochi-mqtt/server/v2.(*Server).eventLoop"),
			goleak.IgnoreAnyFunction("github.com/mochi-mqtt/server/v2/listeners.(*TCP).Serve"),
		},
	})
}
