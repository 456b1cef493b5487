package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/greenlang/gl001/coord"
	"github.com/greenlang/gl001/coord/jwtauth"
	"github.com/greenlang/gl001/coord/natsbus"
	"github.com/greenlang/gl001/scada"
	"github.com/greenlang/gl001/scada/buffer"
)

// Options are what the configuration file does not say: how the process
// reaches its environment, and the hooks of the embedded simulation.
type Options struct {
	// Getenv looks up secrets and MESSAGE_BUS_TIMEOUT; nil means os.Getenv.
	Getenv func(string) string
	// Logger receives the SDK's logs; nil discards them.
	Logger *slog.Logger
	// ERPTrust maps an ERP system name to the TLS configuration that trusts
	// it (the simulators' certificates). Real systems use the system roots.
	ERPTrust map[string]*tls.Config
	// Fleet, if set, runs agents on the bus (the simulated GL-002..GL-100)
	// until ctx ends. It is the first part started and the last stopped.
	Fleet func(ctx context.Context, bus coord.Bus, signer coord.Signer, verifier coord.Verifier) error
	// OnHTTP, if set, is called with the status page's address once it
	// listens.
	OnHTTP func(addr string)
	// OnRunning, if set, is called once, when the loop runs: every part has
	// started and the first coordination round begins.
	OnRunning func()
	// Terminal makes the summary redraw itself in place, for a terminal;
	// otherwise it prints one compact line per interval.
	Terminal bool
	// Extra is shown by the summary after the header, e.g. "simulated".
	Extra string
}

// Orchestrator is the GL-001 loop, made of parts that each own one concern
// (see runParts): the SCADA ingest into the store-and-forward buffer, the
// buffer's consumer, one poller per ERP system, the coordination rounds,
// the status server and the terminal summary. Build it with New, run it
// with Run.
type Orchestrator struct {
	cfg   Config
	opts  Options
	log   *slog.Logger
	start time.Time
	rate  rateMeter

	// Built by New: nothing connects or runs yet.
	ingest *ingest
	erps   []*erpPoller
	signer *jwtauth.HS256

	// Opened by Run, before the parts start; closed after they stopped.
	buffer      buffer.Buffer
	bus         coord.Bus
	registry    *coord.Registry
	coordinator *coord.Coordinator
	consumer    *consumer
	rounds      *rounds
}

// New checks cfg and builds every connector and client; nothing connects or
// starts until Run. A configuration problem is returned here, naming its
// field.
func New(cfg Config, opts Options) (*Orchestrator, error) {
	if opts.Getenv == nil {
		opts.Getenv = os.Getenv
	}
	if err := cfg.Validate(opts.Getenv); err != nil {
		return nil, err
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	o := &Orchestrator{cfg: cfg, opts: opts, log: log}
	conns, err := newSources(cfg, opts.Getenv, log)
	if err != nil {
		return nil, err
	}
	if o.ingest, err = newIngest(cfg.Transform, conns, log); err != nil {
		return nil, err
	}
	for _, e := range cfg.ERP {
		c, closeFn, err := newERPClient(e, opts.Getenv, opts.ERPTrust[e.Name], log)
		if err != nil {
			o.closeERP()
			return nil, fmt.Errorf("erp %s: %w", e.Name, err)
		}
		p, err := newERPPoller(e, c, closeFn, log)
		if err != nil {
			_ = closeFn()
			o.closeERP()
			return nil, fmt.Errorf("erp %s: %w", e.Name, err)
		}
		o.erps = append(o.erps, p)
	}
	if cfg.Agents.Sign {
		s, err := jwtauth.NewHS256([]byte(opts.Getenv(jwtauth.EnvSecret)))
		if err != nil {
			o.closeERP()
			return nil, fmt.Errorf("agents.sign: %w", err)
		}
		o.signer = s
	}
	return o, nil
}

func (o *Orchestrator) closeERP() {
	for _, e := range o.erps {
		_ = e.close()
	}
}

// run is what main calls: build, then run until ctx ends.
func run(ctx context.Context, cfg Config, opts Options, out io.Writer) error {
	o, err := New(cfg, opts)
	if err != nil {
		return err
	}
	return o.Run(ctx, out)
}

// Run opens the buffer, the agent bus and the status page's listener, runs
// the parts until ctx ends or one fails, stops them in order, writes the
// final summary and the drained counts to out, and closes what it opened.
// Run may be called once.
func (o *Orchestrator) Run(ctx context.Context, out io.Writer) (err error) {
	defer o.closeERP()
	// Several parts print; out need not be safe for concurrent use (a
	// bytes.Buffer in tests is not).
	out = &lockedWriter{w: out}
	o.start = time.Now()
	var ln net.Listener
	if o.cfg.HTTP.Listen != "off" {
		ln, err = net.Listen("tcp", o.cfg.HTTP.Listen)
		if err != nil {
			return fmt.Errorf("http.listen: %w", err)
		}
		defer ln.Close()
	}
	if o.buffer, err = o.openBuffer(); err != nil {
		return err
	}
	defer func() {
		if cerr := o.buffer.Close(); cerr != nil && !errors.Is(cerr, scada.ErrClosed) && err == nil {
			err = fmt.Errorf("buffer: %w", cerr)
		}
	}()
	o.ingest.buf = o.buffer
	if o.consumer, err = newConsumer(o.buffer, o.cfg.Transform.Window, o.log); err != nil {
		return fmt.Errorf("transform.window: %w", err)
	}
	if err := o.startBus(); err != nil {
		return err
	}
	defer o.bus.Close()
	defer o.coordinator.Close()
	o.rounds = &rounds{
		cfg: o.cfg.Coordination, id: o.cfg.Orchestrator.ID, plant: o.cfg.Orchestrator.Plant, expect: o.cfg.Agents.Expect,
		bus: o.bus, registry: o.registry, coordinator: o.coordinator, consumer: o.consumer, erps: o.erps, log: o.log,
		onRunning: o.opts.OnRunning, replies: map[string]map[string]uint64{}, failures: map[string]agentFailure{},
	}
	m := newMetrics(o)
	o.rounds.observe = m.observe

	// The parts, in the order they start; they stop in the reverse order.
	var parts []part
	if o.opts.Fleet != nil {
		var signer coord.Signer
		var verifier coord.Verifier
		if o.signer != nil {
			signer, verifier = o.signer, o.signer
		}
		parts = append(parts, part{"fleet", func(ctx context.Context) error { return o.opts.Fleet(ctx, o.bus, signer, verifier) }})
	}
	parts = append(parts,
		part{"registry", o.registry.Run},
		part{"consumer", o.consumer.Run},
		part{"ingest", o.ingest.Run},
	)
	for _, e := range o.erps {
		parts = append(parts, part{"erp " + e.cfg.Name, e.Run})
	}
	parts = append(parts, part{"coordination", o.rounds.Run})
	if ln != nil {
		addr := ln.Addr().String()
		parts = append(parts, part{"http", (&statusServer{o: o, ln: ln, metrics: m, log: o.log}).Run})
		if o.opts.OnHTTP != nil {
			o.opts.OnHTTP(addr)
		}
		fmt.Fprintf(out, "status page http://%s/ (and /healthz, /metrics)\n", addr)
	}
	parts = append(parts, part{"summary", (&summary{o: o, out: out, interval: o.cfg.Orchestrator.SummaryInterval, terminal: o.opts.Terminal}).Run})

	runErr := runParts(ctx, parts)

	st := o.ingest.stats()
	bs := o.buffer.Stats()
	db := o.ingest.deadband.Stats()
	fmt.Fprintf(out, "drained: %d points accepted, %d delivered to the pipeline, %d buffered, %d read\n",
		st.Accepted, st.Delivered, bs.Appended, o.consumer.count())
	fmt.Fprintf(out, "  the deadband left out %d (%d unchanged, %d redelivered)\n", db.Suppressed+db.Duplicates, db.Suppressed, db.Duplicates)
	return runErr
}

func (o *Orchestrator) openBuffer() (buffer.Buffer, error) {
	b := o.cfg.Buffer
	onDrop := func(e buffer.DropEvent) {
		o.log.Warn("buffer dropped points", "reason", e.Reason.String(), "points", e.Points)
	}
	if b.Kind == "disk" {
		buf, err := buffer.OpenDisk(buffer.DiskConfig{Dir: b.Dir, MaxAge: b.MaxAge, MaxBytes: b.MaxBytes, OnDrop: onDrop, Logger: o.log})
		if err != nil {
			return nil, fmt.Errorf("buffer.dir: %w", err)
		}
		return buf, nil
	}
	buf, err := buffer.NewMemory(buffer.MemoryConfig{MaxAge: b.MaxAge, MaxBytes: b.MaxBytes, OnDrop: onDrop, Logger: o.log})
	if err != nil {
		return nil, fmt.Errorf("buffer: %w", err)
	}
	return buf, nil
}

// startBus opens the agent bus, the registry and the coordinator on it.
func (o *Orchestrator) startBus() error {
	timeout := busTimeout(o.opts.Getenv, 5*time.Second)
	switch o.cfg.Agents.Bus {
	case "nats":
		nc, err := nats.Connect(o.cfg.Agents.NATSURL, nats.Name(o.cfg.Orchestrator.ID), nats.Timeout(timeout))
		if err != nil {
			return fmt.Errorf("agents.nats_url: %w", err)
		}
		b, err := natsbus.New(nc, natsbus.Config{RequestTimeout: timeout, Logger: o.log})
		if err != nil {
			nc.Close()
			return err
		}
		o.bus = closeBoth{b, nc}
	default:
		b, err := coord.NewLocalBus(coord.LocalBusConfig{RequestTimeout: timeout, Logger: o.log})
		if err != nil {
			return err
		}
		o.bus = b
	}
	var err error
	o.registry, err = coord.NewRegistry(coord.RegistryConfig{
		HeartbeatInterval: o.cfg.Agents.HeartbeatInterval,
		OnHealthChange: func(agent string, from, to coord.Health) {
			o.log.Info("agent health", "agent", agent, "from", from.String(), "to", to.String())
		},
		Logger: o.log,
	})
	if err != nil {
		_ = o.bus.Close()
		return err
	}
	cc := coord.CoordinatorConfig{
		Bus: o.bus, Registry: o.registry, ID: o.cfg.Orchestrator.ID,
		Timeout: o.cfg.Coordination.Timeout, MaxParallel: o.cfg.Coordination.MaxParallel, Logger: o.log,
	}
	if o.signer != nil {
		g, err := coord.NewGuard(coord.GuardConfig{Verifier: o.signer})
		if err != nil {
			_ = o.bus.Close()
			return err
		}
		cc.Signer, cc.Guard = o.signer, g
	}
	o.coordinator, err = coord.NewCoordinator(cc)
	if err != nil {
		_ = o.bus.Close()
		return err
	}
	return nil
}

// closeBoth closes a NATS bus and then its connection, which the bus does
// not own.
type closeBoth struct {
	*natsbus.Bus
	nc *nats.Conn
}

func (c closeBoth) Close() error {
	err := c.Bus.Close()
	c.nc.Close()
	return err
}

// lockedWriter serialises writes to w.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
