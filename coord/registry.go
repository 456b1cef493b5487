package coord

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Health is an agent's liveness as judged from its heartbeats.
type Health uint8

// Health states. An agent moves healthy -> suspect -> unreachable as
// heartbeats go missing and straight back to healthy on the next one.
const (
	Healthy Health = iota
	Suspect
	Unreachable
)

// String returns "healthy", "suspect" or "unreachable".
func (h Health) String() string {
	switch h {
	case Healthy:
		return "healthy"
	case Suspect:
		return "suspect"
	case Unreachable:
		return "unreachable"
	}
	return "health(" + strconv.Itoa(int(h)) + ")"
}

// AgentInfo is what an agent declares when it registers. Heartbeats carry it
// too, so a registry that starts after the agents learns them.
type AgentInfo struct {
	ID           string   `json:"id"`
	Capabilities []string `json:"capabilities,omitempty"`
	Version      string   `json:"version,omitempty"`
}

// Has reports whether the agent declares capability c.
func (a AgentInfo) Has(c string) bool { return slices.Contains(a.Capabilities, c) }

// Performance is what the registry measured about an agent's replies; the
// load-balanced strategy prefers agents with few requests in flight, low
// latency and a high success rate.
type Performance struct {
	Latency     time.Duration // EWMA of the time from a request to its reply, error or timeout
	SuccessRate float64       // EWMA of successes (1) and failures or timeouts (0); 1 before any request
	InFlight    int           // requests sent and not yet answered or timed out
	Requests    uint64        // requests finished
	Failures    uint64        // of which failed or timed out
}

// AgentStatus is a snapshot of one registered agent.
type AgentStatus struct {
	AgentInfo
	Health     Health
	Registered time.Time
	LastSeen   time.Time // last registration or heartbeat
	Perf       Performance
}

// RegistryConfig configures a Registry. The zero value is valid.
type RegistryConfig struct {
	// HeartbeatInterval is how often agents heartbeat. Zero means 30 s.
	HeartbeatInterval time.Duration
	// SuspectAfter and UnreachableAfter are how many heartbeat intervals of
	// silence make an agent suspect and unreachable. Zero means 2 and 4.
	SuspectAfter, UnreachableAfter int
	// EWMAAlpha weighs the newest observation in the latency and success
	// averages, in (0, 1]. Zero means 0.2.
	EWMAAlpha float64
	// Now returns the current time. Nil means time.Now.
	Now func() time.Time
	// OnHealthChange, if set, is called (outside the registry's lock) for
	// every transition Sweep or a heartbeat observes.
	OnHealthChange func(agent string, from, to Health)
	// Logger receives registrations and health transitions. Nil discards.
	Logger *slog.Logger
}

// Validate reports every problem in the configuration.
func (c RegistryConfig) Validate() error {
	var errs []error
	if c.HeartbeatInterval < 0 {
		errs = append(errs, fmt.Errorf("%w: HeartbeatInterval %v < 0", ErrBadConfig, c.HeartbeatInterval))
	}
	if c.SuspectAfter < 0 || c.UnreachableAfter < 0 {
		errs = append(errs, fmt.Errorf("%w: SuspectAfter and UnreachableAfter must be >= 0", ErrBadConfig))
	}
	s, u := c.SuspectAfter, c.UnreachableAfter
	if s == 0 {
		s = 2
	}
	if u == 0 {
		u = 4
	}
	if u <= s {
		errs = append(errs, fmt.Errorf("%w: UnreachableAfter (%d) must exceed SuspectAfter (%d)", ErrBadConfig, u, s))
	}
	if c.EWMAAlpha < 0 || c.EWMAAlpha > 1 {
		errs = append(errs, fmt.Errorf("%w: EWMAAlpha %v outside (0, 1]", ErrBadConfig, c.EWMAAlpha))
	}
	return errors.Join(errs...)
}

// Registry knows the agents, their capabilities, their health and how well
// they answer. The Coordinator feeds it from heartbeats on the bus and from
// the replies it collects, and reads it to pick targets and to know how many
// replies to expect. Safe for concurrent use.
type Registry struct {
	cfg RegistryConfig
	log *slog.Logger

	mu      sync.Mutex
	agents  map[string]*agentEntry
	byID    []*agentEntry // the same entries sorted by id, for list
	changed chan struct{} // closed and replaced when an agent registers
}

type agentEntry struct {
	st       AgentStatus
	reported Health // last health reported by a transition
}

// NewRegistry returns an empty Registry.
func NewRegistry(cfg RegistryConfig) (*Registry, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.HeartbeatInterval == 0 {
		cfg.HeartbeatInterval = 30 * time.Second
	}
	if cfg.SuspectAfter == 0 {
		cfg.SuspectAfter = 2
	}
	if cfg.UnreachableAfter == 0 {
		cfg.UnreachableAfter = 4
	}
	if cfg.EWMAAlpha == 0 {
		cfg.EWMAAlpha = 0.2
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Registry{cfg: cfg, log: log, agents: make(map[string]*agentEntry), changed: make(chan struct{})}, nil
}

// HeartbeatInterval returns the configured interval.
func (r *Registry) HeartbeatInterval() time.Duration { return r.cfg.HeartbeatInterval }

type transition struct {
	id       string
	from, to Health
}

func (r *Registry) notify(ts []transition) {
	for _, t := range ts {
		r.log.Info("coord: agent health changed", "agent", t.id, "from", t.from.String(), "to", t.to.String())
		if r.cfg.OnHealthChange != nil {
			r.cfg.OnHealthChange(t.id, t.from, t.to)
		}
	}
}

// Register adds an agent or updates its capabilities and version; it counts
// as a heartbeat.
func (r *Registry) Register(info AgentInfo) error {
	if info.ID == "" {
		return fmt.Errorf("%w: agent id is empty", ErrBadMessage)
	}
	info.Capabilities = slices.Clone(info.Capabilities)
	now := r.cfg.Now()
	r.mu.Lock()
	e, ok := r.agents[info.ID]
	var ts []transition
	if !ok {
		e = &agentEntry{st: AgentStatus{AgentInfo: AgentInfo{ID: info.ID}, Registered: now, Perf: Performance{SuccessRate: 1}}}
		r.agents[info.ID] = e
		i, _ := slices.BinarySearchFunc(r.byID, info.ID, func(e *agentEntry, id string) int { return strings.Compare(e.st.ID, id) })
		r.byID = slices.Insert(r.byID, i, e)
		close(r.changed)
		r.changed = make(chan struct{})
	} else if e.reported != Healthy {
		ts = append(ts, transition{info.ID, e.reported, Healthy})
	}
	e.st.AgentInfo = info
	e.st.LastSeen = now
	e.reported = Healthy
	r.mu.Unlock()
	if !ok {
		r.log.Info("coord: agent registered", "agent", info.ID, "version", info.Version, "capabilities", info.Capabilities)
	}
	r.notify(ts)
	return nil
}

// Wait blocks until at least n agents are registered or ctx ends: at start
// up, to know the fleet is there before the first broadcast.
func (r *Registry) Wait(ctx context.Context, n int) error {
	for {
		r.mu.Lock()
		k, ch := len(r.agents), r.changed
		r.mu.Unlock()
		if k >= n {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("coord: %d of %d agents registered: %w", k, n, ctx.Err())
		}
	}
}

// Heartbeat records that the agent is alive. It fails with ErrUnknownAgent
// for an agent that never registered.
func (r *Registry) Heartbeat(id string) error {
	now := r.cfg.Now()
	r.mu.Lock()
	e, ok := r.agents[id]
	if !ok {
		r.mu.Unlock()
		return fmt.Errorf("%w: %q", ErrUnknownAgent, id)
	}
	var ts []transition
	if e.reported != Healthy {
		ts = append(ts, transition{id, e.reported, Healthy})
	}
	e.st.LastSeen = now
	e.reported = Healthy
	r.mu.Unlock()
	r.notify(ts)
	return nil
}

// Deregister removes an agent (it shut down cleanly). It reports whether the
// agent was known.
func (r *Registry) Deregister(id string) bool {
	r.mu.Lock()
	e, ok := r.agents[id]
	delete(r.agents, id)
	if ok {
		r.byID = slices.DeleteFunc(r.byID, func(x *agentEntry) bool { return x == e })
	}
	r.mu.Unlock()
	if ok {
		r.log.Info("coord: agent deregistered", "agent", id)
	}
	return ok
}

func (r *Registry) health(e *agentEntry, now time.Time) Health {
	silence := now.Sub(e.st.LastSeen)
	switch {
	case silence >= time.Duration(r.cfg.UnreachableAfter)*r.cfg.HeartbeatInterval:
		return Unreachable
	case silence >= time.Duration(r.cfg.SuspectAfter)*r.cfg.HeartbeatInterval:
		return Suspect
	}
	return Healthy
}

func (r *Registry) snapshot(e *agentEntry, now time.Time) AgentStatus {
	st := e.st
	st.Capabilities = slices.Clone(st.Capabilities)
	st.Health = r.health(e, now)
	return st
}

// Get returns one agent's status.
func (r *Registry) Get(id string) (AgentStatus, bool) {
	now := r.cfg.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	e, ok := r.agents[id]
	if !ok {
		return AgentStatus{}, false
	}
	return r.snapshot(e, now), true
}

// Agents returns every registered agent, sorted by id. Health is computed
// from the time since the last heartbeat at the moment of the call.
func (r *Registry) Agents() []AgentStatus {
	now := r.cfg.Now()
	r.mu.Lock()
	out := make([]AgentStatus, 0, len(r.agents))
	for _, e := range r.agents {
		out = append(out, r.snapshot(e, now))
	}
	r.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// list is Agents for the Coordinator's own use: the capability slices are
// shared with the registry and must not be modified. The registry keeps its
// entries in id order, so a broadcast does not sort the fleet every time.
func (r *Registry) list() []AgentStatus {
	now := r.cfg.Now()
	r.mu.Lock()
	out := make([]AgentStatus, len(r.byID))
	for i, e := range r.byID {
		out[i] = e.st
		out[i].Health = r.health(e, now)
	}
	r.mu.Unlock()
	return out
}

// reachable returns the ids, in order, of the agents that are not
// unreachable: what a broadcast to every agent sends to, without copying
// each agent's status.
func (r *Registry) reachable() []string {
	now := r.cfg.Now()
	r.mu.Lock()
	out := make([]string, 0, len(r.byID))
	for _, e := range r.byID {
		if r.health(e, now) != Unreachable {
			out = append(out, e.st.ID)
		}
	}
	r.mu.Unlock()
	return out
}

// Sweep re-evaluates every agent's health and reports transitions to
// OnHealthChange and the log. Run calls it periodically.
func (r *Registry) Sweep() {
	now := r.cfg.Now()
	var ts []transition
	r.mu.Lock()
	for id, e := range r.agents {
		if h := r.health(e, now); h != e.reported {
			ts = append(ts, transition{id, e.reported, h})
			e.reported = h
		}
	}
	r.mu.Unlock()
	sort.Slice(ts, func(i, j int) bool { return ts[i].id < ts[j].id })
	r.notify(ts)
}

// Run calls Sweep every half heartbeat interval until ctx ends, then returns
// nil. Health read through Get and Agents is always current; Run only makes
// transitions reported promptly.
func (r *Registry) Run(ctx context.Context) error {
	t := time.NewTicker(r.cfg.HeartbeatInterval / 2)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			r.Sweep()
		}
	}
}

// begin marks requests to the agents ids as in flight, under one lock.
func (r *Registry) begin(ids ...string) {
	r.mu.Lock()
	for _, id := range ids {
		if e, ok := r.agents[id]; ok {
			e.st.Perf.InFlight++
		}
	}
	r.mu.Unlock()
}

// finish records the outcome of a request begun with begin.
func (r *Registry) finish(id string, latency time.Duration, ok bool) {
	a := r.cfg.EWMAAlpha
	r.mu.Lock()
	defer r.mu.Unlock()
	e, found := r.agents[id]
	if !found {
		return
	}
	p := &e.st.Perf
	if p.InFlight > 0 {
		p.InFlight--
	}
	s := 0.0
	if ok {
		s = 1
	} else {
		p.Failures++
	}
	// A failure or a timeout cost the caller its wait as much as a reply
	// did: it counts in the latency too, or an agent that only ever timed
	// out would look as fast as a new one.
	switch {
	case latency <= 0: // nothing was measured (the request never went out)
	case p.Latency == 0:
		p.Latency = latency
	default:
		p.Latency = time.Duration(a*float64(latency) + (1-a)*float64(p.Latency))
	}
	p.SuccessRate = a*s + (1-a)*p.SuccessRate
	p.Requests++
}

// score orders agents for load balancing: lower is better. A command is not
// retried on another agent, so reliability weighs more than speed: the
// success rate counts squared, and an agent that fails fast does not win
// over one that answers slowly but surely.
func (p Performance) score() float64 {
	lat := float64(p.Latency)
	if lat == 0 {
		lat = float64(time.Millisecond)
	}
	s := max(p.SuccessRate, 0.01)
	return float64(p.InFlight+1) * lat / (s * s)
}

// abandon ends a request begun with begin without judging the agent.
func (r *Registry) abandon(id string) {
	r.mu.Lock()
	if e, ok := r.agents[id]; ok && e.st.Perf.InFlight > 0 {
		e.st.Perf.InFlight--
	}
	r.mu.Unlock()
}
