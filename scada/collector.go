package scada

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/greenlang/gl001/resilience"
)

// Defaults of [CollectorConfig] for zero-valued fields.
const (
	DefaultCollectorBatchSize    = 1024
	DefaultCollectorSourceQueue  = 4096
	DefaultCollectorCloseTimeout = 10 * time.Second
)

// Supervision defaults of a [Collector]'s sources, for fields that neither
// the SourceConfig nor the CollectorConfig set. They are chosen for plant
// devices, where data should flow again within seconds of a device coming
// back, whatever happened before; see "Recovery" in the Collector's doc.
const (
	DefaultSourceBackoffInitial   = 500 * time.Millisecond // first delay after a failure
	DefaultSourceBackoffMax       = 5 * time.Second        // cap of the backoff
	DefaultSourceBreakerThreshold = 5                      // attempts in a row that fail to connect before the breaker opens
	DefaultSourceBreakerDelay     = 5 * time.Second        // the breaker's wait before a probe, ±20% jitter
	DefaultSourceHealthyAfter     = 10 * time.Second       // connections that end sooner count as short (resilience.SupervisorConfig)
	DefaultSourcePermanentDelay   = time.Minute            // wait after an error matching ErrPermanent
)

// Errors of a Collector besides [ErrClosed].
var (
	// ErrSourceExists is returned by [Collector.Add] for a name already in use.
	// Not retryable with the same name: Remove the old source first.
	ErrSourceExists = errors.New("scada: a source with that name already exists")
	// ErrUnknownSource is returned for a source name the Collector does not
	// have. Not retryable.
	ErrUnknownSource = errors.New("scada: unknown source")
)

// ConnectNotifier is implemented by the Sink a [Collector] passes to
// Source.Run. A Source that knows when its connection is up before any point
// arrives (a session is activated, a subscription is created) tells the
// Collector through [NotifyConnected]; otherwise the first delivered batch
// counts as connected.
type ConnectNotifier interface {
	Connected()
}

// NotifyConnected tells sink that the Source's connection is up, if sink
// implements [ConnectNotifier]; otherwise it does nothing. Sources call it.
func NotifyConnected(sink Sink) {
	if n, ok := sink.(ConnectNotifier); ok {
		n.Connected()
	}
}

// CollectorConfig configures a [Collector]. Zero-valued fields take documented
// defaults; Sink is required.
type CollectorConfig struct {
	// Sink receives the points of every source, in batches of at most
	// BatchSize. It is called from one goroutine at a time.
	Sink Sink
	// Processor, if not nil, runs once on every batch before the Sink gets
	// it (the point stages of package transform, say). When the Sink fails,
	// only the delivery of the processed batch is retried: the Processor
	// never sees a point twice. It is called from the Sink's goroutine.
	Processor Processor
	// BatchSize is the most points one Sink.Deliver gets. Default 1024.
	BatchSize int
	// Linger is how long a batch smaller than BatchSize may wait for more
	// points. Zero delivers as soon as no source has points waiting, so batches
	// grow by themselves when the Sink is slower than the sources.
	Linger time.Duration
	// SourceQueue is how many accepted points of one source may wait for the
	// Sink. When it is full, that source's Deliver blocks (backpressure to that
	// source alone) until the Sink has taken some. A batch larger than the
	// queue is accepted whole once the queue is empty. Default 4096.
	SourceQueue int
	// SinkBackoff spaces the retries of a Sink that failed; its zero value has
	// resilience's defaults.
	SinkBackoff resilience.Backoff
	// CloseTimeout bounds how long Close keeps delivering the points already
	// accepted when the Sink is slow or failing; what is left is counted as
	// lost. Default 10s.
	CloseTimeout time.Duration

	// Backoff, Breaker, HealthyAfter and PermanentDelay supervise every
	// source (see resilience.SupervisorConfig) unless its SourceConfig sets
	// them; each field left zero in both takes the DefaultSource... constant
	// (backoff 500ms doubling to 5s, breaker after 5 failures for 5s, short
	// connections under 10s, permanent refusals retried every minute).
	Backoff      resilience.Backoff
	Breaker      resilience.BreakerConfig
	HealthyAfter time.Duration
	// PermanentDelay is the wait after a source's Run returned an error
	// matching ErrPermanent (bad credentials, an untrusted certificate, a
	// configuration the device refuses): slow, but not never, so that a fix
	// on the server side is picked up. Default 1 min; servers that lock an
	// account after repeated failed logins may need more.
	PermanentDelay time.Duration
	// Secrets are redacted from every source's LastError and from logs.
	Secrets []string

	// OnHealthChange, if not nil, is called with a source's health each time its
	// state changes (connecting, connected, backing off, breaker open, stopped),
	// from that source's goroutine, with no lock of the Collector held: it may
	// call Health and HealthOf. It should return quickly, and must not wait for
	// the source to stop (Remove it or Close the Collector from another
	// goroutine instead).
	OnHealthChange func(SourceHealth)
	// Logger receives source transitions and Sink failures; nil discards them.
	Logger *slog.Logger
}

// Validate reports every problem of c, joined with errors.Join.
func (c CollectorConfig) Validate() error {
	var errs []error
	if c.Sink == nil {
		errs = append(errs, errors.New("scada: collector Sink is nil"))
	}
	if c.BatchSize < 0 {
		errs = append(errs, fmt.Errorf("scada: collector BatchSize %d is negative", c.BatchSize))
	}
	if c.SourceQueue < 0 {
		errs = append(errs, fmt.Errorf("scada: collector SourceQueue %d is negative", c.SourceQueue))
	}
	if c.Linger < 0 {
		errs = append(errs, fmt.Errorf("scada: collector Linger %v is negative", c.Linger))
	}
	if c.CloseTimeout < 0 {
		errs = append(errs, fmt.Errorf("scada: collector CloseTimeout %v is negative", c.CloseTimeout))
	}
	if c.HealthyAfter < 0 {
		errs = append(errs, fmt.Errorf("scada: collector HealthyAfter %v is negative", c.HealthyAfter))
	}
	if c.PermanentDelay < 0 {
		errs = append(errs, fmt.Errorf("scada: collector PermanentDelay %v is negative", c.PermanentDelay))
	}
	for _, err := range []error{c.SinkBackoff.Validate(), c.Backoff.Validate(), c.Breaker.Validate()} {
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// SourceConfig describes one source added to a [Collector]. Zero-valued
// supervision fields (and zero fields of Backoff and Breaker) take the
// Collector's, then the DefaultSource... constants.
type SourceConfig struct {
	// Name identifies the source in health and logs, and the Collector
	// writes it into the Source field of every point the source delivers
	// (unless KeepPointSource), so downstream a point names the source it
	// was collected from, whatever the Source's own configuration calls
	// itself. Required, unique within the Collector.
	Name   string
	Source Source
	// KeepPointSource keeps the Source field the points arrive with (filled
	// with Name only where empty): for a source that relays points collected
	// elsewhere, such as a central source reading what edges forwarded, whose
	// points already name their origin.
	KeepPointSource bool

	Backoff        resilience.Backoff       // zero fields: the Collector's
	Breaker        resilience.BreakerConfig // zero fields: the Collector's
	HealthyAfter   time.Duration            // zero: the Collector's
	PermanentDelay time.Duration            // zero: the Collector's
	// Secrets are redacted from this source's LastError, with the Collector's.
	Secrets []string
}

// SourceHealth is a snapshot of one source of a [Collector]: its supervision
// status (state, time in state, connected since, last error with secrets
// redacted, attempts, reconnects, breaker) and what it delivered.
//
// A source counts as connected once it delivers its first batch of an attempt
// or calls [NotifyConnected]; from then on, while it stays connected, State is
// connected, Breaker closed and ConsecutiveFailures 0. A source whose Run
// returned an error matching [ErrPermanent] is in state refused
// (resilience.StateRefused) with Permanent set and the cause in LastError
// until it connects again.
type SourceHealth struct {
	resilience.Status

	Points    uint64 // points accepted from the source
	BadPoints uint64 // of which with a Bad quality
	Batches   uint64 // non-empty Deliver calls accepted
	// LastPointTime is the newest source timestamp among the accepted points.
	LastPointTime time.Time
	// Queued is how many accepted points wait for the Sink.
	Queued int
}

// CollectorStats is a snapshot of a [Collector]'s counters.
type CollectorStats struct {
	Sources   int    // sources currently added
	Accepted  uint64 // points accepted from all sources
	Delivered uint64 // accepted points whose batch the Sink took (after the Processor, which may filter)
	Batches   uint64 // successful Sink.Deliver calls
	Queued    int    // points accepted and not yet delivered
	// SinkErrors counts failed Sink.Deliver calls; the batch is retried with
	// SinkBackoff unless the error matches ErrBadInput.
	SinkErrors uint64
	// LastSinkError is the last Sink error, secrets redacted.
	LastSinkError string
	// Rejected counts points the Sink refused with an error matching
	// ErrBadInput, or whose batch the Processor failed on: they are dropped,
	// not retried, and logged.
	Rejected uint64
	// Lost counts accepted points Close could not deliver within CloseTimeout.
	Lost uint64
}

// Collector runs many Sources at once, each under a [resilience.Supervisor]
// (exponential backoff with jitter, a circuit breaker per source, backoff reset
// after a healthy period), and fans their points into one Sink in batches.
//
// Sources are added and removed by name while the Collector runs. Each source
// has its own goroutine and its own bounded queue; one goroutine takes from the
// queues in turn and delivers to the Sink, so a slow or dead source delays no
// other, and a chatty source cannot starve a quiet one.
//
// # Backpressure
//
// Memory is bounded: each source may have at most SourceQueue accepted points
// waiting (or one larger batch), about 100 bytes a point plus the strings the
// points share, and the Sink gets at most BatchSize points at a time. When the Sink is slower than the sources, the
// queues fill and each source's Deliver blocks until the Sink catches up: the
// pressure reaches the sources, which slow their polling or leave messages
// with their server or broker, instead of the Collector growing without bound
// or dropping points. A Sink that fails is retried with SinkBackoff, holding
// the batch, so nothing accepted is dropped while the Collector runs (except
// what the Sink rejects as bad input, which is counted). To ride out a long
// outage of the consumer, make the Sink a buffer.Buffer (package scada/buffer).
//
// # Processing once
//
// Give stateful point stages (a transform.Pipeline with a deadband or
// rate-of-change checks) to the Collector as its Processor rather than
// running them inside the Sink: the Collector runs the Processor once per
// batch and retries only the delivery of its output, so a Sink that fails
// and recovers gets every processed point exactly once. A Sink that runs
// such stages itself would run them again on every retry.
//
// Close stops every source, delivers what was accepted and stops every
// goroutine.
//
// # Recovery
//
// A source's Run is called again after it returns: after about
// Backoff.Initial when a connection ended, then doubling with every attempt
// that fails to connect, up to Backoff.Max. After Breaker.FailureThreshold
// such attempts in a row the breaker opens and the source is tried once every
// Breaker.Delay (±20%) until an attempt connects. A connection, once made
// (a first batch delivered or [NotifyConnected]), is a success at once: the
// breaker closes, the failure count is reset, and health says connected with
// the breaker closed while the data flows, however often the device failed
// before. Only a run of connections that each end within HealthyAfter (a
// device that accepts and drops) keeps growing the delay, and never past
// Backoff.Max.
//
// So the wait between two attempts never exceeds the larger of Backoff.Max
// and Breaker.Delay plus its jitter, whatever the length of the outage: with
// the defaults 6 s (the breaker's 5 s + 20%). From the moment a device
// listens again to the first fresh point it takes at most that, plus one
// connection set-up (for OPC UA: endpoints, channel, session, subscription
// and the first publish), plus, when the device's host was unreachable rather
// than refusing, the dial timeout of an attempt already under way.
//
// An error that matches [ErrPermanent] (credentials refused, an untrusted
// certificate, no matching endpoint, a configuration the device rejects) is
// not an outage: the source goes to state refused with the cause in its
// health, does not count toward the breaker, and is tried again only every
// PermanentDelay (default 1 min).
//
// # Source names
//
// Every point carries, in its Source field, the name its source was added
// under, whatever the Source itself put there: two protocol sources with the
// same default name stay apart downstream. Set SourceConfig.KeepPointSource
// for a source that relays points named elsewhere.
type Collector struct {
	cfg  CollectorConfig
	log  *slog.Logger
	sink Sink

	mu      sync.Mutex // guards sources and closed
	sources map[string]*collectorSource
	closed  bool

	srcWG      sync.WaitGroup // source goroutines
	dispatchWG sync.WaitGroup
	drain      chan struct{}      // closed when every source has stopped
	stop       context.CancelFunc // cancels the dispatcher's context
	closeOnce  sync.Once

	readyMu sync.Mutex
	ready   []*collectorSource // sources with queued points, for the next round
	readyCh chan struct{}      // signalled when ready gains an entry

	accepted, delivered, batches atomic.Uint64
	sinkErrors, rejected, lost   atomic.Uint64
	lastSinkErr                  atomic.Pointer[string]
}

// NewCollector returns a running Collector with no sources; add them with Add.
func NewCollector(cfg CollectorConfig) (*Collector, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.BatchSize == 0 {
		cfg.BatchSize = DefaultCollectorBatchSize
	}
	if cfg.SourceQueue == 0 {
		cfg.SourceQueue = DefaultCollectorSourceQueue
	}
	if cfg.CloseTimeout == 0 {
		cfg.CloseTimeout = DefaultCollectorCloseTimeout
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ctx, stop := context.WithCancel(context.Background())
	c := &Collector{
		cfg:     cfg,
		log:     log,
		sink:    cfg.Sink,
		sources: make(map[string]*collectorSource),
		drain:   make(chan struct{}),
		stop:    stop,
		readyCh: make(chan struct{}, 1),
	}
	c.dispatchWG.Add(1)
	go func() {
		defer c.dispatchWG.Done()
		c.dispatch(ctx)
	}()
	return c, nil
}

// Add starts src under the name, with the Collector's supervision settings.
// It fails with ErrSourceExists if the name is taken and ErrClosed after Close.
func (c *Collector) Add(name string, src Source) error {
	return c.AddSource(SourceConfig{Name: name, Source: src})
}

// AddSource starts the source cfg describes. It fails with ErrSourceExists if
// the name is taken and ErrClosed after Close.
func (c *Collector) AddSource(cfg SourceConfig) error {
	var errs []error
	if cfg.Name == "" {
		errs = append(errs, errors.New("scada: source Name is empty"))
	}
	if cfg.Source == nil {
		errs = append(errs, fmt.Errorf("scada: source %q has a nil Source", cfg.Name))
	}
	if cfg.HealthyAfter < 0 {
		errs = append(errs, fmt.Errorf("scada: source %q: HealthyAfter %v is negative", cfg.Name, cfg.HealthyAfter))
	}
	if cfg.PermanentDelay < 0 {
		errs = append(errs, fmt.Errorf("scada: source %q: PermanentDelay %v is negative", cfg.Name, cfg.PermanentDelay))
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	scfg := resilience.SupervisorConfig{
		Name:           cfg.Name,
		Backoff:        sourceBackoff(cfg.Backoff, c.cfg.Backoff),
		Breaker:        sourceBreaker(cfg.Breaker, c.cfg.Breaker),
		HealthyAfter:   cmp.Or(cfg.HealthyAfter, c.cfg.HealthyAfter, DefaultSourceHealthyAfter),
		PermanentDelay: cmp.Or(cfg.PermanentDelay, c.cfg.PermanentDelay, DefaultSourcePermanentDelay),
		IsPermanent:    func(err error) bool { return errors.Is(err, ErrPermanent) },
		Logger:         c.log.With("source", cfg.Name),
		Secrets:        append(slices.Clip(c.cfg.Secrets), cfg.Secrets...),
	}
	s := &collectorSource{
		c:     c,
		name:  cfg.Name,
		keep:  cfg.KeepPointSource,
		src:   cfg.Source,
		space: make(chan struct{}, 1),
		done:  make(chan struct{}),
	}
	if hook := c.cfg.OnHealthChange; hook != nil {
		scfg.OnStateChange = func(st resilience.Status) { hook(s.health(st)) }
	}
	sup, err := resilience.NewSupervisor(scfg, s.run)
	if err != nil {
		return fmt.Errorf("scada: source %q: %w", cfg.Name, err)
	}
	s.sup = sup

	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return ErrClosed
	}
	if _, ok := c.sources[cfg.Name]; ok {
		return fmt.Errorf("%w: %q", ErrSourceExists, cfg.Name)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	c.sources[cfg.Name] = s
	c.srcWG.Add(1)
	go func() {
		defer c.srcWG.Done()
		defer close(s.done)
		_ = sup.Run(ctx)
		s.mu.Lock()
		s.stopped = true
		s.mu.Unlock()
	}()
	return nil
}

// sourceBackoff fills the zero fields of a source's backoff from the
// Collector's, then from the source defaults.
func sourceBackoff(src, col resilience.Backoff) resilience.Backoff {
	b := resilience.Backoff{
		Initial:    cmp.Or(src.Initial, col.Initial, DefaultSourceBackoffInitial),
		Max:        cmp.Or(src.Max, col.Max),
		Multiplier: cmp.Or(src.Multiplier, col.Multiplier),
		Jitter:     cmp.Or(src.Jitter, col.Jitter),
	}
	if b.Max == 0 {
		b.Max = max(DefaultSourceBackoffMax, b.Initial)
	}
	return b
}

// sourceBreaker fills the zero fields of a source's breaker from the
// Collector's, then from the source defaults.
func sourceBreaker(src, col resilience.BreakerConfig) resilience.BreakerConfig {
	return resilience.BreakerConfig{
		FailureThreshold: cmp.Or(src.FailureThreshold, col.FailureThreshold, DefaultSourceBreakerThreshold),
		Delay:            cmp.Or(src.Delay, col.Delay, DefaultSourceBreakerDelay),
		SuccessThreshold: cmp.Or(src.SuccessThreshold, col.SuccessThreshold),
	}
}

// Remove stops the named source and waits until its Run has returned or ctx
// ends. The points it delivered are still passed to the Sink. The name can be
// used again as soon as Remove is called. It fails with ErrUnknownSource for a
// name it does not have.
func (c *Collector) Remove(ctx context.Context, name string) error {
	c.mu.Lock()
	s, ok := c.sources[name]
	if ok {
		delete(c.sources, name)
	}
	c.mu.Unlock()
	if !ok {
		return fmt.Errorf("%w: %q", ErrUnknownSource, name)
	}
	s.cancel()
	select {
	case <-s.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Health returns the health of every source, sorted by name.
func (c *Collector) Health() []SourceHealth {
	c.mu.Lock()
	srcs := make([]*collectorSource, 0, len(c.sources))
	for _, s := range c.sources {
		srcs = append(srcs, s)
	}
	c.mu.Unlock()
	out := make([]SourceHealth, len(srcs))
	for i, s := range srcs {
		out[i] = s.health(s.sup.Status())
	}
	slices.SortFunc(out, func(a, b SourceHealth) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// HealthOf returns the health of the named source, and false if there is no
// such source.
func (c *Collector) HealthOf(name string) (SourceHealth, bool) {
	c.mu.Lock()
	s, ok := c.sources[name]
	c.mu.Unlock()
	if !ok {
		return SourceHealth{}, false
	}
	return s.health(s.sup.Status()), true
}

// Stats returns a snapshot of the Collector's counters.
func (c *Collector) Stats() CollectorStats {
	c.mu.Lock()
	n := len(c.sources)
	c.mu.Unlock()
	// Points are counted accepted before they can be delivered, rejected or
	// lost, so loading those first keeps Queued from going negative.
	st := CollectorStats{
		Sources:    n,
		Delivered:  c.delivered.Load(),
		Rejected:   c.rejected.Load(),
		Lost:       c.lost.Load(),
		Batches:    c.batches.Load(),
		SinkErrors: c.sinkErrors.Load(),
	}
	st.Accepted = c.accepted.Load()
	if p := c.lastSinkErr.Load(); p != nil {
		st.LastSinkError = *p
	}
	st.Queued = int(st.Accepted - st.Delivered - st.Rejected - st.Lost)
	return st
}

// Close stops every source and waits for their Run to return, delivers the
// points already accepted (giving up after CloseTimeout if the Sink does not
// take them), and stops every goroutine of the Collector. It returns an error
// if points were lost that way. Calls after the first return ErrClosed.
//
// Close relies on the Source and Sink contracts: a Source returns from Run
// when its context ends, a Sink returns from Deliver when its context ends.
func (c *Collector) Close() error {
	err := ErrClosed
	c.closeOnce.Do(func() {
		c.mu.Lock()
		c.closed = true
		srcs := c.sources
		c.sources = make(map[string]*collectorSource)
		c.mu.Unlock()
		for _, s := range srcs {
			s.cancel()
		}
		c.srcWG.Wait()
		// Every source has stopped: the dispatcher delivers what is queued and
		// returns. If the Sink holds it up past CloseTimeout, its context ends.
		close(c.drain)
		timer := time.AfterFunc(c.cfg.CloseTimeout, c.stop)
		c.dispatchWG.Wait()
		timer.Stop()
		c.stop()
		err = nil
		if n := c.lost.Load(); n > 0 {
			err = fmt.Errorf("scada: collector closed with %d accepted points not delivered to the sink", n)
		}
	})
	return err
}

// markReady puts s in the dispatcher's turn.
func (c *Collector) markReady(s *collectorSource) {
	c.readyMu.Lock()
	c.ready = append(c.ready, s)
	c.readyMu.Unlock()
	select {
	case c.readyCh <- struct{}{}:
	default:
	}
}

// swapReady returns the sources now in turn and leaves spare, emptied, to
// collect the next round.
func (c *Collector) swapReady(spare []*collectorSource) []*collectorSource {
	clear(spare[:cap(spare)])
	c.readyMu.Lock()
	defer c.readyMu.Unlock()
	r := c.ready
	c.ready = spare[:0]
	return r
}

// dispatch is the one goroutine that feeds the Sink. It takes queued points
// from the ready sources in turn into a batch and delivers the batch when it
// is full or when nothing more is waiting (after Linger, if set). It returns
// once Close has stopped every source and the queues are empty, or when ctx
// ends.
func (c *Collector) dispatch(ctx context.Context) {
	batch := make([]Point, 0, c.cfg.BatchSize)
	var round, spare []*collectorSource // the sources in turn, taken from in order
	next := 0
	draining := false
	var linger *time.Timer
	var lingerC <-chan time.Time
	for {
		if next == len(round) {
			round, spare = c.swapReady(spare), round
			next = 0
		}
		if next < len(round) {
			s := round[next]
			next++
			batch = s.take(batch)
			if len(batch) == cap(batch) {
				c.handOff(ctx, batch)
				batch = batch[:0]
				lingerC = nil
			} else if len(batch) > 0 && lingerC == nil && c.cfg.Linger > 0 && !draining {
				if linger == nil {
					linger = time.NewTimer(c.cfg.Linger)
				} else {
					linger.Reset(c.cfg.Linger)
				}
				lingerC = linger.C
			}
			continue
		}
		if len(batch) > 0 && (c.cfg.Linger == 0 || draining) {
			c.handOff(ctx, batch)
			batch = batch[:0]
			lingerC = nil
			continue
		}
		if draining {
			if linger != nil {
				linger.Stop()
			}
			return
		}
		select {
		case <-c.readyCh:
		case <-lingerC:
			lingerC = nil
			c.handOff(ctx, batch)
			batch = batch[:0]
		case <-c.drain:
			draining = true
		case <-ctx.Done():
			// Only Close cancels ctx, after drain is closed.
			draining = true
		}
	}
}

// handOff runs the Processor once on batch, then hands the result to the
// Sink, retrying the delivery alone with SinkBackoff until it is accepted,
// rejected as bad input, or ctx ends (then it is lost). Counters count the
// points of batch, as accepted.
func (c *Collector) handOff(ctx context.Context, batch []Point) {
	n := uint64(len(batch))
	if ctx.Err() != nil {
		c.lostPoints(n)
		return
	}
	out := batch
	if c.cfg.Processor != nil {
		var err error
		if out, err = c.cfg.Processor.Process(ctx, batch); err != nil {
			if ctx.Err() != nil {
				c.lostPoints(n)
				return
			}
			c.rejected.Add(n)
			c.log.Error("processor failed on a batch; its points are dropped", "points", n,
				"error", resilience.Redact(err.Error(), c.cfg.Secrets...))
			return
		}
		if len(out) == 0 {
			c.batches.Add(1) // before delivered: who sees the points delivered sees the batch counted
			c.delivered.Add(n)
			return
		}
	}
	err := c.sink.Deliver(ctx, out)
	if err == nil {
		c.batches.Add(1) // before delivered: who sees the points delivered sees the batch counted
		c.delivered.Add(n)
		return
	}
	c.sinkFailed(err)
	if !errors.Is(err, ErrBadInput) {
		err = resilience.Retry(ctx, resilience.RetryConfig{
			MaxAttempts: -1,
			Backoff:     c.cfg.SinkBackoff,
			Retryable:   func(err error) bool { return ctx.Err() == nil && !errors.Is(err, ErrBadInput) },
		}, func(ctx context.Context) error {
			err := c.sink.Deliver(ctx, out)
			if err != nil {
				c.sinkFailed(err)
			}
			return err
		})
	}
	switch {
	case err == nil:
		c.batches.Add(1)
		c.delivered.Add(n)
	case errors.Is(err, ErrBadInput):
		c.rejected.Add(n)
		c.log.Error("sink rejected a batch as bad input; its points are dropped", "points", n,
			"error", resilience.Redact(err.Error(), c.cfg.Secrets...))
	default:
		c.lostPoints(n)
	}
}

// lostPoints counts n accepted points the Collector gave up on while closing.
func (c *Collector) lostPoints(n uint64) {
	c.lost.Add(n)
	c.log.Error("collector closing: points not delivered to the sink", "points", n)
}

func (c *Collector) sinkFailed(err error) {
	c.sinkErrors.Add(1)
	msg := resilience.Redact(err.Error(), c.cfg.Secrets...)
	c.lastSinkErr.Store(&msg)
	c.log.Warn("sink failed", "error", msg)
}

// collectorSource is one source of a Collector, and the Sink its Source
// delivers to.
type collectorSource struct {
	c      *Collector
	name   string
	keep   bool // KeepPointSource
	src    Source
	sup    *resilience.Supervisor
	cancel context.CancelFunc
	space  chan struct{} // signalled when the dispatcher took points
	done   chan struct{} // closed when the supervisor has returned

	mu      sync.Mutex
	queue   []Point // accepted points are queue[head:]
	head    int
	inTurn  bool   // in the ready list, or being taken from
	connect func() // the current attempt's connected callback, until called
	// connectPending is set while connect is not nil, so Deliver checks it
	// without the lock.
	connectPending atomic.Bool
	stopped        bool
	points         uint64
	bad            uint64
	batches        uint64
	lastPoint      time.Time
}

var _ ConnectNotifier = (*collectorSource)(nil)

// run is the supervised function: one attempt of the Source.
func (s *collectorSource) run(ctx context.Context, connected func()) error {
	s.mu.Lock()
	s.connect = connected
	s.connectPending.Store(true)
	s.mu.Unlock()
	err := s.src.Run(ctx, s)
	s.mu.Lock()
	s.connect = nil
	s.connectPending.Store(false)
	s.mu.Unlock()
	return err
}

// Connected implements ConnectNotifier.
func (s *collectorSource) Connected() {
	s.mu.Lock()
	fn := s.connect
	s.connect = nil
	s.connectPending.Store(false)
	s.mu.Unlock()
	if fn != nil {
		fn()
	}
}

// Deliver accepts batch into the source's queue, waiting while the queue is
// full. It copies the points and writes the source's name into them (only
// into empty ones with KeepPointSource).
func (s *collectorSource) Deliver(ctx context.Context, batch []Point) error {
	if len(batch) == 0 {
		return nil
	}
	if s.connectPending.Load() {
		// The first batch of the attempt: the source is connected, before any
		// of its points can reach the Sink.
		s.Connected()
	}
	limit := s.c.cfg.SourceQueue
	for {
		s.mu.Lock()
		if s.stopped {
			s.mu.Unlock()
			return ErrClosed
		}
		queued := len(s.queue) - s.head
		if queued == 0 || queued+len(batch) <= limit {
			break
		}
		s.mu.Unlock()
		select {
		case <-s.space:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	// s.mu is held.
	if s.head > 0 && len(s.queue)+len(batch) > cap(s.queue) {
		n := copy(s.queue, s.queue[s.head:])
		s.queue = s.queue[:n]
		s.head = 0
	}
	start := len(s.queue)
	s.queue = append(s.queue, batch...)
	var bad uint64
	last := s.lastPoint
	for i := start; i < len(s.queue); i++ {
		p := &s.queue[i]
		if !s.keep || p.Source == "" {
			p.Source = s.name
		}
		if p.Quality.IsBad() {
			bad++
		}
		if p.Time.After(last) {
			last = p.Time
		}
	}
	s.lastPoint = last
	s.points += uint64(len(batch))
	s.bad += bad
	s.batches++
	s.c.accepted.Add(uint64(len(batch)))
	if !s.inTurn {
		s.inTurn = true
		s.c.markReady(s)
	}
	s.mu.Unlock()
	return nil
}

// take moves queued points into batch, up to its capacity, and puts the
// source back in turn if points remain.
func (s *collectorSource) take(batch []Point) []Point {
	s.mu.Lock()
	n := min(cap(batch)-len(batch), len(s.queue)-s.head)
	batch = append(batch, s.queue[s.head:s.head+n]...)
	s.head += n
	more := s.head < len(s.queue)
	if !more {
		clear(s.queue) // drop the strings the points hold
		s.queue = s.queue[:0]
		s.head = 0
		s.inTurn = false
	}
	s.mu.Unlock()
	if more {
		s.c.markReady(s)
	}
	select {
	case s.space <- struct{}{}:
	default:
	}
	return batch
}

// health combines the supervisor's status with the delivery counters.
func (s *collectorSource) health(st resilience.Status) SourceHealth {
	s.mu.Lock()
	defer s.mu.Unlock()
	return SourceHealth{
		Status:        st,
		Points:        s.points,
		BadPoints:     s.bad,
		Batches:       s.batches,
		LastPointTime: s.lastPoint,
		Queued:        len(s.queue) - s.head,
	}
}
