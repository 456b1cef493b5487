package sparkplug_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"math"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/greenlang/gl001/scada"
	"github.com/greenlang/gl001/scada/mqtt"
	"github.com/greenlang/gl001/scada/mqtt/sparkplug"
	"github.com/greenlang/gl001/scada/scadatest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// Golden bytes written by hand from sparkplug_b.proto's field numbers, so
// the codec is checked against the schema rather than against itself.
func TestUnmarshalGolden(t *testing.T) {
	golden, _ := hex.DecodeString("0801" + // timestamp = 1
		"1212" + "0a0161" + "1005" + "1802" + "200a" + "69000000000000f83f" + // name a, alias 5, timestamp 2, Double, 1.5
		"1208" + "2003" + "50fbffffff0f" + // Int32 -5 in int_value, two's complement
		"120a" + "0a0162" + "2009" + "650000c03f" + // name b, Float 1.5
		"1204" + "3801" + "7000" + // is_null, boolean_value false
		"1803" + // seq = 3
		"2203757569" + // uuid "uui"
		"2a00") // body, empty
	var p sparkplug.Payload
	if err := sparkplug.Unmarshal(golden, &p); err != nil {
		t.Fatal(err)
	}
	want := sparkplug.Payload{
		Timestamp: 1, HasTimestamp: true, Seq: 3, HasSeq: true, UUID: "uui", Body: []byte{},
		Metrics: []sparkplug.Metric{
			{Name: "a", Alias: 5, HasAlias: true, Timestamp: 2, HasTimestamp: true, DataType: sparkplug.Double, Kind: sparkplug.DoubleValue, Double: 1.5},
			{DataType: sparkplug.Int32, Kind: sparkplug.IntValue, Int: 0xFFFFFFFB},
			{Name: "b", DataType: sparkplug.Float, Kind: sparkplug.FloatValue, Float: 1.5},
			{IsNull: true, Kind: sparkplug.BooleanValue, Bool: false},
		},
	}
	if !reflect.DeepEqual(p, want) {
		t.Fatalf("Unmarshal =\n%+v\nwant\n%+v", p, want)
	}
	if got := sparkplug.Marshal(nil, &p); !bytes.Equal(got, golden) {
		t.Errorf("Marshal = %x\nwant      %x", got, golden)
	}

	for name, bad := range map[string]string{
		"truncated value":  "1203" + "380150",        // is_null, then field 10's tag without its varint
		"length past end":  "1209" + "0a0161",        // the metric claims 9 bytes
		"wrong wire type":  "1205" + "0d00000000",    // field 1 (name) as fixed32
		"bad property set": "1204" + "4a02" + "0a00", // one key and no value
	} {
		b, _ := hex.DecodeString(bad)
		if err := sparkplug.Unmarshal(b, &p); !errors.Is(err, sparkplug.ErrMalformed) {
			t.Errorf("%s: %v, want ErrMalformed", name, err)
		}
	}
}

func TestMarshalRoundTrip(t *testing.T) {
	in := sparkplug.Payload{
		Timestamp: 1700000000000, HasTimestamp: true, Seq: 255, HasSeq: true,
		Metrics: []sparkplug.Metric{
			{Name: "temp", Alias: 1, HasAlias: true, DataType: sparkplug.Double, Kind: sparkplug.DoubleValue, Double: -273.15,
				Properties: []sparkplug.Property{{Key: "engUnit", Type: sparkplug.String, Kind: sparkplug.StringValue, String: "degC"},
					{Key: "Quality", Type: sparkplug.Int32, Kind: sparkplug.IntValue, Int: 192}}},
			{Name: "n", DataType: sparkplug.Int64, Kind: sparkplug.LongValue, Long: math.MaxUint64, IsHistorical: true, IsTransient: true},
			{Name: "raw", DataType: sparkplug.DataSet, Kind: sparkplug.DataSetValue, Raw: []byte{0x08, 0x01}},
			{Name: "s", DataType: sparkplug.String, Kind: sparkplug.StringValue, String: "héllo"},
			{Name: "by", DataType: sparkplug.Bytes, Kind: sparkplug.BytesValue, Bytes: []byte{1, 2}},
		},
	}
	var out sparkplug.Payload
	if err := sparkplug.Unmarshal(sparkplug.Marshal(nil, &in), &out); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(in, out) {
		t.Fatalf("round trip:\n%+v\n%+v", in, out)
	}
}

func TestParseTopic(t *testing.T) {
	for topic, want := range map[string]sparkplug.Topic{
		"spBv1.0/g/NBIRTH/n":   {Group: "g", Type: "NBIRTH", Node: "n"},
		"spBv1.0/g/DDATA/n/d":  {Group: "g", Type: "DDATA", Node: "n", Device: "d"},
		"spBv1.0/STATE/host-a": {Type: "STATE", Node: "host-a"},
		"spBv1.0/g/NCMD/n":     {Group: "g", Type: "NCMD", Node: "n"},
	} {
		if got, err := sparkplug.ParseTopic(topic); err != nil || got != want {
			t.Errorf("%s: %+v, %v", topic, got, err)
		}
	}
	for _, bad := range []string{"spAv1.0/g/NDATA/n", "spBv1.0/g/NDATA", "spBv1.0/g/NDATA/n/d", "spBv1.0/g/DDATA/n", "spBv1.0/g/XDATA/n", "spBv1.0//NDATA/n"} {
		if _, err := sparkplug.ParseTopic(bad); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}

// edge builds the payloads an edge node would publish.
type edge struct {
	t   *testing.T
	seq uint64
}

func (e *edge) payload(metrics ...sparkplug.Metric) []byte {
	p := sparkplug.Payload{Timestamp: 1700000000000, HasTimestamp: true, Seq: e.seq % 256, HasSeq: true, Metrics: metrics}
	e.seq++
	return sparkplug.Marshal(nil, &p)
}

func double(name string, alias uint64, v float64) sparkplug.Metric {
	return sparkplug.Metric{Name: name, Alias: alias, HasAlias: alias != 0, DataType: sparkplug.Double, Kind: sparkplug.DoubleValue, Double: v}
}

func bdSeq(v uint64) sparkplug.Metric {
	return sparkplug.Metric{Name: "bdSeq", DataType: sparkplug.Int64, Kind: sparkplug.LongValue, Long: v}
}

func birthMetrics() []sparkplug.Metric {
	temp := double("temp", 1, 450)
	temp.Properties = []sparkplug.Property{{Key: "engUnit", Type: sparkplug.String, Kind: sparkplug.StringValue, String: "degC"}}
	return []sparkplug.Metric{
		bdSeq(7),
		{Name: sparkplug.RebirthMetric, DataType: sparkplug.Boolean, Kind: sparkplug.BooleanValue},
		temp,
		{Name: "count", Alias: 2, HasAlias: true, DataType: sparkplug.Int32, Kind: sparkplug.IntValue, Int: uint32(0xFFFFFFFB)},
		{Name: "running", Alias: 3, HasAlias: true, DataType: sparkplug.Boolean, Kind: sparkplug.BooleanValue, Bool: true},
		{Name: "label", Alias: 4, HasAlias: true, DataType: sparkplug.String, Kind: sparkplug.StringValue, String: "boiler"},
	}
}

type published struct {
	mu   sync.Mutex
	msgs []string // topic
	last []byte
}

func (p *published) publish(topic string, payload []byte) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.msgs = append(p.msgs, topic)
	p.last = payload
	return nil
}

func TestDecoderLifecycle(t *testing.T) {
	dec, err := sparkplug.NewDecoder(sparkplug.Config{RebirthInterval: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	pub := &published{}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	e := &edge{t: t}
	decode := func(topic string, payload []byte) ([]scada.Point, error) {
		t.Helper()
		return dec.Decode(nil, &mqtt.Message{Topic: topic, Payload: payload, Received: now, Publish: pub.publish})
	}
	at := time.UnixMilli(1700000000000).UTC()

	pts, err := decode("spBv1.0/plant/NBIRTH/edge1", e.payload(birthMetrics()...))
	if err != nil {
		t.Fatal(err)
	}
	got := byTag(pts)
	if len(pts) != 3 || got["plant/edge1/temp"] != (scada.Point{Tag: "plant/edge1/temp", Value: 450, Unit: "degC", Time: at}) ||
		got["plant/edge1/count"].Value != -5 || got["plant/edge1/running"].Value != 1 {
		t.Fatalf("NBIRTH points = %v", pts)
	}

	// NDATA by alias, with the metric's own timestamp and a null.
	m := sparkplug.Metric{Alias: 1, HasAlias: true, Kind: sparkplug.DoubleValue, Double: 451.5, Timestamp: 1700000001000, HasTimestamp: true}
	null := sparkplug.Metric{Alias: 2, HasAlias: true, IsNull: true}
	pts, err = decode("spBv1.0/plant/NDATA/edge1", e.payload(m, null))
	if err != nil || len(pts) != 2 {
		t.Fatalf("NDATA = %v, %v", pts, err)
	}
	if pts[0] != (scada.Point{Tag: "plant/edge1/temp", Value: 451.5, Unit: "degC", Time: time.UnixMilli(1700000001000).UTC()}) {
		t.Errorf("temp = %+v", pts[0])
	}
	if pts[1].Tag != "plant/edge1/count" || pts[1].Quality != scada.BadNoData {
		t.Errorf("null = %+v", pts[1])
	}

	// A device is born and sends data; its aliases live beside the node's.
	flow := sparkplug.Metric{Name: "flow", Alias: 10, HasAlias: true, DataType: sparkplug.Float, Kind: sparkplug.FloatValue, Float: 12.5,
		Properties: []sparkplug.Property{{Key: "Quality", Kind: sparkplug.IntValue, Int: 500}}}
	if pts, err = decode("spBv1.0/plant/DBIRTH/edge1/pump1", e.payload(flow)); err != nil || len(pts) != 1 || pts[0].Quality != scada.UncertainLastUsableValue {
		t.Fatalf("DBIRTH = %v, %v", pts, err)
	}
	if pts, err = decode("spBv1.0/plant/DDATA/edge1/pump1", e.payload(sparkplug.Metric{Alias: 10, HasAlias: true, Kind: sparkplug.FloatValue, Float: 13})); err != nil ||
		len(pts) != 1 || pts[0].Tag != "plant/edge1/pump1/flow" || pts[0].Value != 13 {
		t.Fatalf("DDATA = %v, %v", pts, err)
	}
	if len(pub.msgs) != 0 {
		t.Fatalf("rebirth requested without cause: %v", pub.msgs)
	}

	// A sequence gap: the data still counts, and a rebirth is requested.
	e.seq++
	if pts, err = decode("spBv1.0/plant/NDATA/edge1", e.payload(double("", 1, 452))); err != nil || len(pts) != 1 {
		t.Fatalf("NDATA after gap = %v, %v", pts, err)
	}
	if len(pub.msgs) != 1 || pub.msgs[0] != "spBv1.0/plant/NCMD/edge1" {
		t.Fatalf("published %v", pub.msgs)
	}
	var req sparkplug.Payload
	if err := sparkplug.Unmarshal(pub.last, &req); err != nil || len(req.Metrics) != 1 ||
		req.Metrics[0].Name != sparkplug.RebirthMetric || !req.Metrics[0].Bool || req.Metrics[0].DataType != sparkplug.Boolean {
		t.Fatalf("rebirth request = %+v, %v", req, err)
	}

	// An unknown alias: the known metric is delivered, the error says why,
	// and no second request goes out within RebirthInterval.
	pts, err = decode("spBv1.0/plant/NDATA/edge1", e.payload(double("", 1, 453), double("", 99, 1)))
	if !errors.Is(err, sparkplug.ErrUnknownAlias) || len(pts) != 1 || pts[0].Value != 453 {
		t.Fatalf("unknown alias = %v, %v", pts, err)
	}
	if len(pub.msgs) != 1 {
		t.Errorf("rebirth requests not rate limited: %v", pub.msgs)
	}
	now = now.Add(2 * time.Minute)
	if _, err = decode("spBv1.0/plant/NDATA/edge1", e.payload(double("", 98, 1))); !errors.Is(err, sparkplug.ErrUnknownAlias) || len(pub.msgs) != 2 {
		t.Errorf("second request after the interval: %v, %v", err, pub.msgs)
	}

	// DDEATH marks the device's metrics Bad.
	pts, err = decode("spBv1.0/plant/DDEATH/edge1/pump1", e.payload())
	if err != nil || len(pts) != 1 || pts[0].Tag != "plant/edge1/pump1/flow" || pts[0].Quality != scada.BadNoCommunication {
		t.Fatalf("DDEATH = %v, %v", pts, err)
	}

	// An NDEATH from an older session (other bdSeq) is ignored; the right one
	// marks every numeric metric of the node Bad.
	death := func(v uint64) []byte {
		return sparkplug.Marshal(nil, &sparkplug.Payload{Timestamp: 1700000002000, HasTimestamp: true, Metrics: []sparkplug.Metric{bdSeq(v)}})
	}
	if pts, err = decode("spBv1.0/plant/NDEATH/edge1", death(6)); err != nil || len(pts) != 0 {
		t.Fatalf("stale NDEATH = %v, %v", pts, err)
	}
	pts, err = decode("spBv1.0/plant/NDEATH/edge1", death(7))
	got = byTag(pts)
	if err != nil || len(pts) != 4 || got["plant/edge1/temp"].Quality != scada.BadNoCommunication || got["plant/edge1/pump1/flow"].Quality.IsGood() ||
		!got["plant/edge1/temp"].Time.Equal(time.UnixMilli(1700000002000)) {
		t.Fatalf("NDEATH = %v, %v", pts, err)
	}
	st := dec.Stats()
	if st.Births != 2 || st.Deaths != 2 || st.StaleDeaths != 1 || st.SequenceGaps != 1 || st.UnknownAliases != 2 || st.RebirthRequests != 2 {
		t.Errorf("stats = %+v", st)
	}
}

func TestDecoderWithoutBirth(t *testing.T) {
	dec, _ := sparkplug.NewDecoder(sparkplug.Config{Tag: func(g, n, d, m string) string { return strings.Join([]string{g, n, d, m}, ".") }})
	pub := &published{}
	named := double("temp", 0, 1)
	aliased := double("", 3, 2)
	payload := sparkplug.Marshal(nil, &sparkplug.Payload{Seq: 9, HasSeq: true, Metrics: []sparkplug.Metric{named, aliased}})
	pts, err := dec.Decode(nil, &mqtt.Message{Topic: "spBv1.0/g/DDATA/n/d", Payload: payload, Publish: pub.publish})
	if !errors.Is(err, sparkplug.ErrUnknownAlias) || len(pts) != 1 || pts[0].Tag != "g.n.d.temp" {
		t.Fatalf("= %v, %v", pts, err)
	}
	if len(pub.msgs) != 1 {
		t.Errorf("no rebirth requested from an unknown node: %v", pub.msgs)
	}
	for _, tc := range []struct{ topic, payload string }{
		{"spBv1.0/g/NDATA/n", "\xff\xff"},
		{"spBv1.0/g/NDATA/n", "\x12\x05\x0a"},
		{"not/sparkplug", ""},
	} {
		if _, err := dec.Decode(nil, &mqtt.Message{Topic: tc.topic, Payload: []byte(tc.payload)}); err == nil {
			t.Errorf("%q on %s: no error", tc.payload, tc.topic)
		}
	}
	for _, topic := range []string{"spBv1.0/STATE/host", "spBv1.0/g/NCMD/n", "spBv1.0/g/DCMD/n/d"} {
		if pts, err := dec.Decode(nil, &mqtt.Message{Topic: topic, Payload: []byte("whatever")}); err != nil || len(pts) != 0 {
			t.Errorf("%s: %v, %v", topic, pts, err)
		}
	}
}

func byTag(pts []scada.Point) map[string]scada.Point {
	m := map[string]scada.Point{}
	for _, p := range pts {
		m[p.Tag] = p
	}
	return m
}

// Through a real broker: births and data become points, and an unknown
// alias makes the Source publish a rebirth request the edge node receives.
func TestSparkplugThroughBroker(t *testing.T) {
	b, err := scadatest.NewMQTTBroker(scadatest.MQTTBrokerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ncmd := make(chan []byte, 4)
	if err := b.Subscribe("spBv1.0/+/NCMD/+", func(_ string, p []byte) { ncmd <- bytes.Clone(p) }); err != nil {
		t.Fatal(err)
	}
	dec, _ := sparkplug.NewDecoder(sparkplug.Config{})
	src, err := mqtt.New(mqtt.Config{
		Broker: b.URL(), ClientID: "gl001-sparkplug",
		Subscriptions: []mqtt.Subscription{{Topic: "spBv1.0/plant/#", QoS: 1, Decoder: dec}},
	})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var got []scada.Point
	more := make(chan struct{}, 100)
	sink := scada.SinkFunc(func(_ context.Context, batch []scada.Point) error {
		mu.Lock()
		got = append(got, batch...)
		mu.Unlock()
		more <- struct{}{}
		return nil
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx, sink) }()
	defer func() { cancel(); <-done }()
	wctx, wcancel := context.WithTimeout(ctx, 30*time.Second)
	defer wcancel()
	if err := b.WaitSubscribed(wctx, 1); err != nil {
		t.Fatal(err)
	}
	e := &edge{t: t}
	if err := b.Publish("spBv1.0/plant/NBIRTH/edge1", e.payload(birthMetrics()...), 1, false); err != nil {
		t.Fatal(err)
	}
	if err := b.Publish("spBv1.0/plant/NDATA/edge1", e.payload(double("", 1, 460), double("", 42, 0)), 1, false); err != nil {
		t.Fatal(err)
	}
	select {
	case p := <-ncmd:
		var req sparkplug.Payload
		if err := sparkplug.Unmarshal(p, &req); err != nil || req.Metrics[0].Name != sparkplug.RebirthMetric {
			t.Fatalf("NCMD = %+v, %v", req, err)
		}
	case <-wctx.Done():
		t.Fatal("no rebirth request reached the broker")
	}
	for {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n >= 4 {
			break
		}
		select {
		case <-more:
		case <-wctx.Done():
			t.Fatalf("got %v", got)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if p := got[3]; p.Tag != "plant/edge1/temp" || p.Value != 460 || p.Unit != "degC" || p.Source != src.Name() {
		t.Errorf("NDATA point = %+v", p)
	}
	if st := src.Stats(); st.BadMessages != 1 {
		t.Errorf("stats = %+v, want the unknown alias reported", st)
	}
}

func FuzzUnmarshal(f *testing.F) {
	f.Add(sparkplug.Marshal(nil, &sparkplug.Payload{Timestamp: 1, HasTimestamp: true, Seq: 2, HasSeq: true, Metrics: birthMetrics()}))
	f.Add([]byte{0x12, 0x02, 0x4a, 0x00})
	f.Add([]byte{0x08})
	f.Fuzz(func(t *testing.T, b []byte) {
		var p sparkplug.Payload
		if err := sparkplug.Unmarshal(b, &p); err != nil {
			if !errors.Is(err, sparkplug.ErrMalformed) {
				t.Fatalf("error %v does not match ErrMalformed", err)
			}
			return
		}
		// What decodes re-encodes to something that decodes the same.
		var q sparkplug.Payload
		if err := sparkplug.Unmarshal(sparkplug.Marshal(nil, &p), &q); err != nil {
			t.Fatalf("re-decoding: %v", err)
		}
		for i := range p.Metrics {
			p.Metrics[i].Unknown = false
		}
		if len(p.Metrics) == 0 {
			p.Metrics = nil
		}
		if len(q.Metrics) == 0 {
			q.Metrics = nil
		}
		if !reflect.DeepEqual(norm(p), norm(q)) {
			t.Fatalf("round trip differs:\n%+v\n%+v", p, q)
		}
	})
}

// norm clears what the encoding does not preserve: an empty Body and
// empty property sets, NaN != NaN.
func norm(p sparkplug.Payload) sparkplug.Payload {
	if len(p.Body) == 0 {
		p.Body = nil
	}
	for i := range p.Metrics {
		m := &p.Metrics[i]
		if len(m.Properties) == 0 {
			m.Properties = nil
		}
		if m.Double != m.Double {
			m.Double = 0
		}
		if m.Float != m.Float {
			m.Float = 0
		}
		if len(m.Bytes) == 0 {
			m.Bytes = nil
		}
		if len(m.Raw) == 0 {
			m.Raw = nil
		}
		for j := range m.Properties {
			pp := &m.Properties[j]
			if pp.Double != pp.Double {
				pp.Double = 0
			}
			if pp.Float != pp.Float {
				pp.Float = 0
			}
		}
	}
	return p
}

func FuzzDecoder(f *testing.F) {
	e := &edge{}
	f.Add("NBIRTH", "", e.payload(birthMetrics()...))
	f.Add("NDATA", "", e.payload(double("", 1, 2), double("", 9, 3)))
	f.Add("DBIRTH", "d", e.payload(double("x", 11, 2)))
	f.Add("NDEATH", "", e.payload(bdSeq(7)))
	dec, _ := sparkplug.NewDecoder(sparkplug.Config{})
	f.Fuzz(func(t *testing.T, typ, device string, payload []byte) {
		topic := "spBv1.0/g/" + typ + "/n"
		if device != "" {
			topic += "/" + device
		}
		pts, _ := dec.Decode(nil, &mqtt.Message{Topic: topic, Payload: payload, Publish: func(string, []byte) error { return nil }})
		for _, p := range pts {
			if math.IsNaN(p.Value) || math.IsInf(p.Value, 0) || p.Tag == "" {
				t.Fatalf("bad point %+v", p)
			}
		}
	})
}
