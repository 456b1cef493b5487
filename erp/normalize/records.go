package normalize

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/greenlang/gl001/erp"
)

// RecordConfig configures a [RecordNormalizer].
type RecordConfig struct {
	// Plants maps the ERP's plant codes to the caller's plant ids. Nil keeps
	// the codes as they are.
	Plants map[string]string
	// RequirePlant reports a plant code missing from Plants (IssuePlant).
	RequirePlant bool
	// MaxKeys bounds the source keys remembered for duplicate detection; 0
	// means 16 × DefaultMaxSeries.
	MaxKeys int
}

// Validate reports every problem with c.
func (c RecordConfig) Validate() error {
	if c.MaxKeys < 0 {
		return errors.Join(fmt.Errorf("normalize: records: MaxKeys %d is negative", c.MaxKeys))
	}
	return nil
}

// RecordNormalizer brings the ERP records other than energy (see
// [EnergyNormalizer]) to one shape: plant codes mapped, every period in UTC,
// money and quantities kept exactly as the system sent them. It reports a
// record whose source key it has seen before (IssueDuplicate), an unmapped
// plant (IssuePlant) and a period that ends before it starts (IssuePeriod);
// the record is returned all the same. It is safe for concurrent use.
type RecordNormalizer struct {
	plants  map[string]string
	require bool
	maxKeys int

	mu    sync.Mutex
	seen  map[erp.Source]struct{}
	stats RecordStats
}

// NewRecordNormalizer returns a RecordNormalizer, or the errors of
// cfg.Validate.
func NewRecordNormalizer(cfg RecordConfig) (*RecordNormalizer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	n := &RecordNormalizer{plants: cfg.Plants, require: cfg.RequirePlant, maxKeys: cfg.MaxKeys, seen: map[erp.Source]struct{}{}}
	if n.maxKeys == 0 {
		n.maxKeys = 16 * DefaultMaxSeries
	}
	return n, nil
}

// Cost normalizes a cost record.
func (n *RecordNormalizer) Cost(r erp.CostRecord) (erp.CostRecord, []Issue) {
	var is []Issue
	r.Plant, is = n.common(r.Source, r.Plant, &r.Period, is)
	r.Changed = utc(r.Changed)
	return r, is
}

// Production normalizes a production order.
func (n *RecordNormalizer) Production(o erp.ProductionOrder) (erp.ProductionOrder, []Issue) {
	var is []Issue
	o.Plant, is = n.common(o.Source, o.Plant, &o.Planned, is)
	o.Actual, is = n.period(o.Source, o.Actual, is)
	o.Changed = utc(o.Changed)
	return o, is
}

// Maintenance normalizes a maintenance order.
func (n *RecordNormalizer) Maintenance(o erp.MaintenanceOrder) (erp.MaintenanceOrder, []Issue) {
	var is []Issue
	o.Plant, is = n.common(o.Source, o.Plant, &o.Planned, is)
	o.Changed = utc(o.Changed)
	return o, is
}

func (n *RecordNormalizer) common(src erp.Source, plant string, p *erp.Period, is []Issue) (string, []Issue) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.stats.Records++
	if src.Key != "" {
		if _, ok := n.seen[src]; ok {
			n.stats.Duplicates++
			is = append(is, Issue{Kind: IssueDuplicate, Source: src, Detail: "source key seen before"})
		} else if len(n.seen) < n.maxKeys {
			n.seen[src] = struct{}{}
		}
	}
	if n.plants != nil {
		if mapped, ok := n.plants[plant]; ok {
			plant = mapped
		} else if n.require {
			n.stats.UnmappedPlants++
			is = append(is, Issue{Kind: IssuePlant, Source: src, Detail: "plant " + plant + " is not mapped"})
		}
	}
	*p, is = n.periodLocked(src, *p, is)
	return plant, is
}

func (n *RecordNormalizer) period(src erp.Source, p erp.Period, is []Issue) (erp.Period, []Issue) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.periodLocked(src, p, is)
}

// periodLocked puts p in UTC and reports a reversed period. Zero bounds are
// allowed: orders have no actual end while they run.
func (n *RecordNormalizer) periodLocked(src erp.Source, p erp.Period, is []Issue) (erp.Period, []Issue) {
	p = erp.Period{Start: utc(p.Start), End: utc(p.End)}
	if !p.Start.IsZero() && !p.End.IsZero() && p.End.Before(p.Start) {
		n.stats.BadPeriods++
		is = append(is, Issue{Kind: IssuePeriod, Source: src, Period: p, Detail: "ends before it starts"})
	}
	return p, is
}

func utc(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.UTC()
}

// RecordStats is a snapshot of a RecordNormalizer's counters.
type RecordStats struct {
	Records        uint64
	Duplicates     uint64
	UnmappedPlants uint64
	BadPeriods     uint64
}

// Stats returns the counters so far.
func (n *RecordNormalizer) Stats() RecordStats {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.stats
}
