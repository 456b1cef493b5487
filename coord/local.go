package coord

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/bits"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// LocalBusConfig configures a LocalBus. The zero value is valid.
type LocalBusConfig struct {
	// QueueSize bounds each subscription's queue. A message that arrives when
	// the queue is full is dropped and counted, so a slow subscriber never
	// stalls the publishers or the other subscribers. Zero means 4096.
	QueueSize int
	// RequestTimeout applies to Request when the context has no deadline.
	// Zero means 5 s.
	RequestTimeout time.Duration
	// Logger receives warnings about dropped messages (logged when a
	// subscription's drop count reaches a power of two). Nil discards.
	Logger *slog.Logger
}

// Validate reports every problem in the configuration.
func (c LocalBusConfig) Validate() error {
	var errs []error
	if c.QueueSize < 0 {
		errs = append(errs, fmt.Errorf("%w: QueueSize %d < 0", ErrBadConfig, c.QueueSize))
	}
	if c.RequestTimeout < 0 {
		errs = append(errs, fmt.Errorf("%w: RequestTimeout %v < 0", ErrBadConfig, c.RequestTimeout))
	}
	return errors.Join(errs...)
}

// LocalBus is the in-process Bus: no network, no encoding; a message is a
// value handed from publisher to subscriber queues. The process is its trust
// boundary. Each subscription has its own goroutine and bounded queue.
type LocalBus struct {
	cfg    LocalBusConfig
	log    *slog.Logger
	closed chan struct{}
	wg     sync.WaitGroup

	mu      sync.RWMutex
	root    *subNode
	subs    map[*localSub]struct{}
	isDone  bool
	replyMu sync.RWMutex
	replies map[string]chan Message
	pending atomic.Int64 // len(replies): lets replies to subscriptions skip the map

	published atomic.Uint64
	dropped   atomic.Uint64
}

// BusStats is a snapshot of a bus's counters.
type BusStats struct {
	Published     uint64 // messages accepted by Publish and Request
	Dropped       uint64 // deliveries dropped on full subscription queues
	Subscriptions int    // live subscriptions
}

// NewLocalBus returns an in-process Bus configured by cfg; the zero
// LocalBusConfig is valid and takes the documented defaults.
func NewLocalBus(cfg LocalBusConfig) (*LocalBus, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.QueueSize == 0 {
		cfg.QueueSize = 4096
	}
	if cfg.RequestTimeout == 0 {
		cfg.RequestTimeout = 5 * time.Second
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &LocalBus{
		cfg:     cfg,
		log:     log,
		closed:  make(chan struct{}),
		root:    &subNode{},
		subs:    make(map[*localSub]struct{}),
		replies: make(map[string]chan Message),
	}, nil
}

// Stats returns the bus counters.
func (b *LocalBus) Stats() BusStats {
	b.mu.RLock()
	n := len(b.subs)
	b.mu.RUnlock()
	return BusStats{Published: b.published.Load(), Dropped: b.dropped.Load(), Subscriptions: n}
}

// Publish implements Bus.
func (b *LocalBus) Publish(ctx context.Context, subject string, m Message) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := ValidSubject(subject, false); err != nil {
		return err
	}
	_, err := b.publish(subject, m)
	return err
}

func (b *LocalBus) publish(subject string, m Message) (int, error) {
	m.Subject = subject
	if b.pending.Load() > 0 && strings.HasPrefix(subject, inboxPrefix) {
		// Most inbox traffic is for subscriptions (a Coordinator's replies),
		// not for a pending Request: look under the read lock first.
		b.replyMu.RLock()
		_, ok := b.replies[subject]
		b.replyMu.RUnlock()
		var ch chan Message
		if ok {
			b.replyMu.Lock()
			ch, ok = b.replies[subject]
			if ok {
				delete(b.replies, subject)
				b.pending.Add(-1)
			}
			b.replyMu.Unlock()
		}
		if ok {
			b.published.Add(1)
			ch <- m // buffered for exactly this one reply
			return 1, nil
		}
	}
	var stack [16]*localSub
	var inlineStack [2]*localSub
	inline := inlineStack[:0]
	b.mu.RLock()
	if b.isDone {
		b.mu.RUnlock()
		return 0, ErrClosed
	}
	matched := b.root.match(subject, stack[:0])
	for _, s := range matched {
		if s.inline != nil {
			// Called below, outside the lock; Close waits for the call.
			inline = append(inline, s)
			b.wg.Add(1)
			continue
		}
		if !s.push(m, b.cfg.QueueSize) {
			b.drop(s)
		}
	}
	b.mu.RUnlock()
	b.published.Add(1)
	for _, s := range inline {
		if !s.closed.Load() {
			s.delivered.Add(1)
			s.inline(s.ctx, m)
		}
		b.wg.Done()
	}
	return len(matched), nil
}

func (b *LocalBus) drop(s *localSub) {
	b.dropped.Add(1)
	n := s.dropped.Add(1)
	if bits.OnesCount64(n) == 1 {
		b.log.Warn("coord: subscription queue full, message dropped",
			"subject", s.subject, "dropped", n, "queue", b.cfg.QueueSize)
	}
}

// Subscribe implements Bus.
func (b *LocalBus) Subscribe(subject string, h Handler) (Subscription, error) {
	if err := ValidSubject(subject, true); err != nil {
		return nil, err
	}
	if h == nil {
		return nil, fmt.Errorf("%w: nil handler", ErrBadConfig)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &localSub{bus: b, subject: subject, signal: make(chan struct{}, 1), cancel: cancel}
	b.mu.Lock()
	if b.isDone {
		b.mu.Unlock()
		cancel()
		return nil, ErrClosed
	}
	b.root.insert(subject, s)
	b.subs[s] = struct{}{}
	b.wg.Add(1)
	b.mu.Unlock()
	go s.run(ctx, h)
	return s, nil
}

// subscribeInline subscribes h to run in the publisher's goroutine, with no
// queue and no goroutine of its own: for handlers of this package that never
// block and are safe for concurrent use (a Coordinator's reply router). It
// saves a goroutine hand-off per message. Publishers call h concurrently, so
// messages from different publishers arrive in no set order; Close waits for
// calls in progress.
func (b *LocalBus) subscribeInline(subject string, h Handler) (Subscription, error) {
	if err := ValidSubject(subject, true); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &localSub{bus: b, subject: subject, inline: h, ctx: ctx, cancel: cancel}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.isDone {
		cancel()
		return nil, ErrClosed
	}
	b.root.insert(subject, s)
	b.subs[s] = struct{}{}
	return s, nil
}

// inlineSubscriber is implemented by buses that can run a handler in the
// publisher's goroutine.
type inlineSubscriber interface {
	subscribeInline(subject string, h Handler) (Subscription, error)
}

// Request implements Bus.
func (b *LocalBus) Request(ctx context.Context, subject string, m Message) (Message, error) {
	if err := ctx.Err(); err != nil {
		return Message{}, err
	}
	if err := ValidSubject(subject, false); err != nil {
		return Message{}, err
	}
	ctx, cancel := requestContext(ctx, m.Deadline, b.cfg.RequestTimeout)
	defer cancel()
	inbox := NewInbox()
	ch := make(chan Message, 1)
	b.replyMu.Lock()
	b.replies[inbox] = ch
	b.pending.Add(1)
	b.replyMu.Unlock()
	forget := func() {
		b.replyMu.Lock()
		if _, ok := b.replies[inbox]; ok {
			delete(b.replies, inbox)
			b.pending.Add(-1)
		}
		b.replyMu.Unlock()
	}
	m.ReplyTo = inbox
	n, err := b.publish(subject, m)
	if err != nil || n == 0 {
		forget()
		if err == nil {
			err = fmt.Errorf("%w on %q", ErrNoResponders, subject)
		}
		return Message{}, err
	}
	select {
	case r := <-ch:
		return r, nil
	case <-ctx.Done():
		forget()
		return Message{}, timeoutError(ctx, subject)
	case <-b.closed:
		forget()
		return Message{}, ErrClosed
	}
}

// requestContext bounds ctx by the message deadline and, when ctx has no
// deadline, by def.
func requestContext(ctx context.Context, deadline time.Time, def time.Duration) (context.Context, context.CancelFunc) {
	if d, ok := ctx.Deadline(); ok && (deadline.IsZero() || d.Before(deadline)) {
		return ctx, func() {}
	}
	if deadline.IsZero() {
		return context.WithTimeout(ctx, def)
	}
	return context.WithDeadline(ctx, deadline)
}

// timeoutError reports why a request context ended: a deadline becomes
// ErrTimeout joined with context.DeadlineExceeded, a cancellation stays as is.
func timeoutError(ctx context.Context, subject string) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("%w: request on %q: %w", ErrTimeout, subject, context.DeadlineExceeded)
	}
	return ctx.Err()
}

// Close implements Bus. It waits for running handlers to return.
func (b *LocalBus) Close() error {
	b.mu.Lock()
	if b.isDone {
		b.mu.Unlock()
		return ErrClosed
	}
	b.isDone = true
	close(b.closed)
	for s := range b.subs {
		s.stop()
	}
	clear(b.subs)
	b.root = &subNode{}
	b.mu.Unlock()
	b.wg.Wait()
	return nil
}

// localSub is one subscription: a bounded FIFO that grows on demand up to
// the bus's QueueSize (so an idle subscription costs little memory), drained
// by the subscription's goroutine.
type localSub struct {
	bus     *LocalBus
	subject string

	// inline, when set, is run by publishers (subscribeInline) and the
	// queue is unused; ctx is its context.
	inline Handler
	ctx    context.Context

	qmu    sync.Mutex
	buf    []Message // ring buffer
	head   int
	n      int
	signal chan struct{} // capacity 1: "the queue may be non-empty"

	cancel    context.CancelFunc
	closed    atomic.Bool
	delivered atomic.Uint64
	dropped   atomic.Uint64
}

// push appends m unless the queue holds limit messages already.
func (s *localSub) push(m Message, limit int) bool {
	s.qmu.Lock()
	if s.n >= limit {
		s.qmu.Unlock()
		return false
	}
	if s.n == len(s.buf) {
		nb := make([]Message, min(limit, max(8, 2*len(s.buf))))
		for i := range s.n {
			nb[i] = s.buf[(s.head+i)%len(s.buf)]
		}
		s.buf, s.head = nb, 0
	}
	s.buf[(s.head+s.n)%len(s.buf)] = m
	s.n++
	s.qmu.Unlock()
	select {
	case s.signal <- struct{}{}:
	default:
	}
	return true
}

func (s *localSub) pop() (Message, bool) {
	s.qmu.Lock()
	defer s.qmu.Unlock()
	if s.n == 0 {
		return Message{}, false
	}
	m := s.buf[s.head]
	s.buf[s.head] = Message{}
	s.head = (s.head + 1) % len(s.buf)
	s.n--
	return m, true
}

// stop ends the subscription: its goroutine returns before the next
// message, and its handler's context is cancelled.
func (s *localSub) stop() {
	s.closed.Store(true)
	s.cancel()
	if s.inline != nil {
		return
	}
	select { // wake the goroutine if it is waiting for messages
	case s.signal <- struct{}{}:
	default:
	}
}

// run delivers the queued messages in order until stop. It waits on the
// signal channel alone (stop signals too), which is cheaper than a select.
func (s *localSub) run(ctx context.Context, h Handler) {
	defer s.bus.wg.Done()
	for {
		for !s.closed.Load() {
			m, ok := s.pop()
			if !ok {
				break
			}
			s.delivered.Add(1)
			h(ctx, m)
		}
		if s.closed.Load() {
			return
		}
		<-s.signal
	}
}

func (s *localSub) Subject() string { return s.subject }

func (s *localSub) Stats() SubscriptionStats {
	s.qmu.Lock()
	n := s.n
	s.qmu.Unlock()
	return SubscriptionStats{Delivered: s.delivered.Load(), Dropped: s.dropped.Load(), Pending: n}
}

func (s *localSub) Unsubscribe() error {
	b := s.bus
	b.mu.Lock()
	if s.closed.Load() {
		b.mu.Unlock()
		return ErrClosed
	}
	b.root.remove(s.subject, s)
	delete(b.subs, s)
	s.stop()
	b.mu.Unlock()
	return nil
}

// subNode is a node of the subject trie: literal children by token, plus the
// "*" and ">" children.
type subNode struct {
	next map[string]*subNode
	star *subNode
	full *subNode
	subs []*localSub
}

func (n *subNode) insert(subject string, s *localSub) {
	for tok := range strings.SplitSeq(subject, ".") {
		var c **subNode
		switch tok {
		case "*":
			c = &n.star
		case ">":
			c = &n.full
		default:
			if n.next == nil {
				n.next = make(map[string]*subNode)
			}
			child := n.next[tok]
			if child == nil {
				child = &subNode{}
				n.next[tok] = child
			}
			n = child
			continue
		}
		if *c == nil {
			*c = &subNode{}
		}
		n = *c
	}
	n.subs = append(n.subs, s)
}

// remove deletes s; empty nodes are pruned.
func (n *subNode) remove(subject string, s *localSub) bool {
	tok, rest, more := strings.Cut(subject, ".")
	var c **subNode
	switch tok {
	case "*":
		c = &n.star
	case ">":
		c = &n.full
	default:
		child := n.next[tok]
		c = &child
	}
	child := *c
	if child == nil {
		return n.empty()
	}
	if more {
		child.remove(rest, s)
	} else {
		for i, x := range child.subs {
			if x == s {
				child.subs = append(child.subs[:i], child.subs[i+1:]...)
				break
			}
		}
	}
	if child.empty() {
		switch tok {
		case "*":
			n.star = nil
		case ">":
			n.full = nil
		default:
			delete(n.next, tok)
		}
	}
	return n.empty()
}

func (n *subNode) empty() bool {
	return len(n.subs) == 0 && len(n.next) == 0 && n.star == nil && n.full == nil
}

// match appends the subscriptions matching the literal subject to out.
func (n *subNode) match(subject string, out []*localSub) []*localSub {
	tok, rest, more := strings.Cut(subject, ".")
	if n.full != nil {
		out = append(out, n.full.subs...)
	}
	if c := n.next[tok]; c != nil {
		if more {
			out = c.match(rest, out)
		} else {
			out = append(out, c.subs...)
		}
	}
	if c := n.star; c != nil {
		if more {
			out = c.match(rest, out)
		} else {
			out = append(out, c.subs...)
		}
	}
	return out
}
