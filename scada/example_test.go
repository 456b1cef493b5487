package scada_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/greenlang/gl001/scada/buffer"

	"github.com/greenlang/gl001/resilience"
	"github.com/greenlang/gl001/scada"
)

// simulatedBoiler stands for a protocol Source (scada/opcua, scada/modbus,
// scada/mqtt): it delivers three readings, then serves until told to stop.
type simulatedBoiler struct{ tag string }

func (s simulatedBoiler) Run(ctx context.Context, sink scada.Sink) error {
	t0 := time.Date(2026, 6, 1, 8, 0, 0, 0, time.UTC)
	batch := []scada.Point{
		{Tag: s.tag, Value: 181.5, Unit: "degC", Quality: scada.Good, Time: t0},
		{Tag: s.tag, Value: 182.0, Unit: "degC", Quality: scada.Good, Time: t0.Add(time.Second)},
		{Tag: s.tag, Unit: "degC", Quality: scada.BadSensorFailure, Time: t0.Add(2 * time.Second)},
	}
	if err := sink.Deliver(ctx, batch); err != nil {
		return err
	}
	<-ctx.Done()
	return ctx.Err()
}

// A Collector supervises every source and feeds one store-and-forward Buffer;
// a consumer reads the Buffer from its own cursor and commits what it has
// forwarded, so it resumes where it stopped after a restart.
func Example() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	buf, err := buffer.NewMemory(buffer.MemoryConfig{MaxAge: 24 * time.Hour})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer buf.Close()

	col, err := scada.NewCollector(scada.CollectorConfig{Sink: buf})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, name := range []string{"boiler-1", "boiler-2"} {
		if err := col.Add(name, simulatedBoiler{tag: name + ".steam_temp"}); err != nil {
			fmt.Println(err)
			return
		}
	}

	// The historian consumes the buffer.
	var lines []string
	for len(lines) < 6 {
		b, err := buf.Read(ctx, "historian", 100)
		if err != nil {
			fmt.Println(err)
			return
		}
		for _, p := range b.Points {
			lines = append(lines, fmt.Sprintf("%s %s %.1f %s %s", p.Source, p.Tag, p.Value, p.Unit, p.Quality))
		}
		if err := buf.Commit(ctx, "historian", b.Next()); err != nil {
			fmt.Println(err)
			return
		}
	}
	slices.Sort(lines) // the two boilers interleave in any order
	for _, l := range lines {
		fmt.Println(l)
	}

	for _, h := range col.Health() {
		fmt.Printf("%s: %s, %d points, %d bad, last at %s\n", h.Name, h.State, h.Points, h.BadPoints, h.LastPointTime.Format(time.TimeOnly))
	}
	if err := col.Close(); err != nil {
		fmt.Println(err)
	}
	// Output:
	// boiler-1 boiler-1.steam_temp 0.0 degC BadSensorFailure
	// boiler-1 boiler-1.steam_temp 181.5 degC Good
	// boiler-1 boiler-1.steam_temp 182.0 degC Good
	// boiler-2 boiler-2.steam_temp 0.0 degC BadSensorFailure
	// boiler-2 boiler-2.steam_temp 181.5 degC Good
	// boiler-2 boiler-2.steam_temp 182.0 degC Good
	// boiler-1: connected, 3 points, 1 bad, last at 08:00:02
	// boiler-2: connected, 3 points, 1 bad, last at 08:00:02
}

// flakyMeter refuses its first connection, then delivers one reading.
type flakyMeter struct{ attempts int }

func (m *flakyMeter) Run(ctx context.Context, sink scada.Sink) error {
	m.attempts++
	if m.attempts == 1 {
		return fmt.Errorf("%w: dial tcp 10.0.0.9:502: connection refused", scada.ErrConnection)
	}
	if err := sink.Deliver(ctx, []scada.Point{{Tag: "gas.flow", Value: 12.5, Unit: "m3/h", Time: time.Now()}}); err != nil {
		return err
	}
	<-ctx.Done()
	return ctx.Err()
}

// The health hook reports every change of a source's state, for a dashboard
// or a metrics exporter.
func ExampleCollectorConfig_onHealthChange() {
	connected := make(chan struct{})
	col, err := scada.NewCollector(scada.CollectorConfig{
		Sink:    scada.SinkFunc(func(context.Context, []scada.Point) error { return nil }),
		Backoff: resilience.Backoff{Initial: time.Millisecond, Max: time.Second},
		OnHealthChange: func(h scada.SourceHealth) {
			fmt.Printf("%s: %s", h.Name, h.State)
			if h.State == resilience.StateBackingOff {
				fmt.Printf(" after %q", h.LastError)
			}
			fmt.Println()
			if h.State == resilience.StateConnected {
				close(connected)
			}
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := col.Add("gas-meter", &flakyMeter{}); err != nil {
		fmt.Println(err)
		return
	}
	<-connected
	h, _ := col.HealthOf("gas-meter")
	fmt.Println("attempts:", h.Attempts, "consecutive failures:", h.ConsecutiveFailures)
	fmt.Println(col.Close(), errors.Is(col.Close(), scada.ErrClosed))
	// Output:
	// gas-meter: connecting
	// gas-meter: backing off after "scada: connection failed: dial tcp 10.0.0.9:502: connection refused"
	// gas-meter: connecting
	// gas-meter: connected
	// attempts: 2 consecutive failures: 0
	// gas-meter: stopped
	// <nil> true
}

// lockedOut stands for a source whose server refuses its credentials.
type lockedOut struct{}

func (lockedOut) Run(context.Context, scada.Sink) error {
	return fmt.Errorf("opc.tcp://plc7:4840: session: %w: BadUserAccessDenied", scada.ErrPermanent)
}

// A refusal that retrying cannot fix is shown as such in health, with its
// cause, and tried again only every PermanentDelay, not at the backoff's rate.
func ExampleCollectorConfig_permanentDelay() {
	refused := make(chan scada.SourceHealth, 1)
	col, err := scada.NewCollector(scada.CollectorConfig{
		Sink:           scada.SinkFunc(func(context.Context, []scada.Point) error { return nil }),
		PermanentDelay: 10 * time.Minute,
		OnHealthChange: func(h scada.SourceHealth) {
			if h.State == resilience.StateRefused {
				refused <- h
			}
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer col.Close()
	if err := col.Add("plc7", lockedOut{}); err != nil {
		fmt.Println(err)
		return
	}
	h := <-refused
	fmt.Println(h.Name, h.State, h.Permanent, h.Breaker)
	fmt.Println(h.LastError)
	fmt.Println("next attempt within 12 minutes:", h.NextAttempt.Sub(h.Since) <= 12*time.Minute)
	// Output:
	// plc7 refused true closed
	// opc.tcp://plc7:4840: session: scada: refused permanently: BadUserAccessDenied
	// next attempt within 12 minutes: true
}
