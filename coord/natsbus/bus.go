package natsbus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/bits"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/greenlang/gl001/coord"
)

// Config configures a Bus. The zero value is valid.
type Config struct {
	// PendingMessages and PendingBytes bound each subscription's queue in
	// nats.go. Messages beyond them are dropped by nats.go and counted
	// (Subscription.Stats().Dropped); nats.go also reports
	// nats.ErrSlowConsumer to the connection's ErrorHandler. Zero means
	// 4096 messages and 64 MiB.
	PendingMessages int
	PendingBytes    int
	// RequestTimeout applies to Request when the context has no deadline.
	// Zero means 5 s.
	RequestTimeout time.Duration
	// Logger receives malformed-message and drop warnings. Nil discards.
	Logger *slog.Logger
}

// Validate reports every problem in the configuration.
func (c Config) Validate() error {
	var errs []error
	if c.PendingMessages < 0 {
		errs = append(errs, fmt.Errorf("%w: PendingMessages %d < 0", coord.ErrBadConfig, c.PendingMessages))
	}
	if c.PendingBytes < 0 {
		errs = append(errs, fmt.Errorf("%w: PendingBytes %d < 0", coord.ErrBadConfig, c.PendingBytes))
	}
	if c.RequestTimeout < 0 {
		errs = append(errs, fmt.Errorf("%w: RequestTimeout %v < 0", coord.ErrBadConfig, c.RequestTimeout))
	}
	return errors.Join(errs...)
}

// Bus is a coord.Bus over a NATS connection.
type Bus struct {
	nc  *nats.Conn
	cfg Config
	log *slog.Logger

	mu       sync.RWMutex
	closed   bool
	subs     map[*subscription]struct{}
	requests map[*context.CancelCauseFunc]struct{}
	inflight sync.WaitGroup

	malformed atomic.Uint64
}

// Stats is a snapshot of a Bus's counters.
type Stats struct {
	Malformed     uint64 // received messages that failed to decode, dropped
	Subscriptions int    // live subscriptions
}

// New returns a Bus over nc. The caller keeps ownership of nc: Close ends this
// Bus's subscriptions and requests but does not close the connection.
func New(nc *nats.Conn, cfg Config) (*Bus, error) {
	var errs []error
	if nc == nil {
		errs = append(errs, fmt.Errorf("%w: nil *nats.Conn", coord.ErrBadConfig))
	}
	if err := cfg.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if cfg.PendingMessages == 0 {
		cfg.PendingMessages = 4096
	}
	if cfg.PendingBytes == 0 {
		cfg.PendingBytes = 64 << 20
	}
	if cfg.RequestTimeout == 0 {
		cfg.RequestTimeout = 5 * time.Second
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Bus{
		nc: nc, cfg: cfg, log: log,
		subs:     make(map[*subscription]struct{}),
		requests: make(map[*context.CancelCauseFunc]struct{}),
	}, nil
}

// Conn returns the underlying connection.
func (b *Bus) Conn() *nats.Conn { return b.nc }

// Stats returns the bus counters.
func (b *Bus) Stats() Stats {
	b.mu.Lock()
	defer b.mu.Unlock()
	return Stats{Malformed: b.malformed.Load(), Subscriptions: len(b.subs)}
}

func (b *Bus) isClosed() bool {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.closed
}

// natsErr maps nats.go errors onto the coord sentinels.
func (b *Bus) natsErr(op, subject string, err error) error {
	switch {
	case errors.Is(err, nats.ErrNoResponders):
		return fmt.Errorf("%w on %q: %w", coord.ErrNoResponders, subject, err)
	case errors.Is(err, nats.ErrConnectionClosed), errors.Is(err, nats.ErrBadSubscription):
		return fmt.Errorf("%s %q: %w: %w", op, subject, coord.ErrClosed, err)
	case errors.Is(err, nats.ErrBadSubject):
		return fmt.Errorf("%w: %w", coord.ErrBadSubject, err)
	}
	return fmt.Errorf("natsbus: %s %q: %w", op, subject, err)
}

// Publish implements coord.Bus.
func (b *Bus) Publish(ctx context.Context, subject string, m coord.Message) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := coord.ValidSubject(subject, false); err != nil {
		return err
	}
	if b.isClosed() {
		return coord.ErrClosed
	}
	e := encoders.Get().(*encoder)
	defer e.release()
	if err := e.encode(subject, &m); err != nil {
		return err
	}
	if err := b.nc.PublishMsg(&e.msg); err != nil {
		return b.natsErr("publish", subject, err)
	}
	return nil
}

// Request implements coord.Bus. A reply that fails to decode is returned as
// an error wrapping coord.ErrBadMessage.
func (b *Bus) Request(ctx context.Context, subject string, m coord.Message) (coord.Message, error) {
	if err := ctx.Err(); err != nil {
		return coord.Message{}, err
	}
	if err := coord.ValidSubject(subject, false); err != nil {
		return coord.Message{}, err
	}
	m.ReplyTo = "" // nats.go picks the inbox
	msg, err := Encode(subject, &m)
	if err != nil {
		return coord.Message{}, err
	}
	ctx, cancelTimeout := requestContext(ctx, m.Deadline, b.cfg.RequestTimeout)
	defer cancelTimeout()
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return coord.Message{}, coord.ErrClosed
	}
	b.requests[&cancel] = struct{}{}
	b.mu.Unlock()
	defer func() {
		b.mu.Lock()
		delete(b.requests, &cancel)
		b.mu.Unlock()
	}()

	r, err := b.nc.RequestMsgWithContext(ctx, msg)
	switch {
	case err == nil:
		return Decode(r)
	case errors.Is(context.Cause(ctx), coord.ErrClosed):
		return coord.Message{}, coord.ErrClosed
	case errors.Is(err, context.DeadlineExceeded):
		return coord.Message{}, fmt.Errorf("%w: request on %q: %w", coord.ErrTimeout, subject, err)
	case errors.Is(err, context.Canceled):
		return coord.Message{}, err
	}
	return coord.Message{}, b.natsErr("request", subject, err)
}

func requestContext(ctx context.Context, deadline time.Time, def time.Duration) (context.Context, context.CancelFunc) {
	if d, ok := ctx.Deadline(); ok && (deadline.IsZero() || d.Before(deadline)) {
		return ctx, func() {}
	}
	if deadline.IsZero() {
		return context.WithTimeout(ctx, def)
	}
	return context.WithDeadline(ctx, deadline)
}

// Subscribe implements coord.Bus. nats.go delivers each subscription's
// messages on its own goroutine, in order.
func (b *Bus) Subscribe(subject string, h coord.Handler) (coord.Subscription, error) {
	if err := coord.ValidSubject(subject, true); err != nil {
		return nil, err
	}
	if h == nil {
		return nil, fmt.Errorf("%w: nil handler", coord.ErrBadConfig)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &subscription{bus: b, subject: subject, cancel: cancel}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		cancel()
		return nil, coord.ErrClosed
	}
	ns, err := b.nc.Subscribe(subject, func(msg *nats.Msg) { s.deliver(ctx, h, msg) })
	if err != nil {
		cancel()
		return nil, b.natsErr("subscribe", subject, err)
	}
	if err := ns.SetPendingLimits(b.cfg.PendingMessages, b.cfg.PendingBytes); err != nil {
		_ = ns.Unsubscribe()
		cancel()
		return nil, b.natsErr("subscribe", subject, err)
	}
	s.ns = ns
	b.subs[s] = struct{}{}
	return s, nil
}

// Close implements coord.Bus: it unsubscribes everything this Bus subscribed,
// fails its pending requests with coord.ErrClosed and waits for running
// handlers. The connection stays open.
func (b *Bus) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return coord.ErrClosed
	}
	b.closed = true
	subs := b.subs
	b.subs = nil
	for c := range b.requests {
		(*c)(coord.ErrClosed)
	}
	b.mu.Unlock()
	var errs []error
	for s := range subs {
		if err := s.stop(); err != nil && !errors.Is(err, coord.ErrClosed) {
			errs = append(errs, err)
		}
	}
	b.inflight.Wait()
	return errors.Join(errs...)
}

type subscription struct {
	bus     *Bus
	subject string
	ns      *nats.Subscription
	cancel  context.CancelFunc

	mu        sync.Mutex
	done      bool
	dropped   uint64 // frozen at Unsubscribe
	delivered atomic.Uint64
	lastDrop  atomic.Uint64
}

func (s *subscription) deliver(ctx context.Context, h coord.Handler, msg *nats.Msg) {
	b := s.bus
	b.mu.RLock()
	if b.closed || ctx.Err() != nil {
		b.mu.RUnlock()
		return
	}
	b.inflight.Add(1)
	b.mu.RUnlock()
	defer b.inflight.Done()
	s.noteDrops()
	m, err := Decode(msg)
	if err != nil {
		n := b.malformed.Add(1)
		if bits.OnesCount64(n) == 1 {
			b.log.Warn("natsbus: malformed message dropped", "subject", msg.Subject, "malformed", n, "err", err)
		}
		return
	}
	s.delivered.Add(1)
	h(ctx, m)
}

// noteDrops logs when nats.go's drop count for this subscription has grown
// to a new power of two.
func (s *subscription) noteDrops() {
	d, err := s.ns.Dropped()
	if err != nil || d == 0 {
		return
	}
	last := s.lastDrop.Load()
	if uint64(d) > last && s.lastDrop.CompareAndSwap(last, uint64(d)) && bits.Len64(uint64(d)) > bits.Len64(last) {
		s.bus.log.Warn("natsbus: subscription queue full, messages dropped", "subject", s.subject, "dropped", d)
	}
}

func (s *subscription) Subject() string { return s.subject }

func (s *subscription) Stats() coord.SubscriptionStats {
	st := coord.SubscriptionStats{Delivered: s.delivered.Load()}
	s.mu.Lock()
	done, dropped := s.done, s.dropped
	s.mu.Unlock()
	if done {
		st.Dropped = dropped
		return st
	}
	if d, err := s.ns.Dropped(); err == nil {
		st.Dropped = uint64(d)
	}
	if p, _, err := s.ns.Pending(); err == nil {
		st.Pending = p
	}
	return st
}

func (s *subscription) Unsubscribe() error {
	b := s.bus
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return coord.ErrClosed
	}
	delete(b.subs, s)
	b.mu.Unlock()
	return s.stop()
}

func (s *subscription) stop() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done {
		return coord.ErrClosed
	}
	s.done = true
	if d, err := s.ns.Dropped(); err == nil {
		s.dropped = uint64(d)
	}
	s.cancel()
	if err := s.ns.Unsubscribe(); err != nil && !errors.Is(err, nats.ErrConnectionClosed) && !errors.Is(err, nats.ErrBadSubscription) {
		return s.bus.natsErr("unsubscribe", s.subject, err)
	}
	return nil
}
