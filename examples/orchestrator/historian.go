package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/greenlang/gl001/erp"
	"github.com/greenlang/gl001/scada/buffer"
	"github.com/greenlang/gl001/scada/forward/postgres"
)

// This file is the optional historian: a second Forwarder, with its own
// buffer consumer, into PostgreSQL (scada/forward/postgres), the ERP
// energy records stored beside the points, and the reconciliation of the
// two per plant and day.

// historianConsumer is the historian forwarder's cursor in the buffer.
const historianConsumer = "gl001-historian"

// upkeepEvery paces the historian's upkeep: two small queries (the
// reconciliation of two days) and, hourly, the retention.
const upkeepEvery = 10 * time.Second

// HistorianConfig is the optional [historian] section. Without dsn or
// from_env nothing is stored.
type HistorianConfig struct {
	// DSN is pgx's connection string, a URL or keyword/value pairs, without
	// a password (use from_env with PGPASSWORD, or a passfile). Towards a
	// host that is not loopback it must say sslmode=verify-full.
	DSN string `toml:"dsn"`
	// FromEnv takes the connection from the PG* environment variables
	// (PGHOST, PGUSER, PGPASSWORD, PGSSLMODE ...); dsn adds to them.
	FromEnv bool `toml:"from_env"`
	// Schema holds the historian's tables (default "historian").
	Schema string `toml:"schema"`
	// Retention drops whole days of points older than this (0 keeps
	// everything; at least 24h).
	Retention time.Duration `toml:"retention"`
	// Meters are the plants' cumulative energy counters, which the
	// reconciliation compares with the ERP's energy.
	Meters []MeterConfig `toml:"meters"`
}

// MeterConfig is one energy counter tag of a plant.
type MeterConfig struct {
	Tag   string `toml:"tag"`
	Plant string `toml:"plant"`
	Unit  string `toml:"unit"` // default: the unit of the tag's points
}

func (h HistorianConfig) enabled() bool { return h.DSN != "" || h.FromEnv }

func (h HistorianConfig) pgConfig(log *slog.Logger) postgres.Config {
	c := postgres.Config{DSN: h.DSN}
	if h.FromEnv {
		c = postgres.FromEnv(h.DSN)
	}
	c.Schema, c.Logger = h.Schema, log
	return c
}

var dsnPassword = regexp.MustCompile(`(^|\s)password\s*=`)

// dsnHasPassword reports whether dsn carries a password.
func dsnHasPassword(dsn string) bool {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			return false // the historian's own validation says it does not parse, without its text
		}
		if _, ok := u.User.Password(); ok {
			return true
		}
		return u.Query().Has("password")
	}
	return dsnPassword.MatchString(dsn)
}

func (c *Config) validateHistorian(p *problems) {
	h := c.Historian
	if !h.enabled() {
		if h.Schema != "" || h.Retention != 0 || len(h.Meters) > 0 {
			p.add("historian", "set dsn or from_env = true, or leave the section out")
		}
		return
	}
	if dsnHasPassword(h.DSN) {
		p.add("historian.dsn", "holds a password; secrets never go in this file: use from_env with PGPASSWORD, or a passfile")
	} else {
		p.wrap("historian", "invalid", h.pgConfig(nil).Validate())
	}
	if h.Retention < 0 || (h.Retention > 0 && h.Retention < 24*time.Hour) {
		p.add("historian.retention", "%v: 0 keeps everything; otherwise at least 24h (points are dropped by whole days)", h.Retention)
	}
	for i, m := range h.Meters {
		if m.Tag == "" || m.Plant == "" {
			p.add(fmt.Sprintf("historian.meters[%d]", i), "tag and plant are required")
		}
	}
}

// historian is the part that runs the historian's forwarder, and beside it
// the upkeep: meters recorded, retention applied hourly, the
// reconciliation of ERP and metered energy refreshed every upkeepEvery.
type historian struct {
	cfg HistorianConfig
	db  *postgres.Historian
	fw  *forwarder
	log *slog.Logger

	mu           sync.Mutex
	energyStored uint64
	energyFailed uint64
	lastError    string
	metersSet    int
	dropped      int
	recon        []ReconInfo
}

// openHistorian connects, creates or migrates the schema and builds the
// forwarder that drains buf's historianConsumer into it.
func openHistorian(ctx context.Context, cfg HistorianConfig, buf buffer.Buffer, edge string, log *slog.Logger) (*historian, error) {
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	db, err := postgres.New(cctx, cfg.pgConfig(log))
	if err != nil {
		return nil, fmt.Errorf("historian: %w", err)
	}
	schema := cfg.Schema
	if schema == "" {
		schema = "historian"
	}
	fw, err := newForwarder("historian", "PostgreSQL schema "+schema, buf, historianConsumer, edge, db, log)
	if err != nil {
		_ = db.Close()
		return nil, err
	}
	return &historian{cfg: cfg, db: db, fw: fw, log: log}, nil
}

func (h *historian) close() { _ = h.db.Close() }

// Run forwards until ctx ends (then drains, see forwarder.Run), keeping up
// the meters, the retention and the reconciliation meanwhile.
func (h *historian) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	wg.Go(func() { h.upkeep(ctx) })
	err := h.fw.Run(ctx)
	wg.Wait()
	return err
}

func (h *historian) upkeep(ctx context.Context) {
	tick := time.NewTicker(upkeepEvery)
	defer tick.Stop()
	var lastRetention time.Time
	for {
		h.setMeters(ctx)
		if h.cfg.Retention > 0 && time.Since(lastRetention) >= time.Hour {
			lastRetention = time.Now()
			days, err := h.db.DropBefore(ctx, time.Now().Add(-h.cfg.Retention))
			h.note(err)
			h.mu.Lock()
			h.dropped += len(days)
			h.mu.Unlock()
		}
		h.reconcile(ctx)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// setMeters records the meters not yet recorded; a meter without a unit
// waits for its tag's first point.
func (h *historian) setMeters(ctx context.Context) {
	h.mu.Lock()
	done := h.metersSet
	h.mu.Unlock()
	for _, m := range h.cfg.Meters[done:] {
		if err := h.db.SetMeter(ctx, postgres.Meter{Tag: m.Tag, Plant: m.Plant, Unit: m.Unit}); err != nil {
			h.note(err)
			return
		}
		h.mu.Lock()
		h.metersSet++
		h.mu.Unlock()
	}
}

// ReconInfo is one plant and day: the ERP's energy beside the metered.
type ReconInfo struct {
	Plant      string    `json:"plant"`
	Day        time.Time `json:"day"`
	ERPKWh     float64   `json:"erp_kwh"`
	ERPRecords int64     `json:"erp_records"`
	MeteredKWh float64   `json:"metered_kwh"`
	Meters     int64     `json:"meters"`
}

// reconcile refreshes the reconciliation of yesterday and today (UTC).
func (h *historian) reconcile(ctx context.Context) {
	to := time.Now().UTC().Truncate(24 * time.Hour).Add(24 * time.Hour)
	var out []ReconInfo
	for r, err := range h.db.Reconcile(ctx, "", to.Add(-48*time.Hour), to, "") {
		if err != nil {
			h.note(err)
			return
		}
		out = append(out, ReconInfo{Plant: r.Plant, Day: r.Day, ERPKWh: r.ERP, ERPRecords: r.ERPRecords, MeteredKWh: r.Metered, Meters: r.Meters})
	}
	h.mu.Lock()
	h.recon = out
	h.mu.Unlock()
}

// storeEnergy is the ERP pollers' hook: the energy records of a fetch,
// stored idempotently on their source key.
func (h *historian) storeEnergy(ctx context.Context, records []erp.EnergyRecord) {
	if len(records) == 0 {
		return
	}
	n, err := h.db.StoreEnergy(ctx, records...)
	h.mu.Lock()
	h.energyStored += uint64(n)
	h.mu.Unlock()
	if err != nil && !errors.Is(err, postgres.ErrBadRecord) {
		h.mu.Lock()
		h.energyFailed += uint64(len(records) - n)
		h.mu.Unlock()
	}
	h.note(err)
}

func (h *historian) note(err error) {
	if err == nil || errors.Is(err, context.Canceled) {
		return
	}
	h.log.Warn("historian", "err", err)
	h.mu.Lock()
	h.lastError = err.Error()
	h.mu.Unlock()
}

// HistorianInfo is the historian as the status page shows it (its
// forwarder is among the forwarders).
type HistorianInfo struct {
	Schema       string      `json:"schema"`
	Points       uint64      `json:"points"`
	Duplicates   uint64      `json:"duplicates"`
	EnergyStored uint64      `json:"energy_records"`
	EnergyFailed uint64      `json:"energy_failed"`
	Meters       int         `json:"meters"`
	DaysDropped  int         `json:"days_dropped"`
	LastError    string      `json:"last_error,omitempty"`
	Reconcile    []ReconInfo `json:"reconcile"`
}

func (h *historian) info() *HistorianInfo {
	st := h.db.Stats()
	h.mu.Lock()
	defer h.mu.Unlock()
	schema := h.cfg.Schema
	if schema == "" {
		schema = "historian"
	}
	hi := &HistorianInfo{
		Schema: schema, Points: st.Points, Duplicates: st.Duplicates,
		EnergyStored: h.energyStored, EnergyFailed: h.energyFailed, Meters: h.metersSet,
		DaysDropped: h.dropped, LastError: h.lastError, Reconcile: append([]ReconInfo{}, h.recon...),
	}
	if hi.LastError == "" {
		hi.LastError = st.LastError
	}
	return hi
}
