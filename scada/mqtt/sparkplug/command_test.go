package sparkplug_test

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/greenlang/gl001/resilience"
	"github.com/greenlang/gl001/scada"
	"github.com/greenlang/gl001/scada/guard"
	"github.com/greenlang/gl001/scada/guard/guardtest"
	"github.com/greenlang/gl001/scada/mqtt"
	"github.com/greenlang/gl001/scada/mqtt/sparkplug"
	"github.com/greenlang/gl001/scada/scadatest"
)

// edgeNode is an edge node "edge1" of group "plant" with a device
// "boiler1" on the broker. Its births give aliases; it applies a DCMD to
// its "firing_rate" metric (alias 7, Int32) and publishes the value it then
// holds as DDATA, or keeps the old value when told to ignore writes.
type edgeNode struct {
	t      *testing.T
	b      *scadatest.MQTTBroker
	mu     sync.Mutex
	seq    uint64
	bd     uint64
	value  int32
	mode   bool
	ignore bool
	bad    bool

	cmds chan sparkplug.Payload // DCMD and NCMD payloads, for the device loop
	seen chan cmdSeen           // every command as received, for the test
}

type cmdSeen struct {
	topic   string
	payload sparkplug.Payload
}

const (
	aliasFiring = 7
	aliasMode   = 3
)

func (e *edgeNode) payload(metrics ...sparkplug.Metric) []byte {
	p := sparkplug.Payload{Timestamp: uint64(time.Now().UnixMilli()), HasTimestamp: true, Seq: e.seq % 256, HasSeq: true, Metrics: metrics}
	e.seq++
	return sparkplug.Marshal(nil, &p)
}

func (e *edgeNode) firing() sparkplug.Metric {
	m := sparkplug.Metric{Name: "firing_rate", Alias: aliasFiring, HasAlias: true, DataType: sparkplug.Int32,
		Kind: sparkplug.IntValue, Int: uint32(e.value)}
	if e.bad { // the Quality property: 0 is Bad
		m.Properties = []sparkplug.Property{{Key: "Quality", Type: sparkplug.Int32, Kind: sparkplug.IntValue, Int: 0}}
	}
	return m
}

// setBad publishes the metric with a Bad (or Good) quality.
func (e *edgeNode) setBad(on bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.bad = on
	e.publish("spBv1.0/plant/DDATA/edge1/boiler1", e.payload(e.firing()))
}

// birth publishes NBIRTH and DBIRTH (a new session: bdSeq and seq restart).
func (e *edgeNode) birth() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.bd++
	e.seq = 0
	e.publish("spBv1.0/plant/NBIRTH/edge1", e.payload(bdSeq(e.bd),
		sparkplug.Metric{Name: sparkplug.RebirthMetric, DataType: sparkplug.Boolean, Kind: sparkplug.BooleanValue},
		sparkplug.Metric{Name: "mode", Alias: aliasMode, HasAlias: true, DataType: sparkplug.Boolean, Kind: sparkplug.BooleanValue, Bool: e.mode}))
	e.publish("spBv1.0/plant/DBIRTH/edge1/boiler1", e.payload(e.firing()))
}

// death publishes the NDEATH the broker would send as the node's will.
func (e *edgeNode) death() {
	e.mu.Lock()
	defer e.mu.Unlock()
	p := sparkplug.Payload{Metrics: []sparkplug.Metric{bdSeq(e.bd)}}
	e.publish("spBv1.0/plant/NDEATH/edge1", sparkplug.Marshal(nil, &p))
}

func (e *edgeNode) publish(topic string, payload []byte) {
	if err := e.b.Publish(topic, payload, 1, false); err != nil {
		e.t.Errorf("edge: publish %s: %v", topic, err)
	}
}

// listen subscribes the node to its commands, as a second client of the
// broker beside the Source.
func (e *edgeNode) listen() error {
	fn := func(topic string, raw []byte) {
		var p sparkplug.Payload
		if err := sparkplug.Unmarshal(bytes.Clone(raw), &p); err != nil {
			e.t.Errorf("edge: bad command on %s: %v", topic, err)
			return
		}
		select {
		case e.seen <- cmdSeen{topic, p}:
		default:
		}
		if topic == "spBv1.0/plant/DCMD/edge1/boiler1" {
			e.cmds <- p
		}
	}
	return errors.Join(e.b.Subscribe("spBv1.0/plant/NCMD/edge1", fn), e.b.Subscribe("spBv1.0/plant/DCMD/edge1/+", fn))
}

// run applies the DCMDs and answers with DDATA until ctx ends.
func (e *edgeNode) run(ctx context.Context) {
	for {
		select {
		case p := <-e.cmds:
			e.mu.Lock()
			for _, m := range p.Metrics {
				if m.HasAlias && m.Alias == aliasFiring && m.Kind == sparkplug.IntValue && !e.ignore {
					e.value = int32(m.Int)
				}
			}
			e.publish("spBv1.0/plant/DDATA/edge1/boiler1", e.payload(e.firing()))
			e.mu.Unlock()
		case <-ctx.Done():
			return
		}
	}
}

type sparkplugRig struct {
	b    *scadatest.MQTTBroker
	edge *edgeNode
	src  *mqtt.Source
	lat  *guard.Latest
	cmd  *sparkplug.Commander
}

func newRig(t *testing.T) *sparkplugRig {
	t.Helper()
	b, err := scadatest.NewMQTTBroker(scadatest.MQTTBrokerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	e := &edgeNode{t: t, b: b, value: 40, cmds: make(chan sparkplug.Payload, 64), seen: make(chan cmdSeen, 64)}
	if err := e.listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { e.run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })

	dec, err := sparkplug.NewDecoder(sparkplug.Config{})
	if err != nil {
		t.Fatal(err)
	}
	src, err := mqtt.New(mqtt.Config{Broker: b.URL(), ClientID: "gl001-host",
		Subscriptions: []mqtt.Subscription{{Topic: "spBv1.0/plant/#", QoS: 1, Decoder: dec}}})
	if err != nil {
		t.Fatal(err)
	}
	pub, err := mqtt.NewCommander(src, mqtt.CommanderConfig{})
	if err != nil {
		t.Fatal(err)
	}
	cmd, err := sparkplug.NewCommander(sparkplug.CommanderConfig{Decoder: dec, Publisher: pub})
	if err != nil {
		t.Fatal(err)
	}
	lat := guard.NewLatest(nil)
	col, err := scada.NewCollector(scada.CollectorConfig{Sink: lat,
		Backoff: resilience.Backoff{Initial: 20 * time.Millisecond, Max: 100 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = col.Close() })
	if err := col.Add("sparkplug", src); err != nil {
		t.Fatal(err)
	}
	wctx, wcancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer wcancel()
	if err := b.WaitSubscribed(wctx, 1); err != nil { // the Source's
		t.Fatal(err)
	}
	r := &sparkplugRig{b: b, edge: e, src: src, lat: lat, cmd: cmd}
	e.birth()
	r.await(t, firingTag, func(p scada.Point) bool { return p.Quality.IsGood() })
	return r
}

const firingTag = "plant/edge1/boiler1/firing_rate"

func (r *sparkplugRig) await(t *testing.T, tag string, ok func(scada.Point) bool) scada.Point {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p, err := r.lat.Await(ctx, tag, ok)
	if err != nil {
		t.Fatalf("waiting for %s: %v (last %+v)", tag, err, p)
	}
	return p
}

func (r *sparkplugRig) command(t *testing.T) cmdSeen {
	t.Helper()
	select {
	case c := <-r.edge.seen:
		return c
	case <-time.After(30 * time.Second):
		t.Fatal("no command reached the edge node")
		return cmdSeen{}
	}
}

// A DCMD reaches the edge node's client with the alias, data type and
// value its DBIRTH defined, and sequence numbers that count up; a node
// metric gets an NCMD.
func TestCommanderDCMD(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	for i, v := range []float64{45, -3} {
		if err := r.cmd.Write(ctx, firingTag, v); err != nil {
			t.Fatal(err)
		}
		c := r.command(t)
		if c.topic != "spBv1.0/plant/DCMD/edge1/boiler1" || len(c.payload.Metrics) != 1 {
			t.Fatalf("command %d: %s %+v", i, c.topic, c.payload)
		}
		m := c.payload.Metrics[0]
		if !m.HasAlias || m.Alias != aliasFiring || m.Name != "" || m.DataType != sparkplug.Int32 ||
			m.Kind != sparkplug.IntValue || int32(m.Int) != int32(v) || !m.HasTimestamp {
			t.Errorf("command %d: metric %+v", i, m)
		}
		if !c.payload.HasSeq || c.payload.Seq != uint64(i) || !c.payload.HasTimestamp {
			t.Errorf("command %d: seq %v (%v)", i, c.payload.Seq, c.payload.HasSeq)
		}
	}
	r.await(t, firingTag, func(p scada.Point) bool { return p.Value == -3 })

	if err := r.cmd.Write(ctx, "plant/edge1/mode", 1); err != nil {
		t.Fatal(err)
	}
	c := r.command(t)
	if m := c.payload.Metrics[0]; c.topic != "spBv1.0/plant/NCMD/edge1" || m.Alias != aliasMode || m.DataType != sparkplug.Boolean ||
		m.Kind != sparkplug.BooleanValue || !m.Bool || c.payload.Seq != 2 {
		t.Errorf("NCMD %s %+v", c.topic, c.payload)
	}

	if err := r.cmd.Write(ctx, firingTag, 1.5); !errors.Is(err, sparkplug.ErrNotNumeric) || !errors.Is(err, scada.ErrBadInput) {
		t.Errorf("a fraction for an Int32: %v", err)
	}
	if err := r.cmd.Write(ctx, "plant/edge1/mode", 2); !errors.Is(err, sparkplug.ErrNotNumeric) {
		t.Errorf("2 for a Boolean: %v", err)
	}
	if err := r.cmd.Write(ctx, "plant/edge9/x", 1); !errors.Is(err, scada.ErrConnection) {
		t.Errorf("a metric no birth defines: %v", err)
	}
	r.edge.death()
	r.await(t, firingTag, func(p scada.Point) bool { return p.Quality == scada.BadNoCommunication })
	if err := r.cmd.Write(ctx, firingTag, 41); !errors.Is(err, scada.ErrConnection) {
		t.Errorf("write to a dead node: %v", err)
	}
}

// The write guard over Sparkplug B: DCMD out, DDATA back through the
// Source; the node's death is the disconnection.
func TestGuard(t *testing.T) {
	r := newRig(t)
	stop, drained := make(chan struct{}), make(chan struct{})
	go func() { // the suite does not look at the commands
		defer close(drained)
		for {
			select {
			case <-r.edge.seen:
			case <-stop:
				return
			}
		}
	}()
	defer func() { close(stop); <-drained }()
	guardtest.Run(t, guardtest.Device{
		Writer: r.cmd, Reader: r.lat, Tag: firingTag,
		Truth: func() (float64, error) {
			r.edge.mu.Lock()
			defer r.edge.mu.Unlock()
			return float64(r.edge.value), nil
		},
		IgnoreWrites: func(on bool) {
			r.edge.mu.Lock()
			r.edge.ignore = on
			r.edge.mu.Unlock()
		},
		Disconnect: func() {
			r.edge.death()
			r.await(t, firingTag, func(p scada.Point) bool { return p.Quality == scada.BadNoCommunication })
		},
		SetBad: r.edge.setBad,
		Reconnect: func() {
			r.edge.birth()
			r.await(t, firingTag, func(p scada.Point) bool { return p.Quality.IsGood() })
		},
	})
}
