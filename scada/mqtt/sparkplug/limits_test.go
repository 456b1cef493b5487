package sparkplug_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/greenlang/gl001/scada"
	"github.com/greenlang/gl001/scada/mqtt"
	"github.com/greenlang/gl001/scada/mqtt/sparkplug"
)

func msg(topic string, payload []byte) *mqtt.Message {
	return &mqtt.Message{Topic: topic, Payload: payload, Received: time.Now(), Publish: func(string, []byte) error { return nil }}
}

func metrics(n int) []sparkplug.Metric {
	var ms []sparkplug.Metric
	for i := range n {
		ms = append(ms, double(fmt.Sprint("m", i), uint64(i+1), float64(i)))
	}
	return ms
}

func TestDecoderLimits(t *testing.T) {
	dec, err := sparkplug.NewDecoder(sparkplug.Config{MaxMetrics: 5, MaxAliases: 4, MaxNodes: 2})
	if err != nil {
		t.Fatal(err)
	}
	e := &edge{t: t}
	isLimit := func(err error) bool {
		var le *mqtt.LimitError
		return errors.As(err, &le) && errors.Is(err, mqtt.ErrLimit) && errors.Is(err, scada.ErrBadInput)
	}

	// More metrics in one payload than MaxMetrics: refused whole.
	pts, err := dec.Decode(nil, msg("spBv1.0/g/NBIRTH/n1", e.payload(metrics(6)...)))
	if !isLimit(err) || len(pts) != 0 {
		t.Fatalf("6 metrics with MaxMetrics 5: %d points, %v", len(pts), err)
	}

	// A birth of 5 metrics where the node may define 4: four registered.
	pts, err = dec.Decode(nil, msg("spBv1.0/g/NBIRTH/n1", e.payload(metrics(5)...)))
	if !isLimit(err) || len(pts) != 4 {
		t.Fatalf("5 aliases with MaxAliases 4: %d points, %v", len(pts), err)
	}
	pts, err = dec.Decode(nil, msg("spBv1.0/g/NDATA/n1", e.payload(double("", 1, 10), double("", 5, 50))))
	if !errors.Is(err, sparkplug.ErrUnknownAlias) || len(pts) != 1 || pts[0].Value != 10 {
		t.Errorf("data after a cut birth: %v, %v", pts, err)
	}

	// Two nodes at most.
	if _, err := dec.Decode(nil, msg("spBv1.0/g/NBIRTH/n2", (&edge{}).payload(metrics(1)...))); err != nil {
		t.Fatal(err)
	}
	pts, err = dec.Decode(nil, msg("spBv1.0/g/NBIRTH/n3", (&edge{}).payload(metrics(1)...)))
	if !isLimit(err) || len(pts) != 0 {
		t.Fatalf("a third node with MaxNodes 2: %v, %v", pts, err)
	}
	// A node's death frees its place.
	if _, err := dec.Decode(nil, msg("spBv1.0/g/NDEATH/n2", (&edge{}).payload())); err != nil {
		t.Fatal(err)
	}
	if pts, err := dec.Decode(nil, msg("spBv1.0/g/NBIRTH/n3", (&edge{}).payload(metrics(1)...))); err != nil || len(pts) != 1 {
		t.Fatalf("a node after another left: %v, %v", pts, err)
	}
	if st := dec.Stats(); st.LimitExceeded != 3 {
		t.Errorf("LimitExceeded = %d, want 3", st.LimitExceeded)
	}
}

// A metric that carries two value fields (int_value, then double_value)
// keeps only the last, as protobuf's oneof does: Kind and the value members
// agree, and Marshal writes back what was read.
func TestMetricTwoValueFields(t *testing.T) {
	// metrics { int_value: 7 (field 10), double_value: 2.5 (field 13) }
	b := []byte{0x12, 0x0b, 0x50, 0x07, 0x69, 0, 0, 0, 0, 0, 0, 0x04, 0x40}
	var p sparkplug.Payload
	if err := sparkplug.Unmarshal(b, &p); err != nil {
		t.Fatal(err)
	}
	m := p.Metrics[0]
	if m.Kind != sparkplug.DoubleValue || m.Double != 2.5 || m.Int != 0 {
		t.Fatalf("metric %+v, want only the double 2.5", m)
	}
	var q sparkplug.Payload
	if err := sparkplug.Unmarshal(sparkplug.Marshal(nil, &p), &q); err != nil {
		t.Fatal(err)
	}
	if r := q.Metrics[0]; r.Kind != m.Kind || r.Double != m.Double || r.Int != m.Int {
		t.Errorf("after a round trip %+v, want %+v", q.Metrics[0], m)
	}
}
