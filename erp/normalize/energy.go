package normalize

import (
	"errors"
	"fmt"
	"iter"
	"math"
	"sync"
	"time"

	"github.com/greenlang/gl001/erp"
	"github.com/greenlang/gl001/units"
)

// DefaultMaxSeries bounds the meters and source keys a normalizer remembers
// when its config leaves the bound zero (see EnergyConfig.MaxSeries and
// RecordConfig.MaxKeys).
const DefaultMaxSeries = 100_000

// IssueKind is what is wrong with an ERP record or its place in its series.
type IssueKind uint8

// The issues [EnergyNormalizer] reports.
const (
	// IssueDuplicate: a record with the same source key as an earlier one, or
	// another record for exactly the same meter and period.
	IssueDuplicate IssueKind = iota + 1
	// IssueOverlap: the period overlaps the previous period of its meter.
	IssueOverlap
	// IssueGap: the period starts after the previous period of its meter
	// ended; Issue.Other is the missing interval.
	IssueGap
	// IssueUnit: the quantity's unit is unknown or not an energy unit; the
	// record's Value is NaN.
	IssueUnit
	// IssuePlant: the plant code is not in the caller's table (only with
	// EnergyConfig.RequirePlant); the code is kept as it is.
	IssuePlant
	// IssuePeriod: the period has a zero bound or ends before it starts.
	IssuePeriod
)

var issueNames = [...]string{"", "duplicate", "overlap", "gap", "unit", "plant", "period"}

// String returns the issue's name, e.g. "gap".
func (k IssueKind) String() string {
	if int(k) < len(issueNames) && k != 0 {
		return issueNames[k]
	}
	return "unknown"
}

// MarshalText encodes k by name.
func (k IssueKind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// Issue is one finding about an ERP record. Records with issues are still
// returned: the issue says what to distrust.
type Issue struct {
	Kind   IssueKind  `json:"kind"`
	Meter  string     `json:"meter,omitempty"`
	Period erp.Period `json:"period"` // the record's period (UTC)
	// Other is, for an overlap or a duplicate, the earlier record's period;
	// for a gap, the missing interval [previous end, this start).
	Other  erp.Period `json:"other"`
	Source erp.Source `json:"source"`
	// Missing is, for a gap, the number of whole EnergyConfig.Interval periods
	// missing (0 when no Interval is configured).
	Missing int    `json:"missing,omitempty"`
	Detail  string `json:"detail,omitempty"`
}

// EnergyConfig configures an [EnergyNormalizer].
type EnergyConfig struct {
	// Unit is the energy unit records are converted to; the zero Unit means kWh.
	Unit units.Unit
	// Plants maps the ERP's plant codes to the caller's plant ids. Nil keeps
	// the codes as they are.
	Plants map[string]string
	// RequirePlant reports a plant code missing from Plants (IssuePlant).
	RequirePlant bool
	// Interval is the length of each meter's periods (an hour for hourly
	// data), used to count missing periods in a gap; 0 reports gaps without
	// counting.
	Interval time.Duration
	// MaxSeries bounds the meters and source keys remembered for overlap, gap
	// and duplicate detection; 0 means DefaultMaxSeries. Beyond it records are
	// normalized without those checks, and counted.
	MaxSeries int
}

// Validate reports every problem with c.
func (c EnergyConfig) Validate() error {
	var errs []error
	if !c.Unit.IsZero() && c.Unit.Dimension() != units.Energy {
		errs = append(errs, fmt.Errorf("normalize: energy: unit %s is not an energy unit", c.Unit))
	}
	if c.Interval < 0 {
		errs = append(errs, fmt.Errorf("normalize: energy: interval %v is negative", c.Interval))
	}
	if c.MaxSeries < 0 {
		errs = append(errs, fmt.Errorf("normalize: energy: MaxSeries %d is negative", c.MaxSeries))
	}
	return errors.Join(errs...)
}

// Energy is an ERP energy record in one shape, whatever system it came from:
// energy in one unit, money with its currency, the period in UTC, the plant
// mapped, and the source kept so the record can be traced back.
type Energy struct {
	Plant      string       `json:"plant"`
	Meter      string       `json:"meter,omitempty"`
	CostCenter string       `json:"cost_center,omitempty"`
	Period     erp.Period   `json:"period"` // [Start, End) in UTC
	Value      float64      `json:"-"`      // in Unit; NaN with IssueUnit
	Unit       units.Unit   `json:"unit"`
	Quantity   erp.Quantity `json:"-"` // as the system sent it
	Cost       erp.Money    `json:"-"` // amount and currency as sent; zero when none
	Source     erp.Source   `json:"source"`
	Changed    time.Time    `json:"changed,omitzero"`
	Issues     []Issue      `json:"issues,omitempty"`
}

// EnergyNormalizer turns ERP energy records into [Energy] and reports
// duplicates, overlapping periods and missing periods per meter. Overlap and
// gap detection compares each record with the previous one of its meter, so
// feed each meter's records in period order (what an erp.Client yields for a
// time-ordered query). It is safe for concurrent use.
type EnergyNormalizer struct {
	unit      units.Unit
	plants    map[string]string
	requireP  bool
	interval  time.Duration
	maxSeries int

	mu     sync.Mutex
	convs  map[units.Unit]units.Converter
	series map[string]*energySeries
	keys   map[erp.Source]erp.Period
	stats  EnergyStats
}

type energySeries struct {
	last erp.Period
}

// NewEnergyNormalizer returns an EnergyNormalizer, or the errors of
// cfg.Validate.
func NewEnergyNormalizer(cfg EnergyConfig) (*EnergyNormalizer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	n := &EnergyNormalizer{unit: cfg.Unit, plants: cfg.Plants, requireP: cfg.RequirePlant, interval: cfg.Interval,
		maxSeries: cfg.MaxSeries, convs: map[units.Unit]units.Converter{}, series: map[string]*energySeries{}, keys: map[erp.Source]erp.Period{}}
	if n.unit.IsZero() {
		n.unit = units.MustParse("kWh")
	}
	if n.maxSeries == 0 {
		n.maxSeries = DefaultMaxSeries
	}
	return n, nil
}

// All normalizes a stream of records, such as an erp.Client's Energy, and
// yields each with its issues. Errors from the stream are passed on as they
// are (a malformed record arrives as an error and the stream goes on).
// Breaking out of the loop stops the underlying stream.
func (n *EnergyNormalizer) All(records iter.Seq2[erp.EnergyRecord, error]) iter.Seq2[Energy, error] {
	return func(yield func(Energy, error) bool) {
		for r, err := range records {
			if err != nil {
				if !yield(Energy{}, err) {
					return
				}
				continue
			}
			if !yield(n.Normalize(r), nil) {
				return
			}
		}
	}
}

// Normalize returns r in normalized form, with its issues.
func (n *EnergyNormalizer) Normalize(r erp.EnergyRecord) Energy {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.stats.Records++
	e := Energy{
		Plant: r.Plant, Meter: r.Meter, CostCenter: r.CostCenter, Unit: n.unit, Quantity: r.Quantity,
		Cost: r.Cost, Source: r.Source, Changed: r.Changed,
		Period: erp.Period{Start: r.Period.Start.UTC(), End: r.Period.End.UTC()},
	}
	issue := func(k IssueKind, other erp.Period, missing int, detail string) {
		e.Issues = append(e.Issues, Issue{Kind: k, Meter: r.Meter, Period: e.Period, Other: other, Source: r.Source, Missing: missing, Detail: detail})
		switch k {
		case IssueDuplicate:
			n.stats.Duplicates++
		case IssueOverlap:
			n.stats.Overlaps++
		case IssueGap:
			n.stats.Gaps++
			n.stats.Missing += uint64(missing)
		case IssueUnit:
			n.stats.UnitErrors++
		case IssuePlant:
			n.stats.UnmappedPlants++
		case IssuePeriod:
			n.stats.BadPeriods++
		}
	}

	if n.plants != nil {
		if p, ok := n.plants[r.Plant]; ok {
			e.Plant = p
		} else if n.requireP {
			issue(IssuePlant, erp.Period{}, 0, "plant "+r.Plant+" is not mapped")
		}
	}

	e.Value = math.NaN()
	if q := r.Quantity; q.Unit.Dimension() != units.Energy {
		issue(IssueUnit, erp.Period{}, 0, "quantity unit "+q.Code+" is not an energy unit")
	} else {
		c, ok := n.convs[q.Unit]
		if !ok {
			c, _ = units.NewConverter(q.Unit, n.unit) // both are energy units: cannot fail
			n.convs[q.Unit] = c
		}
		e.Value = c.Convert(q.Value.Float64())
	}

	p := e.Period
	if p.Start.IsZero() || p.End.IsZero() || p.End.Before(p.Start) {
		issue(IssuePeriod, erp.Period{}, 0, "")
		return e
	}

	if r.Source.Key != "" {
		if prev, ok := n.keys[r.Source]; ok {
			issue(IssueDuplicate, prev, 0, "source key seen before")
			return e
		}
		if len(n.keys) < n.maxSeries*16 {
			n.keys[r.Source] = p
		} else {
			n.stats.Unchecked++
		}
	}

	key := e.Plant + "\x00" + r.Meter
	s := n.series[key]
	if s == nil {
		if len(n.series) >= n.maxSeries {
			n.stats.Unchecked++
			return e
		}
		n.series[key] = &energySeries{last: p}
		return e
	}
	last := s.last
	switch {
	case p.Start.Equal(last.Start) && p.End.Equal(last.End):
		issue(IssueDuplicate, last, 0, "same meter and period")
	case p.Start.Equal(p.End) || last.Start.Equal(last.End):
		// Readings at an instant have no extent to overlap or leave gaps.
	case p.Start.Before(last.End) && last.Start.Before(p.End):
		issue(IssueOverlap, last, 0, "")
	case p.Start.After(last.End):
		missing := 0
		if n.interval > 0 {
			missing = int(p.Start.Sub(last.End) / n.interval)
		}
		issue(IssueGap, erp.Period{Start: last.End, End: p.Start}, missing, "")
	}
	if p.End.After(last.End) {
		s.last = p
	}
	return e
}

// EnergyStats is a snapshot of an EnergyNormalizer's counters.
type EnergyStats struct {
	Records        uint64
	Duplicates     uint64
	Overlaps       uint64
	Gaps           uint64
	Missing        uint64 // whole Interval periods missing in gaps
	UnitErrors     uint64
	UnmappedPlants uint64
	BadPeriods     uint64
	Unchecked      uint64 // records beyond MaxSeries, not checked for duplicates, overlaps or gaps
}

// Stats returns the counters so far.
func (n *EnergyNormalizer) Stats() EnergyStats {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.stats
}
