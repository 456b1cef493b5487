package forward

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/greenlang/gl001/resilience"
	"github.com/greenlang/gl001/scada"
	"github.com/greenlang/gl001/scada/buffer"
)

// Defaults of Config for zero-valued fields.
const (
	DefaultMaxPoints   = 4096
	DefaultMaxBytes    = 512 << 10
	DefaultMaxDelay    = 50 * time.Millisecond
	DefaultWindow      = 4
	DefaultSendTimeout = 30 * time.Second
)

// Errors of a Forwarder.
var (
	// ErrStarted is returned by Run on a Forwarder that already ran. Not
	// retryable: make a new Forwarder.
	ErrStarted = errors.New("forward: forwarder already started")
	// ErrTargetAhead is returned by Run when the target's Resumer says it
	// holds points beyond the end of the Buffer: the Stream names another
	// log (a Buffer directory replaced under the same id). Not retryable.
	ErrTargetAhead = errors.New("forward: target holds offsets beyond the end of the buffer")
)

// Pipeliner is an optional capability of a [Target] that keeps several
// batches in flight over one ordered link, as a message stream does. Start
// begins sending b and returns once b is on its way: batches reach the
// target in the order of the Start calls. The returned Pending reports the
// outcome; Start may keep b.Points until then. Start may block, honouring
// ctx (a target that publishes a batch only once the previous one is
// acknowledged, to keep order across a failover). A Forwarder calls Start
// from one goroutine per lane (two while it backfills) and calls Wait on
// every Pending it got.
//
// A Target without Pipeliner receives concurrent Send calls when
// Config.Window is above 1, in no guaranteed order of arrival; the Forwarder
// commits only the acknowledged prefix either way.
type Pipeliner interface {
	Start(ctx context.Context, b Batch) (Pending, error)
}

// Pending is the outcome of a batch a [Pipeliner] started.
type Pending interface {
	// Wait returns nil once the target durably accepted the batch, or why
	// it did not. It honours ctx.
	Wait(ctx context.Context) error
}

// Config configures a [Forwarder].
type Config struct {
	// Buffer is the log to drain and Consumer the name of the cursor the
	// Forwarder reads and commits. Required.
	Buffer   buffer.Buffer
	Consumer string
	// Edge is this edge's id; with Buffer.ID() it makes the [Stream] every
	// batch names. Required.
	Edge string
	// Target receives the batches. Required.
	Target Target

	// A batch is sent when it holds MaxPoints points (default 4096), or
	// about MaxBytes bytes of points (default 512 KiB), or MaxDelay after
	// its first point was read (default 50ms).
	MaxPoints int
	MaxBytes  int
	MaxDelay  time.Duration
	// Window is how many batches may be in flight, unacknowledged, at once
	// (default 4); batch n+Window is not sent before batch n is
	// acknowledged.
	Window int
	// SendTimeout bounds one attempt to send a batch (default 30s).
	SendTimeout time.Duration
	// Backoff spaces the attempts after a failed send; Breaker stops
	// attempts after repeated failures and probes after its delay (see
	// package resilience for the defaults).
	Backoff resilience.Backoff
	Breaker resilience.BreakerConfig

	// Backfill, when enabled, drains a backlog at a share of the link while
	// fresh points go out first; see [Backfill].
	Backfill Backfill

	// OnAck, if not nil, is called after each batch the target
	// acknowledged, from the Forwarder's goroutine; it must return quickly.
	OnAck func(Ack)
	// OnStateChange, if not nil, is called with a snapshot whenever the
	// state changes (see [State]), from the Forwarder's goroutine.
	OnStateChange func(Stats)
	// Logger receives failures and state changes; nil discards.
	Logger *slog.Logger
}

// Ack describes one batch the target acknowledged.
type Ack struct {
	First, Next buffer.Offset // the batch's offsets [First, Next)
	Points      int
	Latency     time.Duration // from the first send to the acknowledgement
	// Age is how old the batch's newest point was when acknowledged:
	// now minus its source time (zero if it had none).
	Age         time.Duration
	Redelivered bool   // the batch was sent more than once
	Lane        string // "live" or "backfill"
}

// Validate reports every problem of c, joined with errors.Join.
func (c Config) Validate() error {
	var errs []error
	if c.Buffer == nil {
		errs = append(errs, errors.New("forward: Buffer is required"))
	}
	if c.Consumer == "" || len(c.Consumer) > buffer.MaxConsumerNameLen-10 || !utf8.ValidString(c.Consumer) {
		errs = append(errs, fmt.Errorf("forward: Consumer must be 1 to %d bytes of UTF-8", buffer.MaxConsumerNameLen-10))
	}
	if c.Edge == "" {
		errs = append(errs, errors.New("forward: Edge is required"))
	}
	if c.Target == nil {
		errs = append(errs, errors.New("forward: Target is required"))
	}
	if c.MaxPoints < 0 || c.MaxBytes < 0 || c.MaxDelay < 0 || c.Window < 0 || c.SendTimeout < 0 {
		errs = append(errs, errors.New("forward: MaxPoints, MaxBytes, MaxDelay, Window and SendTimeout must not be negative"))
	}
	errs = append(errs, c.Backoff.Validate(), c.Breaker.Validate(), c.Backfill.validate())
	return errors.Join(errs...)
}

func (c Config) withDefaults() Config {
	if c.MaxPoints == 0 {
		c.MaxPoints = DefaultMaxPoints
	}
	if c.MaxBytes == 0 {
		c.MaxBytes = DefaultMaxBytes
	}
	if c.MaxDelay == 0 {
		c.MaxDelay = DefaultMaxDelay
	}
	if c.Window == 0 {
		c.Window = DefaultWindow
	}
	if c.SendTimeout == 0 {
		c.SendTimeout = DefaultSendTimeout
	}
	c.Backfill = c.Backfill.withDefaults()
	return c
}

// State is what a Forwarder is doing.
type State int

// The states of a Forwarder.
const (
	StateStarting    State = iota // asking the target where to resume
	StateForwarding               // sending, or waiting for points
	StateBackingOff               // a send failed; re-sending after a backoff
	StateBreakerOpen              // repeated failures; waiting for the breaker's delay
	StateStopped                  // Run returned
)

// String names the state.
func (s State) String() string {
	switch s {
	case StateStarting:
		return "starting"
	case StateForwarding:
		return "forwarding"
	case StateBackingOff:
		return "backing off"
	case StateBreakerOpen:
		return "breaker open"
	case StateStopped:
		return "stopped"
	}
	return fmt.Sprintf("State(%d)", int(s))
}

// Stats is a snapshot of a Forwarder. Counters count since New.
type Stats struct {
	State     State
	Since     time.Time // when State last changed
	LastError string    // the last send failure, empty if none yet
	Stream    Stream

	// Committed is the Buffer cursor: every point before it is acknowledged.
	Committed buffer.Offset
	// LagPoints is how many durable points of the Buffer are not yet
	// acknowledged; LagAge how old the oldest of them is, by source time
	// (zero when unknown or nothing lags).
	LagPoints uint64
	LagAge    time.Duration
	InFlight  int // batches sent and not yet acknowledged

	Batches     uint64 // batches acknowledged
	Points      uint64 // points acknowledged
	Redelivered uint64 // batches sent again after a failure
	Failures    uint64 // failed send attempts
	// Rejected counts batches the target refused as bad input
	// (scada.ErrBadInput): retrying cannot help, so they are skipped and
	// committed; RejectedPoints their points.
	Rejected       uint64
	RejectedPoints uint64
	// Missed counts points that retention dropped before they were read.
	Missed uint64
	// Resumed is the offset the target's Resumer named at start (valid when
	// ResumeFound); Skipped how many points that skipped ahead of the cursor.
	Resumed     buffer.Offset
	ResumeFound bool
	Skipped     uint64

	Breaker resilience.BreakerState
	// Backfilling is true while a backlog drains in the backfill lane;
	// BackfillLeft is how many points it has left.
	Backfilling  bool
	BackfillLeft uint64
}

// Forwarder drains one consumer of a Buffer into a Target; see the package
// documentation.
type Forwarder struct {
	cfg     Config
	log     *slog.Logger
	stream  Stream
	breaker *resilience.Breaker
	pipe    Pipeliner
	started atomic.Bool

	mu      sync.Mutex
	st      Stats
	oldest  map[string]time.Time // per lane: source time of the oldest unacknowledged point
	splitAt buffer.Offset        // where the live lane started, while backfilling
}

// New returns a Forwarder configured by cfg, not yet running.
func New(cfg Config) (*Forwarder, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	br, err := resilience.NewBreaker(cfg.Breaker)
	if err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	f := &Forwarder{cfg: cfg, log: log, breaker: br}
	f.stream = Stream{Edge: cfg.Edge, Buffer: cfg.Buffer.ID()}
	if p, ok := cfg.Target.(Pipeliner); ok {
		f.pipe = p
	} else {
		f.pipe = sendPipeliner{cfg.Target}
	}
	f.st.Stream = f.stream
	f.st.Since = time.Now()
	return f, nil
}

// Stats returns a snapshot of the Forwarder's state and counters.
func (f *Forwarder) Stats() Stats {
	f.mu.Lock()
	st := f.st
	f.mu.Unlock()
	st.Breaker = f.breaker.State()
	if st.Backfilling {
		f.mu.Lock()
		if f.splitAt > st.Committed {
			st.BackfillLeft = uint64(f.splitAt - st.Committed)
		}
		f.mu.Unlock()
	}
	bs := f.cfg.Buffer.Stats()
	if bs.Durable > st.Committed {
		st.LagPoints = uint64(bs.Durable - st.Committed)
	}
	if st.LagPoints > 0 {
		var oldest time.Time
		f.mu.Lock()
		for _, t := range f.oldest {
			if !t.IsZero() && (oldest.IsZero() || t.Before(oldest)) {
				oldest = t
			}
		}
		f.mu.Unlock()
		if !oldest.IsZero() {
			st.LagAge = max(0, time.Since(oldest))
		}
	}
	return st
}

func (f *Forwarder) update(fn func(*Stats)) {
	f.mu.Lock()
	fn(&f.st)
	f.mu.Unlock()
}

func (f *Forwarder) setState(s State, err error) {
	f.mu.Lock()
	changed := f.st.State != s
	if changed {
		f.st.State, f.st.Since = s, time.Now()
	}
	if err != nil {
		f.st.LastError = err.Error()
	}
	f.mu.Unlock()
	if changed {
		f.log.Info("forwarder state", "state", s.String(), "error", err)
		if f.cfg.OnStateChange != nil {
			f.cfg.OnStateChange(f.Stats())
		}
	}
}

// Run forwards until ctx ends or the Buffer is closed, and returns why: nil
// or ctx.Err() when ctx ended, an error matching scada.ErrClosed when the
// Buffer was closed, [ErrTargetAhead]. Failed sends do not end Run: they are
// retried with backoff. Run may be called once; every goroutine it starts
// has stopped when it returns.
func (f *Forwarder) Run(ctx context.Context) error {
	if !f.started.CompareAndSwap(false, true) {
		return ErrStarted
	}
	defer f.setState(StateStopped, nil)
	err := f.run(ctx)
	if ctx.Err() != nil && (errors.Is(err, ctx.Err()) || err == nil) {
		return ctx.Err()
	}
	return err
}

func (f *Forwarder) run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	start, err := f.resume(ctx)
	if err != nil {
		return err
	}
	f.setState(StateForwarding, nil)
	if !f.cfg.Backfill.Enabled() {
		l := f.newLane(laneLive, f.cfg.Consumer, start, noStop, true)
		defer l.commit.stop()
		return l.run(ctx)
	}
	return f.runLanes(ctx, start)
}

// resume finds where to start: the committed cursor, moved forward to what
// the target says it holds.
func (f *Forwarder) resume(ctx context.Context) (buffer.Offset, error) {
	f.setState(StateStarting, nil)
	start, err := cursorOf(f.cfg.Buffer, f.cfg.Consumer)
	if err != nil {
		return 0, err
	}
	r, ok := f.cfg.Target.(Resumer)
	if !ok || f.cfg.Backfill.Enabled() && f.backfillActive() {
		f.update(func(s *Stats) { s.Committed = start })
		return start, nil
	}
	var next buffer.Offset
	var found bool
	for attempt := 0; ; attempt++ {
		rctx, cancel := context.WithTimeout(ctx, f.cfg.SendTimeout)
		next, found, err = r.Resume(rctx, f.stream)
		cancel()
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		f.update(func(s *Stats) { s.Failures++ })
		f.setState(StateBackingOff, fmt.Errorf("forward: resume: %w", err))
		if err := sleep(ctx, f.cfg.Backoff.Delay(attempt)); err != nil {
			return 0, err
		}
	}
	f.update(func(s *Stats) { s.Resumed, s.ResumeFound = next, found })
	if found && next > start {
		if end := f.cfg.Buffer.Stats().Next; next > end {
			return 0, fmt.Errorf("%w: the target holds %s up to offset %d, the buffer ends at %d", ErrTargetAhead, f.stream.Buffer, next, end)
		}
		if err := f.cfg.Buffer.Commit(ctx, f.cfg.Consumer, next); err != nil {
			return 0, err
		}
		f.log.Info("forwarder resumes where the target is", "cursor", start, "target", next)
		f.update(func(s *Stats) { s.Skipped += uint64(next - start) })
		start = next
	} else if found && next < start {
		f.log.Warn("target holds less than the committed cursor; continuing from the cursor", "cursor", start, "target", next)
	}
	f.update(func(s *Stats) { s.Committed = start })
	return start, nil
}

// cursorOf returns the committed cursor of consumer, or the oldest retained
// point when it has none.
func cursorOf(b buffer.Buffer, consumer string) (buffer.Offset, error) {
	st := b.Stats()
	for _, c := range st.Consumers {
		if c.Name == consumer {
			return c.Cursor, nil
		}
	}
	return st.First, nil
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// sendPipeliner runs a plain Target's Send in a goroutine per batch.
type sendPipeliner struct{ t Target }

type sendPending struct {
	done chan struct{}
	err  error
}

func (p sendPipeliner) Start(ctx context.Context, b Batch) (Pending, error) {
	sp := &sendPending{done: make(chan struct{})}
	go func() {
		defer close(sp.done)
		sp.err = p.t.Send(ctx, b)
	}()
	return sp, nil
}

// Wait waits for Send to return, even after ctx ended: the goroutine must
// be joined, and Send honours the ctx it was given.
func (sp *sendPending) Wait(ctx context.Context) error {
	select {
	case <-sp.done:
		return sp.err
	case <-ctx.Done():
		<-sp.done
		if sp.err == nil {
			return nil
		}
		return ctx.Err()
	}
}

// isRejected reports whether err is a refusal of the batch's content.
func isRejected(err error) bool { return errors.Is(err, scada.ErrBadInput) }
