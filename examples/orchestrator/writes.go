package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"path"
	"slices"
	"sort"
	"sync/atomic"
	"time"

	"github.com/greenlang/gl001/coord"
	"github.com/greenlang/gl001/scada"
	"github.com/greenlang/gl001/scada/guard"
)

// This file is agent-driven writes: an agent's reply to the main command
// may carry recommended setpoints, and the orchestrator applies them only
// through scada/guard, with the limits and rules of the [writes] section.
// The requester of every write is the sender of the reply as the
// coordinator verified its signature, never a field of the payload.

// WritesConfig is the optional [writes] section.
type WritesConfig struct {
	// Enabled applies the setpoints agents recommend (through the guard).
	Enabled bool `toml:"enabled"`
	// DryRun checks and audits every write but sends nothing.
	DryRun bool `toml:"dry_run"`
	// Tags are the writable tags and their limits; a tag not listed is
	// refused.
	Tags map[string]WriteTagConfig `toml:"tags"`
	// Rules say which agents may write which tags: path.Match patterns,
	// first match decides, no match refuses.
	Rules []WriteRuleConfig `toml:"rules"`
}

// WriteTagConfig is one writable tag: the connector that writes it and
// its limits (see guard.Limits).
type WriteTagConfig struct {
	Source        string        `toml:"source"` // an [[opcua]] or [[modbus]] name
	Min           float64       `toml:"min"`
	Max           float64       `toml:"max"`
	MaxStep       float64       `toml:"max_step"`
	MaxRate       float64       `toml:"max_rate"` // per second
	MinInterval   time.Duration `toml:"min_interval"`
	RequireGood   bool          `toml:"require_good"`
	Tolerance     float64       `toml:"tolerance"`
	ConfirmWithin time.Duration `toml:"confirm_within"`
}

// WriteRuleConfig grants (or, with deny, refuses) writes.
type WriteRuleConfig struct {
	Requesters []string `toml:"requesters"`
	Tags       []string `toml:"tags"`
	Deny       bool     `toml:"deny"`
}

func (c *Config) validateWrites(p *problems) {
	w := c.Writes
	if !w.Enabled {
		return // the section may stay, switched off
	}
	if c.Forward.Role != "all" {
		p.add("writes.enabled", "writes need the role all: the agents and the connectors in one process")
	}
	if !c.Agents.Sign {
		p.add("writes.enabled", "needs agents.sign = true: the requester of a write is the verified sender of a reply")
	}
	if len(w.Tags) == 0 {
		p.add("writes.tags", "no writable tag")
	}
	writers := map[string]bool{}
	opcuaWritable := map[string]bool{} // "<connector>\x00<tag>"
	for _, o := range c.OPCUA {
		writers[o.Name] = true
		for _, t := range o.Tags {
			if t.Writable {
				opcuaWritable[o.Name+"\x00"+t.Name] = true
			}
		}
	}
	isOPCUA := map[string]bool{}
	for _, o := range c.OPCUA {
		isOPCUA[o.Name] = true
	}
	for _, m := range c.Modbus {
		writers[m.Name] = true
	}
	for tag, t := range w.Tags {
		f := "writes.tags." + tag
		if !writers[t.Source] {
			p.add(f+".source", "%q is not an [[opcua]] or [[modbus]] connector", t.Source)
		} else if isOPCUA[t.Source] && !opcuaWritable[t.Source+"\x00"+tag] {
			p.add(f, "not a tag of opcua %s marked writable = true", t.Source)
		}
		if !finite(t.Min) || !finite(t.Max) || t.Min > t.Max {
			p.add(f, "min %v and max %v are not a range", t.Min, t.Max)
		}
		if t.MaxStep < 0 || t.MaxRate < 0 || t.Tolerance < 0 || t.MinInterval < 0 || t.ConfirmWithin < 0 {
			p.add(f, "max_step, max_rate, tolerance, min_interval and confirm_within must not be negative")
		}
	}
	if len(w.Rules) == 0 {
		p.add("writes.rules", "no rule: nobody may write")
	}
	for i, r := range w.Rules {
		for _, pat := range slices.Concat(r.Requesters, r.Tags) {
			if _, err := path.Match(pat, ""); err != nil {
				p.add(fmt.Sprintf("writes.rules[%d]", i), "pattern %q: %v", pat, err)
			}
		}
	}
}

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

// setpoint is one setpoint an agent recommends in its reply:
// {"setpoints": [{"tag": "boiler1.steam_temp_sp", "value": 486}]}.
type setpoint struct {
	Tag   string  `json:"tag"`
	Value float64 `json:"value"`
}

// writeRequest is a recommendation on its way to the guard.
type writeRequest struct {
	req guard.Request
}

// writes is the part that applies recommended setpoints, one guard per
// connector that writes. Requests queue (bounded) between the rounds and
// the guard, so a slow read-back never holds up a round; a full queue
// drops the recommendation and counts it.
type writes struct {
	cfg     WritesConfig
	guards  map[string]*guard.Guard // by tag
	history *guard.History
	queue   chan writeRequest
	dropped atomic.Uint64
	log     *slog.Logger
}

// newWrites builds the guards over the connectors' sources, which must
// read and write (OPC UA and Modbus do).
func newWrites(cfg WritesConfig, conns []connector, log *slog.Logger) (*writes, error) {
	w := &writes{cfg: cfg, guards: map[string]*guard.Guard{}, history: guard.NewHistory(50), queue: make(chan writeRequest, 64), log: log}
	var rules []guard.Rule
	for _, r := range cfg.Rules {
		rules = append(rules, guard.Rule{Requesters: r.Requesters, Tags: r.Tags, Deny: r.Deny})
	}
	bySource := map[string]map[string]guard.Limits{}
	for tag, t := range cfg.Tags {
		if bySource[t.Source] == nil {
			bySource[t.Source] = map[string]guard.Limits{}
		}
		bySource[t.Source][tag] = guard.Limits{Min: t.Min, Max: t.Max, MaxStep: t.MaxStep, MaxRate: t.MaxRate,
			MinInterval: t.MinInterval, RequireGood: t.RequireGood, Tolerance: t.Tolerance, ConfirmWithin: t.ConfirmWithin}
	}
	for _, cn := range conns {
		tags := bySource[cn.name]
		if tags == nil {
			continue
		}
		wr, okW := cn.src.(scada.Writer)
		rd, okR := cn.src.(scada.Reader)
		if !okW || !okR {
			return nil, fmt.Errorf("writes: connector %s cannot read and write", cn.name)
		}
		g, err := guard.New(guard.Config{Writer: wr, Reader: rd, Tags: tags, Rules: rules, DryRun: cfg.DryRun,
			Logger: log, OnAudit: w.history.Add})
		if err != nil {
			return nil, fmt.Errorf("writes: %w", err)
		}
		for tag := range tags {
			w.guards[tag] = g
		}
	}
	return w, nil
}

// recommend queues the setpoints of a round's verified replies. The
// requester is reply.Agent, the sender the coordinator verified.
func (w *writes) recommend(res *coord.Result) {
	for _, rep := range res.Replies {
		var body struct {
			Setpoints []setpoint `json:"setpoints"`
		}
		if err := json.Unmarshal(rep.Message.Payload, &body); err != nil || len(body.Setpoints) == 0 {
			continue
		}
		for _, sp := range body.Setpoints {
			r := writeRequest{req: guard.Request{Requester: rep.Agent, Ref: rep.Message.ID, Tag: sp.Tag, Value: sp.Value}}
			select {
			case w.queue <- r:
			default:
				w.dropped.Add(1)
			}
		}
	}
}

// Run applies queued setpoints until ctx ends; what is still queued then
// is dropped (a recommendation is not worth applying late).
func (w *writes) Run(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case r := <-w.queue:
			g := w.guards[r.req.Tag]
			if g == nil {
				// Not a writable tag: refused by a guard all the same, so
				// the refusal is audited.
				for _, other := range w.guards {
					g = other
					break
				}
			}
			if g == nil {
				continue
			}
			_, _ = g.Apply(ctx, r.req) // audited through OnAudit and the logger
		}
	}
}

// WritesInfo is the status page's list of recent writes and refusals.
type WritesInfo struct {
	DryRun   bool              `json:"dry_run"`
	Attempts uint64            `json:"attempts"`
	ByResult map[string]uint64 `json:"by_result"`
	Dropped  uint64            `json:"dropped"`
	Recent   []WriteInfo       `json:"recent"`
}

// WriteInfo is one audit record.
type WriteInfo struct {
	Time       time.Time `json:"time"`
	Requester  string    `json:"requester"`
	Tag        string    `json:"tag"`
	Requested  float64   `json:"requested"`
	Old        *float64  `json:"old"`
	ReadBack   *float64  `json:"read_back"`
	Result     string    `json:"result"`
	OK         bool      `json:"ok"`
	Detail     string    `json:"detail,omitempty"`
	DurationMS float64   `json:"duration_ms"`
}

func (w *writes) info() *WritesInfo {
	wi := &WritesInfo{DryRun: w.cfg.DryRun, ByResult: map[string]uint64{}, Dropped: w.dropped.Load(), Recent: []WriteInfo{}}
	seen := map[*guard.Guard]bool{}
	tags := make([]string, 0, len(w.guards))
	for tag := range w.guards {
		tags = append(tags, tag)
	}
	sort.Strings(tags)
	for _, tag := range tags {
		g := w.guards[tag]
		if seen[g] {
			continue
		}
		seen[g] = true
		st := g.Stats()
		wi.Attempts += st.Attempts
		for r, n := range st.ByResult {
			wi.ByResult[r.String()] += n
		}
	}
	for _, r := range w.history.Records() {
		x := WriteInfo{Time: r.Time, Requester: r.Requester, Tag: r.Tag, Requested: r.Requested, Result: r.Result.String(),
			OK: r.Result.OK(), Detail: r.Detail, DurationMS: float64(r.Duration.Microseconds()) / 1000}
		if r.HaveOld {
			v := r.Old
			x.Old = &v
		}
		if r.HaveReadBack {
			v := r.ReadBack
			x.ReadBack = &v
		}
		wi.Recent = append(wi.Recent, x)
	}
	return wi
}
