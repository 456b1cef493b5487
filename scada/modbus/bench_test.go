package modbus

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/greenlang/gl001/scada"
	"github.com/greenlang/gl001/scada/scadatest"
)

// BenchmarkModbusPoll polls 100 devices at once, each its own in-process
// server and connection over loopback, each with 100 uint16 tags on 100
// holding registers. One op is a full poll of all devices, every point
// decoded and delivered to a sink. Metrics: points/s, requests/poll, and the
// median full-poll time.
func BenchmarkModbusPoll(b *testing.B) {
	const devices, registers = 100, 100
	var conns []*Conn
	var sources []*Source
	for d := range devices {
		srv := newServer(b, scadatest.ModbusConfig{})
		regs := make([]uint16, registers)
		for i := range regs {
			regs[i] = uint16(d*registers + i)
		}
		srv.SetRegisters(1, scadatest.ModbusHolding, 0, regs...)
		tags := make([]Tag, registers)
		for i := range tags {
			tags[i] = Tag{Name: fmt.Sprintf("dev%d.r%d", d, i), Address: i, Unit: "kPa"}
		}
		s := newSource(b, Config{Name: fmt.Sprint("dev", d), Address: srv.Addr(), Devices: []Device{{UnitID: 1, Tags: tags}}})
		sources = append(sources, s)
		conns = append(conns, dial(b, s))
	}
	var delivered atomic.Int64
	sink := scada.SinkFunc(func(_ context.Context, batch []scada.Point) error {
		delivered.Add(int64(len(batch)))
		return nil
	})
	// One long-lived goroutine per device, as Run has: a poll starts them all
	// and waits for every one.
	ctx, cancel := context.WithCancel(context.Background())
	var failed atomic.Pointer[error]
	var round sync.WaitGroup
	starts := make([]chan struct{}, len(conns))
	var workers sync.WaitGroup
	for i, c := range conns {
		starts[i] = make(chan struct{})
		workers.Go(func() {
			for {
				select {
				case <-ctx.Done():
					return
				case <-starts[i]:
				}
				if err := c.Poll(ctx, sink); err != nil {
					failed.Store(&err)
				}
				round.Done()
			}
		})
	}
	defer workers.Wait()
	defer cancel()
	poll := func() {
		round.Add(len(starts))
		for _, ch := range starts {
			ch <- struct{}{}
		}
		round.Wait()
	}
	poll() // warm up: connections accepted, buffers sized
	delivered.Store(0)
	var reqs0 uint64
	for _, s := range sources {
		reqs0 += s.Stats().Requests
	}

	var times []time.Duration
	polls := 0
	start := time.Now()
	for b.Loop() {
		t0 := time.Now()
		poll()
		times = append(times, time.Since(t0))
		polls++
	}
	elapsed := time.Since(start)
	if err := failed.Load(); err != nil {
		b.Fatal(*err)
	}
	if want := int64(polls * devices * registers); delivered.Load() != want {
		b.Fatalf("delivered %d points, want %d", delivered.Load(), want)
	}
	var reqs uint64
	for _, s := range sources {
		reqs += s.Stats().Requests
	}
	slices.Sort(times)
	b.ReportMetric(float64(delivered.Load())/elapsed.Seconds(), "points/s")
	b.ReportMetric(float64(reqs-reqs0)/float64(polls), "requests/poll")
	b.ReportMetric(float64(times[len(times)/2].Nanoseconds()), "median-ns/poll")
}

// BenchmarkDecode measures turning one answer of 100 registers into points:
// 40 uint16, 20 float32 (CDAB), 10 int64 (DCBA) and 10 bits of a status word,
// scaled. Metric: ns/point.
func BenchmarkDecode(b *testing.B) {
	var tags []Tag
	addr := 0
	for i := range 40 {
		tags = append(tags, Tag{Name: fmt.Sprint("u", i), Address: addr, Scale: 0.1, Unit: "kPa"})
		addr++
	}
	for i := range 20 {
		tags = append(tags, Tag{Name: fmt.Sprint("f", i), Address: addr, Type: Float32, Order: CDAB})
		addr += 2
	}
	for i := range 10 {
		tags = append(tags, Tag{Name: fmt.Sprint("i", i), Address: addr, Type: Int64, Order: DCBA})
		addr += 4
	}
	for i := range 10 {
		tags = append(tags, Tag{Name: fmt.Sprint("b", i), Address: addr, Type: Bool, Bit: i})
	}
	s := newSource(b, Config{Name: "plc", Address: "127.0.0.1:502", Devices: []Device{{UnitID: 1, Tags: tags}}})
	d := s.devices[0]
	if len(d.reqs) != 1 {
		b.Fatalf("%d reads", len(d.reqs))
	}
	data := make([]byte, 2*d.reqs[0].qty)
	for i := range data {
		data[i] = byte(i * 7)
	}
	c := &Conn{s: s}
	now := time.Now()
	var batch []scada.Point
	for b.Loop() {
		batch = c.decode(batch[:0], d, &d.reqs[0], data, now)
	}
	if len(batch) != len(tags) {
		b.Fatalf("%d points for %d tags", len(batch), len(tags))
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(tags)), "ns/point")
}
