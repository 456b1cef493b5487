package mqtt_test

import (
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/greenlang/gl001/scada"
	"github.com/greenlang/gl001/scada/mqtt"
	"github.com/greenlang/gl001/scada/scadatest"
)

// badReports collects what OnBadMessage receives.
type badReports struct {
	mu   sync.Mutex
	errs []error
}

func (b *badReports) add(err error) {
	b.mu.Lock()
	b.errs = append(b.errs, err)
	b.mu.Unlock()
}

func (b *badReports) get() []error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]error(nil), b.errs...)
}

// Payloads over MaxPayload are refused whole; messages with more points than
// MaxPointsPerMessage give the first ones. Both are reported with a typed
// error and counted; the messages around them are delivered.
func TestInputLimits(t *testing.T) {
	b := newBroker(t, scadatest.MQTTBrokerConfig{})
	dec, err := mqtt.NewJSONDecoder(mqtt.JSONConfig{})
	if err != nil {
		t.Fatal(err)
	}
	var bad badReports
	src := newSource(t, mqtt.Config{
		Broker: b.URL(), ClientID: "gl001-limits", MaxPayload: 200, MaxPointsPerMessage: 3,
		OnBadMessage: bad.add,
		Subscriptions: []mqtt.Subscription{
			{Topic: "num/{tag}", Tag: "{tag}", QoS: 1},
			{Topic: "json/{tag}", Tag: "{tag}", QoS: 1, Decoder: dec},
		},
	})
	sink := newCollector()
	running(t, src, sink)
	waitSubscribed(t, b, 1)
	publish(t, b, "num/big", "1"+strings.Repeat(" ", 200), 1) // 201 bytes
	publish(t, b, "json/many", `[{"tag":"p1","value":1},{"tag":"p2","value":2},{"tag":"p3","value":3},{"tag":"p4","value":4},{"tag":"p5","value":5}]`, 1)
	publish(t, b, "num/after", "7", 1)
	got := sink.waitTags(t, "after", "p3")
	if _, ok := got["big"]; ok {
		t.Error("the oversized payload was decoded")
	}
	if _, ok := got["p4"]; ok {
		t.Error("points past MaxPointsPerMessage were delivered")
	}
	for _, tag := range []string{"p1", "p2", "p3"} {
		if _, ok := got[tag]; !ok {
			t.Errorf("%s missing: the first points of a cut message are kept", tag)
		}
	}
	eventually(t, "both reported", func() bool { return len(bad.get()) == 2 })
	for _, err := range bad.get() {
		var le *mqtt.LimitError
		if !errors.As(err, &le) || !errors.Is(err, mqtt.ErrLimit) || !errors.Is(err, scada.ErrBadInput) {
			t.Errorf("report %v, want a *LimitError", err)
		}
	}
	eventually(t, "all acknowledged", func() bool { return src.Stats().Acked == 3 })
	if st := src.Stats(); st.LimitExceeded != 2 || st.BadMessages != 2 {
		t.Errorf("stats %+v, want 2 limited and bad messages", st)
	}
}

// Tags from topics that are not valid UTF-8 or hold NUL are refused and
// counted; the valid messages around them are delivered.
func TestTopicsNotValidText(t *testing.T) {
	b := newBroker(t, scadatest.MQTTBrokerConfig{})
	var bad badReports
	src := newSource(t, mqtt.Config{
		Broker: b.URL(), ClientID: "gl001-utf8", OnBadMessage: bad.add,
		Subscriptions: []mqtt.Subscription{{Topic: "{area}/{tag}", Tag: "{area}.{tag}", QoS: 1}},
	})
	sink := newCollector()
	running(t, src, sink)
	waitSubscribed(t, b, 1)
	for _, topic := range []string{"\xff\xfe/t3", "a\x00b/t4"} {
		publish(t, b, topic, "1", 1)
	}
	publish(t, b, "ok/t5", "5", 1)
	sink.waitTags(t, "ok.t5")
	eventually(t, "every message acknowledged", func() bool { return src.Stats().Acked == 3 })
	for _, p := range sink.snapshot() {
		if p.Tag != "ok.t5" {
			t.Errorf("point %+v delivered", p)
		}
	}
	st := src.Stats()
	if st.BadTopics != 2 || st.BadMessages != 2 {
		t.Errorf("stats %+v, want 2 bad topics", st)
	}
	for _, err := range bad.get() {
		if !errors.Is(err, mqtt.ErrBadTopic) || !errors.Is(err, scada.ErrBadInput) {
			t.Errorf("report %v", err)
		}
	}
}

// A JSON payload naming tags that are not valid UTF-8 or hold NUL: those
// points are dropped and counted, the others delivered. (The JSON decoder
// itself refuses the invalid UTF-8 as a bad element; the NUL, escaped as
// \u0000, is valid JSON and is caught by the Source.)
func TestPayloadTagsNotValidText(t *testing.T) {
	b := newBroker(t, scadatest.MQTTBrokerConfig{})
	dec, _ := mqtt.NewJSONDecoder(mqtt.JSONConfig{})
	src := newSource(t, mqtt.Config{
		Broker: b.URL(), ClientID: "gl001-utf8-json",
		Subscriptions: []mqtt.Subscription{{Topic: "j", QoS: 1, Decoder: dec}},
	})
	sink := newCollector()
	running(t, src, sink)
	waitSubscribed(t, b, 1)
	publish(t, b, "j", `[{"tag":"a\u0000b","value":1},{"tag":"good","value":2},{"tag":"x\xffy","value":3}]`, 1)
	sink.waitTags(t, "good")
	eventually(t, "acknowledged", func() bool { return src.Stats().Acked == 1 })
	if n := len(sink.snapshot()); n != 1 {
		t.Errorf("%d points delivered, want only the good one: %v", n, sink.snapshot())
	}
	if st := src.Stats(); st.BadTags != 1 || st.BadMessages != 1 {
		t.Errorf("stats %+v, want 1 bad tag and 1 bad message", st)
	}
}
