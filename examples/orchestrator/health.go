package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/greenlang/gl001/coord"
)

// Health is the snapshot /healthz serves, the status page shows and the
// summary prints. It is the one source of every figure they show.
type Health struct {
	// Status is "ok" or "degraded"; Problems say what is degraded and why,
	// each naming the part and the reason. Warnings are findings that do
	// not degrade the loop (ERP record issues).
	Status       string           `json:"status"`
	Role         string           `json:"role"`
	Problems     []string         `json:"problems,omitempty"`
	Warnings     []string         `json:"warnings,omitempty"`
	ID           string           `json:"id"`
	Extra        string           `json:"extra,omitempty"`
	At           time.Time        `json:"at"`
	Uptime       float64          `json:"uptime_s"`
	PointsPerSec float64          `json:"points_per_s"`
	Points       uint64           `json:"points"`
	Buffered     uint64           `json:"buffered"`
	Consumed     uint64           `json:"consumed"`
	BufferLag    uint64           `json:"buffer_lag"`
	LastPoint    time.Time        `json:"last_point,omitzero"`
	Grades       map[string]int64 `json:"grades"`
	Tags         []TagInfo        `json:"tags,omitempty"`
	Connectors   []ConnectorInfo  `json:"connectors"`
	Forward      ForwardInfo      `json:"forward"`
	Historian    *HistorianInfo   `json:"historian,omitempty"`
	Writes       *WritesInfo      `json:"writes,omitempty"`
	Alarms       AlarmsInfo       `json:"alarms"`
	ERP          []ERPInfo        `json:"erp"`
	Agents       AgentsInfo       `json:"agents"`
	Coordination CoordinationInfo `json:"coordination"`
}

// ForwardInfo is the road of points between the edge and the central
// node: the JetStream server and stream, and each forwarder.
type ForwardInfo struct {
	NATS       string          `json:"nats"` // the server's URL, without credentials
	Embedded   bool            `json:"embedded"`
	Stream     string          `json:"stream"`
	Forwarders []ForwarderInfo `json:"forwarders"`
}

// TagInfo is one tag: its newest value as the buffer's consumer read it,
// and its recent values for a sparkline.
type TagInfo struct {
	Tag     string    `json:"tag"`
	Value   *float64  `json:"value"` // null when Bad or not a number
	Unit    string    `json:"unit,omitempty"`
	Quality string    `json:"quality"`
	Score   float64   `json:"score"`
	Time    time.Time `json:"time"`
	Source  string    `json:"source,omitempty"`
	// Spark is the mean value in each of sparkPoints equal slices of the
	// last sparkWindow (or of the time since the start, if shorter),
	// oldest first; null where the tag had no good value.
	Spark []*float64 `json:"spark,omitempty"`
}

// ConnectorInfo is one SCADA source.
type ConnectorInfo struct {
	Name           string            `json:"name"`
	Protocol       string            `json:"protocol"`
	State          string            `json:"state"`
	Breaker        string            `json:"breaker"`
	Healthy        bool              `json:"healthy"`
	Points         uint64            `json:"points"`
	BadPoints      uint64            `json:"bad_points"`
	Reconnects     int64             `json:"reconnects"`
	ConnectedSince time.Time         `json:"connected_since,omitzero"`
	LastPoint      time.Time         `json:"last_point,omitzero"`
	LastError      string            `json:"last_error,omitempty"`
	Errors         map[string]uint64 `json:"errors,omitempty"`
	Detail         string            `json:"detail"`
}

// ERPInfo is one ERP system.
type ERPInfo struct {
	Name        string            `json:"name"`
	Kind        string            `json:"kind"`
	Healthy     bool              `json:"healthy"`
	Breaker     string            `json:"breaker"`
	Fetches     uint64            `json:"fetches"`
	LastFetch   time.Time         `json:"last_fetch,omitzero"`
	LastSuccess time.Time         `json:"last_success,omitzero"`
	Records     map[string]int    `json:"records"` // last fetch, by kind
	Total       map[string]uint64 `json:"records_total"`
	EnergyKWh   float64           `json:"energy_kwh_24h"`
	Costs       string            `json:"costs_30d,omitempty"`
	Issues      map[string]uint64 `json:"issues"` // what the normalisers found so far, by kind
	LastIssue   string            `json:"last_issue,omitempty"`
	Requests    uint64            `json:"requests"`
	Retries     uint64            `json:"retries"`
	Throttled   uint64            `json:"throttled"`
	Errors      map[string]uint64 `json:"errors,omitempty"` // request errors by kind
	LastError   string            `json:"last_error,omitempty"`
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
	ID           string        `json:"id"`
	Health       string        `json:"health"`
	Capabilities []string      `json:"capabilities"`
	LatencyMS    float64       `json:"latency_ms"`
	SuccessRate  float64       `json:"success_rate"`
	InFlight     int           `json:"in_flight"`
	Requests     uint64        `json:"requests"`
	Failures     uint64        `json:"failures"`
	LastFailure  *agentFailure `json:"last_failure,omitempty"`
}

// CoordinationInfo is the last coordination round.
type CoordinationInfo struct {
	Rounds uint64        `json:"rounds"`
	Last   []roundResult `json:"last"`
}

// rateMeter turns a counter into a rate over the last few seconds.
type rateMeter struct {
	mu    sync.Mutex
	at    time.Time
	count uint64
	rate  float64
}

func (r *rateMeter) update(now time.Time, count uint64) float64 {
	r.mu.Lock()
	defer r.mu.Unlock()
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

// Health takes the snapshot from every part. The orchestrator is degraded
// when a connector is not connected, an ERP system failed its last fetch or
// has its breaker open, agents miss heartbeats or are missing, or agents
// failed or did not answer in the last round; each problem says why.
// withTags adds each tag's value and sparkline, read back from the buffer.
func (o *Orchestrator) Health(ctx context.Context, withTags bool) Health {
	now := time.Now()
	role := o.cfg.Forward.Role
	in := o.ingest // the edge's counts, where there is an edge
	if in == nil {
		in = o.central
	}
	h := Health{ID: o.cfg.Orchestrator.ID, Role: role, Extra: o.opts.Extra, At: now, Uptime: now.Sub(o.start).Seconds(),
		Points: in.pointsIn.Load(), Grades: map[string]int64{}}
	for _, g := range gradeNames {
		h.Grades[g.String()] = int64(in.grades[g].Load())
	}
	h.PointsPerSec = o.rate.update(now, h.Points)
	bs := o.buffer.Stats()
	h.Buffered = bs.Appended
	for _, c := range bs.Consumers {
		if c.Name == consumerName {
			h.BufferLag = c.Lag
		}
	}
	h.Consumed = o.consumer.count()
	if withTags {
		h.Tags = o.consumer.tagInfos(ctx, now, o.start)
	}
	h.Connectors = []ConnectorInfo{}
	for _, in := range []*ingest{o.ingest, o.central} {
		if in == nil {
			continue
		}
		h.Connectors = append(h.Connectors, in.connectorInfos(&h.Problems)...)
		if st := in.stats(); st.LastSinkError != "" && st.Queued > 0 {
			h.Problems = append(h.Problems, "pipeline: "+st.LastSinkError)
		}
	}
	for _, c := range h.Connectors {
		if c.LastPoint.After(h.LastPoint) {
			h.LastPoint = c.LastPoint
		}
	}
	h.Forward = ForwardInfo{NATS: o.natsURL, Embedded: o.embedded, Stream: o.cfg.Forward.Stream, Forwarders: []ForwarderInfo{}}
	for _, fw := range o.forwarders {
		h.Forward.Forwarders = append(h.Forward.Forwarders, fw.info(&h.Problems))
	}
	if o.writes != nil {
		h.Writes = o.writes.info()
	}
	h.Alarms = o.alarmsInfo()
	if o.historian != nil {
		h.Forward.Forwarders = append(h.Forward.Forwarders, o.historian.fw.info(&h.Problems))
		h.Historian = o.historian.info()
	}
	for _, e := range o.erps {
		h.ERP = append(h.ERP, e.info(&h.Problems, &h.Warnings))
	}
	var failures map[string]agentFailure
	h.Coordination, failures = o.rounds.info(&h.Problems)
	for _, a := range o.registry.Agents() {
		ai := AgentInfo{
			ID: a.ID, Health: a.Health.String(), Capabilities: a.Capabilities,
			LatencyMS: float64(a.Perf.Latency.Microseconds()) / 1000, SuccessRate: a.Perf.SuccessRate,
			InFlight: a.Perf.InFlight, Requests: a.Perf.Requests, Failures: a.Perf.Failures,
		}
		if f, ok := failures[a.ID]; ok {
			ai.LastFailure = &f
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
	if want := o.cfg.Agents.Expect; want > 0 && h.Agents.Total < want && role != "edge" {
		h.Problems = append(h.Problems, fmt.Sprintf("%d of %d agents registered", h.Agents.Total, want))
	}
	h.Status = "ok"
	if len(h.Problems) > 0 {
		h.Status = "degraded"
	}
	return h
}

// alarmsInfo is the alarm table with the counters of the event road.
func (o *Orchestrator) alarmsInfo() AlarmsInfo {
	ai := o.alarms.info()
	if o.acker != nil {
		ai.Acks = o.acker.info()
	}
	for _, fw := range o.forwarders {
		if es := fw.fwd.EventStats(); es.Enabled {
			ai.Lane = &EventsLane{Events: es.Events, Lag: es.Lag, LastError: es.LastError}
		}
	}
	if o.relay != nil {
		st := o.relay.src.Stats()
		ai.Relay = &EventsRelay{Messages: st.Messages, Events: st.Events, Duplicates: st.Duplicates, Bad: st.Bad, LastError: st.LastError}
	}
	if o.ingest != nil {
		for _, cn := range o.ingest.conns {
			if cn.eventStats == nil {
				continue
			}
			st := cn.eventStats()
			if !cn.events && st.Backfilled == 0 && st.HistoryErrors == 0 {
				continue
			}
			ai.Sources = append(ai.Sources, EventsFrom{Source: cn.name, Events: st.Events, BadEvents: st.BadEvents,
				ConditionRefreshes: st.ConditionRefreshes, Backfilled: st.Backfilled, HistoryErrors: st.HistoryErrors})
		}
	}
	return ai
}
