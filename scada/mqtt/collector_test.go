package mqtt_test

import (
	"testing"

	"github.com/greenlang/gl001/scada"
	"github.com/greenlang/gl001/scada/mqtt"
	"github.com/greenlang/gl001/scada/scadatest"
)

// Under a scada.Collector, the Collector owns reconnection: when the broker
// restarts, Run returns, the Collector backs off and runs it again, and the
// Source subscribes again on the new broker.
func TestUnderCollectorAcrossBrokerRestart(t *testing.T) {
	b := newBroker(t, scadatest.MQTTBrokerConfig{})
	src := newSource(t, mqtt.Config{
		Broker: b.URL(), ClientID: "gl001-collected",
		Subscriptions: []mqtt.Subscription{{Topic: "c/{tag}", Tag: "{tag}", QoS: 1}},
	})
	sink := newCollector()
	col, err := scada.NewCollector(scada.CollectorConfig{Sink: sink})
	if err != nil {
		t.Fatal(err)
	}
	defer col.Close()
	if err := col.Add("boilerhouse-mqtt", src); err != nil {
		t.Fatal(err)
	}
	waitSubscribed(t, b, 1)
	publish(t, b, "c/before", "1", 1)
	sink.waitTags(t, "before")
	eventually(t, "connected health", func() bool {
		h, ok := col.HealthOf("boilerhouse-mqtt")
		return ok && !h.ConnectedSince.IsZero()
	})

	if err := b.Restart(); err != nil {
		t.Fatal(err)
	}
	waitSubscribed(t, b, 2)
	publish(t, b, "c/after", "2", 1)
	if got := sink.waitTags(t, "after"); got["after"].Value != 2 || got["after"].Source != "boilerhouse-mqtt" {
		t.Errorf("after the restart: %+v", got["after"])
	}
	eventually(t, "a counted reconnect", func() bool {
		h, _ := col.HealthOf("boilerhouse-mqtt")
		return h.Reconnects >= 1
	})
}
