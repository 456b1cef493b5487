package transform

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/greenlang/gl001/scada"
	"github.com/greenlang/gl001/units"
)

// Defaults for ValidateConfig fields left zero.
const (
	DefaultStale      = 15 * time.Minute // a point older than this is stale
	DefaultFutureSkew = time.Minute      // a point this far ahead of the clock is from the future
)

// Range is a closed interval [Min, Max]. The zero Range means "not set".
type Range struct {
	Min, Max float64
}

// IsZero reports whether r is unset.
func (r Range) IsZero() bool { return r.Min == 0 && r.Max == 0 }

// Contains reports whether v lies in r; an unset Range contains everything.
func (r Range) Contains(v float64) bool { return r.IsZero() || r.Min <= v && v <= r.Max }

func (r Range) validate() error {
	switch {
	case math.IsNaN(r.Min) || math.IsNaN(r.Max):
		return errors.New("NaN bound")
	case r.Min > r.Max:
		return fmt.Errorf("min %v above max %v", r.Min, r.Max)
	}
	return nil
}

// Limits are the checks of one tag. Values are in Unit; a zero Unit means the
// unit the points arrive in (after conversion, when a [Converter] runs first).
type Limits struct {
	// Unit is the unit the numbers below are stated in. When set, the Validator
	// converts them to each point's unit, and a point whose unit does not
	// convert is marked scada.ReasonUnit.
	Unit units.Unit
	// Range is the physical range of the instrument; a value outside is Bad
	// (scada.ReasonOutOfRange).
	Range Range
	// Operating is the engineering (operating) range; a value outside is
	// Uncertain (scada.ReasonLimit).
	Operating Range
	// MaxRate is the largest plausible change per second, in Unit's difference
	// unit (units.Unit.Delta): 0 turns the rate-of-change check off.
	MaxRate float64
	// FlatLine is the number of identical consecutive values that marks a stuck
	// sensor (scada.ReasonFlatLine); 0 turns the check off. It must be at least 2.
	FlatLine int
}

func (l Limits) validate() error {
	var errs []error
	if err := l.Range.validate(); err != nil {
		errs = append(errs, fmt.Errorf("range: %w", err))
	}
	if err := l.Operating.validate(); err != nil {
		errs = append(errs, fmt.Errorf("operating range: %w", err))
	}
	if math.IsNaN(l.MaxRate) || math.IsInf(l.MaxRate, 0) || l.MaxRate < 0 {
		errs = append(errs, fmt.Errorf("max rate %v is not a finite non-negative number", l.MaxRate))
	}
	if l.FlatLine < 0 || l.FlatLine == 1 {
		errs = append(errs, fmt.Errorf("flat line %d: want 0 (off) or at least 2", l.FlatLine))
	}
	return errors.Join(errs...)
}

// ValidateConfig configures a [Validator].
type ValidateConfig struct {
	// Tags maps a tag to its limits; tags not listed use Default.
	Tags map[string]Limits
	// Default applies to tags not in Tags. The zero Limits checks no range,
	// rate or flat line; the checks below still run.
	Default Limits
	// Stale is the age beyond which a point is stale; 0 means DefaultStale and a
	// negative value turns the check off.
	Stale time.Duration
	// FutureSkew is how far ahead of the clock a timestamp may be; 0 means
	// DefaultFutureSkew and a negative value turns the check off.
	FutureSkew time.Duration
	// AllowMissingUnit turns off the missing-unit check, for tags that are
	// counts or states.
	AllowMissingUnit bool
	// MaxTags bounds the per-tag history; 0 means DefaultMaxTags. Tags beyond it
	// get the stateless checks only.
	MaxTags int
	// Now is the clock, read once per batch; nil means time.Now.
	Now func() time.Time
}

// Validate reports every problem with c.
func (c ValidateConfig) Validate() error {
	var errs []error
	if err := c.Default.validate(); err != nil {
		errs = append(errs, fmt.Errorf("transform: validate: default: %w", err))
	}
	for tag, l := range c.Tags {
		if err := l.validate(); err != nil {
			errs = append(errs, fmt.Errorf("transform: validate: tag %q: %w", tag, err))
		}
	}
	if c.MaxTags < 0 {
		errs = append(errs, fmt.Errorf("transform: validate: MaxTags %d is negative", c.MaxTags))
	}
	return errors.Join(errs...)
}

// Validator is the validation and scoring stage. It checks each point for Bad
// or Uncertain source quality, NaN and infinite values, a missing or
// unconvertible unit, the physical range and operating limits, the rate of
// change, a flat line, and a stale, future or missing timestamp.
//
// As a Pipeline stage ([Validator.Process]) it scores each point: it records
// every finding in the point's Reasons, the score in its Score ([Score]) and
// sets Scored, and marks its Quality with the code of its most severe finding
// ([Mark]), for consumers that read only the code. It passes every point on.
// A point that arrives already scored keeps the findings recorded on it.
//
// The rate-of-change and flat-line checks compare a point with the previous
// one of its tag, so a Validator is stateful: feed it each tag's points in time
// order. It is safe for concurrent use; batches are checked one at a time.
type Validator struct {
	tags        map[string]*valTag
	def         Limits
	stale       int64 // ns; 0 off
	skew        int64 // ns; 0 off
	allowNoUnit bool
	maxTags     int
	now         func() time.Time

	mu    sync.Mutex
	cache tagCache[*valTag]
	stats validateCounters
	spare valTag // scratch for tags beyond maxTags
}

type validateCounters struct {
	checked, flagged uint64
	uncached         uint64
	byReason         [numReasons]uint64
}

// valTag is one tag's limits, resolved for the unit last seen, and history.
type valTag struct {
	lim Limits

	unit     string // the spelling the resolved limits below are for
	unitBad  bool   // that spelling does not convert from lim.Unit
	rng, op  Range
	rate     float64
	resolved bool

	has   bool
	last  float64
	lastT int64
	same  int
}

// NewValidator returns a Validator, or the errors of cfg.Validate.
func NewValidator(cfg ValidateConfig) (*Validator, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	v := &Validator{
		tags:        make(map[string]*valTag, len(cfg.Tags)),
		def:         cfg.Default,
		stale:       staleNanos(cfg.Stale),
		skew:        skewNanos(cfg.FutureSkew),
		allowNoUnit: cfg.AllowMissingUnit,
		maxTags:     cfg.MaxTags,
		now:         cfg.Now,
	}
	if v.maxTags == 0 {
		v.maxTags = DefaultMaxTags
	}
	if v.now == nil {
		v.now = time.Now
	}
	for tag, l := range cfg.Tags {
		v.tags[tag] = &valTag{lim: l}
	}
	return v, nil
}

// Process checks and scores batch in place and returns it.
func (v *Validator) Process(ctx context.Context, batch []scada.Point) ([]scada.Point, error) {
	if err := ctx.Err(); err != nil {
		return batch, err
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	now := v.now().UnixNano()
	for i := range batch {
		p := &batch[i]
		r := v.check(p, now)
		p.Quality = Mark(r, p.Quality)
		p.Score, p.Scored, p.Reasons = Score(r), true, r
	}
	return batch, nil
}

// check returns the findings for p and updates its tag's history. now is in
// Unix nanoseconds. v.mu is held.
func (v *Validator) check(p *scada.Point, now int64) scada.Reason {
	v.stats.checked++
	r := ReasonOf(p.Quality) | timeReasons(p.Time, now, v.stale, v.skew)
	if p.Scored {
		r |= p.Reasons
	}
	var t int64
	if !p.Time.IsZero() {
		t = p.Time.UnixNano()
	}
	if p.Quality.IsBad() {
		return v.count(r)
	}
	val := p.Value
	if math.IsNaN(val) || math.IsInf(val, 0) {
		return v.count(r | scada.ReasonNotFinite)
	}
	if p.Unit == "" && !v.allowNoUnit {
		r |= scada.ReasonMissingUnit
	}

	tag, ok := v.cache.get(p.Tag)
	if !ok {
		tag = v.tags[p.Tag]
		switch {
		case tag != nil:
			v.cache.put(p.Tag, tag)
		case len(v.tags) < v.maxTags:
			tag = &valTag{lim: v.def}
			v.tags[p.Tag] = tag
			v.cache.put(p.Tag, tag)
		default:
			v.stats.uncached++
			v.spare = valTag{lim: v.def}
			tag = &v.spare
		}
	}
	if !tag.resolved || tag.unit != p.Unit {
		tag.resolve(p.Unit)
	}
	if tag.unitBad {
		return v.count(r | scada.ReasonUnit)
	}
	if !tag.rng.Contains(val) {
		r |= scada.ReasonOutOfRange
	}
	if !tag.op.Contains(val) {
		r |= scada.ReasonLimit
	}
	// History advances only with timestamped, in-order, usable values.
	if t != 0 && r&badReasons == 0 && (!tag.has || t > tag.lastT) {
		if tag.has {
			if tag.rate > 0 && math.Abs(val-tag.last) > tag.rate*float64(t-tag.lastT)/1e9 {
				r |= scada.ReasonRateOfChange
			}
			if val == tag.last {
				tag.same++
			} else {
				tag.same = 1
			}
		} else {
			tag.same = 1
		}
		tag.has, tag.last, tag.lastT = true, val, t
		if n := tag.lim.FlatLine; n > 0 && tag.same >= n {
			r |= scada.ReasonFlatLine
		}
	} else if n := tag.lim.FlatLine; n > 0 && tag.has && val == tag.last && tag.same >= n {
		r |= scada.ReasonFlatLine // a redelivery of a flat-lined value
	}
	return v.count(r)
}

func (v *Validator) count(r scada.Reason) scada.Reason {
	if r != 0 {
		v.stats.flagged++
		for x := r; x != 0; x &= x - 1 {
			v.stats.byReason[trailingZeros(x)]++
		}
	}
	return r
}

// resolve converts the tag's limits to the unit spelled s.
func (t *valTag) resolve(s string) {
	t.unit, t.resolved, t.unitBad = s, true, false
	t.rng, t.op, t.rate = t.lim.Range, t.lim.Operating, t.lim.MaxRate
	if t.lim.Unit.IsZero() || s == "" {
		return
	}
	u, err := units.Parse(s)
	if err != nil {
		t.unitBad = true
		return
	}
	if u == t.lim.Unit {
		return
	}
	c, err := units.NewConverter(t.lim.Unit, u)
	if err != nil {
		t.unitBad = true
		return
	}
	conv := func(r Range) Range {
		if r.IsZero() {
			return r
		}
		lo, hi := c.Convert(r.Min), c.Convert(r.Max)
		return Range{Min: min(lo, hi), Max: max(lo, hi)}
	}
	t.rng, t.op = conv(t.lim.Range), conv(t.lim.Operating)
	if dc, err := units.NewConverter(t.lim.Unit.Delta(), u.Delta()); err == nil {
		scale, _ := dc.Affine()
		t.rate = t.lim.MaxRate * math.Abs(scale)
	}
}

// timeReasons checks a timestamp against now (Unix ns): missing, older than
// stale or further ahead than skew (both in ns; 0 turns a check off).
func timeReasons(at time.Time, now, stale, skew int64) scada.Reason {
	if at.IsZero() {
		return scada.ReasonNoTimestamp
	}
	var r scada.Reason
	t := at.UnixNano()
	if stale > 0 && now-t > stale {
		r |= scada.ReasonStale
	}
	if skew > 0 && t-now > skew {
		r |= scada.ReasonFuture
	}
	return r
}

// staleNanos and skewNanos apply the documented defaults: 0 means the
// default, a negative value turns the check off (0 ns).
func staleNanos(d time.Duration) int64 { return thresholdNanos(d, DefaultStale) }
func skewNanos(d time.Duration) int64  { return thresholdNanos(d, DefaultFutureSkew) }

func thresholdNanos(d, def time.Duration) int64 {
	switch {
	case d == 0:
		return int64(def)
	case d < 0:
		return 0
	}
	return int64(d)
}

// ValidateStats is a snapshot of a Validator's counters.
type ValidateStats struct {
	Checked  uint64            // points checked
	Flagged  uint64            // points with at least one finding
	Uncached uint64            // points of tags beyond MaxTags (no history)
	Reasons  map[string]uint64 // points per finding name
}

// Stats returns the counters so far.
func (v *Validator) Stats() ValidateStats {
	v.mu.Lock()
	defer v.mu.Unlock()
	s := ValidateStats{Checked: v.stats.checked, Flagged: v.stats.flagged, Uncached: v.stats.uncached, Reasons: map[string]uint64{}}
	for i, n := range v.stats.byReason {
		if n > 0 {
			s.Reasons[(scada.Reason(1) << i).String()] = n
		}
	}
	return s
}
