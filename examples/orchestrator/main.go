// Command orchestrator is the reference GL-001 wiring: the whole
// process-heat loop on one machine.
//
// With no arguments it starts embedded simulators on 127.0.0.1 (an OPC UA
// server with boiler and furnace tags, a Modbus gateway with four energy
// meters, an MQTT broker with JSON sensors and a Sparkplug B edge node, fake
// SAP S/4HANA, Oracle Fusion, Dynamics 365 and Workday endpoints, and 99
// agents GL-002..GL-100) and runs against them:
//
//	go run ./examples/orchestrator -duration 20s
//
// The simulators inject faults on purpose: a few agents always fail, some
// fail now and then, some answer too late, a sensor sends stale timestamps
// and another a Bad quality now and then. So the status is "degraded" most
// of the time, and the summary and the status page say why.
//
// Points take the road an edge and a central node take on two machines:
// the edge's buffer is drained by a Forwarder into NATS JetStream (here an
// embedded server on 127.0.0.1 with file storage in a temporary
// directory), and the central node reads the stream with a JetStream
// Source under a Collector into its own buffer, which the coordination
// reads. The [forward] section of a configuration file makes a process
// only the edge (collect, buffer, forward) or only the central node
// (consume, coordinate); see edge.sample.toml and central.sample.toml.
//
// An optional [historian] section also stores the points and the ERP
// energy in PostgreSQL; an optional [writes] section applies the setpoints
// agents recommend in their replies, only through the write guard
// (scada/guard), and the status page lists every attempt. The simulation
// enables writes on a writable OPC UA setpoint.
//
// With -config it reads a TOML file naming real SCADA endpoints, ERP systems
// and the NATS URL (see orchestrator.sample.toml); secrets come from the
// environment variables listed in README.md. -check validates the file,
// including that the certificate, key and CA files it names exist, and
// exits.
//
// The loop is made of parts, each with a Run method, started in order and
// stopped in the reverse order by one runner (runParts): the simulated
// fleet, the agent registry, the buffer's consumer, the central node's
// JetStream Source and event relay, the alarm table (the events and alarms
// of OPC UA connectors with [opcua.events], read from the buffer's event
// log), the forwarder, the SCADA ingest (the
// Collector, whose sink runs the transform pipeline: calibrate, convert,
// validate and score, deadband, then the store-and-forward buffer), one
// poller per ERP system, the coordination rounds (optimize_heat_distribution
// with the recent SCADA values and the ERP energy picture to every agent,
// and three queries that use the other strategies and aggregations), the
// status server (the status page, /healthz and /metrics on 127.0.0.1:8080,
// and POST /alarms/ack with [alarms] ack = true)
// and the summary. On a terminal the summary redraws itself in place;
// otherwise it prints one line per interval and the full summary at the
// end. -duration counts from when the loop runs (the first coordination
// round), not from when the simulators start. Ctrl-C stops it cleanly.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"
)

func main() {
	err := mainErr(os.Args[1:], os.Stdout, os.Stderr)
	switch {
	case err == nil:
	case errors.Is(err, errUsage):
		os.Exit(2) // the flag package has printed the problem and the usage
	default:
		fmt.Fprintln(os.Stderr, "orchestrator:", err)
		os.Exit(1)
	}
}

// errUsage is a command line the flag package refused and has explained.
var errUsage = errors.New("usage")

// durationFlag is a time.Duration flag that, given a bare number, says
// which unit it lacks.
type durationFlag struct{ d *time.Duration }

func (f durationFlag) String() string {
	if f.d == nil {
		return "0s"
	}
	return f.d.String()
}

func (f durationFlag) Set(s string) error {
	d, err := time.ParseDuration(s)
	if err != nil {
		if _, nerr := strconv.ParseFloat(s, 64); nerr == nil {
			return fmt.Errorf("%q has no unit: did you mean %ss?", s, s)
		}
		return fmt.Errorf("%q is not a duration such as 20s, 5m or 1h", s)
	}
	if d < 0 {
		return fmt.Errorf("%q is negative", s)
	}
	*f.d = d
	return nil
}

func mainErr(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("orchestrator", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "", "TOML configuration of real systems; empty runs the embedded simulators")
	check := fs.Bool("check", false, "validate the configuration (and that the files it names exist) and exit")
	var duration time.Duration
	fs.Var(durationFlag{&duration}, "duration", "stop this long after the loop starts running, e.g. 20s (0: run until interrupted)")
	httpAddr := fs.String("http", "", `status page address, overriding the configuration (default "127.0.0.1:8080"; "off" disables)`)
	agents := fs.Int("agents", 99, "simulated agents (without -config)")
	verbose := fs.Bool("v", false, "log the SDK's events to stderr")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return errUsage
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	var cfg Config
	var opts Options
	if *configPath == "" {
		if *check {
			return fmt.Errorf("-check needs -config")
		}
		// gopcua's server package, inside the OPC UA simulator, writes to
		// the standard library's global logger; the SDK itself logs only
		// through the slog.Logger below.
		log.SetOutput(io.Discard)
		addr := *httpAddr
		if addr == "" {
			// A first run should not fail because something else has
			// the default port.
			addr = "127.0.0.1:8080"
			if ln, err := net.Listen("tcp", addr); err != nil {
				fmt.Fprintln(stderr, addr, "is in use; the status page takes a free port")
				addr = "127.0.0.1:0"
			} else {
				ln.Close()
			}
		}
		sim, scfg, sopts, err := startSimulation(SimOptions{Agents: *agents, HTTP: addr})
		if err != nil {
			return err
		}
		defer sim.Close()
		cfg, opts = scfg, sopts
	} else {
		var err error
		if cfg, err = LoadConfig(*configPath); err != nil {
			return err
		}
		if *httpAddr != "" {
			cfg.HTTP.Listen = *httpAddr
		}
		opts.Getenv = os.Getenv
		if err := errors.Join(cfg.Validate(opts.Getenv), cfg.CheckFiles(opts.Getenv)); err != nil {
			return err
		}
		if *check {
			fmt.Fprintln(stdout, "configuration ok")
			return nil
		}
	}
	level := slog.LevelWarn
	_ = level.UnmarshalText([]byte(cfg.Orchestrator.LogLevel))
	if *verbose {
		level = slog.LevelInfo
	}
	opts.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	opts.Terminal = isTerminal(stdout)

	// -duration counts from when the loop runs, so that a slow start (the
	// first run compiles, a loaded machine starts the simulators slowly)
	// does not eat the run.
	var started time.Time
	if duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithCancel(ctx)
		defer cancel()
		var timer *time.Timer
		opts.OnRunning = func() {
			started = time.Now()
			timer = time.AfterFunc(duration, cancel)
		}
		defer func() {
			if timer != nil {
				timer.Stop()
			}
		}()
	} else {
		opts.OnRunning = func() { started = time.Now() }
	}
	err := run(ctx, cfg, opts, stdout)
	if !started.IsZero() {
		fmt.Fprintf(stdout, "stopped after running %s\n", time.Since(started).Round(100*time.Millisecond))
	}
	return err
}

// isTerminal reports whether w is a character device, such as a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
