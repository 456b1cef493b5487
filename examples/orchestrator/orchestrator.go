package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/greenlang/gl001/scada/buffer"

	"github.com/nats-io/nats.go"

	"github.com/greenlang/gl001/coord"
	"github.com/greenlang/gl001/coord/jwtauth"
	"github.com/greenlang/gl001/coord/natsbus"
	"github.com/greenlang/gl001/erp"
	"github.com/greenlang/gl001/erp/normalize"
	"github.com/greenlang/gl001/resilience"
	"github.com/greenlang/gl001/scada"
	"github.com/greenlang/gl001/transform"
	"github.com/greenlang/gl001/transform/payload"
	"github.com/greenlang/gl001/units"
)

// consumerName is the orchestrator's cursor in the store-and-forward buffer.
const consumerName = "gl001-coordination"

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
	// Fleet, if set, starts agents on the bus once it exists (the simulated
	// GL-002..GL-100) and returns a function that waits for them to stop
	// after ctx ends.
	Fleet func(ctx context.Context, bus coord.Bus, signer coord.Signer, verifier coord.Verifier) (wait func())
	// OnHTTP, if set, is called with the status page's address once it
	// listens.
	OnHTTP func(addr string)
	// Extra is shown by the summary after the header, e.g. "simulated".
	Extra string
}

// Orchestrator is the GL-001 loop: SCADA sources into a Collector, through a
// transform pipeline, into a store-and-forward Buffer; ERP fetches; and
// coordination rounds with the agents. Build it with New, run it with Run.
type Orchestrator struct {
	cfg    Config
	opts   Options
	log    *slog.Logger
	getenv func(string) string
	start  time.Time

	// Built by New.
	conns      []connector
	erps       []*erpSystem
	signer     *jwtauth.HS256
	pipeline   transform.Pipeline
	deadband   *transform.Deadband // the pipeline's last stage, for its counters
	validator  *transform.Validator
	aggregator *transform.Aggregator

	// Built by Run.
	collector   *scada.Collector
	buffer      buffer.Buffer
	bus         coord.Bus
	registry    *coord.Registry
	coordinator *coord.Coordinator
	metrics     *metrics

	// The Collector's sink runs on one goroutine; these are its scratch space.
	scratch []scada.Point

	pointsIn atomic.Uint64    // points the sink received
	grades   [5]atomic.Uint64 // points scored, by transform.Grade

	mu       sync.Mutex
	latest   map[string]scada.Point // newest point per tag, read from the buffer
	consumed uint64                 // points the coordination consumer read
	windows  []transform.Window     // windows flushed since the last round
	rounds   uint64
	last     []roundResult // results of the last round, one per Execute
	rate     rateMeter
	httpAddr string
	outMu    sync.Mutex // one summary at a time on out
}

// erpSystem is one ERP client and what its fetches found.
type erpSystem struct {
	cfg    ERPConfig
	client erp.Client
	close  func() error

	mu        sync.Mutex
	fetches   uint64
	lastFetch time.Time
	lastErr   string
	records   map[string]int // per kind, last fetch
	total     map[string]uint64
	energyKWh float64 // last fetch, last 24 h
	costs     string  // last fetch, e.g. "1234.56 EUR"
	issues    int     // normalisation issues in the last fetch
}

// roundResult is what the status page shows of one Execute.
type roundResult struct {
	Round     uint64    `json:"round"`
	At        time.Time `json:"at"`
	Name      string    `json:"name"`
	Strategy  string    `json:"strategy"`
	Aggregate string    `json:"aggregate"`
	Field     string    `json:"field,omitempty"`
	Targets   int       `json:"targets"`
	Answered  int       `json:"answered"`
	TimedOut  int       `json:"timed_out"`
	Failed    int       `json:"failed"`
	Value     string    `json:"value,omitempty"`
	Consensus bool      `json:"consensus,omitempty"`
	ElapsedMS float64   `json:"elapsed_ms"`
	Error     string    `json:"error,omitempty"`
	Failures  []string  `json:"failures,omitempty"` // the first few, "GL-042: handler failed: ..."
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
	o := &Orchestrator{cfg: cfg, opts: opts, log: log, getenv: opts.Getenv, latest: map[string]scada.Point{}}
	conns, err := newSources(cfg, o.getenv, log)
	if err != nil {
		return nil, err
	}
	o.conns = conns
	for _, e := range cfg.ERP {
		c, closeFn, err := newERPClient(e, o.getenv, opts.ERPTrust[e.Name], log)
		if err != nil {
			o.closeERP()
			return nil, fmt.Errorf("erp %s: %w", e.Name, err)
		}
		o.erps = append(o.erps, &erpSystem{cfg: e, client: c, close: closeFn, records: map[string]int{}, total: map[string]uint64{}})
	}
	if cfg.Agents.Sign {
		s, err := jwtauth.NewHS256([]byte(o.getenv(jwtauth.EnvSecret)))
		if err != nil {
			o.closeERP()
			return nil, fmt.Errorf("agents.sign: %w", err)
		}
		o.signer = s
	}
	if err := o.buildPipeline(); err != nil {
		o.closeERP()
		return nil, err
	}
	return o, nil
}

func (o *Orchestrator) closeERP() {
	for _, e := range o.erps {
		_ = e.close()
	}
}

// buildPipeline makes the point pipeline: calibrate, convert to engineering
// units, validate and score (counting the grades), deadband; and the
// aggregator that summarises what goes to the agents.
func (o *Orchestrator) buildPipeline() error {
	tc := o.cfg.Transform
	cal := transform.CalibrateConfig{Tags: map[string]transform.Calibration{}}
	for tag, c := range tc.Calibration {
		cal.Tags[tag] = transform.Calibration{Factor: c.Factor, Offset: c.Offset}
	}
	calibrator, err := transform.NewCalibrator(cal)
	if err != nil {
		return fmt.Errorf("transform.calibration: %w", err)
	}
	converter, err := transform.NewConverter(transform.ConvertConfig{
		Dimensions:    transform.EngineeringUnits(),
		GaugePressure: transform.EngineeringGaugeUnit(),
		Logger:        o.log,
	})
	if err != nil {
		return err
	}
	vc := transform.ValidateConfig{Tags: map[string]transform.Limits{}, Stale: tc.Stale}
	for tag, l := range tc.Limits {
		lim := transform.Limits{
			Range:     transform.Range{Min: l.Range[0], Max: l.Range[1]},
			Operating: transform.Range{Min: l.Operating[0], Max: l.Operating[1]},
			MaxRate:   l.MaxRate,
			FlatLine:  l.FlatLine,
		}
		if l.Unit != "" {
			u, err := units.Parse(l.Unit)
			if err != nil {
				return fmt.Errorf("transform.limits.%s.unit: %w", tag, err)
			}
			lim.Unit = u
		}
		vc.Tags[tag] = lim
	}
	o.validator, err = transform.NewValidator(vc)
	if err != nil {
		return fmt.Errorf("transform.limits: %w", err)
	}
	deadband, err := transform.NewDeadband(transform.DeadbandConfig{Default: tc.Deadband})
	if err != nil {
		return fmt.Errorf("transform.deadband: %w", err)
	}
	o.aggregator, err = transform.NewAggregator(transform.AggregateConfig{Window: tc.Window})
	if err != nil {
		return fmt.Errorf("transform.window: %w", err)
	}
	score := transform.Func(func(ctx context.Context, batch []scada.Point) ([]scada.Point, error) {
		batch, err := o.validator.Process(ctx, batch)
		for _, p := range batch {
			o.grades[scada.GradeOf(float64(p.Score))].Add(1)
		}
		return batch, err
	})
	o.deadband = deadband
	o.pipeline = transform.Chain(calibrator, converter, score, deadband)
	return nil
}

// deliver is the Collector's sink: the pipeline, then the buffer.
func (o *Orchestrator) deliver(ctx context.Context, batch []scada.Point) error {
	o.pointsIn.Add(uint64(len(batch)))
	pts := append(o.scratch[:0], batch...)
	pts, err := o.pipeline.Process(ctx, pts)
	if err != nil {
		return err
	}
	if _, err := o.buffer.Append(ctx, pts); err != nil {
		return err
	}
	o.scratch = pts[:0]
	return nil
}

// run is what main calls: build, then run until ctx ends.
func run(ctx context.Context, cfg Config, opts Options, out io.Writer) error {
	o, err := New(cfg, opts)
	if err != nil {
		return err
	}
	return o.Run(ctx, out)
}

// Run connects everything, writes the live summary to out, and returns once
// ctx has ended and every part has stopped. It returns an error if a part
// could not start. Run may be called once.
func (o *Orchestrator) Run(ctx context.Context, out io.Writer) (err error) {
	defer o.closeERP()
	// The summary loop and Run both print; out need not be safe for
	// concurrent use (a bytes.Buffer in tests is not).
	out = &lockedWriter{w: out}
	o.start = time.Now()
	var ln net.Listener
	if o.cfg.HTTP.Listen != "off" {
		ln, err = net.Listen("tcp", o.cfg.HTTP.Listen)
		if err != nil {
			return fmt.Errorf("http.listen: %w", err)
		}
		defer ln.Close()
		o.httpAddr = ln.Addr().String()
	}

	if o.buffer, err = o.openBuffer(); err != nil {
		return err
	}
	defer func() {
		if cerr := o.buffer.Close(); cerr != nil && !errors.Is(cerr, scada.ErrClosed) && err == nil {
			err = fmt.Errorf("buffer: %w", cerr)
		}
	}()

	if err := o.startBus(); err != nil {
		return err
	}
	defer o.bus.Close()
	defer o.coordinator.Close()

	o.metrics = newMetrics(o)

	// Parts that stop with ctx, or with runCtx when Run fails half-way.
	runCtx, cancelRun := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancelRun()
	wg.Go(func() { _ = o.registry.Run(runCtx) })
	// The simulated fleet outlives ctx a little, until the final summary
	// has been taken.
	fleetCtx, stopFleet := context.WithCancel(context.WithoutCancel(ctx))
	waitFleet := func() {}
	if o.opts.Fleet != nil {
		var verifier coord.Verifier
		var signer coord.Signer
		if o.signer != nil {
			signer, verifier = o.signer, o.signer
		}
		waitFleet = o.opts.Fleet(fleetCtx, o.bus, signer, verifier)
	}
	defer func() {
		stopFleet()
		waitFleet()
	}()

	o.collector, err = scada.NewCollector(scada.CollectorConfig{
		Sink:    scada.SinkFunc(o.deliver),
		Backoff: resilience.Backoff{Initial: 500 * time.Millisecond, Max: 30 * time.Second},
		Breaker: resilience.BreakerConfig{FailureThreshold: 5, Delay: 15 * time.Second},
		OnHealthChange: func(h scada.SourceHealth) {
			o.log.Info("connector state", "source", h.Name, "state", h.State.String(), "error", h.LastError)
		},
		Logger: o.log,
	})
	if err != nil {
		return err
	}
	for _, c := range o.conns {
		if err := o.collector.Add(c.name, c.src); err != nil {
			_ = o.collector.Close()
			return fmt.Errorf("%s: %w", c.name, err)
		}
	}

	// The consumer of the buffer stops after the Collector has delivered its
	// last points, so it has its own context.
	consumeCtx, stopConsume := context.WithCancel(context.WithoutCancel(ctx))
	var consumer sync.WaitGroup
	consumer.Go(func() { o.consume(consumeCtx) })

	for _, e := range o.erps {
		wg.Go(func() { o.erpLoop(runCtx, e) })
	}
	wg.Go(func() { o.coordinationLoop(runCtx) })
	if o.cfg.Orchestrator.SummaryInterval > 0 {
		wg.Go(func() { o.summaryLoop(runCtx, out) })
	}
	var srv *http.Server
	if ln != nil {
		srv = &http.Server{Handler: o.handler(), ReadHeaderTimeout: 5 * time.Second}
		wg.Go(func() {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				o.log.Error("http", "err", err)
			}
		})
		if o.opts.OnHTTP != nil {
			o.opts.OnHTTP(o.httpAddr)
		}
		fmt.Fprintf(out, "status page http://%s/  health http://%s/healthz  metrics http://%s/metrics\n", o.httpAddr, o.httpAddr, o.httpAddr)
	}

	<-ctx.Done()
	o.writeSummary(out, true)
	stopFleet()
	if srv != nil {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = srv.Shutdown(sctx)
		cancel()
	}
	cerr := o.collector.Close()
	stopConsume()
	consumer.Wait()
	wg.Wait()
	st := o.collector.Stats()
	bs := o.buffer.Stats()
	db := o.deadband.Stats()
	fmt.Fprintf(out, "drained: %d points accepted from the sources, %d delivered to the pipeline, %d left out by the deadband (%d unchanged, %d redelivered), %d in the buffer, %d read by %s\n",
		st.Accepted, st.Delivered, db.Suppressed+db.Duplicates, db.Suppressed, db.Duplicates, bs.Appended, o.consumedPoints(), consumerName)
	if cerr != nil && !errors.Is(cerr, scada.ErrClosed) {
		return fmt.Errorf("collector: %w", cerr)
	}
	return nil
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

// startBus opens the agent bus and the coordinator on it.
func (o *Orchestrator) startBus() error {
	timeout := busTimeout(o.getenv, 5*time.Second)
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

// consume reads the buffer with its own cursor, as any downstream consumer
// would (a historian, a cloud link): it keeps the newest value per tag and the
// aggregation windows for the coordination rounds, and commits what it read.
func (o *Orchestrator) consume(ctx context.Context) {
	for {
		b, err := o.buffer.Read(ctx, consumerName, 4096)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, scada.ErrClosed) {
				return
			}
			o.log.Warn("buffer read", "err", err)
			continue
		}
		_, _ = o.aggregator.Process(ctx, b.Points)
		o.mu.Lock()
		for _, p := range b.Points {
			o.latest[p.Tag] = p
		}
		o.consumed += uint64(len(b.Points))
		o.windows = o.aggregator.Flush(o.windows, time.Now())
		if len(o.windows) > 10000 {
			o.windows = slices.Delete(o.windows, 0, len(o.windows)-10000)
		}
		o.mu.Unlock()
		if err := o.buffer.Commit(ctx, consumerName, b.Next()); err != nil && ctx.Err() == nil {
			o.log.Warn("buffer commit", "err", err)
		}
	}
}

func (o *Orchestrator) consumedPoints() uint64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.consumed
}

// erpLoop fetches one ERP system's records now and then every interval.
func (o *Orchestrator) erpLoop(ctx context.Context, e *erpSystem) {
	t := time.NewTicker(e.cfg.Interval)
	defer t.Stop()
	for {
		o.fetchERP(ctx, e)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// fetchERP reads the kinds of records the configuration names: energy of the
// last 24 hours, production and maintenance orders of the coming week, costs
// of the last 30 days, normalised through package transform.
func (o *Orchestrator) fetchERP(ctx context.Context, e *erpSystem) {
	now := time.Now().UTC()
	plant := e.cfg.Plant
	records := map[string]int{}
	var kwh float64
	var issues int
	var costs map[string]erp.Decimal
	var firstErr error
	fail := func(kind string, err error) {
		if firstErr == nil && !errors.Is(err, erp.ErrMalformed) {
			firstErr = fmt.Errorf("%s: %w", kind, err)
		}
	}
	rn, _ := normalize.NewRecordNormalizer(normalize.RecordConfig{})
	for _, kind := range e.cfg.Fetch {
		if ctx.Err() != nil {
			return
		}
		switch kind {
		case "energy":
			en, _ := normalize.NewEnergyNormalizer(normalize.EnergyConfig{Interval: time.Hour})
			q := erp.Query{From: now.Add(-24 * time.Hour), To: now}
			for r, err := range en.All(e.client.Energy(ctx, q)) {
				if err != nil {
					fail(kind, err)
					continue
				}
				records[kind]++
				issues += len(r.Issues)
				if !math.IsNaN(r.Value) {
					kwh += r.Value
				}
			}
		case "production":
			q := erp.Query{Plant: plant, From: now.Add(-24 * time.Hour), To: now.Add(7 * 24 * time.Hour)}
			for r, err := range e.client.Production(ctx, q) {
				if err != nil {
					fail(kind, err)
					continue
				}
				_, is := rn.Production(r)
				records[kind]++
				issues += len(is)
			}
		case "maintenance":
			q := erp.Query{Plant: plant, From: now.Add(-24 * time.Hour), To: now.Add(7 * 24 * time.Hour)}
			for r, err := range e.client.Maintenance(ctx, q) {
				if err != nil {
					fail(kind, err)
					continue
				}
				_, is := rn.Maintenance(r)
				records[kind]++
				issues += len(is)
			}
		case "costs":
			q := erp.Query{From: now.Add(-30 * 24 * time.Hour), To: now}
			for r, err := range e.client.Costs(ctx, q) {
				if err != nil {
					fail(kind, err)
					continue
				}
				r, is := rn.Cost(r)
				records[kind]++
				issues += len(is)
				if costs == nil {
					costs = map[string]erp.Decimal{}
				}
				if sum, err := costs[r.Amount.Currency].Add(r.Amount.Amount); err == nil {
					costs[r.Amount.Currency] = sum
				}
			}
		}
	}
	if ctx.Err() != nil {
		return // a fetch cut short by shutdown says nothing about the system
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.fetches++
	e.lastFetch = time.Now()
	e.records = records
	for k, n := range records {
		e.total[k] += uint64(n)
	}
	e.energyKWh = kwh
	e.issues = issues
	var sums []string
	for cur, d := range costs {
		sums = append(sums, erp.Money{Amount: d, Currency: cur}.String())
	}
	slices.Sort(sums)
	e.costs = strings.Join(sums, ", ")
	e.lastErr = ""
	if firstErr != nil {
		e.lastErr = resilience.Redact(firstErr.Error())
		o.log.Warn("erp fetch", "erp", e.cfg.Name, "err", e.lastErr)
	}
}

// coordinationLoop runs a coordination round every interval once agents
// have registered.
func (o *Orchestrator) coordinationLoop(ctx context.Context) {
	if n := o.cfg.Agents.Expect; n > 0 {
		wctx, cancel := context.WithTimeout(ctx, o.cfg.Coordination.Interval*4)
		if err := o.registry.Wait(wctx, n); err != nil && ctx.Err() == nil {
			o.log.Warn("not every expected agent registered", "expected", n, "registered", len(o.registry.Agents()))
		}
		cancel()
	}
	t := time.NewTicker(o.cfg.Coordination.Interval)
	defer t.Stop()
	for {
		o.round(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// round is one coordination round: the main command to every agent with the
// recent SCADA and ERP data, and three queries that exercise the other
// strategies and aggregations, run at once.
func (o *Orchestrator) round(ctx context.Context) {
	if ctx.Err() != nil {
		return
	}
	params, windows := o.roundParams()
	co := o.cfg.Coordination
	cmds := []coord.Command{
		{Name: co.Command, Params: params, Strategy: coord.Broadcast, Aggregate: aggregations[co.Aggregation], Field: co.Field},
		{Name: "report_efficiency", Query: true, Strategy: coord.CapabilityBased, Capability: orDefault(co.Capability, "boiler_control"), Aggregate: coord.Average, Field: "efficiency_pct"},
		{Name: "recommend_mode", Query: true, Strategy: coord.LoadBalanced, Count: 5, Aggregate: coord.Majority, Field: "mode"},
		{Name: "forecast_heat_demand", Query: true, Strategy: coord.RoundRobin, Count: 3, Aggregate: coord.Median, Field: "heat_demand_kw"},
	}
	o.mu.Lock()
	o.rounds++
	n := o.rounds
	o.mu.Unlock()

	// Aggregation windows go to the agents as events, in size-bounded parts.
	if len(windows) > 0 {
		msgs, err := payload.Windows(windows, coord.SplitConfig{From: o.cfg.Orchestrator.ID})
		if err == nil {
			for _, m := range msgs {
				_ = o.bus.Publish(ctx, o.cfg.Orchestrator.ID+".windows", m)
			}
		}
	}

	// Load balancing among the agents that mostly answer: the registry
	// has no latency for an agent that only ever timed out and would rank
	// it first.
	var reliable []string
	for _, a := range o.registry.Agents() {
		if a.Health == coord.Healthy && a.Perf.SuccessRate >= 0.9 {
			reliable = append(reliable, a.ID)
		}
	}
	if len(reliable) >= 5 {
		cmds[2].Targets = reliable
	}

	// The commands see ctx's cancellation but not its deadline (a -duration
	// run's), which Execute would take for the command's own deadline and
	// report as agents timing out.
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	defer context.AfterFunc(ctx, cancel)()

	// The command first, then the three queries at once.
	results := make([]roundResult, len(cmds))
	exec := func(i int) {
		started := time.Now()
		res, err := o.coordinator.Execute(rctx, cmds[i])
		o.metrics.roundDuration.WithLabelValues(cmds[i].Name).Observe(time.Since(started).Seconds())
		results[i] = summarize(n, cmds[i], res, err)
	}
	exec(0)
	var wg sync.WaitGroup
	for i := 1; i < len(cmds); i++ {
		wg.Go(func() { exec(i) })
	}
	wg.Wait()
	if ctx.Err() != nil {
		return // a round cut short by shutdown; keep the last complete one
	}
	o.mu.Lock()
	o.last = results
	o.mu.Unlock()
	for _, r := range results {
		o.metrics.replies.WithLabelValues(r.Name, "answered").Add(float64(r.Answered))
		o.metrics.replies.WithLabelValues(r.Name, "timed_out").Add(float64(r.TimedOut))
		o.metrics.replies.WithLabelValues(r.Name, "failed").Add(float64(r.Failed))
	}
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func summarize(n uint64, cmd coord.Command, res *coord.Result, err error) roundResult {
	r := roundResult{Round: n, At: time.Now(), Name: cmd.Name, Strategy: cmd.Strategy.String(), Aggregate: cmd.Aggregate.String(), Field: cmd.Field}
	if err != nil {
		r.Error = err.Error()
	}
	if res == nil {
		return r
	}
	r.Answered, r.TimedOut, r.Failed = len(res.Answered), len(res.TimedOut), len(res.Failed)
	r.Targets = r.Answered + r.TimedOut + r.Failed
	r.Value = string(res.Value)
	if !math.IsNaN(res.Number) && res.Value != nil && cmd.Aggregate != coord.Majority && cmd.Aggregate != coord.First && cmd.Aggregate != coord.All {
		r.Value = strconv.FormatFloat(res.Number, 'f', -1, 64)
		if math.Abs(res.Number) >= 1 {
			r.Value = strconv.FormatFloat(math.Round(res.Number*10)/10, 'f', -1, 64)
		}
	}
	r.Consensus = res.Consensus
	r.ElapsedMS = float64(res.Elapsed.Microseconds()) / 1000
	for i, f := range res.Failed {
		if i == 3 {
			break
		}
		r.Failures = append(r.Failures, f.Agent+": "+f.Err.Error())
	}
	return r
}

// tagValue is one tag in the coordination parameters.
type tagValue struct {
	Tag     string    `json:"tag"`
	Value   *float64  `json:"value"`
	Unit    string    `json:"unit,omitempty"`
	Quality string    `json:"quality"`
	Score   float64   `json:"score"`
	Time    time.Time `json:"time"`
}

// heatParams are the parameters of optimize_heat_distribution: the plant's
// recent SCADA values and the energy picture from the ERP systems.
type heatParams struct {
	Plant  string       `json:"plant,omitempty"`
	At     time.Time    `json:"at"`
	SCADA  []tagValue   `json:"scada"`
	Energy energyParams `json:"energy"`
}

type energyParams struct {
	KWh24h            float64            `json:"kwh_24h"`
	BySystem          map[string]float64 `json:"kwh_24h_by_system,omitempty"`
	ProductionOrders  int                `json:"production_orders_7d"`
	MaintenanceOrders int                `json:"maintenance_orders_7d"`
}

// roundParams collects the parameters of a round and takes the windows
// flushed since the last one.
func (o *Orchestrator) roundParams() (heatParams, []transform.Window) {
	p := heatParams{Plant: o.cfg.Orchestrator.Plant, At: time.Now().UTC(), Energy: energyParams{BySystem: map[string]float64{}}}
	o.mu.Lock()
	for _, pt := range o.latest {
		score, _ := transform.PointScore(pt)
		tv := tagValue{Tag: pt.Tag, Unit: pt.Unit, Quality: pt.Quality.String(), Score: float64(score), Time: pt.Time}
		if !pt.Quality.IsBad() && !math.IsNaN(pt.Value) && !math.IsInf(pt.Value, 0) {
			v := pt.Value
			tv.Value = &v
		}
		p.SCADA = append(p.SCADA, tv)
	}
	windows := o.windows
	o.windows = nil
	o.mu.Unlock()
	slices.SortFunc(p.SCADA, func(a, b tagValue) int {
		switch {
		case a.Tag < b.Tag:
			return -1
		case a.Tag > b.Tag:
			return 1
		}
		return 0
	})
	for _, e := range o.erps {
		e.mu.Lock()
		if e.records["energy"] > 0 {
			p.Energy.KWh24h += e.energyKWh
			p.Energy.BySystem[e.cfg.Name] = e.energyKWh
		}
		p.Energy.ProductionOrders += e.records["production"]
		p.Energy.MaintenanceOrders += e.records["maintenance"]
		e.mu.Unlock()
	}
	return p, windows
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
