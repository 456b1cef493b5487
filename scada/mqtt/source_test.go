package mqtt_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/greenlang/gl001/scada"
	"github.com/greenlang/gl001/scada/mqtt"
	"github.com/greenlang/gl001/scada/scadatest"
)

func TestTopicMappingAndWildcards(t *testing.T) {
	b := newBroker(t, scadatest.MQTTBrokerConfig{})
	src := newSource(t, mqtt.Config{
		Name: "plant-mqtt", Broker: b.URL(), ClientID: "gl001-mapping",
		Subscriptions: []mqtt.Subscription{
			{Topic: "plant/{site}/{device}/{tag}", Tag: "{site}.{device}.{tag}", Unit: "degC", QoS: 1},
			{Topic: "meters/+/#", Tag: "meter:{#}"},
		},
	})
	sink := newCollector()
	running(t, src, sink)
	waitSubscribed(t, b, 1)

	before := time.Now()
	publish(t, b, "plant/north/boiler1/steam_temp", "451.5", 1)
	publish(t, b, "plant/north/boiler1", "1", 0)          // too short for the pattern: not subscribed
	publish(t, b, "plant/north/boiler1/a/b", "1", 0)      // too long
	publish(t, b, "meters/m7/energy/total", "1200", 0)    // # binds energy/total
	publish(t, b, "plant/south/boiler2/flow", " 12\n", 0) // whitespace is fine
	got := byTag(sink.wait(t, 3))
	if len(got) != 3 {
		t.Fatalf("got %d tags, want 3: %v", len(got), got)
	}
	p := got["north.boiler1.steam_temp"]
	if p.Value != 451.5 || p.Unit != "degC" || !p.Quality.IsGood() || p.Source != "plant-mqtt" || p.Time.Before(before) {
		t.Errorf("steam_temp = %+v", p)
	}
	if p := got["meter:energy/total"]; p.Value != 1200 || p.Unit != "" {
		t.Errorf("meter = %+v", p)
	}
	if p := got["south.boiler2.flow"]; p.Value != 12 {
		t.Errorf("flow = %+v", p)
	}
	eventually(t, "the counters", func() bool { st := src.Stats(); return st.Acked == 1 && st.Points == 3 })
	eventually(t, "the broker to take the ack", func() bool { return b.Stats().Inflight == 0 })
	st := src.Stats()
	if !st.Connected || st.Points != 3 || st.Acked != 1 || st.BadMessages != 0 {
		t.Errorf("stats = %+v", st)
	}
}

func TestJSONThroughBroker(t *testing.T) {
	b := newBroker(t, scadatest.MQTTBrokerConfig{})
	src := newSource(t, mqtt.Config{
		Broker: b.URL(), ClientID: "gl001-json",
		Subscriptions: []mqtt.Subscription{
			{Topic: "site/{dev}/telemetry", Tag: "{dev}", QoS: 1, Decoder: mustJSON(t, mqtt.JSONConfig{
				Value: "data.v", Time: "data.ts", Unit: "data.u", Quality: "data.q",
			})},
			{Topic: "site/{dev}/batch", QoS: 1, Decoder: mustJSON(t, mqtt.JSONConfig{Points: "points"})},
		},
	})
	sink := newCollector()
	running(t, src, sink)
	waitSubscribed(t, b, 1)
	publish(t, b, "site/b1/telemetry", `{"data":{"v":98.25,"ts":1700000000123,"u":"kPa","q":"uncertain"}}`, 1)
	publish(t, b, "site/b2/batch", `{"points":[{"tag":"b2.t1","value":1},{"tag":"b2.t2","value":2,"timestamp":"2024-01-02T03:04:05Z"}]}`, 1)
	got := byTag(sink.wait(t, 3))
	p := got["b1"]
	if p.Value != 98.25 || p.Unit != "kPa" || !p.Quality.IsUncertain() || !p.Time.Equal(time.UnixMilli(1700000000123)) {
		t.Errorf("b1 = %+v", p)
	}
	if got["b2.t1"].Value != 1 || !got["b2.t2"].Time.Equal(time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)) {
		t.Errorf("batch = %v", got)
	}
}

func TestBadPayloadsAmongGood(t *testing.T) {
	b := newBroker(t, scadatest.MQTTBrokerConfig{})
	var reported []error
	var reportedMu = make(chan struct{}, 1)
	reportedMu <- struct{}{}
	src := newSource(t, mqtt.Config{
		Broker: b.URL(), ClientID: "gl001-bad",
		Subscriptions: []mqtt.Subscription{
			{Topic: "num/{tag}", Tag: "{tag}", QoS: 1},
			{Topic: "json/{tag}", Tag: "{tag}", QoS: 1, Decoder: mustJSON(t, mqtt.JSONConfig{})},
			{Topic: "buggy/{tag}", Tag: "{tag}", QoS: 1, Decoder: mqtt.DecoderFunc(func(dst []scada.Point, m *mqtt.Message) ([]scada.Point, error) {
				if string(m.Payload) == "boom" {
					var crash []int
					_ = crash[1] // a plugged-in decoder with a bug
				}
				return mqtt.Number{}.Decode(dst, m)
			})},
		},
		OnBadMessage: func(err error) {
			<-reportedMu
			reported = append(reported, err)
			reportedMu <- struct{}{}
		},
	})
	sink := newCollector()
	running(t, src, sink)
	waitSubscribed(t, b, 1)
	publish(t, b, "num/a", "1", 1)
	publish(t, b, "num/b", "twelve", 1)
	publish(t, b, "json/c", `{"value": 3`, 1)
	publish(t, b, "json/d", `[{"tag":"d1","value":4},{"tag":"d2","value":{}},{"tag":"d3","value":6}]`, 1)
	publish(t, b, "num/e", "", 1)
	publish(t, b, "buggy/g", "boom", 1)
	publish(t, b, "num/f", "7", 1)
	publish(t, b, "buggy/h", "8", 1)
	got := byTag(sink.wait(t, 5))
	for tag, want := range map[string]float64{"a": 1, "d1": 4, "d3": 6, "f": 7, "h": 8} {
		if p, ok := got[tag]; !ok || p.Value != want {
			t.Errorf("%s = %+v, want %v", tag, p, want)
		}
	}
	if len(got) != 5 {
		t.Errorf("got %v", got)
	}
	eventually(t, "eight acks", func() bool { st := src.Stats(); return st.Acked == 8 && st.Messages == 8 })
	st := src.Stats()
	if st.BadMessages != 5 || st.Messages != 8 || st.Acked != 8 {
		t.Errorf("stats = %+v", st)
	}
	<-reportedMu
	defer func() { reportedMu <- struct{}{} }()
	if len(reported) != 5 {
		t.Fatalf("reported %d bad messages: %v", len(reported), reported)
	}
	if !strings.Contains(reported[4].Error(), "buggy/g") || !strings.Contains(reported[4].Error(), "panicked") {
		t.Errorf("panic report = %v", reported[4])
	}
	var de *mqtt.DecodeError
	if !errors.As(reported[0], &de) || de.Topic != "num/b" || !errors.Is(reported[0], scada.ErrBadInput) {
		t.Errorf("first report = %v", reported[0])
	}
	if !strings.Contains(reported[2].Error(), "json/d") || !strings.Contains(reported[2].Error(), "element 1") {
		t.Errorf("array report = %v", reported[2])
	}
}

func TestSharedSubscription(t *testing.T) {
	b := newBroker(t, scadatest.MQTTBrokerConfig{})
	sinks := []*collector{newCollector(), newCollector()}
	for i, sink := range sinks {
		src := newSource(t, mqtt.Config{
			Broker: b.URL(), ClientID: []string{"gl001-a", "gl001-b"}[i],
			Subscriptions: []mqtt.Subscription{{Topic: "$share/gl001/firehose/{tag}", Tag: "{tag}", QoS: 1}},
		})
		running(t, src, sink)
	}
	waitSubscribed(t, b, 2)
	const n = 200
	for i := range n {
		publish(t, b, "firehose/t"+itoa(i), itoa(i), 1)
	}
	seen := map[string]int{}
	deadline := time.Now().Add(waitTimeout)
	for {
		total := len(sinks[0].snapshot()) + len(sinks[1].snapshot())
		if total >= n || time.Now().After(deadline) {
			break
		}
		select {
		case <-sinks[0].wakeCh():
		case <-sinks[1].wakeCh():
		case <-time.After(time.Second):
		}
	}
	for _, s := range sinks {
		for _, p := range s.snapshot() {
			seen[p.Tag]++
		}
	}
	if len(seen) != n {
		t.Fatalf("received %d distinct tags, want %d", len(seen), n)
	}
	for tag, c := range seen {
		if c != 1 {
			t.Errorf("%s delivered %d times", tag, c)
		}
	}
	if len(sinks[0].snapshot()) == 0 || len(sinks[1].snapshot()) == 0 {
		t.Errorf("the group did not split the messages: %d and %d", len(sinks[0].snapshot()), len(sinks[1].snapshot()))
	}
}

func (c *collector) wakeCh() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.wake
}

func itoa(i int) string {
	const digits = "0123456789"
	if i == 0 {
		return "0"
	}
	var b []byte
	for ; i > 0; i /= 10 {
		b = append([]byte{digits[i%10]}, b...)
	}
	return string(b)
}

func TestBrokerRestartReconnectsAndResubscribes(t *testing.T) {
	b := newBroker(t, scadatest.MQTTBrokerConfig{}) // no persistence: the restart loses the session
	src := newSource(t, mqtt.Config{
		Broker: b.URL(), ClientID: "gl001-restart",
		Subscriptions: []mqtt.Subscription{{Topic: "r/{tag}", Tag: "{tag}", QoS: 1}},
	})
	sink := newCollector()
	errs := supervised(t, src, sink)
	waitSubscribed(t, b, 1)
	publish(t, b, "r/before", "1", 1)
	sink.wait(t, 1)

	if err := b.Restart(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-errs:
		if !errors.Is(err, scada.ErrConnection) || !strings.Contains(err.Error(), "server shutting down") {
			t.Errorf("Run returned %v, want a connection error saying the server shut down", err)
		}
	case <-time.After(waitTimeout):
		t.Fatal("Run did not return after the broker went away")
	}
	waitSubscribed(t, b, 2) // subscribed again on the new broker
	publish(t, b, "r/after", "2", 1)
	got := sink.waitTags(t, "after")
	if got["after"].Value != 2 {
		t.Errorf("after restart: %v", got)
	}
	if st := src.Stats(); st.Connects < 2 || st.SessionPresent {
		t.Errorf("stats = %+v, want a second connection without a session", st)
	}
}

func TestPersistentSessionDeliversWhatWasPublishedWhileAway(t *testing.T) {
	b := newBroker(t, scadatest.MQTTBrokerConfig{})
	src := newSource(t, mqtt.Config{
		Broker: b.URL(), ClientID: "gl001-away",
		Subscriptions: []mqtt.Subscription{{Topic: "away/{tag}", Tag: "{tag}", QoS: 1}},
	})
	sink := newCollector()
	stop := running(t, src, sink)
	waitSubscribed(t, b, 1)
	publish(t, b, "away/first", "1", 1)
	sink.wait(t, 1)
	if err := stop(); !errors.Is(err, context.Canceled) {
		t.Fatalf("Run = %v, want context.Canceled", err)
	}

	for i := range 5 {
		publish(t, b, "away/t"+itoa(i), itoa(i), 1) // QoS 1, queued in our session
	}
	publish(t, b, "away/lost", "9", 0) // QoS 0 is not queued for an absent client

	stop = running(t, src, sink)
	defer func() {
		if t.Failed() {
			t.Logf("second Run: %v; stats %+v; broker %+v; points %v", stop(), src.Stats(), b.Stats(), sink.snapshot())
		}
	}()
	got := sink.waitTags(t, "first", "t0", "t1", "t2", "t3", "t4")
	for i := range 5 {
		if p, ok := got["t"+itoa(i)]; !ok || p.Value != float64(i) {
			t.Errorf("t%d = %+v", i, p)
		}
	}
	eventually(t, "the resumed session", func() bool { return src.Stats().SessionPresent })

}

func TestPersistentSessionSurvivesBrokerRestart(t *testing.T) {
	b := newBroker(t, scadatest.MQTTBrokerConfig{Persistent: true})
	src := newSource(t, mqtt.Config{
		Broker: b.URL(), ClientID: "gl001-durable",
		Subscriptions: []mqtt.Subscription{{Topic: "d/{tag}", Tag: "{tag}", QoS: 2}},
	})
	sink := newCollector()
	stop := running(t, src, sink)
	waitSubscribed(t, b, 1)
	if err := stop(); !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	publish(t, b, "d/q1", "1", 1)
	publish(t, b, "d/q2", "2", 2)
	if err := b.Restart(); err != nil {
		t.Fatal(err)
	}
	running(t, src, sink)
	got := sink.waitTags(t, "q1", "q2")
	if got["q1"].Value != 1 || got["q2"].Value != 2 {
		t.Errorf("got %v", got)
	}
	eventually(t, "the restored session", func() bool { return src.Stats().SessionPresent })
	publish(t, b, "d/q3", "3", 2) // and the restored subscription still works
	if got := sink.waitTags(t, "q3"); got["q3"].Value != 3 {
		t.Errorf("got %v", got)
	}
}

func TestAckOnlyAfterSinkAccepts(t *testing.T) {
	b := newBroker(t, scadatest.MQTTBrokerConfig{})
	src := newSource(t, mqtt.Config{
		Broker: b.URL(), ClientID: "gl001-ack",
		Subscriptions: []mqtt.Subscription{{Topic: "ack/{tag}", Tag: "{tag}", QoS: 1}},
	})
	sink := newCollector()
	var rejectOnce atomic.Bool
	rejectOnce.Store(true)
	sink.fail = func([]scada.Point) error {
		if rejectOnce.CompareAndSwap(true, false) {
			return errRejected
		}
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx, sink) }()
	waitSubscribed(t, b, 1)
	publish(t, b, "ack/x", "42", 1)
	if err := <-done; !errors.Is(err, errRejected) {
		t.Fatalf("Run = %v, want the sink's error", err)
	}
	if st := src.Stats(); st.Acked != 0 || st.Points != 0 {
		t.Fatalf("stats after the rejection = %+v", st)
	}
	// The unacknowledged message comes back on the next connection.
	running(t, src, sink)
	if p := sink.wait(t, 1)[0]; p.Tag != "x" || p.Value != 42 {
		t.Errorf("redelivered %+v", p)
	}
}

func TestWrongPasswordIsAConnackError(t *testing.T) {
	b := newBroker(t, scadatest.MQTTBrokerConfig{Users: map[string]string{"gl001": "s3cret-pw"}})
	src := newSource(t, mqtt.Config{
		Broker: b.URL(), ClientID: "gl001-auth", Username: "gl001", Password: "wrong-pw",
		Subscriptions: []mqtt.Subscription{{Topic: "a/#"}},
	})
	err := src.Run(context.Background(), newCollector())
	var ce *mqtt.ConnackError
	if !errors.As(err, &ce) || ce.ReasonCode != 0x86 || !errors.Is(err, scada.ErrConnection) {
		t.Fatalf("Run = %v, want ConnackError 0x86", err)
	}
	if !errors.Is(err, scada.ErrPermanent) {
		t.Errorf("a wrong password does not match scada.ErrPermanent: %v", err)
	}
	if errors.Is(&mqtt.ConnackError{ReasonCode: 0x88}, scada.ErrPermanent) {
		t.Error("server unavailable (0x88) matches scada.ErrPermanent")
	}
	if strings.Contains(err.Error(), "wrong-pw") {
		t.Error("the error reveals the password")
	}

	t.Setenv(mqtt.EnvPassword, "s3cret-pw")
	cfg := mqtt.Config{Broker: b.URL(), ClientID: "gl001-auth", Username: "gl001", Subscriptions: []mqtt.Subscription{{Topic: "a/{tag}", Tag: "{tag}"}}}
	cfg.FromEnv()
	if strings.Contains(cfg.String(), "s3cret") {
		t.Errorf("Config.String reveals the password: %s", cfg)
	}
	src = newSource(t, cfg)
	sink := newCollector()
	running(t, src, sink)
	waitSubscribed(t, b, 1)
	publish(t, b, "a/ok", "1", 0)
	sink.wait(t, 1)
}

func TestRunRefusesASecondRun(t *testing.T) {
	b := newBroker(t, scadatest.MQTTBrokerConfig{})
	src := newSource(t, mqtt.Config{Broker: b.URL(), ClientID: "gl001-once", Subscriptions: []mqtt.Subscription{{Topic: "x"}}})
	running(t, src, newCollector())
	waitSubscribed(t, b, 1)
	if err := src.Run(context.Background(), newCollector()); !errors.Is(err, mqtt.ErrRunning) {
		t.Fatalf("second Run = %v, want ErrRunning", err)
	}
}

func TestUnreachableBrokerIsAConnectionError(t *testing.T) {
	b := newBroker(t, scadatest.MQTTBrokerConfig{})
	url := b.URL()
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	src := newSource(t, mqtt.Config{Broker: url, ClientID: "gl001-down", Subscriptions: []mqtt.Subscription{{Topic: "x"}}})
	if err := src.Run(context.Background(), newCollector()); !errors.Is(err, scada.ErrConnection) {
		t.Fatalf("Run = %v, want ErrConnection", err)
	}
}

func TestWebSocket(t *testing.T) {
	b := newBroker(t, scadatest.MQTTBrokerConfig{WebSocket: true})
	src := newSource(t, mqtt.Config{
		Broker: b.WebSocketURL(), ClientID: "gl001-ws",
		Subscriptions: []mqtt.Subscription{{Topic: "ws/{tag}", Tag: "{tag}", QoS: 1}},
	})
	sink := newCollector()
	running(t, src, sink)
	waitSubscribed(t, b, 1)
	for i := range 50 {
		publish(t, b, "ws/t"+itoa(i), itoa(i), 1)
	}
	if got := byTag(sink.wait(t, 50)); got["t49"].Value != 49 {
		t.Errorf("got %v", got)
	}
	eventually(t, "50 acks", func() bool { return src.Stats().Acked == 50 })
	eventually(t, "the broker to take the acks", func() bool { return b.Stats().Inflight == 0 })
}
