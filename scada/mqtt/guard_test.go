package mqtt_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/greenlang/gl001/resilience"
	"github.com/greenlang/gl001/scada"
	"github.com/greenlang/gl001/scada/guard"
	"github.com/greenlang/gl001/scada/guard/guardtest"
	"github.com/greenlang/gl001/scada/mqtt"
	"github.com/greenlang/gl001/scada/scadatest"
)

// mqttDevice is a device on the broker: it takes setpoints on its command
// topic and publishes the value it holds on its state topic (retained), or
// keeps its old value when told to ignore writes.
type mqttDevice struct {
	b            *scadatest.MQTTBroker
	cmd, state   string
	mu           sync.Mutex
	value        float64
	ignoreWrites bool
	out          chan float64
}

// run publishes the device's state after each command until ctx ends.
func (d *mqttDevice) run(ctx context.Context) {
	for {
		select {
		case v := <-d.out:
			_ = d.b.Publish(d.state, []byte(strconv.FormatFloat(v, 'g', -1, 64)), 1, true)
		case <-ctx.Done():
			return
		}
	}
}

// attach subscribes the device to its command topic; the subscription
// ends when the broker stops, so it attaches again after a restart.
func (d *mqttDevice) attach(t *testing.T) {
	t.Helper()
	err := d.b.Subscribe(d.cmd, func(_ string, payload []byte) {
		v, err := strconv.ParseFloat(string(payload), 64)
		if err != nil {
			t.Errorf("device: bad command %q", payload)
			return
		}
		d.mu.Lock()
		if !d.ignoreWrites {
			d.value = v
		}
		v = d.value
		d.mu.Unlock()
		// The broker calls this on the publisher's goroutine: the answer
		// goes out from the device's own, in order.
		d.out <- v
	})
	if err != nil {
		t.Fatal(err)
	}
}

func (d *mqttDevice) truth() (float64, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.value, nil
}

// lockedBuffer collects every log line of a test.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// The write guard over MQTT: commands published to a command topic, the
// read-back through the Source's subscription to the state topic.
func TestGuard(t *testing.T) {
	const password = "pw-4f9b1c-never-logged"
	b := newBroker(t, scadatest.MQTTBrokerConfig{Users: map[string]string{"gl001": password}})
	dev := &mqttDevice{b: b, cmd: "plant/boiler1/firing_rate/set", state: "plant/boiler1/firing_rate/state", value: 40, out: make(chan float64, 64)}
	dctx, dcancel := context.WithCancel(context.Background())
	ddone := make(chan struct{})
	go func() { dev.run(dctx); close(ddone) }()
	defer func() { dcancel(); <-ddone }()
	dev.attach(t)
	if err := b.Publish(dev.state, []byte("40"), 1, true); err != nil {
		t.Fatal(err)
	}
	logs := &lockedBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	src, err := mqtt.New(mqtt.Config{
		Broker: b.URL(), ClientID: "gl001-guard", Username: "gl001", Password: password, Logger: log,
		Subscriptions: []mqtt.Subscription{{Topic: "plant/boiler1/{tag}/state", QoS: 1, Tag: "boiler1.{tag}"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	cmd, err := mqtt.NewCommander(src, mqtt.CommanderConfig{Commands: map[string]mqtt.Command{
		"boiler1.firing_rate": {Topic: dev.cmd},
	}})
	if err != nil {
		t.Fatal(err)
	}
	lat := guard.NewLatest(nil)
	col, err := scada.NewCollector(scada.CollectorConfig{Sink: lat, Logger: log,
		Backoff: resilience.Backoff{Initial: 20 * time.Millisecond, Max: 100 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	defer col.Close()
	if err := col.Add("mqtt", src); err != nil {
		t.Fatal(err)
	}

	guardtest.Run(t, guardtest.Device{
		Writer: cmd, Reader: lat, Tag: "boiler1.firing_rate",
		Truth: dev.truth,
		IgnoreWrites: func(on bool) {
			dev.mu.Lock()
			dev.ignoreWrites = on
			dev.mu.Unlock()
		},
		Disconnect: func() { _ = b.Stop() },
		Reconnect: func() {
			n := src.Stats().Connects
			if err := b.Start(); err != nil {
				t.Fatal(err)
			}
			dev.attach(t)
			deadline := time.Now().Add(waitTimeout)
			for st := src.Stats(); !st.Connected || st.Connects <= n; st = src.Stats() {
				if time.Now().After(deadline) {
					t.Fatal("the source did not reconnect")
				}
				time.Sleep(10 * time.Millisecond)
			}
		},
		Secrets: []string{password},
		Log:     log,
	})
	if strings.Contains(logs.String(), password) {
		t.Error("the password appears in the logs")
	}
	if !strings.Contains(logs.String(), `"msg":"scada write"`) {
		t.Error("no audit record in the shared log")
	}
}

func TestCommanderRefusals(t *testing.T) {
	b := newBroker(t, scadatest.MQTTBrokerConfig{})
	src, err := mqtt.New(mqtt.Config{Broker: b.URL(), ClientID: "c",
		Subscriptions: []mqtt.Subscription{{Topic: "x/#"}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := mqtt.NewCommander(src, mqtt.CommanderConfig{Commands: map[string]mqtt.Command{"a": {Topic: "x/+/set"}}}); err == nil {
		t.Error("a wildcard command topic was accepted")
	}
	cmd, err := mqtt.NewCommander(src, mqtt.CommanderConfig{Commands: map[string]mqtt.Command{"a": {Topic: "x/a/set"}}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := cmd.Write(ctx, "b", 1); !errors.Is(err, scada.ErrNotWritable) {
		t.Errorf("write to a tag without a command: %v", err)
	}
	got := make(chan string, 1)
	if err := b.Subscribe("x/a/set", func(_ string, p []byte) { got <- string(p) }); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Write(ctx, "a", 12.5); err != nil {
		t.Fatal(err)
	}
	if p := <-got; p != "12.5" {
		t.Errorf("published %q", p)
	}
	_ = b.Stop()
	if err := cmd.Write(ctx, "a", 13); !errors.Is(err, scada.ErrConnection) {
		t.Errorf("write with the broker down: %v", err)
	}
}

func TestCommanderBadCredentials(t *testing.T) {
	const wrong = "pw-wrong-5e1d"
	b := newBroker(t, scadatest.MQTTBrokerConfig{Users: map[string]string{"gl001": "right"}})
	src, err := mqtt.New(mqtt.Config{Broker: b.URL(), ClientID: "c", Username: "gl001", Password: wrong,
		Subscriptions: []mqtt.Subscription{{Topic: "x/#"}}})
	if err != nil {
		t.Fatal(err)
	}
	cmd, err := mqtt.NewCommander(src, mqtt.CommanderConfig{Commands: map[string]mqtt.Command{"a": {Topic: "x/a/set"}}})
	if err != nil {
		t.Fatal(err)
	}
	err = cmd.Write(context.Background(), "a", 1)
	var ce *mqtt.ConnackError
	if !errors.As(err, &ce) || !errors.Is(err, scada.ErrPermanent) {
		t.Fatalf("write with a wrong password: %v", err)
	}
	if strings.Contains(err.Error(), wrong) {
		t.Error("the password appears in the error")
	}
}
