// Command opcua-subscribe subscribes to an OPC UA server's tags and prints
// the values as they change.
//
// It starts the SDK's in-process OPC UA simulator on 127.0.0.1 (three boiler
// tags that change every 200 ms), browses it to discover the tags, subscribes
// to them with monitored items, writes a setpoint, and stops after -points
// values (or -duration):
//
//	go run ./examples/opcua-subscribe
//
// Point -endpoint at a real server to browse and subscribe there instead;
// security None is used only because the simulator offers nothing else.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/signal"
	"strings"
	"sync"
	"time"

	"github.com/greenlang/gl001/scada"
	"github.com/greenlang/gl001/scada/opcua"
	"github.com/greenlang/gl001/scada/scadatest"
)

func main() {
	points := flag.Int("points", 12, "stop after this many values")
	duration := flag.Duration("duration", 30*time.Second, "stop after this long at most")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, *duration)
	defer cancel()
	// gopcua's server package writes to the standard logger.
	log.SetOutput(io.Discard)
	if err := run(ctx, os.Stdout, *points); err != nil {
		fmt.Fprintln(os.Stderr, "opcua-subscribe:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, out io.Writer, want int) error {
	srv, err := scadatest.NewOPCUAServer(scadatest.OPCUAConfig{
		UpdateInterval: 200 * time.Millisecond,
		Tags: []scadatest.OPCUATag{
			{Name: "Boiler1.SteamTemp", Initial: 480, Step: 0.5, Unit: "°C"},
			{Name: "Boiler1.DrumPressure", Initial: 41.5, Step: 0.01, Unit: "bar"},
			{Name: "Boiler1.FuelFlow", Initial: 2800, Step: 3, Unit: "m³/h"},
			{Name: "Boiler1.SteamTempSetpoint", Initial: 485, Unit: "°C", Writable: true},
		},
	})
	if err != nil {
		return err
	}
	defer srv.Close()
	fmt.Fprintln(out, "simulator at", srv.Endpoint())

	// Discover the tags: Browse is an optional capability of the Source
	// (scada.Browser). A Source needs at least one tag to exist, so browse
	// with a first one and subscribe with what was found.
	browser, err := opcua.New(opcua.Config{
		Endpoint: srv.Endpoint(), SecurityPolicy: opcua.PolicyNone, SecurityMode: opcua.ModeNone,
		Tags: []opcua.Tag{{Name: "probe", NodeID: srv.NodeID("Boiler1.SteamTemp")}},
	})
	if err != nil {
		return err
	}
	found, err := browser.Browse(ctx, "")
	browser.Close()
	if err != nil {
		return fmt.Errorf("browse: %w", err)
	}
	cfg := opcua.Config{
		Name:             "boiler1",
		Endpoint:         srv.Endpoint(),
		SecurityPolicy:   opcua.PolicyNone, // the simulator serves None only
		SecurityMode:     opcua.ModeNone,
		SamplingInterval: 200 * time.Millisecond,
	}
	// Keep the plant's variables: the simulator's namespace, not the
	// server's own diagnostics in namespace 0.
	ns, _, _ := strings.Cut(srv.NodeID("x"), ";")
	for _, ti := range found {
		if !strings.HasPrefix(ti.ID, ns+";") {
			continue
		}
		fmt.Fprintf(out, "found %-32s %-26s unit %-5s writable %v\n", ti.ID, ti.Name, ti.Unit, ti.Writable)
		cfg.Tags = append(cfg.Tags, opcua.Tag{Name: ti.Name, NodeID: ti.ID, Writable: ti.Writable})
	}
	src, err := opcua.New(cfg)
	if err != nil {
		return err
	}
	defer src.Close()

	// Run holds one connection and delivers points to the sink until ctx
	// ends; a scada.Collector would reconnect it, here we stop after want
	// values.
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	var mu sync.Mutex
	n := 0
	connected := make(chan struct{})
	var once sync.Once
	sink := scada.SinkFunc(func(_ context.Context, batch []scada.Point) error {
		once.Do(func() { close(connected) })
		mu.Lock()
		defer mu.Unlock()
		for _, p := range batch {
			if n == want {
				stop()
				return nil
			}
			n++
			fmt.Fprintf(out, "%-26s %9.2f %-5s %s\n", p.Tag, p.Value, p.Unit, p.Quality)
		}
		return nil
	})
	done := make(chan error, 1)
	go func() { done <- src.Run(runCtx, sink) }()

	// Write a setpoint through the running connection (scada.Writer).
	select {
	case <-connected:
		err := src.Write(ctx, "Boiler1.SteamTempSetpoint", 490)
		v, _ := srv.Value("Boiler1.SteamTempSetpoint")
		mu.Lock() // the sink prints from the source's goroutine
		if err != nil {
			fmt.Fprintln(out, "write:", err)
		} else {
			fmt.Fprintf(out, "wrote Boiler1.SteamTempSetpoint = %.0f\n", v)
		}
		mu.Unlock()
	case err := <-done:
		return err
	}
	err = <-done
	if errors.Is(err, context.Canceled) || err == nil {
		s := src.Stats()
		mu.Lock()
		fmt.Fprintf(out, "printed %d points; the source delivered %d in %d publish responses\n", n, s.Points, s.Publishes)
		mu.Unlock()
		return ctx.Err()
	}
	return err
}
