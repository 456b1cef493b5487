package sparkplug_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/greenlang/gl001/scada"
	"github.com/greenlang/gl001/scada/mqtt"
	"github.com/greenlang/gl001/scada/mqtt/sparkplug"
)

// BenchmarkSparkplugDecode decodes NDATA payloads of 100 aliased Double
// metrics against a birth's alias table; metric points/s.
func BenchmarkSparkplugDecode(b *testing.B) {
	dec, err := sparkplug.NewDecoder(sparkplug.Config{})
	if err != nil {
		b.Fatal(err)
	}
	const n = 100
	birth := sparkplug.Payload{Seq: 0, HasSeq: true}
	data := sparkplug.Payload{Timestamp: 1700000000000, HasTimestamp: true, HasSeq: true}
	for i := range n {
		birth.Metrics = append(birth.Metrics, double(fmt.Sprintf("m%03d", i), uint64(i+1), 0))
		data.Metrics = append(data.Metrics, double("", uint64(i+1), float64(i)))
	}
	now := time.Now()
	if _, err := dec.Decode(nil, &mqtt.Message{Topic: "spBv1.0/g/NBIRTH/n", Payload: sparkplug.Marshal(nil, &birth), Received: now}); err != nil {
		b.Fatal(err)
	}
	payloads := make([][]byte, 256)
	for i := range payloads {
		data.Seq = uint64(i+1) % 256
		payloads[i] = sparkplug.Marshal(nil, &data)
	}
	m := &mqtt.Message{Topic: "spBv1.0/g/NDATA/n", Received: now}
	dst := make([]scada.Point, 0, n)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		m.Payload = payloads[i%256]
		i++
		if dst, err = dec.Decode(dst[:0], m); err != nil || len(dst) != n {
			b.Fatal(err, len(dst))
		}
	}
	b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "points/s")
}
