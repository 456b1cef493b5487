package coord

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// AgentConfig configures an Agent.
type AgentConfig struct {
	// ID is the agent's id ("GL-042"), one subject token. Required.
	ID string
	// Capabilities and Version are declared to the registry.
	Capabilities []string
	Version      string
	// Bus carries the messages. Required.
	Bus Bus
	// Prefix of every subject. Zero means DefaultPrefix.
	Prefix string
	// HeartbeatInterval is how often the agent heartbeats. Zero means 30 s;
	// match the Registry's.
	HeartbeatInterval time.Duration
	// Signer signs replies and heartbeats; nil sends them unsigned.
	Signer Signer
	// Guard checks incoming commands and queries; nil accepts them unsigned.
	Guard *Guard
	// SignTTL is the signature lifetime of messages without a deadline.
	// Zero means DefaultSignTTL; Seal signs at most MaxSignLifetime.
	SignTTL time.Duration
	// Policy decides which senders may send which commands to this agent.
	// Nil allows every sender.
	Policy *Policy
	// DedupeSize is how many recent command ids (CorrelationID, per sender)
	// the agent remembers with their replies: a command seen again is
	// answered from memory without running the handler twice. Queries are
	// not deduped. Zero means 1024; negative disables.
	DedupeSize int
	// Logger receives the audit records (level Info, message "coord: audit")
	// and warnings. Nil discards.
	Logger *slog.Logger
}

// Validate reports every problem in the configuration.
func (c AgentConfig) Validate() error {
	var errs []error
	if err := validID(c.ID); err != nil {
		errs = append(errs, err)
	}
	if c.Bus == nil {
		errs = append(errs, fmt.Errorf("%w: Bus is nil", ErrBadConfig))
	}
	if c.Prefix != "" {
		if err := ValidSubject(c.Prefix, false); err != nil {
			errs = append(errs, fmt.Errorf("%w: Prefix: %w", ErrBadConfig, err))
		}
	}
	if c.HeartbeatInterval < 0 || c.SignTTL < 0 {
		errs = append(errs, fmt.Errorf("%w: HeartbeatInterval and SignTTL must be >= 0", ErrBadConfig))
	}
	if err := c.Policy.Validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// AgentStats counts what an Agent did with the messages it received.
type AgentStats struct {
	Handled    uint64 // handler ran (successfully or not)
	Failed     uint64 // of which the handler returned an error
	Duplicates uint64 // commands answered from the dedupe memory
	Denied     uint64 // refused by the policy
	Rejected   uint64 // failed the signature checks
	Unknown    uint64 // no handler for the name
	Expired    uint64 // arrived or were handled after their deadline, unanswered
	Ignored    uint64 // not a command or query
}

// Agent is the SDK for the process-heat agents GL-002..GL-100: it registers
// and heartbeats, runs a typed handler per command or query name, replies,
// and deregisters on shutdown.
//
// Handlers must be idempotent: a command can arrive again when the requester
// timed out and retried. Every retry carries the same CorrelationID (the
// command id); the Agent's dedupe memory answers recent repeats itself, and
// handlers with effects that outlive it should dedupe on m.CorrelationID too.
//
// Handlers of one Agent run one at a time, in arrival order.
type Agent struct {
	cfg  AgentConfig
	log  *slog.Logger
	info AgentInfo
	poke chan struct{}

	mu       sync.Mutex
	handlers map[string]handlerFunc
	running  bool

	dedupe *dedupe

	handled, failed, duplicates, denied, rejected, unknown, expired, ignored atomic.Uint64
}

type handlerFunc func(ctx context.Context, m Message) (json.RawMessage, error)

// NewAgent returns an Agent. Add handlers with Handle, then call Run.
func NewAgent(cfg AgentConfig) (*Agent, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Prefix == "" {
		cfg.Prefix = DefaultPrefix
	}
	if cfg.HeartbeatInterval == 0 {
		cfg.HeartbeatInterval = 30 * time.Second
	}
	if cfg.DedupeSize == 0 {
		cfg.DedupeSize = 1024
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	a := &Agent{
		cfg: cfg, log: log.With("agent", cfg.ID), poke: make(chan struct{}, 1),
		info:     AgentInfo{ID: cfg.ID, Capabilities: slices.Clone(cfg.Capabilities), Version: cfg.Version},
		handlers: make(map[string]handlerFunc),
	}
	if cfg.DedupeSize > 0 {
		a.dedupe = newDedupe(cfg.DedupeSize)
	}
	return a, nil
}

// ID returns the agent id.
func (a *Agent) ID() string { return a.cfg.ID }

// Stats returns the counters.
func (a *Agent) Stats() AgentStats {
	return AgentStats{
		Handled: a.handled.Load(), Failed: a.failed.Load(), Duplicates: a.duplicates.Load(),
		Denied: a.denied.Load(), Rejected: a.rejected.Load(), Unknown: a.unknown.Load(),
		Expired: a.expired.Load(), Ignored: a.ignored.Load(),
	}
}

// Handle registers fn for the command or query called name. The payload is
// decoded into P (a zero P when there is none); the result R is encoded as the
// reply payload. When P holds no pointers, slices, maps or interfaces and
// does its own no unmarshalling, the agents of one process share the
// decoding of a broadcast's parameters instead of each decoding the same
// bytes. An error from fn becomes an error reply: a *ReplyError is
// sent as is, errors wrapping a coord sentinel get its code, anything else
// CodeHandler. Error texts go back to the sender: keep secrets out of them.
// Handle must be called before Run.
func Handle[P, R any](a *Agent, name string, fn func(ctx context.Context, m Message, params P) (R, error)) error {
	if name == "" || fn == nil {
		return fmt.Errorf("%w: Handle needs a name and a function", ErrBadConfig)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.running {
		return fmt.Errorf("%w: Handle after Run", ErrBadConfig)
	}
	if _, dup := a.handlers[name]; dup {
		return fmt.Errorf("%w: handler %q registered twice", ErrBadConfig, name)
	}
	params := newParamsDecoder[P]()
	a.handlers[name] = func(ctx context.Context, m Message) (out json.RawMessage, err error) {
		defer func() {
			// A panicking handler answers with an error instead of taking
			// the agent, and every other handler, down with it.
			if r := recover(); r != nil {
				a.log.Error("coord: handler panicked", "command", name, "panic", fmt.Sprint(r))
				out, err = nil, fmt.Errorf("%w: %q panicked", ErrHandler, name)
			}
		}()
		var p P
		if len(m.Payload) > 0 {
			if err := params.decode(m.Payload, &p); err != nil {
				return nil, fmt.Errorf("%w: parameters of %q: %w", ErrBadMessage, name, err)
			}
		}
		r, err := fn(ctx, m, p)
		if err != nil {
			return nil, err
		}
		b, err := json.Marshal(r)
		if err != nil {
			return nil, fmt.Errorf("%w: result of %q: %w", ErrHandler, name, err)
		}
		return b, nil
	}
	return nil
}

// Run subscribes to the agent's subject, registers (a first heartbeat),
// heartbeats every interval and serves commands until ctx ends; then it
// announces its departure, unsubscribes and returns nil. It returns an error
// if it cannot subscribe, or ErrClosed when a heartbeat finds the Bus closed.
// Run may be called once.
func (a *Agent) Run(ctx context.Context) error {
	a.mu.Lock()
	if a.running {
		a.mu.Unlock()
		return fmt.Errorf("%w: agent %s already ran", ErrClosed, a.cfg.ID)
	}
	a.running = true
	a.mu.Unlock()

	bus, prefix := a.cfg.Bus, a.cfg.Prefix
	sub, err := bus.Subscribe(AgentSubject(prefix, a.cfg.ID), a.serve)
	if err != nil {
		return err
	}
	defer func() { _ = sub.Unsubscribe() }()
	disc, err := bus.Subscribe(discoverSubject(prefix), func(context.Context, Message) {
		select {
		case a.poke <- struct{}{}:
		default:
		}
	})
	if err != nil {
		return err
	}
	defer func() { _ = disc.Unsubscribe() }()

	tick := time.NewTicker(a.cfg.HeartbeatInterval)
	defer tick.Stop()
	for {
		if err := a.announce(ctx, heartbeatSubject(prefix), TypeHeartbeat); errors.Is(err, ErrClosed) {
			return err
		}
		select {
		case <-ctx.Done():
			// A bus already closed cannot carry the goodbye; the registry
			// then notices the silence instead.
			_ = a.announce(context.WithoutCancel(ctx), leaveSubject(prefix), TypeEvent)
			return nil
		case <-tick.C:
		case <-a.poke:
		}
	}
}

func (a *Agent) announce(ctx context.Context, subject string, t Type) error {
	payload, _ := json.Marshal(a.info) // strings only: cannot fail
	m := Message{ID: NewID(), Type: t, From: a.cfg.ID, Time: time.Now(), Payload: payload}
	if a.cfg.Signer != nil {
		if err := Seal(&m, a.cfg.Signer, a.cfg.SignTTL); err != nil {
			a.log.Warn("coord: cannot sign announcement", "err", err)
			return err
		}
	}
	err := a.cfg.Bus.Publish(ctx, subject, m)
	if err != nil && ctx.Err() == nil {
		a.log.Warn("coord: announcement not sent", "subject", subject, "err", err)
	}
	return err
}

func (a *Agent) audit(action string, m *Message, attrs ...any) {
	if !a.log.Enabled(context.Background(), slog.LevelInfo) {
		return
	}
	a.log.Info("coord: audit", append([]any{"action", action, "from", m.From, "command", m.Name,
		"type", m.Type.String(), "id", m.CorrelationID}, attrs...)...)
}

func (a *Agent) reply(ctx context.Context, req *Message, payload json.RawMessage, rerr *ReplyError) {
	if req.ReplyTo == "" {
		return
	}
	r := Message{
		ID: NewID(), Type: TypeResponse, From: a.cfg.ID, To: req.From, Name: req.Name,
		CorrelationID: req.CorrelationID, Time: time.Now(), Payload: payload, Error: rerr,
	}
	if a.cfg.Signer != nil {
		if err := Seal(&r, a.cfg.Signer, a.cfg.SignTTL); err != nil {
			a.log.Warn("coord: cannot sign reply", "err", err)
			return
		}
	}
	if err := a.cfg.Bus.Publish(ctx, req.ReplyTo, r); err != nil && ctx.Err() == nil {
		a.log.Warn("coord: reply not sent", "command", req.Name, "err", err)
	}
}

func (a *Agent) serve(ctx context.Context, m Message) {
	if m.Type != TypeCommand && m.Type != TypeQuery {
		a.ignored.Add(1)
		return
	}
	if g := a.cfg.Guard; g != nil {
		if err := g.Check(&m); err != nil {
			a.rejected.Add(1)
			a.log.Warn("coord: message rejected", "from", m.From, "command", m.Name, "err", err)
			a.reply(ctx, &m, nil, replyErrorFor(err))
			return
		}
	}
	if !m.Deadline.IsZero() && time.Now().After(m.Deadline) {
		a.expired.Add(1)
		return
	}
	if !a.cfg.Policy.Allow(m.From, m.Name, a.cfg.ID) {
		a.denied.Add(1)
		a.audit("denied", &m)
		a.reply(ctx, &m, nil, &ReplyError{Code: CodeDenied,
			Message: fmt.Sprintf("%s may not send %s to %s", m.From, m.Name, a.cfg.ID)})
		return
	}
	a.mu.Lock()
	h := a.handlers[m.Name]
	a.mu.Unlock()
	if h == nil {
		a.unknown.Add(1)
		a.reply(ctx, &m, nil, &ReplyError{Code: CodeUnknownCommand, Message: fmt.Sprintf("%s has no handler for %q", a.cfg.ID, m.Name)})
		return
	}
	dedupe := a.dedupe != nil && m.Type == TypeCommand && m.CorrelationID != ""
	var key string
	if dedupe {
		key = m.From + "\x00" + m.CorrelationID
		if r, ok := a.dedupe.get(key); ok {
			a.duplicates.Add(1)
			a.audit("answered", &m, "duplicate", true)
			a.reply(ctx, &m, r.payload, r.err)
			return
		}
	}
	var start time.Time
	auditing := a.log.Enabled(ctx, slog.LevelInfo)
	if auditing {
		start = time.Now() // the clock is read only for the audit record
	}
	hctx := ctx
	if !m.Deadline.IsZero() {
		hc := newHandlerCtx(ctx, m.Deadline)
		defer hc.end()
		hctx = hc
	}
	out, err := h(hctx, m)
	a.handled.Add(1)
	var rerr *ReplyError
	if err != nil {
		a.failed.Add(1)
		rerr = replyErrorFor(err)
	}
	if dedupe {
		a.dedupe.put(key, dedupeEntry{out, rerr})
	}
	if !m.Deadline.IsZero() && !time.Now().Before(m.Deadline) {
		// The answer is no longer useful, and one sent at the very
		// deadline would race the requester's own timeout: the requester
		// reports this agent as timed out either way.
		a.expired.Add(1)
		if auditing {
			a.audit("expired", &m, "latency", time.Since(start))
		}
		return
	}
	switch {
	case !auditing:
	case rerr != nil:
		a.audit("answered", &m, "error", rerr.Code, "latency", time.Since(start))
	default:
		a.audit("answered", &m, "latency", time.Since(start))
	}
	a.reply(ctx, &m, out, rerr)
}

// oneLine keeps an error text to one line, as headers and logs need.
func oneLine(s string) string {
	return strings.TrimSpace(strings.Map(func(r rune) rune {
		if r == '\r' || r == '\n' || r == '\t' {
			return ' '
		}
		return r
	}, s))
}

type dedupeEntry struct {
	payload json.RawMessage
	err     *ReplyError
}

// dedupe remembers the last n replies by key, evicting the oldest. It is
// used from one subscription goroutine only. It grows as commands arrive, so
// an agent that is only queried costs nothing here.
type dedupe struct {
	n    int
	ring []string // keys in arrival order, a ring once it holds n
	next int
	m    map[string]dedupeEntry
}

func newDedupe(n int) *dedupe {
	return &dedupe{n: n, m: make(map[string]dedupeEntry)}
}

func (d *dedupe) get(k string) (dedupeEntry, bool) {
	e, ok := d.m[k]
	return e, ok
}

func (d *dedupe) put(k string, e dedupeEntry) {
	if _, ok := d.m[k]; !ok {
		if len(d.ring) < d.n {
			d.ring = append(d.ring, k)
		} else {
			delete(d.m, d.ring[d.next])
			d.ring[d.next] = k
			d.next = (d.next + 1) % d.n
		}
	}
	d.m[k] = e
}
