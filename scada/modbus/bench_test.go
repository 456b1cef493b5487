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
