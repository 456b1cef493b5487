package mqtt_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/greenlang/gl001/scada"
	"github.com/greenlang/gl001/scada/mqtt"
	"github.com/greenlang/gl001/scada/scadatest"
)

// BenchmarkMQTTIngest measures JSON points through the in-process broker into
// a sink: one point per message and 100 per message, at QoS 0 and 1. One
// iteration is one message. The publisher keeps at most window messages
// ahead of the sink, because mochi drops messages (QoS 1 included) for a
// subscriber whose outbound queue is full; the broker's drop counters are
// checked at the end so no loss goes unnoticed.
func BenchmarkMQTTIngest(b *testing.B) {
	for _, qos := range []byte{0, 1} {
		for _, per := range []int{1, 100} {
			name := "single"
			if per > 1 {
				name = fmt.Sprintf("batch%d", per)
			}
			b.Run(fmt.Sprintf("QoS%d/%s", qos, name), func(b *testing.B) { benchIngest(b, qos, per) })
		}
	}
}

const window = 2048

func benchIngest(b *testing.B, qos byte, per int) {
	broker := newBroker(b, scadatest.MQTTBrokerConfig{})
	dec, err := mqtt.NewJSONDecoder(mqtt.JSONConfig{})
	if err != nil {
		b.Fatal(err)
	}
	src := newSource(b, mqtt.Config{
		Broker: broker.URL(), ClientID: "gl001-bench",
		Subscriptions: []mqtt.Subscription{{Topic: "bench/{tag}", Tag: "{tag}", Unit: "degC", QoS: qos, Decoder: dec}},
	})
	var received atomic.Int64
	progress := make(chan struct{}, 1)
	sink := scada.SinkFunc(func(_ context.Context, batch []scada.Point) error {
		received.Add(int64(len(batch)))
		select {
		case progress <- struct{}{}:
		default:
		}
		return nil
	})
	stop := running(b, src, sink)
	waitSubscribed(b, broker, 1)

	const topics = 100
	type msg struct {
		topic   string
		payload []byte
	}
	msgs := make([]msg, topics)
	for i := range msgs {
		msgs[i].topic = fmt.Sprintf("bench/t%02d", i)
		if per == 1 {
			msgs[i].payload = fmt.Appendf(nil, `{"value":%d.5,"timestamp":1700000000000,"quality":"good"}`, i)
			continue
		}
		var sb strings.Builder
		sb.WriteByte('[')
		for j := range per {
			if j > 0 {
				sb.WriteByte(',')
			}
			fmt.Fprintf(&sb, `{"tag":"b%02d.t%03d","value":%d.25,"timestamp":1700000000000}`, i, j, j)
		}
		sb.WriteByte(']')
		msgs[i].payload = []byte(sb.String())
	}

	deadline := time.NewTimer(5 * time.Minute)
	defer deadline.Stop()
	wait := func(cond func() bool) {
		for !cond() {
			select {
			case <-progress:
			case <-deadline.C:
				b.Fatalf("stalled at %d of %d points; broker %+v", received.Load(), int64(b.N)*int64(per), broker.Stats())
			}
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		if i >= window {
			ahead := int64(i - window)
			wait(func() bool { return received.Load()/int64(per) >= ahead })
		}
		m := msgs[i%topics]
		if err := broker.Publish(m.topic, m.payload, qos, false); err != nil {
			b.Fatal(err)
		}
	}
	total := int64(b.N) * int64(per)
	wait(func() bool { return received.Load() >= total })
	elapsed := time.Since(start)
	b.StopTimer()
	if st := broker.Stats(); st.MessagesDropped != 0 || st.InflightDropped != 0 {
		b.Fatalf("the broker dropped messages: %+v", st)
	}
	if got := received.Load(); got != total {
		b.Fatalf("received %d points, want %d", got, total)
	}
	b.ReportMetric(float64(total)/elapsed.Seconds(), "points/s")
	_ = stop()
}

func BenchmarkJSONDecode(b *testing.B) {
	dec, _ := mqtt.NewJSONDecoder(mqtt.JSONConfig{})
	var sb strings.Builder
	sb.WriteByte('[')
	for j := range 100 {
		if j > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, `{"tag":"b.t%03d","value":%d.25,"timestamp":1700000000000,"unit":"degC"}`, j, j)
	}
	sb.WriteByte(']')
	for _, bc := range []struct {
		name, payload string
		points        int
	}{
		{"single", `{"value":21.5,"timestamp":1700000000000,"quality":"good","unit":"degC"}`, 1},
		{"batch100", sb.String(), 100},
	} {
		b.Run(bc.name, func(b *testing.B) {
			m := &mqtt.Message{Topic: "t", Payload: []byte(bc.payload), Tag: "t", Received: time.Now()}
			dst := make([]scada.Point, 0, 128)
			b.ReportAllocs()
			b.SetBytes(int64(len(bc.payload)))
			for b.Loop() {
				var err error
				if dst, err = dec.Decode(dst[:0], m); err != nil || len(dst) != bc.points {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*bc.points)/b.Elapsed().Seconds(), "points/s")
		})
	}
}
