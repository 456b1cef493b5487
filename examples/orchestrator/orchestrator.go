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
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/greenlang/gl001/coord"
	"github.com/greenlang/gl001/coord/jwtauth"
	"github.com/greenlang/gl001/coord/natsbus"
	"github.com/greenlang/gl001/scada"
	"github.com/greenlang/gl001/scada/buffer"
	fjs "github.com/greenlang/gl001/scada/forward/jetstream"
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

	// Built by New: nothing connects or runs yet. ingest is the edge's
	// (nil in the central role).
	ingest *ingest
	erps   []*erpPoller
	signer *jwtauth.HS256

	// Opened by Run, before the parts start; closed after they stopped.
	// buffer is what the consumer reads: the central node's buffer, or
	// the edge's in the edge role; edgeBuffer is what the ingest fills
	// and the forwarders drain (nil in the central role).
	buffer      buffer.Buffer
	edgeBuffer  buffer.Buffer
	central     *ingest      // the JetStream Source under a Collector (nil in the edge role)
	forwarders  []*forwarder // the JetStream road
	historian   *historian   // nil without a [historian] section
	writes      *writes      // nil unless [writes] is enabled
	edgeRef     *bufferRef   // the edge buffer, as the connectors see it
	alarms      *alarmTable  // the conditions in the event log of buffer
	acker       *acker       // nil unless [alarms] ack is enabled
	relay       *eventRelay  // the central node's events from JetStream
	natsURL     string       // the JetStream server, redacted
	embedded    bool         // started in-process
	jsServer    *embeddedJetStream
	edgeConn    *nats.Conn
	centralConn *nats.Conn
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
	o := &Orchestrator{cfg: cfg, opts: opts, log: log, edgeRef: &bufferRef{}}
	if cfg.Forward.Role != "central" {
		conns, err := newSources(cfg, opts.Getenv, o.edgeRef, log)
		if err != nil {
			return nil, err
		}
		if o.ingest, err = newIngest(cfg.Transform, conns, log); err != nil {
			return nil, err
		}
		if cfg.Writes.Enabled {
			if o.writes, err = newWrites(cfg.Writes, conns, log); err != nil {
				return nil, err
			}
		}
		if cfg.Alarms.Ack {
			if o.acker, err = newAcker(cfg.Alarms, conns, opts.Getenv(envAckToken), o.ingest.connected, log); err != nil {
				return nil, err
			}
		}
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
	role := o.cfg.Forward.Role
	closeBuf := func(b buffer.Buffer, what string) {
		if cerr := b.Close(); cerr != nil && !errors.Is(cerr, scada.ErrClosed) && err == nil {
			err = fmt.Errorf("%s: %w", what, cerr)
		}
	}
	if role == "central" {
		if o.buffer, err = o.openBuffer(o.cfg.Buffer); err != nil {
			return err
		}
		defer closeBuf(o.buffer, "buffer")
	} else {
		if o.edgeBuffer, err = o.openBuffer(o.cfg.Buffer); err != nil {
			return err
		}
		defer closeBuf(o.edgeBuffer, "buffer")
		o.ingest.buf = o.edgeBuffer
		o.edgeRef.buf = o.edgeBuffer
		o.buffer = o.edgeBuffer
		if role == "all" {
			// The central node's own buffer, in memory: the edge's
			// buffer settings (a disk directory) are the edge's.
			if o.buffer, err = o.openBuffer(BufferConfig{Kind: "memory", MaxAge: o.cfg.Buffer.MaxAge}); err != nil {
				return err
			}
			defer closeBuf(o.buffer, "central buffer")
		}
	}
	if err := o.startRoad(ctx); err != nil {
		return err
	}
	defer o.closeRoad()
	if o.cfg.Historian.enabled() {
		// The historian drains the buffer the consumer reads: the central
		// node's, or the edge's in the edge role.
		edge := o.cfg.Orchestrator.ID
		if role == "edge" {
			edge = o.cfg.Forward.EdgeID
		}
		if o.historian, err = openHistorian(ctx, o.cfg.Historian, o.buffer, edge, o.log); err != nil {
			return err
		}
		defer o.historian.close()
		for _, e := range o.erps {
			e.onEnergy = o.historian.storeEnergy
		}
	}
	if o.consumer, err = newConsumer(o.buffer, o.cfg.Transform.Window, o.log); err != nil {
		return fmt.Errorf("transform.window: %w", err)
	}
	o.alarms = newAlarmTable(o.buffer, o.log)
	if o.acker != nil {
		o.acker.table = o.alarms
	}
	if role == "edge" {
		// The edge does not coordinate: its bus stays local and empty.
		o.cfg.Agents.Bus = "local"
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
	if o.writes != nil {
		o.rounds.onMain = o.writes.recommend
	}

	// The parts, in the order they start; they stop in the reverse order:
	// the edge's ingest first (it appends what it accepted), then the
	// forwarders (they send what the buffer holds for them), then the
	// central Source (it receives what they sent), then the consumer.
	var parts []part
	if o.opts.Fleet != nil && role != "edge" {
		var signer coord.Signer
		var verifier coord.Verifier
		if o.signer != nil {
			signer, verifier = o.signer, o.signer
		}
		parts = append(parts, part{"fleet", func(ctx context.Context) error { return o.opts.Fleet(ctx, o.bus, signer, verifier) }})
	}
	if role != "edge" {
		parts = append(parts, part{"registry", o.registry.Run})
	}
	parts = append(parts, part{"consumer", o.consumer.Run}, part{"alarms", o.alarms.Run})
	if o.relay != nil {
		parts = append(parts, part{"event relay", o.relay.Run})
	}
	if o.historian != nil {
		parts = append(parts, part{"historian", o.historian.Run})
	}
	if o.central != nil {
		parts = append(parts, part{"central", o.central.Run})
	}
	for _, fw := range o.forwarders {
		parts = append(parts, part{"forwarder " + fw.name, fw.Run})
	}
	if o.ingest != nil {
		parts = append(parts, part{"ingest", o.ingest.Run})
	}
	for _, e := range o.erps {
		parts = append(parts, part{"erp " + e.cfg.Name, e.Run})
	}
	if o.writes != nil {
		// After the ingest (its connectors write), before the rounds
		// (they recommend).
		parts = append(parts, part{"writes", o.writes.Run})
	}
	if role != "edge" {
		parts = append(parts, part{"coordination", o.rounds.Run})
	} else {
		parts = append(parts, part{"running", func(ctx context.Context) error {
			if o.opts.OnRunning != nil {
				o.opts.OnRunning()
			}
			<-ctx.Done()
			return nil
		}})
	}
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

	if o.ingest != nil {
		st := o.ingest.stats()
		bs := o.edgeBuffer.Stats()
		db := o.ingest.deadband.Stats()
		fmt.Fprintf(out, "drained: %d points accepted, %d delivered to the pipeline, %d buffered\n",
			st.Accepted, st.Delivered, bs.Appended)
		fmt.Fprintf(out, "  the deadband left out %d (%d unchanged, %d redelivered)\n", db.Suppressed+db.Duplicates, db.Suppressed, db.Duplicates)
	}
	fws := o.forwarders
	if o.historian != nil {
		fws = append(slices.Clip(fws), o.historian.fw)
	}
	for _, fw := range fws {
		fs := fw.fwd.Stats()
		fmt.Fprintf(out, "  forwarder %s: %d points acknowledged in %d batches, %d left\n", fw.name, fs.Points, fs.Batches, fs.LagPoints)
	}
	if o.central != nil {
		fmt.Fprintf(out, "  central: %d points received from JetStream, %d buffered\n", o.central.stats().Delivered, o.buffer.Stats().Appended)
	}
	fmt.Fprintf(out, "  consumer: %d points read\n", o.consumer.count())
	return runErr
}

func (o *Orchestrator) openBuffer(b BufferConfig) (buffer.Buffer, error) {
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

// startRoad opens the JetStream road: the embedded server when the "all"
// role names none, the stream, the edge's forwarder and the central node's
// Source. closeRoad closes what it opened, after the parts stopped.
func (o *Orchestrator) startRoad(ctx context.Context) (err error) {
	f := o.cfg.Forward
	defer func() {
		if err != nil {
			o.closeRoad()
		}
	}()
	natsURL := f.NATSURL
	if natsURL == "" {
		if o.jsServer, err = startEmbeddedJetStream(); err != nil {
			return err
		}
		natsURL, o.embedded = o.jsServer.url(), true
	}
	o.natsURL = redactURL(natsURL)
	where := "stream " + f.Stream // the server is in the section's heading
	if f.Role != "central" {
		if o.edgeConn, err = connectJetStream(f, natsURL, o.cfg.Orchestrator.ID+"-edge"); err != nil {
			return err
		}
		if err := ensureStream(ctx, o.edgeConn, f); err != nil {
			return err
		}
		t, err := fjs.New(fjs.Config{Conn: o.edgeConn, Stream: f.Stream, Prefix: f.Prefix, Site: f.Site, Logger: o.log})
		if err != nil {
			return fmt.Errorf("forward: %w", err)
		}
		fw, err := newForwarder("jetstream", where, o.edgeBuffer, jetstreamConsumer, f.EdgeID, t, o.log)
		if err != nil {
			return err
		}
		o.forwarders = append(o.forwarders, fw)
	}
	if f.Role != "edge" {
		if o.centralConn, err = connectJetStream(f, natsURL, o.cfg.Orchestrator.ID+"-central"); err != nil {
			return err
		}
		if err := ensureStream(ctx, o.centralConn, f); err != nil {
			return err
		}
		cn, src, err := centralConnector(f, o.centralConn, o.log)
		if err != nil {
			return err
		}
		o.central = newCentralIngest(cn, o.log)
		o.central.buf = o.buffer
		if el, ok := o.buffer.(buffer.EventLog); ok {
			if o.relay, err = newEventRelay(f, o.centralConn, el, o.log); err != nil {
				return err
			}
		}
		if f.Role == "all" {
			// In one process the central node knows what the edge sent:
			// stopping, it waits for every acknowledged point.
			fw := o.forwarders[0]
			o.central.drained = func() bool { return src.Stats().Points >= fw.fwd.Stats().Points }
		}
	}
	return nil
}

func (o *Orchestrator) closeRoad() {
	if o.edgeConn != nil {
		o.edgeConn.Close()
	}
	if o.centralConn != nil {
		o.centralConn.Close()
	}
	if o.jsServer != nil {
		o.jsServer.close()
	}
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
