// Command orchestrator is the reference GL-001 wiring: the whole
// process-heat loop on one machine.
//
// With no arguments it starts embedded simulators on 127.0.0.1 (an OPC UA
// server with boiler and furnace tags, a Modbus gateway with four energy
// meters, an MQTT broker with JSON sensors and a Sparkplug B edge node, fake
// SAP S/4HANA, Oracle Fusion and Dynamics 365 endpoints, and 99 agents
// GL-002..GL-100) and runs against them:
//
//	go run ./examples/orchestrator -duration 20s
//
// With -config it reads a TOML file naming real SCADA endpoints, ERP systems
// and the NATS URL (see orchestrator.sample.toml); secrets come from the
// environment variables listed in README.md. -check validates the file and
// exits.
//
// Points flow from the Collector through the transform pipeline (calibrate,
// convert, validate and score, deadband) into the store-and-forward buffer;
// a consumer reads the buffer for the coordination rounds, which send
// optimize_heat_distribution with the recent SCADA values and the ERP energy
// picture to every agent, and three queries that use the other strategies
// and aggregations. A summary is printed every few seconds; the status page,
// /healthz and /metrics are served on 127.0.0.1:8080. Ctrl-C stops it
// cleanly.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	if err := mainErr(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "orchestrator:", err)
		os.Exit(1)
	}
}

func mainErr(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("orchestrator", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "", "TOML configuration of real systems; empty runs the embedded simulators")
	check := fs.Bool("check", false, "validate the configuration and exit")
	duration := fs.Duration("duration", 0, "stop after this long (0: run until interrupted)")
	httpAddr := fs.String("http", "", `status page address, overriding the configuration (default "127.0.0.1:8080"; "off" disables)`)
	agents := fs.Int("agents", 99, "simulated agents (without -config)")
	verbose := fs.Bool("v", false, "log the SDK's events to stderr")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *duration)
		defer cancel()
	}

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
		if err := cfg.Validate(opts.Getenv); err != nil {
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

	started := time.Now()
	err := run(ctx, cfg, opts, stdout)
	fmt.Fprintf(stdout, "stopped after %s\n", time.Since(started).Round(100*time.Millisecond))
	return err
}
