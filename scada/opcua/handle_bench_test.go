package opcua

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/gopcua/opcua/ua"

	"github.com/greenlang/gl001/scada"
)

// BenchmarkPublishHandling measures this package's own work per point, apart
// from gopcua's decoding: sequencing a publish response of 2,500 decoded
// items, mapping each to a Point and delivering the batch. Metric ns/point.
func BenchmarkPublishHandling(b *testing.B) {
	const n = 2500
	cfg := validConfig()
	cfg.Tags = make([]Tag, n)
	for i := range cfg.Tags {
		cfg.Tags[i] = Tag{Name: fmt.Sprintf("unit%02d.sensor%04d", i/100, i), NodeID: fmt.Sprintf("ns=1;i=%d", i), Unit: "°C"}
	}
	s, err := New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	delivered := 0
	ss := newSession(s, nil, scada.SinkFunc(func(_ context.Context, batch []scada.Point) error {
		delivered += len(batch)
		return nil
	}))
	items := make([]*ua.MonitoredItemNotification, n)
	now := time.Now()
	for i := range items {
		items[i] = &ua.MonitoredItemNotification{ClientHandle: uint32(i), Value: &ua.DataValue{
			EncodingMask: ua.DataValueValue | ua.DataValueSourceTimestamp, Value: ua.MustVariant(float64(i)), SourceTimestamp: now,
		}}
	}
	res := &ua.PublishResponse{SubscriptionID: 1, NotificationMessage: &ua.NotificationMessage{
		NotificationData: []*ua.ExtensionObject{{Value: &ua.DataChangeNotification{MonitoredItems: items}}},
	}}
	q := &sequencer{grace: seqGrace, limit: seqLimit, subs: map[uint32]*subSeq{}}
	var ready []*ua.PublishResponse
	ctx := context.Background()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		res.NotificationMessage.SequenceNumber = uint32(i + 1)
		ready, _ = q.push(res, ready[:0], now)
		for _, r := range ready {
			if err := ss.handle(r, now); err != nil {
				b.Fatal(err)
			}
		}
		if err := ss.flush(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(delivered), "ns/point")
}
