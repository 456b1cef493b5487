package modbus

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/greenlang/gl001/scada"
	"github.com/greenlang/gl001/scada/scadatest"
)

// BenchmarkSilentUnitPollRate measures a live unit's poll rate on a gateway
// connection shared with a unit that never answers (its requests dropped, no
// exception), against the same unit alone on the connection. It is the
// issue's plant scaled down tenfold: the live unit polled every 20 ms, a
// 100 ms timeout, three failures to open the silent unit's breaker and a
// 300 ms cooldown, so a 3 s window holds the first failures and several
// probe cycles. Metrics:
//
//	ratio          live polls next to the silent unit / live polls alone (goal >= 0.95)
//	serial-ratio   the same with MaxInFlight 1 (one request on the wire at a time)
//	probes         the silent unit's breaker openings in the window
//
// Run it with -benchtime=1x; each iteration takes about 9 s.
func BenchmarkSilentUnitPollRate(b *testing.B) {
	const window = 3 * time.Second
	srv := newServer(b, scadatest.ModbusConfig{})
	srv.SetRegisters(1, scadatest.ModbusHolding, 0, 1)
	gw, err := scadatest.NewModbusGateway(scadatest.ModbusGatewayConfig{Server: srv.Addr()})
	if err != nil {
		b.Fatal(err)
	}
	defer gw.Close()
	gw.SetFault(2, scadatest.GatewaySilent)

	live := Device{UnitID: 1, PollInterval: 20 * time.Millisecond, Tags: []Tag{{Name: "live"}}}
	silent := Device{UnitID: 2, PollInterval: 20 * time.Millisecond, Tags: []Tag{{Name: "silent"}}}
	measure := func(inFlight int, devs ...Device) (polls, opens uint64) {
		s := newSource(b, Config{Name: "gw", Address: gw.Addr(), Timeout: 100 * time.Millisecond,
			UnitFailures: 3, UnitCooldown: 300 * time.Millisecond, MaxInFlight: inFlight, Devices: devs})
		var good atomic.Uint64
		first := make(chan struct{}, 1)
		sink := scada.SinkFunc(func(_ context.Context, batch []scada.Point) error {
			for _, p := range batch {
				if p.Tag == "live" && p.Quality.IsGood() {
					good.Add(1)
					select {
					case first <- struct{}{}:
					default:
					}
				}
			}
			return nil
		})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- s.Run(ctx, sink) }()
		<-first // connected; the window starts with the silent unit's first request
		start := good.Load()
		time.Sleep(window)
		polls = good.Load() - start
		if len(s.devices) > 1 {
			opens = s.Stats().Units[1].BreakerOpens
		}
		cancel()
		if err := <-done; err != nil {
			b.Fatalf("Run: %v", err)
		}
		return polls, opens
	}
	var ratio, serial, probes float64
	for b.Loop() {
		alone, _ := measure(0, live)
		beside, opens := measure(0, live, silent)
		serialBeside, _ := measure(1, live, silent)
		ratio = float64(beside) / float64(alone)
		serial = float64(serialBeside) / float64(alone)
		probes = float64(opens)
		b.Logf("live polls in %v: alone %d, beside a silent unit %d (ratio %.3f, %d breaker openings), one request at a time %d (ratio %.3f)",
			window, alone, beside, ratio, opens, serialBeside, serial)
	}
	b.ReportMetric(ratio, "ratio")
	b.ReportMetric(serial, "serial-ratio")
	b.ReportMetric(probes, "probes")
}
