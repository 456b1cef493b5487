package mqtt_test

import (
	"strings"
	"testing"
	"time"

	"github.com/greenlang/gl001/scada/mqtt"
	"github.com/greenlang/gl001/scada/scadatest"
)

// The Session Expiry Interval sent in CONNECT: zero means a default that
// depends on CleanStart, EndSessionOnDisconnect sends 0, and a duration is
// sent as it is.
func TestSessionExpirySent(t *testing.T) {
	b := newBroker(t, scadatest.MQTTBrokerConfig{})
	for _, tc := range []struct {
		name   string
		clean  bool
		expiry time.Duration
		want   uint32
	}{
		{"persistent default", false, 0, uint32(mqtt.DefaultSessionExpiry / time.Second)},
		{"clean start default", true, 0, 0},
		{"persistent, ends on disconnect", false, mqtt.EndSessionOnDisconnect, 0},
		{"clean start, explicit", true, time.Hour, 3600},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := "gl001-expiry-" + strings.ReplaceAll(tc.name, " ", "-")
			src := newSource(t, mqtt.Config{
				Broker: b.URL(), ClientID: id, CleanStart: tc.clean, SessionExpiry: tc.expiry,
				Subscriptions: []mqtt.Subscription{{Topic: "expiry/{tag}", Tag: "{tag}"}},
			})
			stop := running(t, src, newCollector())
			eventually(t, "connected", func() bool { return src.Stats().Connected })
			got, ok := b.ClientSessionExpiry(id)
			if !ok || got != tc.want {
				t.Errorf("session expiry sent = %d (connected %v), want %d", got, ok, tc.want)
			}
			_ = stop()
		})
	}
	if err := (mqtt.Config{Broker: b.URL(), CleanStart: true, SessionExpiry: -2 * time.Second,
		Subscriptions: []mqtt.Subscription{{Topic: "a"}}}).Validate(); err == nil || !strings.Contains(err.Error(), "SessionExpiry") {
		t.Errorf("a negative SessionExpiry other than EndSessionOnDisconnect: Validate = %v", err)
	}
}

// Two clean-start members of a shared group; one stops. What is published
// after it stopped reaches the member still running: the stopped member's
// session ended with its connection, so the broker has no one else to give
// the messages to.
func TestSharedGroupMemberStopped(t *testing.T) {
	b := newBroker(t, scadatest.MQTTBrokerConfig{})
	var (
		srcs  [2]*mqtt.Source
		sinks [2]*collector
		stops [2]func() error
	)
	for i := range srcs {
		srcs[i] = newSource(t, mqtt.Config{
			Broker: b.URL(), ClientID: "gl001-member-" + itoa(i), CleanStart: true,
			Subscriptions: []mqtt.Subscription{{Topic: "$share/gl001/firehose/{tag}", Tag: "{tag}", QoS: 1}},
		})
		sinks[i] = newCollector()
		stops[i] = running(t, srcs[i], sinks[i])
	}
	waitSubscribed(t, b, 2)
	const n = 100
	for i := range n {
		publish(t, b, "firehose/a"+itoa(i), itoa(i), 1)
	}
	eventually(t, "the first half delivered and acknowledged", func() bool {
		return srcs[0].Stats().Acked+srcs[1].Stats().Acked >= n
	})
	_ = stops[1]()
	eventually(t, "the broker to see the member leave", func() bool {
		_, ok := b.ClientSessionExpiry("gl001-member-1")
		return !ok
	})
	for i := range n {
		publish(t, b, "firehose/b"+itoa(i), itoa(i), 1)
	}
	eventually(t, "the second half at the running member", func() bool {
		c := 0
		for _, p := range sinks[0].snapshot() {
			if strings.HasPrefix(p.Tag, "b") {
				c++
			}
		}
		return c >= n
	})
	seen := map[string]int{}
	for _, s := range sinks {
		for _, p := range s.snapshot() {
			seen[p.Tag]++
		}
	}
	if len(seen) != 2*n {
		t.Errorf("the group received %d distinct tags, want %d", len(seen), 2*n)
	}
	for tag, c := range seen {
		if c != 1 {
			t.Errorf("%s delivered %d times", tag, c)
		}
	}
}

// Stats().Connected says the Source receives: it turns true only after the
// broker acknowledged the subscriptions.
func TestConnectedAfterSuback(t *testing.T) {
	b := newBroker(t, scadatest.MQTTBrokerConfig{})
	held, release := b.HoldSubscribes()
	defer release()
	src := newSource(t, mqtt.Config{
		Broker: b.URL(), ClientID: "gl001-suback",
		Subscriptions: []mqtt.Subscription{{Topic: "suback/{tag}", Tag: "{tag}", QoS: 1}},
	})
	sink := newCollector()
	running(t, src, sink)
	select {
	case <-held:
	case <-time.After(waitTimeout):
		t.Fatal("the SUBSCRIBE never reached the broker")
	}
	if st := src.Stats(); st.Connected || st.Connects != 1 {
		t.Fatalf("before SUBACK: Stats = %+v, want connects 1 and not connected", st)
	}
	release()
	eventually(t, "connected after SUBACK", func() bool { return src.Stats().Connected })
	publish(t, b, "suback/x", "1", 1)
	sink.waitTags(t, "x")
}

// An unnamed Source gets a name from its broker and client id, so two of
// them do not look alike downstream.
func TestDefaultNameDistinct(t *testing.T) {
	b := newBroker(t, scadatest.MQTTBrokerConfig{})
	var names []string
	for _, id := range []string{"gl001-a", "gl001-b"} {
		src := newSource(t, mqtt.Config{Broker: b.URL(), ClientID: id,
			Subscriptions: []mqtt.Subscription{{Topic: "n/{tag}", Tag: "{tag}", QoS: 1}}})
		names = append(names, src.Name())
		if !strings.Contains(src.Name(), id) || !strings.Contains(src.Name(), strings.TrimPrefix(b.URL(), "mqtt://")) {
			t.Errorf("Name() = %q, want the broker and client id %q in it", src.Name(), id)
		}
	}
	if names[0] == names[1] || names[0] == "mqtt" {
		t.Errorf("names %q", names)
	}
	src := newSource(t, mqtt.Config{Broker: b.URL(), ClientID: "gl001-stamp",
		Subscriptions: []mqtt.Subscription{{Topic: "n/{tag}", Tag: "{tag}", QoS: 1}}})
	sink := newCollector()
	running(t, src, sink)
	eventually(t, "connected", func() bool { return src.Stats().Connected })
	publish(t, b, "n/x", "1", 1)
	if p := sink.waitTags(t, "x")["x"]; p.Source != src.Name() {
		t.Errorf("point source %q, want %q", p.Source, src.Name())
	}
}
