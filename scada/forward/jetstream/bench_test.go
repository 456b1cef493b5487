package jetstream_test

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/greenlang/gl001/scada"
	"github.com/greenlang/gl001/scada/buffer"
	"github.com/greenlang/gl001/scada/forward"
	fjs "github.com/greenlang/gl001/scada/forward/jetstream"
	"github.com/greenlang/gl001/scada/forward/wire"
)

// Benchmark shape: batches of benchBatch points of 1,000 tags over 4
// sources (so 4 messages a batch), values and times as a plant makes them.
const (
	benchBatch   = 8192
	benchTags    = 1000
	benchSources = 4
)

// benchEnv is a server (R1) or a cluster (R3) with a stream, kept for every
// run of one sub-benchmark.
type benchEnv struct {
	nc *nats.Conn
}

func newBenchEnv(b *testing.B, replicas int) *benchEnv {
	var url string
	if replicas == 1 {
		url = startNode(b).url()
	} else {
		url = clusterURL(startCluster(b))
	}
	nc, err := nats.Connect(url, nats.MaxReconnects(-1))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(nc.Close)
	js, _ := jetstream.New(nc)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for {
		_, err := fjs.EnsureStream(ctx, js, fjs.StreamConfig{Name: streamName, Replicas: replicas, MaxBytes: 2 << 30, Duplicates: time.Minute})
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			b.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return &benchEnv{nc: nc}
}

var benchRun atomic.Int64

// BenchmarkForwardJetStream measures points per second from a Buffer to a
// stream acknowledged by the server: forward runs a Forwarder (reading,
// batching, encoding, publishing, committing) while the buffer is fed;
// raw publishes the same encoded messages with plain nats.go async
// publishing, so forward/raw is the Forwarder's overhead. cpu-ns/point is
// the CPU time of the whole process (the in-process servers, and for
// forward the feeder's Appends, included) per point: on a shared machine
// it varies much less than points/s.
func BenchmarkForwardJetStream(b *testing.B) {
	for _, r := range []int{1, 3} {
		// One server or cluster for both sub-benchmarks and all their
		// runs, stopped when the benchmark ends.
		var env *benchEnv
		parent := b
		get := func(*testing.B) *benchEnv {
			if env == nil {
				env = newBenchEnv(parent, r)
			}
			return env
		}
		b.Run(fmt.Sprintf("R%d/forward", r), func(b *testing.B) { benchForward(b, get(b), false) })
		b.Run(fmt.Sprintf("R%d/raw", r), func(b *testing.B) { benchRaw(b, get(b)) })
		// Batches pipelined without waiting for the previous one's
		// acknowledgement (Config.Unordered): exactly once still, order
		// across a leader change not.
		b.Run(fmt.Sprintf("R%d/forward-unordered", r), func(b *testing.B) { benchForward(b, get(b), true) })
	}
}

func benchPoints(from, n int) []scada.Point {
	pts := make([]scada.Point, n)
	t0 := time.Unix(1_760_000_000, 0).UTC()
	for i := range pts {
		j := from + i
		k := j % benchTags
		pts[i] = scada.Point{Tag: benchTagNames[k], Value: 20 + float64(j%977)*0.125, Unit: "degC",
			Score: 97, Scored: true, Time: t0.Add(time.Duration(j/benchTags) * time.Second), Source: benchSourceNames[k%benchSources]}
	}
	return pts
}

var (
	benchTagNames = func() (s []string) {
		for i := range benchTags {
			s = append(s, fmt.Sprintf("boiler%d.zone%02d.temp", i/100, i%100))
		}
		return
	}()
	benchSourceNames = []string{"plc-a", "plc-b", "plc-c", "plc-d"}
)

func benchForward(b *testing.B, env *benchEnv, unordered bool) {
	mem, err := buffer.NewMemory(buffer.MemoryConfig{MaxBytes: -1})
	if err != nil {
		b.Fatal(err)
	}
	defer mem.Close()
	total := b.N * benchBatch
	var bytes atomic.Int64
	tg, err := fjs.New(fjs.Config{Conn: env.nc, Stream: streamName, Site: "bench" + strconv.FormatInt(benchRun.Add(1), 10), Unordered: unordered})
	if err != nil {
		b.Fatal(err)
	}
	counting := countingTarget{Target: tg, bytes: &bytes}
	// Acknowledgements wake the feeder and, at the end, the benchmark:
	// waiting by polling would cost CPU time that raw does not pay.
	var acked atomic.Int64
	ackCh := make(chan struct{}, 1)
	all := make(chan struct{})
	onAck := func(a forward.Ack) {
		if acked.Add(int64(a.Points)) == int64(total) {
			close(all)
		}
		select {
		case ackCh <- struct{}{}:
		default:
		}
	}
	f, err := forward.New(forward.Config{Buffer: mem, Consumer: "bench", Edge: "edge", Target: counting,
		MaxPoints: benchBatch, MaxBytes: 64 << 20, Window: 32, MaxDelay: time.Millisecond, OnAck: onAck})
	if err != nil {
		b.Fatal(err)
	}
	// The feeder keeps at most 32 batches ahead of the Forwarder, as a
	// Collector would feed the Buffer.
	chunks := make([][]scada.Point, 8)
	for i := range chunks {
		chunks[i] = benchPoints(i*benchBatch, benchBatch)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	b.ResetTimer()
	cpu0 := processCPU()
	go func() {
		defer wg.Done()
		for i := 0; i < b.N; i++ {
			for int64(i*benchBatch)-acked.Load() >= 32*benchBatch {
				select {
				case <-ackCh:
				case <-ctx.Done():
					return
				}
			}
			if _, err := mem.Append(ctx, chunks[i%len(chunks)]); err != nil {
				return
			}
		}
	}()
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()
	<-all
	b.StopTimer()
	cpu := processCPU() - cpu0
	cancel()
	wg.Wait()
	<-done
	b.ReportMetric(float64(total)/b.Elapsed().Seconds(), "points/s")
	b.ReportMetric(float64(bytes.Load())/float64(total), "bytes/point")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(total), "cpu-ns/point")
}

// countingTarget counts the encoded bytes by encoding once more on the
// side: only for the metric, so it is not timed separately.
type countingTarget struct {
	*fjs.Target
	bytes *atomic.Int64
}

func (c countingTarget) Start(ctx context.Context, bt forward.Batch) (forward.Pending, error) {
	c.bytes.Add(int64(len(bt.Points)) * encodedSize())
	return c.Target.Start(ctx, bt)
}

var encodedSizeOnce = sync.OnceValue(func() int64 {
	msgs := encodeBatch(benchPoints(0, benchBatch), "x", 0)
	n := 0
	for _, m := range msgs {
		n += len(m.Data)
	}
	return int64(n) / benchBatch
})

func encodedSize() int64 { return encodedSizeOnce() }

// encodeBatch encodes a batch as the Target does: one message per source.
func encodeBatch(pts []scada.Point, site string, first buffer.Offset) []*nats.Msg {
	var e wire.Encoder
	bySource := map[string][]int32{}
	var order []string
	for i, p := range pts {
		if _, ok := bySource[p.Source]; !ok {
			order = append(order, p.Source)
		}
		bySource[p.Source] = append(bySource[p.Source], int32(i))
	}
	var msgs []*nats.Msg
	last := first + buffer.Offset(len(pts)) - 1
	for i, s := range order {
		data := e.Append(nil, wire.Header{Edge: "edge", Buffer: "buf", Source: s, First: first, Last: last}, pts, bySource[s])
		msgs = append(msgs, &nats.Msg{Subject: "gl001.points." + site + "." + s, Data: data, Header: nats.Header{
			fjs.HeaderContentType: {wire.ContentType}, fjs.HeaderVersion: {"1"}, fjs.HeaderEdge: {"edge"},
			fjs.HeaderBuffer: {"buf"}, fjs.HeaderSource: {s}, fjs.HeaderFirst: {strconv.FormatUint(uint64(first), 10)},
			fjs.HeaderLast: {strconv.FormatUint(uint64(last), 10)}, fjs.HeaderPart: {strconv.Itoa(i + 1)},
			fjs.HeaderParts: {strconv.Itoa(len(order))},
		}})
	}
	return msgs
}

func benchRaw(b *testing.B, env *benchEnv) {
	site := "raw" + strconv.FormatInt(benchRun.Add(1), 10)
	msgs := encodeBatch(benchPoints(0, benchBatch), site, 0)
	js, err := jetstream.New(env.nc, jetstream.WithPublishAsyncMaxPending(4000))
	if err != nil {
		b.Fatal(err)
	}
	var bytes int64
	for _, m := range msgs {
		bytes += int64(len(m.Data))
	}
	b.ResetTimer()
	cpu0 := processCPU()
	for i := 0; i < b.N; i++ {
		for j, m := range msgs {
			c := &nats.Msg{Subject: m.Subject, Data: m.Data, Header: nats.Header{}}
			for k, v := range m.Header {
				c.Header[k] = v
			}
			c.Header.Set(jetstream.MsgIDHeader, site+"/"+strconv.Itoa(i)+"/"+strconv.Itoa(j))
			if _, err := js.PublishMsgAsync(c, jetstream.WithExpectStream(streamName), jetstream.WithStallWait(time.Minute)); err != nil {
				b.Fatal(err)
			}
		}
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-time.After(5 * time.Minute):
		b.Fatal("acknowledgements did not arrive")
	}
	b.StopTimer()
	cpu := processCPU() - cpu0
	total := b.N * benchBatch
	b.ReportMetric(float64(total)/b.Elapsed().Seconds(), "points/s")
	b.ReportMetric(float64(bytes)/benchBatch, "bytes/point")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(total), "cpu-ns/point")
}

// BenchmarkJetStreamSource measures points per second a Source delivers to
// a Sink from an R1 stream, acknowledging as it goes.
func BenchmarkJetStreamSource(b *testing.B) {
	env := newBenchEnv(b, 1)
	site := "src" + strconv.FormatInt(benchRun.Add(1), 10)
	js, _ := jetstream.New(env.nc, jetstream.WithPublishAsyncMaxPending(4000))
	pts := benchPoints(0, benchBatch)
	for i := 0; i < b.N; i++ {
		for _, m := range encodeBatch(pts, site, buffer.Offset(i*benchBatch)) {
			if _, err := js.PublishMsgAsync(m, jetstream.WithStallWait(time.Minute)); err != nil {
				b.Fatal(err)
			}
		}
	}
	<-js.PublishAsyncComplete()
	total := int64(b.N * benchBatch)
	var got atomic.Int64
	reached := make(chan struct{})
	sink := scada.SinkFunc(func(ctx context.Context, batch []scada.Point) error {
		if got.Add(int64(len(batch))) == total {
			close(reached)
		}
		return nil
	})
	src, err := fjs.NewSource(fjs.SourceConfig{Conn: env.nc, Stream: streamName, Durable: site, Filter: "gl001.points." + site + ".>"})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	b.ResetTimer()
	go func() { done <- src.Run(ctx, sink) }()
	select {
	case <-reached:
	case err := <-done:
		b.Fatalf("Run: %v after %d points", err, got.Load())
	}
	b.StopTimer()
	cancel()
	<-done
	b.ReportMetric(float64(total)/b.Elapsed().Seconds(), "points/s")
}
