package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/greenlang/gl001/erp"
	"github.com/greenlang/gl001/erp/normalize"
	"github.com/greenlang/gl001/resilience"
)

// erpPoller is the part that reads one ERP system every interval: energy of
// the last 24 hours, production and maintenance orders from yesterday to a
// week ahead, costs of the last 30 days.
//
// Its normalisers live as long as it does, so the duplicate, overlap and
// gap detection they exist for spans fetches. Each fetch reads its whole
// window again (records change: an order is released, a reading
// corrected), so a record whose source key the previous fetch already
// returned is a re-read, not a duplicate: only records new since the last
// fetch go through the normalisers. A record the system sends twice in one
// fetch, or a new record for a meter period already covered, is reported.
// What the normalisers find is counted by kind in the health snapshot and
// the metrics (gl001_erp_record_issues_total), the last finding named.
type erpPoller struct {
	cfg    ERPConfig
	client erp.Client
	close  func() error
	log    *slog.Logger

	// onEnergy, if set, receives the energy records new in each fetch
	// (the historian stores them).
	onEnergy func(context.Context, []erp.EnergyRecord)

	energyNorm *normalize.EnergyNormalizer
	recordNorm *normalize.RecordNormalizer

	mu          sync.Mutex
	fetches     uint64
	lastFetch   time.Time
	lastSuccess time.Time
	lastErr     string
	records     map[string]int // per kind, last fetch
	total       map[string]uint64
	energy      map[string]float64 // kWh by source key, the last 24 h as of the last fetch
	energyKWh   float64
	costs       string                         // last fetch, e.g. "1234.56 EUR"
	seen        map[string]map[string]struct{} // per kind, the source keys of the last fetch
	lastIssue   string
}

func newERPPoller(e ERPConfig, client erp.Client, closeFn func() error, log *slog.Logger) (*erpPoller, error) {
	en, err := normalize.NewEnergyNormalizer(normalize.EnergyConfig{Interval: time.Hour})
	if err != nil {
		return nil, err
	}
	rn, err := normalize.NewRecordNormalizer(normalize.RecordConfig{})
	if err != nil {
		return nil, err
	}
	return &erpPoller{
		cfg: e, client: client, close: closeFn, log: log, energyNorm: en, recordNorm: rn,
		records: map[string]int{}, total: map[string]uint64{}, energy: map[string]float64{}, seen: map[string]map[string]struct{}{},
	}, nil
}

// Run fetches now and then every interval until ctx ends.
func (p *erpPoller) Run(ctx context.Context) error {
	t := time.NewTicker(p.cfg.Interval)
	defer t.Stop()
	for {
		p.fetch(ctx, time.Now().UTC())
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// recordKey names a record across fetches: its source key, or, for a
// system that sends none, what it is about.
func recordKey(src erp.Source, what string, period erp.Period) string {
	if src.Key != "" {
		return src.Entity + "\x00" + src.Key
	}
	return what + "\x00" + period.Start.UTC().String() + "\x00" + period.End.UTC().String()
}

// fetch reads the kinds of records the configuration names.
func (p *erpPoller) fetch(ctx context.Context, now time.Time) {
	plant := p.cfg.Plant
	records := map[string]int{}
	seen := map[string]map[string]struct{}{}
	energy := map[string]float64{}
	var costs map[string]erp.Decimal
	var lastIssue string
	var firstErr error
	fail := func(kind string, err error) {
		if firstErr == nil && !errors.Is(err, erp.ErrMalformed) {
			firstErr = fmt.Errorf("%s: %w", kind, err)
		}
	}
	p.mu.Lock()
	prev := p.seen
	prevEnergy := p.energy
	p.mu.Unlock()
	// isNew records key as read in this fetch and says whether the previous
	// fetch had it.
	isNew := func(kind, key string) bool {
		if seen[kind] == nil {
			seen[kind] = map[string]struct{}{}
		}
		seen[kind][key] = struct{}{}
		_, old := prev[kind][key]
		return !old
	}
	note := func(is []normalize.Issue) {
		if len(is) > 0 {
			i := is[len(is)-1]
			lastIssue = i.Kind.String()
			if i.Meter != "" {
				lastIssue += " " + i.Meter
			}
			lastIssue += " at " + i.Period.Start.Format(time.RFC3339)
			if i.Detail != "" {
				lastIssue += ": " + i.Detail
			}
		}
	}
	for _, kind := range p.cfg.Fetch {
		if ctx.Err() != nil {
			return
		}
		switch kind {
		case "energy":
			q := erp.Query{From: now.Add(-24 * time.Hour), To: now}
			var fresh []erp.EnergyRecord
			for r, err := range p.client.Energy(ctx, q) {
				if err != nil {
					fail(kind, err)
					continue
				}
				records[kind]++
				key := recordKey(r.Source, r.Plant+"\x00"+r.Meter, r.Period)
				if !isNew(kind, key) {
					energy[key] = prevEnergy[key]
					continue
				}
				fresh = append(fresh, r)
				e := p.energyNorm.Normalize(r)
				note(e.Issues)
				if !math.IsNaN(e.Value) {
					energy[key] = e.Value
				}
			}
			if p.onEnergy != nil {
				p.onEnergy(ctx, fresh)
			}
		case "production":
			q := erp.Query{Plant: plant, From: now.Add(-24 * time.Hour), To: now.Add(7 * 24 * time.Hour)}
			for r, err := range p.client.Production(ctx, q) {
				if err != nil {
					fail(kind, err)
					continue
				}
				records[kind]++
				if isNew(kind, recordKey(r.Source, r.Plant, r.Planned)) {
					_, is := p.recordNorm.Production(r)
					note(is)
				}
			}
		case "maintenance":
			q := erp.Query{Plant: plant, From: now.Add(-24 * time.Hour), To: now.Add(7 * 24 * time.Hour)}
			for r, err := range p.client.Maintenance(ctx, q) {
				if err != nil {
					fail(kind, err)
					continue
				}
				records[kind]++
				if isNew(kind, recordKey(r.Source, r.Plant, r.Planned)) {
					_, is := p.recordNorm.Maintenance(r)
					note(is)
				}
			}
		case "costs":
			q := erp.Query{From: now.Add(-30 * 24 * time.Hour), To: now}
			for r, err := range p.client.Costs(ctx, q) {
				if err != nil {
					fail(kind, err)
					continue
				}
				records[kind]++
				if isNew(kind, recordKey(r.Source, r.Plant, r.Period)) {
					var is []normalize.Issue
					r, is = p.recordNorm.Cost(r)
					note(is)
				}
				if costs == nil {
					costs = map[string]erp.Decimal{}
				}
				if sum, err := costs[r.Amount.Currency].Add(r.Amount.Amount); err == nil {
					costs[r.Amount.Currency] = sum
				}
			}
		}
	}
	if ctx.Err() != nil {
		return // a fetch cut short by shutdown says nothing about the system
	}
	var kwh float64
	for _, v := range energy {
		kwh += v
	}
	var sums []string
	for cur, d := range costs {
		sums = append(sums, erp.Money{Amount: d, Currency: cur}.String())
	}
	slices.Sort(sums)

	p.mu.Lock()
	defer p.mu.Unlock()
	p.fetches++
	p.lastFetch = time.Now()
	p.records = records
	for k, n := range records {
		p.total[k] += uint64(n)
	}
	p.energy, p.energyKWh = energy, kwh
	p.costs = strings.Join(sums, ", ")
	if firstErr == nil {
		// A kind that failed keeps the keys of before, so that its next
		// successful fetch does not take every record for new.
		p.seen = seen
	} else {
		for k, v := range seen {
			p.seen[k] = v
		}
	}
	if lastIssue != "" {
		p.lastIssue = lastIssue
	}
	p.lastErr = ""
	if firstErr != nil {
		p.lastErr = resilience.Redact(firstErr.Error())
		p.log.Warn("erp fetch", "erp", p.cfg.Name, "err", p.lastErr)
	} else {
		p.lastSuccess = p.lastFetch
	}
}

// statser is implemented by every ERP client of the SDK.
type statser interface{ Stats() erp.ConnStats }

// issueCounts returns what the normalisers found so far, by kind.
func (p *erpPoller) issueCounts() map[string]uint64 {
	es, rs := p.energyNorm.Stats(), p.recordNorm.Stats()
	return map[string]uint64{
		"duplicate":      es.Duplicates + rs.Duplicates,
		"overlap":        es.Overlaps,
		"gap":            es.Gaps,
		"unit":           es.UnitErrors,
		"unmapped_plant": es.UnmappedPlants + rs.UnmappedPlants,
		"bad_period":     es.BadPeriods + rs.BadPeriods,
	}
}

// info is the poller's part of the health snapshot, with its problems.
func (p *erpPoller) info(problems, warnings *[]string) ERPInfo {
	p.mu.Lock()
	ei := ERPInfo{
		Name: p.cfg.Name, Kind: p.cfg.Kind, Fetches: p.fetches, LastFetch: p.lastFetch, LastSuccess: p.lastSuccess,
		Records: maps.Clone(p.records), Total: maps.Clone(p.total), EnergyKWh: p.energyKWh, Costs: p.costs,
		LastError: p.lastErr, LastIssue: p.lastIssue,
	}
	p.mu.Unlock()
	ei.Issues = p.issueCounts()
	ei.Breaker = "closed"
	if s, ok := p.client.(statser); ok {
		st := s.Stats()
		ei.Breaker, ei.Requests, ei.Retries, ei.Throttled = st.Breaker, st.Requests, st.Retries, st.Throttled
		ei.Errors = map[string]uint64{
			"throttled": st.Throttled, "timeout": st.TimedOut, "unauthorized": st.Unauthorized,
			"malformed": st.Malformed, "failed": st.Errors,
		}
	}
	ei.Healthy = ei.LastError == "" && ei.Breaker == "closed"
	if !ei.Healthy {
		why := "breaker " + ei.Breaker
		if ei.LastError != "" {
			why = ei.LastError
			if ei.Breaker != "closed" {
				why += " (breaker " + ei.Breaker + ")"
			}
		}
		*problems = append(*problems, fmt.Sprintf("erp %s: %s", p.cfg.Name, why))
	}
	var n uint64
	for _, v := range ei.Issues {
		n += v
	}
	if n > 0 {
		*warnings = append(*warnings, fmt.Sprintf("erp %s: %d record issues, last: %s", p.cfg.Name, n, ei.LastIssue))
	}
	return ei
}

// energySnapshot is what a coordination round sends of this system.
func (p *erpPoller) energySnapshot() (kwh float64, hasEnergy bool, production, maintenance int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.energyKWh, p.records["energy"] > 0, p.records["production"], p.records["maintenance"]
}
