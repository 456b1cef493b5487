package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"sort"
	"strings"
	"time"

	"github.com/greenlang/gl001/coord"
	"github.com/greenlang/gl001/resilience"
	"github.com/greenlang/gl001/scada"
)

// Health is the snapshot /healthz serves, the status page shows and the
// summary prints.
type Health struct {
	Status       string           `json:"status"` // "ok" or "degraded"
	Problems     []string         `json:"problems,omitempty"`
	ID           string           `json:"id"`
	Uptime       float64          `json:"uptime_s"`
	PointsPerSec float64          `json:"points_per_s"`
	Points       uint64           `json:"points"`
	Buffered     uint64           `json:"buffered"`
	Consumed     uint64           `json:"consumed"`
	BufferLag    uint64           `json:"buffer_lag"`
	Grades       map[string]int64 `json:"grades"`
	Connectors   []ConnectorInfo  `json:"connectors"`
	ERP          []ERPInfo        `json:"erp"`
	Agents       AgentsInfo       `json:"agents"`
	Coordination CoordinationInfo `json:"coordination"`
}

// ConnectorInfo is one SCADA source.
type ConnectorInfo struct {
	Name       string    `json:"name"`
	Protocol   string    `json:"protocol"`
	State      string    `json:"state"`
	Breaker    string    `json:"breaker"`
	Healthy    bool      `json:"healthy"`
	Points     uint64    `json:"points"`
	BadPoints  uint64    `json:"bad_points"`
	Reconnects int64     `json:"reconnects"`
	LastPoint  time.Time `json:"last_point,omitzero"`
	LastError  string    `json:"last_error,omitempty"`
	Detail     string    `json:"detail"`
}

// ERPInfo is one ERP system.
type ERPInfo struct {
	Name      string            `json:"name"`
	Kind      string            `json:"kind"`
	Healthy   bool              `json:"healthy"`
	Breaker   string            `json:"breaker"`
	Fetches   uint64            `json:"fetches"`
	LastFetch time.Time         `json:"last_fetch,omitzero"`
	Records   map[string]int    `json:"records"`
	Total     map[string]uint64 `json:"records_total"`
	EnergyKWh float64           `json:"energy_kwh_24h"`
	Costs     string            `json:"costs_30d,omitempty"`
	Issues    int               `json:"issues"`
	Requests  uint64            `json:"requests"`
	Retries   uint64            `json:"retries"`
	Throttled uint64            `json:"throttled"`
	LastError string            `json:"last_error,omitempty"`
}

// AgentsInfo is the fleet as the registry sees it.
type AgentsInfo struct {
	Total       int         `json:"total"`
	Healthy     int         `json:"healthy"`
	Suspect     int         `json:"suspect"`
	Unreachable int         `json:"unreachable"`
	List        []AgentInfo `json:"list"`
}

// AgentInfo is one agent.
type AgentInfo struct {
	ID           string   `json:"id"`
	Health       string   `json:"health"`
	Capabilities []string `json:"capabilities"`
	LatencyMS    float64  `json:"latency_ms"`
	SuccessRate  float64  `json:"success_rate"`
	InFlight     int      `json:"in_flight"`
	Requests     uint64   `json:"requests"`
	Failures     uint64   `json:"failures"`
}

// CoordinationInfo is the last coordination round.
type CoordinationInfo struct {
	Rounds uint64        `json:"rounds"`
	Last   []roundResult `json:"last"`
}

// rateMeter turns a counter into a rate over the last few seconds.
type rateMeter struct {
	at    time.Time
	count uint64
	rate  float64
}

func (r *rateMeter) update(now time.Time, count uint64) float64 {
	if r.at.IsZero() {
		r.at, r.count = now, count
		return 0
	}
	if d := now.Sub(r.at); d >= time.Second {
		r.rate = float64(count-r.count) / d.Seconds()
		r.at, r.count = now, count
	}
	return r.rate
}

var gradeNames = []scada.Grade{scada.GradeExcellent, scada.GradeGood, scada.GradeFair, scada.GradePoor, scada.GradeInvalid}

// Health takes the snapshot. The orchestrator is degraded when a connector
// is not connected, an ERP system failed its last fetch or has its breaker
// open, or an agent misses heartbeats.
func (o *Orchestrator) Health() Health {
	now := time.Now()
	h := Health{ID: o.cfg.Orchestrator.ID, Uptime: now.Sub(o.start).Seconds(), Points: o.pointsIn.Load(), Grades: map[string]int64{}}
	for _, g := range gradeNames {
		h.Grades[g.String()] = int64(o.grades[g].Load())
	}
	bs := o.buffer.Stats()
	h.Buffered = bs.Appended
	for _, c := range bs.Consumers {
		if c.Name == consumerName {
			h.BufferLag = c.Lag
		}
	}
	o.mu.Lock()
	h.PointsPerSec = o.rate.update(now, h.Points)
	h.Consumed = o.consumed
	h.Coordination = CoordinationInfo{Rounds: o.rounds, Last: o.last}
	o.mu.Unlock()

	for _, c := range o.conns {
		ci := ConnectorInfo{Name: c.name, Protocol: c.protocol, Detail: c.detail()}
		if sh, ok := o.collector.HealthOf(c.name); ok {
			ci.State = sh.State.String()
			ci.Breaker = sh.Breaker.String()
			ci.Healthy = sh.State == resilience.StateConnected
			ci.Points, ci.BadPoints, ci.Reconnects = sh.Points, sh.BadPoints, sh.Reconnects
			ci.LastPoint, ci.LastError = sh.LastPointTime, sh.LastError
		}
		if !ci.Healthy {
			h.Problems = append(h.Problems, fmt.Sprintf("connector %s is %s", c.name, ci.State))
		}
		h.Connectors = append(h.Connectors, ci)
	}
	for _, e := range o.erps {
		e.mu.Lock()
		ei := ERPInfo{
			Name: e.cfg.Name, Kind: e.cfg.Kind, Fetches: e.fetches, LastFetch: e.lastFetch,
			Records: maps.Clone(e.records), Total: maps.Clone(e.total), EnergyKWh: e.energyKWh, Costs: e.costs,
			Issues: e.issues, LastError: e.lastErr,
		}
		e.mu.Unlock()
		ei.Breaker = "closed"
		if s, ok := e.client.(statser); ok {
			st := s.Stats()
			ei.Breaker, ei.Requests, ei.Retries, ei.Throttled = st.Breaker, st.Requests, st.Retries, st.Throttled
		}
		ei.Healthy = ei.LastError == "" && ei.Breaker == "closed"
		if !ei.Healthy {
			h.Problems = append(h.Problems, fmt.Sprintf("erp %s: breaker %s %s", e.cfg.Name, ei.Breaker, ei.LastError))
		}
		h.ERP = append(h.ERP, ei)
	}
	for _, a := range o.registry.Agents() {
		ai := AgentInfo{
			ID: a.ID, Health: a.Health.String(), Capabilities: a.Capabilities,
			LatencyMS: float64(a.Perf.Latency.Microseconds()) / 1000, SuccessRate: a.Perf.SuccessRate,
			InFlight: a.Perf.InFlight, Requests: a.Perf.Requests, Failures: a.Perf.Failures,
		}
		switch a.Health {
		case coord.Healthy:
			h.Agents.Healthy++
		case coord.Suspect:
			h.Agents.Suspect++
		default:
			h.Agents.Unreachable++
		}
		h.Agents.List = append(h.Agents.List, ai)
	}
	h.Agents.Total = len(h.Agents.List)
	if n := h.Agents.Suspect + h.Agents.Unreachable; n > 0 {
		h.Problems = append(h.Problems, fmt.Sprintf("%d agents miss heartbeats", n))
	}
	if want := o.cfg.Agents.Expect; want > 0 && h.Agents.Total < want {
		h.Problems = append(h.Problems, fmt.Sprintf("%d of %d agents registered", h.Agents.Total, want))
	}
	h.Status = "ok"
	if len(h.Problems) > 0 {
		h.Status = "degraded"
	}
	return h
}

// summaryLoop prints the live summary every SummaryInterval.
func (o *Orchestrator) summaryLoop(ctx context.Context, out io.Writer) {
	t := time.NewTicker(o.cfg.Orchestrator.SummaryInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			o.writeSummary(out, false)
		}
	}
}

// writeSummary prints one readable block: throughput and grades, every
// connector, every ERP system, the fleet and the last coordination round.
func (o *Orchestrator) writeSummary(out io.Writer, final bool) {
	h := o.Health()
	var b strings.Builder
	head := "──"
	if final {
		head = "── final"
	}
	fmt.Fprintf(&b, "%s %s %s  t=%.0fs  %s", head, h.ID, o.opts.Extra, h.Uptime, h.Status)
	if len(h.Problems) > 0 {
		fmt.Fprintf(&b, " (%s)", strings.Join(h.Problems, "; "))
	}
	b.WriteString("\n")
	fmt.Fprintf(&b, "  scada   %d points, %.0f/s; buffered %d, consumed %d, lag %d\n", h.Points, h.PointsPerSec, h.Buffered, h.Consumed, h.BufferLag)
	fmt.Fprintf(&b, "  quality")
	for _, g := range gradeNames {
		fmt.Fprintf(&b, " %s %d", g, h.Grades[g.String()])
	}
	b.WriteString("\n")
	for _, c := range h.Connectors {
		fmt.Fprintf(&b, "  %-7s %-16s %-12s breaker %-9s %6d points (%d bad) %s", c.Protocol, c.Name, c.State, c.Breaker, c.Points, c.BadPoints, c.Detail)
		if c.LastError != "" {
			fmt.Fprintf(&b, "  last error: %s", c.LastError)
		}
		b.WriteString("\n")
	}
	for _, e := range h.ERP {
		kinds := make([]string, 0, len(e.Records))
		for k, n := range e.Records {
			kinds = append(kinds, fmt.Sprintf("%d %s", n, k))
		}
		sort.Strings(kinds)
		fmt.Fprintf(&b, "  erp     %-16s %-8s breaker %-9s fetches %d: %s", e.Name, e.Kind, e.Breaker, e.Fetches, strings.Join(kinds, ", "))
		if e.EnergyKWh > 0 {
			fmt.Fprintf(&b, "; %.1f kWh in 24 h", e.EnergyKWh)
		}
		if e.Costs != "" {
			fmt.Fprintf(&b, "; costs %s", e.Costs)
		}
		if e.LastError != "" {
			fmt.Fprintf(&b, "; last error: %s", e.LastError)
		}
		b.WriteString("\n")
	}
	a := h.Agents
	fmt.Fprintf(&b, "  agents  %d registered: %d healthy, %d suspect, %d unreachable\n", a.Total, a.Healthy, a.Suspect, a.Unreachable)
	for _, r := range h.Coordination.Last {
		fmt.Fprintf(&b, "  round %d %-26s %-15s %-8s %d/%d answered, %d timed out, %d failed in %.0f ms",
			r.Round, r.Name, r.Strategy, r.Aggregate, r.Answered, r.Targets, r.TimedOut, r.Failed, r.ElapsedMS)
		if r.Value != "" {
			fmt.Fprintf(&b, " -> %s %s", r.Field, r.Value)
		}
		if r.Error != "" {
			fmt.Fprintf(&b, " error: %s", r.Error)
		}
		b.WriteString("\n")
	}
	o.outMu.Lock()
	defer o.outMu.Unlock()
	_, _ = io.WriteString(out, b.String())
}
