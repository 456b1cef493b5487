package opcua_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"runtime/pprof"
	"sync/atomic"
	"testing"
	"time"

	"github.com/greenlang/gl001/scada"
	"github.com/greenlang/gl001/scada/opcua"
	"github.com/greenlang/gl001/scada/scadatest"
)

// BenchmarkOPCUASubscription: 10,000 monitored items in subscriptions of at
// most 2,500, every value changed every 20 ms by the in-process server. One
// op is one full round of 10,000 points. Metrics:
//
//   - points/s: points delivered to the sink per second of wall time;
//   - client-µs/point, server-µs/point, other-µs/point: CPU time per point of
//     the goroutines labelled as client (the Source's Run and everything it
//     starts: gopcua's channel, the publish workers, the mapping), as server
//     (the simulator: gopcua's server and the update loop), and unlabelled
//     (garbage collector workers, runtime), from a CPU profile taken during
//     the measurement (pprof labels are inherited by child goroutines).
func BenchmarkOPCUASubscription(b *testing.B) {
	const nTags, round = 10000, 10000
	// gopcua's server prints its start-up to the standard logger, which would
	// split the benchmark lines that benchstat reads.
	defer log.SetOutput(log.Writer())
	log.SetOutput(io.Discard)
	simTags := make([]scadatest.OPCUATag, nTags)
	tags := make([]opcua.Tag, nTags)
	for i := range nTags {
		name := fmt.Sprintf("Unit%02d.Sensor%04d", i/1000, i)
		simTags[i] = scadatest.OPCUATag{Name: name, Initial: float64(i), Step: 1}
		tags[i] = opcua.Tag{Name: name, NodeID: "ns=1;s=" + name, Unit: "degC"}
	}
	var sim *scadatest.OPCUAServer
	var err error
	pprof.Do(context.Background(), pprof.Labels("side", "server"), func(context.Context) {
		sim, err = scadatest.NewOPCUAServer(scadatest.OPCUAConfig{Tags: simTags, UpdateInterval: 20 * time.Millisecond})
	})
	if err != nil {
		b.Fatal(err)
	}
	defer sim.Close()

	src, err := opcua.New(opcua.Config{
		Endpoint:                sim.DirectEndpoint(),
		SecurityPolicy:          opcua.PolicyNone,
		SecurityMode:            opcua.ModeNone,
		Tags:                    tags,
		SamplingInterval:        20 * time.Millisecond,
		PublishingInterval:      20 * time.Millisecond,
		MaxItemsPerSubscription: 2500,
		DialTimeout:             time.Minute,
		RequestTimeout:          time.Minute,
	})
	if err != nil {
		b.Fatal(err)
	}
	var points atomic.Int64
	tick := make(chan struct{}, 1)
	sink := scada.SinkFunc(func(_ context.Context, batch []scada.Point) error {
		n := points.Add(int64(len(batch)))
		if n/round != (n-int64(len(batch)))/round {
			select {
			case tick <- struct{}{}:
			default:
			}
		}
		return nil
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go pprof.Do(ctx, pprof.Labels("side", "client"), func(ctx context.Context) { done <- src.Run(ctx, sink) })
	defer func() {
		cancel()
		<-done
	}()
	// Warm up: the subscriptions are created and a few rounds flow.
	for points.Load() < 3*round {
		select {
		case err := <-done:
			b.Fatalf("Run ended: %v", err)
		case <-time.After(time.Minute):
			b.Fatalf("no data: %+v", src.Stats())
		case <-tick:
		}
	}

	var start time.Time
	var n0, n1 int64
	share, profiled := cpuShare("side", func() {
		start = time.Now()
		n0 = points.Load()
		for b.Loop() {
			select {
			case err := <-done:
				b.Fatalf("Run ended: %v", err)
			case <-tick:
			}
		}
		n1 = points.Load()
	})
	elapsed := time.Since(start)
	n := float64(n1 - n0)
	b.ReportMetric(n/elapsed.Seconds(), "points/s")
	if profiled && n > 0 {
		b.ReportMetric(float64(share["client"])/1e3/n, "client-µs/point")
		b.ReportMetric(float64(share["server"])/1e3/n, "server-µs/point")
		b.ReportMetric(float64(share[""])/1e3/n, "other-µs/point")
	}
	if st := src.Stats(); st.Subscriptions != 4 || st.MonitoredItems != nTags {
		b.Fatalf("stats = %+v, want 4 subscriptions of 10,000 items", st)
	}
}
