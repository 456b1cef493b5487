package coord

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Subject layout under a prefix (default "gl001"):
//
//	<prefix>.agent.<id>           commands and queries to one agent
//	<prefix>.registry.heartbeat   agents' heartbeats (payload: AgentInfo)
//	<prefix>.registry.leave       an agent shutting down cleanly
//	<prefix>.discover             the coordinator asking agents to heartbeat now
const DefaultPrefix = "gl001"

// AgentSubject returns the subject agent id listens on.
func AgentSubject(prefix, id string) string { return prefix + ".agent." + id }

func heartbeatSubject(prefix string) string { return prefix + ".registry.heartbeat" }
func leaveSubject(prefix string) string     { return prefix + ".registry.leave" }
func discoverSubject(prefix string) string  { return prefix + ".discover" }

// validID reports whether id can be one subject token.
func validID(id string) error {
	if id == "" || strings.ContainsAny(id, ".*> \t\r\n") {
		return fmt.Errorf("%w: agent id %q must be one subject token", ErrBadConfig, id)
	}
	return nil
}

// Strategy says which agents a Command goes to.
type Strategy uint8

// Strategies.
const (
	// Broadcast sends to every candidate: Command.Targets, or every agent in
	// the registry that is not unreachable.
	Broadcast Strategy = iota
	// RoundRobin sends to Command.Count candidates (default 1), taking turns.
	RoundRobin
	// LoadBalanced sends to the Command.Count candidates (default 1) with the
	// best registry performance: fewest in flight, lowest latency, highest
	// success rate.
	LoadBalanced
	// CapabilityBased sends to the candidates declaring Command.Capability:
	// all of them, or the Count best by performance.
	CapabilityBased
)

var strategyNames = [...]string{"broadcast", "round-robin", "load-balanced", "capability"}

// String returns the strategy's name ("broadcast", "round-robin"...).
func (s Strategy) String() string {
	if int(s) < len(strategyNames) {
		return strategyNames[s]
	}
	return "strategy(" + strconv.Itoa(int(s)) + ")"
}

// CoordinatorConfig configures a Coordinator.
type CoordinatorConfig struct {
	// Bus carries the messages. Required.
	Bus Bus
	// Registry supplies the agents, their health and the expected reply
	// count. Required. The Coordinator keeps it up to date from heartbeats.
	Registry *Registry
	// ID is the sender id on every command. Zero means "GL-001".
	ID string
	// Prefix of every subject. Zero means DefaultPrefix.
	Prefix string
	// Timeout bounds an Execute whose Command sets none. Zero means 5 s.
	Timeout time.Duration
	// MaxParallel bounds the requests in flight per Execute when the Command
	// sets none. Zero means no bound beyond the number of targets.
	MaxParallel int
	// Signer signs commands; nil sends them unsigned (in-process use).
	Signer Signer
	// Guard checks replies and heartbeats; nil accepts them unsigned.
	Guard *Guard
	// SignTTL is the signature lifetime of messages without a deadline.
	// Zero means DefaultSignTTL; Seal signs at most MaxSignLifetime.
	SignTTL time.Duration
	// Logger receives the audit records (level Info, message "coord: audit")
	// and warnings. Nil discards.
	Logger *slog.Logger
}

// Validate reports every problem in the configuration.
func (c CoordinatorConfig) Validate() error {
	var errs []error
	if c.Bus == nil {
		errs = append(errs, fmt.Errorf("%w: Bus is nil", ErrBadConfig))
	}
	if c.Registry == nil {
		errs = append(errs, fmt.Errorf("%w: Registry is nil", ErrBadConfig))
	}
	if c.ID != "" {
		if err := validID(c.ID); err != nil {
			errs = append(errs, err)
		}
	}
	if c.Prefix != "" {
		if err := ValidSubject(c.Prefix, false); err != nil {
			errs = append(errs, fmt.Errorf("%w: Prefix: %w", ErrBadConfig, err))
		}
	}
	if c.Timeout < 0 || c.MaxParallel < 0 || c.SignTTL < 0 {
		errs = append(errs, fmt.Errorf("%w: Timeout, MaxParallel and SignTTL must be >= 0", ErrBadConfig))
	}
	return errors.Join(errs...)
}

// Command is one Execute: what to ask, of whom, and how to combine the
// answers.
type Command struct {
	// ID identifies the logical command; it travels as CorrelationID and
	// handlers dedupe on it. Reuse it when retrying the same command. Zero
	// means a fresh id.
	ID string
	// Name of the command or query ("set_firing_rate"). Required.
	Name string
	// Query marks a read-only query rather than a command.
	Query bool
	// Params is marshalled to JSON as the payload; a json.RawMessage is sent
	// as is.
	Params any
	// Targets restricts the candidates to these agent ids; nil means every
	// agent in the registry. Unknown and unreachable targets are not sent to
	// and are listed in Result.Failed.
	Targets []string
	// Strategy picks the agents among the candidates.
	Strategy Strategy
	// Capability is required by CapabilityBased.
	Capability string
	// Count is how many agents RoundRobin and LoadBalanced pick (zero: 1)
	// and how many CapabilityBased picks (zero: all).
	Count int
	// Timeout bounds the whole Execute. Zero means the Coordinator's.
	Timeout time.Duration
	// MaxParallel bounds the requests in flight. Zero means the
	// Coordinator's.
	MaxParallel int
	// Stall, if set, ends the collection when no reply has come for this long
	// after the last one (the "request many" end condition). The expected
	// count and the timeout still apply.
	Stall time.Duration
	// Aggregate combines the replies. Zero means All.
	Aggregate Aggregation
	// Field names the top-level JSON field of each reply that Aggregate
	// reads; empty means the whole payload.
	Field string
}

// Reply is one agent's successful answer.
type Reply struct {
	Agent   string
	Latency time.Duration
	Message Message
	// Value is what the agent contributed to the aggregation (the payload or
	// its Field).
	Value json.RawMessage
}

// Failure is an agent that did not contribute, and why: its error reply
// (a *ReplyError), ErrUnreachable, ErrUnknownAgent, a publish error, or
// ErrBadMessage for a value that cannot be aggregated.
type Failure struct {
	Agent string
	Err   error
}

// Result is the outcome of an Execute. When not every target answered in
// time it is partial, not an error: Answered, TimedOut and Failed list every
// target exactly once.
type Result struct {
	ID        string // the command id (CorrelationID)
	Name      string
	Aggregate Aggregation
	// Value is the aggregate as JSON: a number for the numeric aggregations,
	// the winning value for Majority, the first value for First; nil for All
	// or when no agent answered.
	Value json.RawMessage
	// Number is the numeric aggregate (NaN when there is none).
	Number float64
	// Votes and Consensus report a Majority: supporters of Value, and
	// whether they are more than half of all targets.
	Votes     int
	Consensus bool
	Replies   []Reply // successful replies in arrival order
	Answered  []string
	TimedOut  []string
	Failed    []Failure
	// Partial is set when some target did not contribute (for First: when
	// no target answered; the targets not waited for are in TimedOut).
	Partial bool
	Stalled bool // ended by the Stall window
	Elapsed time.Duration
}

// CoordinatorStats counts what a Coordinator saw outside any one Result.
type CoordinatorStats struct {
	Executed   uint64 // Execute calls that sent something
	Late       uint64 // replies that arrived after their Execute ended, dropped
	Unexpected uint64 // duplicate replies or replies from agents not asked, dropped
	Rejected   uint64 // replies and heartbeats failing signature checks, dropped
	Malformed  uint64 // heartbeats that could not be decoded, dropped
}

// Coordinator sends commands to agents and collects their replies. Create it
// with NewCoordinator; it subscribes to its reply inbox and to the registry
// subjects until Close. Safe for concurrent use.
type Coordinator struct {
	cfg   CoordinatorConfig
	log   *slog.Logger
	inbox string
	subs  []Subscription

	mu     sync.Mutex
	execs  map[string]*execution
	closed bool

	subjects  sync.Map     // agent id -> AgentSubject, built once per agent
	nSubjects atomic.Int64 // entries in subjects, bounded by maxSubjects

	rr                                                  atomic.Uint64
	executed, late, unexpected, rejected, malformedBeat atomic.Uint64
}

// NewCoordinator subscribes to the reply inbox and the registry subjects and
// asks agents already running to heartbeat now.
func NewCoordinator(cfg CoordinatorConfig) (*Coordinator, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.ID == "" {
		cfg.ID = "GL-001"
	}
	if cfg.Prefix == "" {
		cfg.Prefix = DefaultPrefix
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 5 * time.Second
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := &Coordinator{cfg: cfg, log: log, inbox: NewInbox(), execs: make(map[string]*execution)}
	for subj, h := range map[string]Handler{
		c.inbox + ".*":               c.route,
		heartbeatSubject(cfg.Prefix): c.onHeartbeat,
		leaveSubject(cfg.Prefix):     c.onLeave,
	} {
		subscribe := cfg.Bus.Subscribe
		if ib, ok := cfg.Bus.(inlineSubscriber); ok && subj == c.inbox+".*" {
			// route never blocks and is safe for concurrent use: on a
			// LocalBus, replies are applied by the agents that send them.
			subscribe = ib.subscribeInline
		}
		s, err := subscribe(subj, h)
		if err != nil {
			c.unsubscribe()
			return nil, err
		}
		c.subs = append(c.subs, s)
	}
	// Agents that started first heartbeat again at once, so the registry
	// knows them without waiting a full interval.
	if err := cfg.Bus.Publish(context.Background(), discoverSubject(cfg.Prefix), Message{
		ID: NewID(), Type: TypeEvent, From: cfg.ID, Time: time.Now(),
	}); err != nil {
		c.unsubscribe()
		return nil, err
	}
	return c, nil
}

func (c *Coordinator) unsubscribe() {
	for _, s := range c.subs {
		_ = s.Unsubscribe()
	}
}

// Close unsubscribes. It does not close the Bus. Later calls return
// ErrClosed; Execute calls in progress run to their end condition.
func (c *Coordinator) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return ErrClosed
	}
	c.closed = true
	c.mu.Unlock()
	c.unsubscribe()
	return nil
}

// Stats returns the counters.
func (c *Coordinator) Stats() CoordinatorStats {
	return CoordinatorStats{
		Executed: c.executed.Load(), Late: c.late.Load(), Unexpected: c.unexpected.Load(),
		Rejected: c.rejected.Load(), Malformed: c.malformedBeat.Load(),
	}
}

func (c *Coordinator) route(_ context.Context, m Message) {
	token := m.Subject[len(c.inbox)+1:]
	c.mu.Lock()
	ex := c.execs[token]
	c.mu.Unlock()
	if ex == nil {
		c.late.Add(1)
		return
	}
	if ex.queue == nil {
		ex.apply(&m, nil)
		return
	}
	select {
	case <-ex.done:
		c.late.Add(1)
	case ex.queue <- m:
	default:
		// The workers are behind: check this one here rather than wait
		// for them (which would hold up other Executes' replies) or drop it.
		ex.apply(&m, c.cfg.Guard.Check(&m))
	}
}

func (c *Coordinator) check(m *Message, what string) bool {
	if c.cfg.Guard == nil {
		return true
	}
	if err := c.cfg.Guard.Check(m); err != nil {
		c.rejected.Add(1)
		c.log.Warn("coord: "+what+" rejected", "from", m.From, "err", err)
		return false
	}
	return true
}

func (c *Coordinator) onHeartbeat(_ context.Context, m Message) {
	if !c.check(&m, "heartbeat") {
		return
	}
	var info AgentInfo
	if err := m.Decode(&info); err != nil || info.ID != m.From || validID(info.ID) != nil {
		c.malformedBeat.Add(1)
		c.log.Warn("coord: malformed heartbeat dropped", "from", m.From)
		return
	}
	_ = c.cfg.Registry.Register(info) // the id is valid: cannot fail
}

func (c *Coordinator) onLeave(_ context.Context, m Message) {
	if c.check(&m, "leave") {
		c.cfg.Registry.Deregister(m.From)
		if _, ok := c.subjects.LoadAndDelete(m.From); ok {
			c.nSubjects.Add(-1)
		}
	}
}

func (cmd *Command) validate() error {
	var errs []error
	if cmd.Name == "" {
		errs = append(errs, fmt.Errorf("%w: Command.Name is empty", ErrBadConfig))
	}
	if cmd.Strategy > CapabilityBased {
		errs = append(errs, fmt.Errorf("%w: unknown strategy %v", ErrBadConfig, cmd.Strategy))
	}
	if cmd.Strategy == CapabilityBased && cmd.Capability == "" {
		errs = append(errs, fmt.Errorf("%w: CapabilityBased needs Command.Capability", ErrBadConfig))
	}
	if cmd.Aggregate > First {
		errs = append(errs, fmt.Errorf("%w: unknown aggregation %v", ErrBadConfig, cmd.Aggregate))
	}
	if cmd.Count < 0 || cmd.Timeout < 0 || cmd.MaxParallel < 0 || cmd.Stall < 0 {
		errs = append(errs, fmt.Errorf("%w: Count, Timeout, MaxParallel and Stall must be >= 0", ErrBadConfig))
	}
	return errors.Join(errs...)
}

// selectTargets applies the strategy to the candidates.
func (c *Coordinator) selectTargets(cmd *Command) (targets []string, failed []Failure) {
	if cmd.Targets == nil && cmd.Strategy == Broadcast {
		return c.cfg.Registry.reachable(), nil
	}
	var cands []AgentStatus
	if cmd.Targets == nil {
		cands = slices.DeleteFunc(c.cfg.Registry.list(), func(a AgentStatus) bool { return a.Health == Unreachable })
	} else {
		seen := map[string]bool{}
		for _, id := range cmd.Targets {
			if seen[id] {
				continue
			}
			seen[id] = true
			a, ok := c.cfg.Registry.Get(id)
			switch {
			case !ok:
				failed = append(failed, Failure{id, fmt.Errorf("%w: %q", ErrUnknownAgent, id)})
			case a.Health == Unreachable:
				failed = append(failed, Failure{id, fmt.Errorf("%w: %q last seen %s", ErrUnreachable, id, a.LastSeen.UTC().Format(time.RFC3339))})
			default:
				cands = append(cands, a)
			}
		}
	}
	best := func(as []AgentStatus, n int) []AgentStatus {
		slices.SortStableFunc(as, func(a, b AgentStatus) int {
			sa, sb := a.Perf.score(), b.Perf.score()
			switch {
			case sa < sb:
				return -1
			case sa > sb:
				return 1
			}
			return 0
		})
		return as[:min(n, len(as))]
	}
	n := max(cmd.Count, 1)
	switch cmd.Strategy {
	case RoundRobin:
		if len(cands) > 0 {
			start := int(c.rr.Add(uint64(n)) - uint64(n))
			var picked []AgentStatus
			for i := range min(n, len(cands)) {
				picked = append(picked, cands[(start+i)%len(cands)])
			}
			cands = picked
		}
	case LoadBalanced:
		cands = best(cands, n)
	case CapabilityBased:
		cands = slices.DeleteFunc(cands, func(a AgentStatus) bool { return !a.Has(cmd.Capability) })
		if cmd.Count > 0 {
			cands = best(cands, cmd.Count)
		}
	}
	targets = make([]string, len(cands))
	for i, a := range cands {
		targets[i] = a.ID
	}
	return targets, failed
}

// execution is one Execute in progress. Replies are applied to it where they
// arrive (the inbox subscription, or the verification workers when replies
// are signed), under mu; the Execute goroutine is woken only when there is
// something for it to do: send more (MaxParallel), stop (every target
// finished, or the first answer for First), or arm the stall window.
type execution struct {
	c        *Coordinator
	cmd      *Command
	start    time.Time
	targets  []string
	index    map[string]int // target id -> index in targets and states; nil when targets are sorted
	selected int            // targets plus those the selection already failed
	maxPar   int
	typ      Type
	payload  json.RawMessage
	deadline time.Time
	replyTo  string
	wake     chan struct{} // capacity 1
	queue    chan Message  // replies awaiting verification; nil without a Guard
	done     chan struct{} // closed when collection ends, with queue

	mu        sync.Mutex
	states    []targetState
	res       *Result
	next      int // targets[next:] not sent yet
	inflight  int
	finished  int
	lastReply time.Time
	over      bool // collection ended: later replies are late
}

type targetState struct {
	sent  time.Duration // since execution.start: half the size of a time.Time
	phase uint8
}

// Target phases.
const (
	phaseUnsent uint8 = iota
	phasePending
	phaseDone
)

// find returns the index of target id. A broadcast's targets come sorted
// from the registry and are searched without building a map.
func (e *execution) find(id string) (int, bool) {
	if e.index != nil {
		i, ok := e.index[id]
		return i, ok
	}
	return slices.BinarySearch(e.targets, id)
}

func strictlySorted(ids []string) bool {
	for i := 1; i < len(ids); i++ {
		if ids[i-1] >= ids[i] {
			return false
		}
	}
	return true
}

func (e *execution) signal() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// apply applies one reply; verr is its signature check.
func (e *execution) apply(m *Message, verr error) {
	c, cmd := e.c, e.cmd
	if verr != nil {
		c.rejected.Add(1)
		c.log.Warn("coord: reply rejected", "command", cmd.Name, "id", cmd.ID, "err", verr)
		return
	}
	if m.CorrelationID != cmd.ID || m.Type != TypeResponse {
		c.unexpected.Add(1)
		return
	}
	i, known := e.find(m.From)
	if !known {
		c.unexpected.Add(1)
		return
	}
	// The value is read outside the lock: replies are parsed in parallel.
	var v json.RawMessage
	var bad error
	if m.Error == nil {
		v, bad = value(m.Payload, cmd.Field)
		if bad == nil && cmd.Aggregate.numeric() {
			_, bad = number(v)
		}
	}
	now := time.Now()
	e.mu.Lock()
	if e.over {
		e.mu.Unlock()
		c.late.Add(1)
		return
	}
	st := &e.states[i]
	if st.phase != phasePending {
		e.mu.Unlock()
		c.unexpected.Add(1)
		return
	}
	st.phase = phaseDone
	lat := now.Sub(e.start) - st.sent
	e.inflight--
	e.finished++
	e.lastReply = now
	res := e.res
	switch {
	case m.Error != nil:
		res.Failed = append(res.Failed, Failure{m.From, m.Error})
	case bad != nil && cmd.Aggregate != All:
		res.Failed = append(res.Failed, Failure{m.From, bad})
	default:
		res.Replies = append(res.Replies, Reply{Agent: m.From, Latency: lat, Message: *m, Value: v})
		res.Answered = append(res.Answered, m.From)
		if cmd.Aggregate == First {
			e.over = true // the answer is in: the rest are not waited for
		}
	}
	wake := e.finished == len(e.targets) ||
		(e.next < len(e.targets) && e.inflight < e.maxPar) ||
		(cmd.Aggregate == First && len(res.Replies) > 0) ||
		(cmd.Stall > 0 && e.finished == 1)
	e.mu.Unlock()
	c.cfg.Registry.finish(m.From, lat, m.Error == nil)
	if wake {
		e.signal()
	}
}

// fail ends target i with err: it could not be signed or sent. begun says
// whether the registry counts it in flight.
func (e *execution) fail(i int, err error, begun bool) {
	e.mu.Lock()
	st := &e.states[i]
	if st.phase == phaseDone { // answered although the send reported an error
		e.mu.Unlock()
		return
	}
	if st.phase == phasePending {
		e.inflight--
	}
	st.phase = phaseDone
	e.finished++
	e.res.Failed = append(e.res.Failed, Failure{e.targets[i], e.c.publishErr(err)})
	e.mu.Unlock()
	if begun {
		e.c.cfg.Registry.finish(e.targets[i], 0, false)
	}
}

// verify checks queued replies until the collection ends; Execute runs up to
// GOMAXPROCS of these so that signature checks use every core.
func (e *execution) verify() {
	g := e.c.cfg.Guard
	for {
		select {
		case m := <-e.queue:
			e.apply(&m, g.Check(&m))
		case <-e.done:
			return
		}
	}
}

// sendBatch sends to targets up to the parallelism bound. Each message is
// built and signed for its own target.
func (e *execution) sendBatch(ctx context.Context) {
	c, cmd := e.c, e.cmd
	e.mu.Lock()
	lo := e.next
	hi := lo + min(e.maxPar-e.inflight, len(e.targets)-lo)
	if hi <= lo {
		e.mu.Unlock()
		return
	}
	e.next = hi
	e.mu.Unlock()
	// The whole batch counts as in flight at once (one registry lock);
	// a target whose message cannot be signed is taken back.
	c.cfg.Registry.begin(e.targets[lo:hi]...)
	for i := lo; i < hi; i++ {
		id := e.targets[i]
		m := Message{
			ID: NewID(), Type: e.typ, From: c.cfg.ID, To: id, Name: cmd.Name, ReplyTo: e.replyTo,
			CorrelationID: cmd.ID, Time: time.Now(), Deadline: e.deadline, Payload: e.payload,
		}
		sent := m.Time
		if c.cfg.Signer != nil {
			if err := Seal(&m, c.cfg.Signer, c.cfg.SignTTL); err != nil {
				c.cfg.Registry.abandon(id)
				e.fail(i, err, false)
				continue
			}
			sent = time.Now()
		}
		e.mu.Lock()
		e.states[i] = targetState{sent: sent.Sub(e.start), phase: phasePending}
		e.inflight++
		e.mu.Unlock()
		if err := c.cfg.Bus.Publish(ctx, c.agentSubject(id), m); err != nil {
			e.fail(i, err, true)
		}
	}
}

// Execute sends cmd to the agents its strategy selects and collects their
// replies until every target has answered or failed, the timeout passes, or
// the stall window closes. A timeout is not an error: the Result lists who
// answered, who timed out and who failed. Execute returns an error for an
// invalid Command, when no agent is selected (ErrNoTargets, with a Result
// listing unreachable or unknown targets), when the Coordinator is closed,
// and when ctx is cancelled (with the partial Result).
//
// Agents may receive a command again when a caller retries after a timeout;
// reuse Command.ID so their handlers can dedupe, and make handlers
// idempotent.
func (c *Coordinator) Execute(ctx context.Context, cmd Command) (*Result, error) {
	ex, res, err := c.prepare(ctx, &cmd)
	if ex == nil {
		return res, err
	}
	token := NewID()
	ex.replyTo = c.inbox + "." + token
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, ErrClosed
	}
	c.execs[token] = ex
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.execs, token)
		c.mu.Unlock()
	}()
	c.executed.Add(1)

	audit := c.log.Enabled(ctx, slog.LevelInfo)
	if audit {
		c.log.Info("coord: audit", "action", "sent", "from", c.cfg.ID, "command", cmd.Name, "type", ex.typ.String(),
			"id", cmd.ID, "strategy", cmd.Strategy.String(), "targets", ex.targets)
	}

	// Replies are verified in parallel: one signature check per reply costs
	// tens of microseconds with EdDSA, too much to do 99 of them in a row.
	if ex.queue != nil {
		var wg sync.WaitGroup
		for range min(runtime.GOMAXPROCS(0), len(ex.targets)) {
			wg.Go(ex.verify)
		}
		defer func() {
			close(ex.done)
			wg.Wait()
			for range len(ex.queue) { // queued, never checked
				<-ex.queue
				c.late.Add(1)
			}
		}()
	}

	ctxErr := ex.collect(ctx)
	ex.settle(ctxErr)
	if audit {
		c.log.Info("coord: command finished", "command", cmd.Name, "id", cmd.ID, "answered", len(res.Answered),
			"timed_out", len(res.TimedOut), "failed", len(res.Failed), "elapsed", res.Elapsed)
	}
	return res, ctxErr
}

// prepare checks cmd, selects its targets and builds the execution that
// will send to them, with its Result. It returns a nil execution, with what
// Execute returns, when there is nothing to send: an invalid Command, a
// cancelled ctx, or no target (ErrNoTargets, with the Result listing why).
func (c *Coordinator) prepare(ctx context.Context, cmd *Command) (*execution, *Result, error) {
	start := time.Now()
	if err := cmd.validate(); err != nil {
		return nil, nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	if cmd.ID == "" {
		cmd.ID = NewID()
	}
	res := &Result{ID: cmd.ID, Name: cmd.Name, Aggregate: cmd.Aggregate, Number: nanValue()}
	targets, failed := c.selectTargets(cmd)
	res.Failed = failed
	if len(targets) == 0 {
		res.Partial = len(failed) > 0
		return nil, res, fmt.Errorf("%w for %q (%v)", ErrNoTargets, cmd.Name, cmd.Strategy)
	}
	payload, err := marshalParams(cmd.Params)
	if err != nil {
		return nil, nil, err
	}
	timeout := cmd.Timeout
	if timeout == 0 {
		timeout = c.cfg.Timeout
	}
	deadline := start.Add(timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	maxPar := cmd.MaxParallel
	if maxPar == 0 {
		maxPar = c.cfg.MaxParallel
	}
	if maxPar == 0 || maxPar > len(targets) {
		maxPar = len(targets)
	}
	typ := TypeCommand
	if cmd.Query {
		typ = TypeQuery
	}

	ex := &execution{
		c: c, cmd: cmd, start: start, targets: targets, selected: len(targets) + len(failed), maxPar: maxPar,
		typ: typ, payload: payload, deadline: deadline, res: res,
		states: make([]targetState, len(targets)),
		wake:   make(chan struct{}, 1),
	}
	if !strictlySorted(targets) {
		ex.index = make(map[string]int, len(targets))
		for i, id := range targets {
			ex.index[id] = i
		}
	}
	res.Replies = make([]Reply, 0, len(targets))
	res.Answered = make([]string, 0, len(targets))
	if c.cfg.Guard != nil {
		// A small buffer: the workers keep up with the inbox unless the
		// signatures are slow, and then the inbox checks the overflow
		// itself.
		ex.queue = make(chan Message, min(len(targets), verifyQueue))
		ex.done = make(chan struct{})
	}
	return ex, res, nil
}

// collect sends to the targets, as the parallelism bound allows, and waits
// for their replies until every target has finished, the first answer is in
// (First), the deadline passes, the stall window closes or ctx ends. It
// returns ctx's error when ctx was cancelled (not when it reached its
// deadline: that is a timeout).
func (e *execution) collect(ctx context.Context) error {
	cmd, res := e.cmd, e.res
	timer := time.NewTimer(time.Until(e.deadline))
	defer timer.Stop()
	var stall *time.Timer
	var stallC <-chan time.Time
	for {
		e.sendBatch(ctx)
		e.mu.Lock()
		end := e.finished == len(e.targets) || (cmd.Aggregate == First && len(res.Replies) > 0)
		more := e.next < len(e.targets) && e.inflight < e.maxPar
		replied, last := e.finished > 0, e.lastReply
		e.mu.Unlock()
		if end {
			return nil
		}
		if more {
			continue
		}
		if cmd.Stall > 0 && replied && stall == nil {
			stall = time.NewTimer(cmd.Stall - time.Since(last))
			defer stall.Stop()
			stallC = stall.C
		}
		select {
		case <-e.wake:
		case <-timer.C:
			return nil
		case <-stallC:
			// The window runs from the latest reply, which may have come
			// after the timer was armed.
			e.mu.Lock()
			quiet := time.Since(e.lastReply)
			e.mu.Unlock()
			if quiet >= cmd.Stall {
				res.Stalled = true
				return nil
			}
			stall.Reset(cmd.Stall - quiet)
		case <-ctx.Done():
			if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return ctx.Err()
			}
			return nil
		}
	}
}

// settle ends the collection (later replies are late), gives every target
// that did not finish its verdict (timed out, or failed with ctxErr when ctx
// was cancelled) and tells the registry, then aggregates the replies.
func (e *execution) settle(ctxErr error) {
	c, cmd, res := e.c, e.cmd, e.res
	e.mu.Lock()
	e.over = true
	e.mu.Unlock()
	for i, id := range e.targets {
		switch st := e.states[i]; st.phase {
		case phaseUnsent:
			if ctxErr != nil {
				res.Failed = append(res.Failed, Failure{id, ctxErr})
			} else {
				res.TimedOut = append(res.TimedOut, id) // never sent: parallelism bound
			}
		case phasePending:
			if cmd.Aggregate == First && len(res.Replies) > 0 {
				c.cfg.Registry.abandon(id) // not waited for: no verdict on the agent
			} else {
				c.cfg.Registry.finish(id, time.Since(e.start)-st.sent, false)
			}
			if ctxErr != nil {
				res.Failed = append(res.Failed, Failure{id, ctxErr})
			} else {
				res.TimedOut = append(res.TimedOut, id)
			}
		}
	}
	aggregateInto(res, cmd.Aggregate, e.selected)
	res.Partial = len(res.Answered) < e.selected
	if cmd.Aggregate == First {
		res.Partial = len(res.Answered) == 0
	}
	res.Elapsed = time.Since(e.start)
}

// agentSubject is AgentSubject with the coordinator's prefix, remembered per
// agent id so that a broadcast does not build 99 strings.
func (c *Coordinator) agentSubject(id string) string {
	if s, ok := c.subjects.Load(id); ok {
		return s.(string)
	}
	s := AgentSubject(c.cfg.Prefix, id)
	if c.nSubjects.Load() < maxSubjects {
		if _, loaded := c.subjects.LoadOrStore(id, s); !loaded {
			c.nSubjects.Add(1)
		}
	}
	return s
}

// maxSubjects bounds the subject cache: far above a fleet's size, it only
// keeps a flood of made-up agent ids from growing it without end.
const maxSubjects = 1 << 14

// verifyQueue bounds the replies waiting for signature checks per Execute.
const verifyQueue = 32

func (c *Coordinator) publishErr(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("coord: send: %w", err)
}

// aggregateInto combines the values of res.Replies, in arrival order.
func aggregateInto(res *Result, a Aggregation, asked int) {
	replies := res.Replies
	if len(replies) == 0 {
		return
	}
	switch {
	case a.numeric():
		xs := make([]float64, 0, len(replies))
		for _, r := range replies {
			f, _ := number(r.Value) // checked on arrival
			xs = append(xs, f)
		}
		res.Number = reduce(a, xs)
		res.Value, _ = json.Marshal(res.Number)
	case a == Majority:
		values := make([]json.RawMessage, len(replies))
		for i, r := range replies {
			values[i] = r.Value
		}
		res.Value, res.Votes = majority(values)
		res.Consensus = 2*res.Votes > asked
	case a == First:
		res.Value = replies[0].Value
	}
}

func marshalParams(p any) (json.RawMessage, error) {
	switch v := p.(type) {
	case nil:
		return nil, nil
	case json.RawMessage:
		if !json.Valid(v) {
			return nil, fmt.Errorf("%w: Params is not valid JSON", ErrBadMessage)
		}
		return v, nil
	}
	b, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("%w: Params: %w", ErrBadMessage, err)
	}
	return b, nil
}
