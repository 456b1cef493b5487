package main

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/greenlang/gl001/coord"
	"github.com/greenlang/gl001/transform/payload"
)

// rounds is the coordination part: once the expected agents have
// registered, a round every interval, each sending the main command with
// the recent SCADA values and the ERP energy picture to every agent, and
// three queries that exercise the other strategies and aggregations.
type rounds struct {
	cfg         CoordinationConfig
	id          string
	plant       string
	expect      int
	bus         coord.Bus
	registry    *coord.Registry
	coordinator *coord.Coordinator
	consumer    *consumer
	erps        []*erpPoller
	log         *slog.Logger
	// onRunning is called once, as the first round starts.
	onRunning func()
	// observe receives every command's duration (the metrics' histogram).
	observe func(command string, d time.Duration)
	// onMain, if set, receives the result of each round's main command
	// (its replies may recommend setpoints).
	onMain func(*coord.Result)

	mu       sync.Mutex
	n        uint64
	last     []roundResult                // results of the last complete round, one per command
	replies  map[string]map[string]uint64 // command -> outcome -> agents
	failures map[string]agentFailure      // agent -> its last failure
}

// agentFailure is why an agent last failed a command, and when.
type agentFailure struct {
	Command string    `json:"command"`
	Reason  string    `json:"reason"`
	At      time.Time `json:"at"`
}

// roundResult is what the status shows of one command of a round.
type roundResult struct {
	Round     uint64    `json:"round"`
	At        time.Time `json:"at"`
	Name      string    `json:"name"`
	Strategy  string    `json:"strategy"`
	Aggregate string    `json:"aggregate"`
	Field     string    `json:"field,omitempty"`
	Targets   int       `json:"targets"`
	Answered  int       `json:"answered"`
	TimedOut  int       `json:"timed_out"`
	Failed    int       `json:"failed"`
	Value     string    `json:"value,omitempty"`
	Consensus bool      `json:"consensus,omitempty"`
	ElapsedMS float64   `json:"elapsed_ms"`
	Error     string    `json:"error,omitempty"`
	Failures  []string  `json:"failures,omitempty"` // "GL-042: handler failed: ...", every failed or timed-out agent
}

// Run waits for the expected agents (at most four intervals), then runs a
// round every interval until ctx ends.
func (r *rounds) Run(ctx context.Context) error {
	if r.expect > 0 {
		wctx, cancel := context.WithTimeout(ctx, r.cfg.Interval*4)
		if err := r.registry.Wait(wctx, r.expect); err != nil && ctx.Err() == nil {
			r.log.Warn("not every expected agent registered", "expected", r.expect, "registered", len(r.registry.Agents()))
		}
		cancel()
	}
	if ctx.Err() != nil {
		return nil
	}
	if r.onRunning != nil {
		r.onRunning()
	}
	t := time.NewTicker(r.cfg.Interval)
	defer t.Stop()
	for {
		r.round(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// tagValue is one tag in the coordination parameters.
type tagValue struct {
	Tag     string    `json:"tag"`
	Value   *float64  `json:"value"`
	Unit    string    `json:"unit,omitempty"`
	Quality string    `json:"quality"`
	Score   float64   `json:"score"`
	Time    time.Time `json:"time"`
}

// heatParams are the parameters of optimize_heat_distribution: the plant's
// recent SCADA values and the energy picture from the ERP systems.
type heatParams struct {
	Plant  string       `json:"plant,omitempty"`
	At     time.Time    `json:"at"`
	SCADA  []tagValue   `json:"scada"`
	Energy energyParams `json:"energy"`
}

type energyParams struct {
	KWh24h            float64            `json:"kwh_24h"`
	BySystem          map[string]float64 `json:"kwh_24h_by_system,omitempty"`
	ProductionOrders  int                `json:"production_orders_7d"`
	MaintenanceOrders int                `json:"maintenance_orders_7d"`
}

// params collects the parameters of a round.
func (r *rounds) params() heatParams {
	p := heatParams{Plant: r.plant, At: time.Now().UTC(), Energy: energyParams{BySystem: map[string]float64{}}}
	for _, pt := range r.consumer.latestPoints() {
		tv := tagValue{Tag: pt.Tag, Unit: pt.Unit, Quality: pt.Quality.String(), Score: pointScore(pt), Time: pt.Time}
		if !pt.Quality.IsBad() && !math.IsNaN(pt.Value) && !math.IsInf(pt.Value, 0) {
			v := pt.Value
			tv.Value = &v
		}
		p.SCADA = append(p.SCADA, tv)
	}
	for _, e := range r.erps {
		kwh, has, prod, maint := e.energySnapshot()
		if has {
			p.Energy.KWh24h += kwh
			p.Energy.BySystem[e.cfg.Name] = kwh
		}
		p.Energy.ProductionOrders += prod
		p.Energy.MaintenanceOrders += maint
	}
	return p
}

// round is one coordination round: the command first, then the three
// queries at once.
func (r *rounds) round(ctx context.Context) {
	co := r.cfg
	cmds := []coord.Command{
		{Name: co.Command, Params: r.params(), Strategy: coord.Broadcast, Aggregate: aggregations[co.Aggregation], Field: co.Field},
		{Name: "report_efficiency", Query: true, Strategy: coord.CapabilityBased, Capability: orDefault(co.Capability, "boiler_control"), Aggregate: coord.Average, Field: "efficiency_pct"},
		{Name: "recommend_mode", Query: true, Strategy: coord.LoadBalanced, Count: 5, Aggregate: coord.Majority, Field: "mode"},
		{Name: "forecast_heat_demand", Query: true, Strategy: coord.RoundRobin, Count: 3, Aggregate: coord.Median, Field: "heat_demand_kw"},
	}
	r.mu.Lock()
	r.n++
	n := r.n
	r.mu.Unlock()

	// Aggregation windows go to the agents as events, in size-bounded parts.
	if windows := r.consumer.takeWindows(); len(windows) > 0 {
		msgs, err := payload.Windows(windows, coord.SplitConfig{From: r.id})
		if err == nil {
			for _, m := range msgs {
				_ = r.bus.Publish(ctx, r.id+".windows", m)
			}
		}
	}

	// Load balancing among the agents that mostly answer: the registry
	// has no latency for an agent that only ever timed out and would rank
	// it first.
	var reliable []string
	for _, a := range r.registry.Agents() {
		if a.Health == coord.Healthy && a.Perf.SuccessRate >= 0.9 {
			reliable = append(reliable, a.ID)
		}
	}
	if len(reliable) >= 5 {
		cmds[2].Targets = reliable
	}

	// The commands see ctx's cancellation but not a deadline it may carry,
	// which Execute would take for the command's own deadline and report
	// as agents timing out.
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	defer context.AfterFunc(ctx, cancel)()

	results := make([]roundResult, len(cmds))
	failures := make([]map[string]agentFailure, len(cmds))
	exec := func(i int) {
		started := time.Now()
		res, err := r.coordinator.Execute(rctx, cmds[i])
		if r.observe != nil {
			r.observe(cmds[i].Name, time.Since(started))
		}
		results[i], failures[i] = summarize(n, cmds[i], res, err)
		if i == 0 && res != nil && r.onMain != nil {
			r.onMain(res)
		}
	}
	exec(0)
	var wg sync.WaitGroup
	for i := 1; i < len(cmds); i++ {
		wg.Go(func() { exec(i) })
	}
	wg.Wait()
	if ctx.Err() != nil {
		return // a round cut short by shutdown; keep the last complete one
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.last = results
	for i, res := range results {
		byOutcome := r.replies[res.Name]
		if byOutcome == nil {
			byOutcome = map[string]uint64{}
			r.replies[res.Name] = byOutcome
		}
		byOutcome["answered"] += uint64(res.Answered)
		byOutcome["timed_out"] += uint64(res.TimedOut)
		byOutcome["failed"] += uint64(res.Failed)
		for agent, f := range failures[i] {
			r.failures[agent] = f
		}
	}
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func summarize(n uint64, cmd coord.Command, res *coord.Result, err error) (roundResult, map[string]agentFailure) {
	r := roundResult{Round: n, At: time.Now(), Name: cmd.Name, Strategy: cmd.Strategy.String(), Aggregate: cmd.Aggregate.String(), Field: cmd.Field}
	if err != nil {
		r.Error = err.Error()
	}
	if res == nil {
		return r, nil
	}
	r.Answered, r.TimedOut, r.Failed = len(res.Answered), len(res.TimedOut), len(res.Failed)
	r.Targets = r.Answered + r.TimedOut + r.Failed
	r.Value = string(res.Value)
	if !math.IsNaN(res.Number) && res.Value != nil && cmd.Aggregate != coord.Majority && cmd.Aggregate != coord.First && cmd.Aggregate != coord.All {
		r.Value = strconv.FormatFloat(res.Number, 'f', -1, 64)
		if math.Abs(res.Number) >= 1 {
			r.Value = strconv.FormatFloat(math.Round(res.Number*10)/10, 'f', -1, 64)
		}
	}
	r.Consensus = res.Consensus
	r.ElapsedMS = float64(res.Elapsed.Microseconds()) / 1000
	failures := map[string]agentFailure{}
	for _, f := range res.Failed {
		reason := f.Err.Error()
		r.Failures = append(r.Failures, f.Agent+": "+reason)
		failures[f.Agent] = agentFailure{Command: cmd.Name, Reason: reason, At: r.At}
	}
	for _, a := range res.TimedOut {
		reason := fmt.Sprintf("no answer within %v", res.Elapsed.Round(time.Millisecond))
		r.Failures = append(r.Failures, a+": "+reason)
		failures[a] = agentFailure{Command: cmd.Name, Reason: reason, At: r.At}
	}
	return r, failures
}

// info is the coordination part of the health snapshot, with its problems:
// agents that failed or did not answer in the last round, and why.
func (r *rounds) info(problems *[]string) (CoordinationInfo, map[string]agentFailure) {
	r.mu.Lock()
	ci := CoordinationInfo{Rounds: r.n, Last: r.last}
	failures := make(map[string]agentFailure, len(r.failures))
	for k, v := range r.failures {
		failures[k] = v
	}
	r.mu.Unlock()
	for _, res := range ci.Last {
		if res.Error != "" {
			*problems = append(*problems, fmt.Sprintf("round %d %s: %s", res.Round, res.Name, res.Error))
			continue
		}
		if res.Failed+res.TimedOut == 0 {
			continue
		}
		why := strings.Join(firstN(res.Failures, 2), "; ")
		if len(res.Failures) > 2 {
			why += fmt.Sprintf("; %d more", len(res.Failures)-2)
		}
		*problems = append(*problems, fmt.Sprintf("round %d %s: %d of %d agents failed, %d timed out (%s)",
			res.Round, res.Name, res.Failed, res.Targets, res.TimedOut, why))
	}
	return ci, failures
}

// replyCounts returns the agents asked so far, by command and outcome.
func (r *rounds) replyCounts() map[string]map[string]uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]map[string]uint64, len(r.replies))
	for k, v := range r.replies {
		m := make(map[string]uint64, len(v))
		for o, n := range v {
			m[o] = n
		}
		out[k] = m
	}
	return out
}

func firstN(s []string, n int) []string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
