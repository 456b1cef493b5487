package transform

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/greenlang/gl001/scada"
)

// DefaultHeartbeat is how often a Deadband passes an unchanged value when
// DeadbandConfig.Heartbeat is zero.
const DefaultHeartbeat = time.Minute

// DeadbandConfig configures a [Deadband].
type DeadbandConfig struct {
	// Tags maps a tag to its deadband: the change, in the point's unit, below
	// which a new value is not passed on. Tags not listed use Default.
	Tags map[string]float64
	// Default is the deadband of tags not in Tags. Zero passes every change and
	// drops only repeats of the same value.
	Default float64
	// Heartbeat passes a value at least this often per tag, changed or not, so
	// consumers can tell a steady value from a dead source. 0 means
	// DefaultHeartbeat; a negative value never passes an unchanged value.
	Heartbeat time.Duration
	// MaxTags bounds the per-tag state; 0 means DefaultMaxTags. Points of tags
	// beyond it are all passed.
	MaxTags int
}

// Validate reports every problem with c.
func (c DeadbandConfig) Validate() error {
	var errs []error
	check := func(what string, band float64) {
		if math.IsNaN(band) || math.IsInf(band, 0) || band < 0 {
			errs = append(errs, fmt.Errorf("transform: deadband: %s: band %v is not a finite non-negative number", what, band))
		}
	}
	check("default", c.Default)
	for tag, band := range c.Tags {
		check(fmt.Sprintf("tag %q", tag), band)
	}
	if c.MaxTags < 0 {
		errs = append(errs, fmt.Errorf("transform: deadband: MaxTags %d is negative", c.MaxTags))
	}
	return errors.Join(errs...)
}

// Deadband is the deadband and dedupe stage, a filter: it leaves out a point
// that repeats what its tag last passed (same timestamp, value and quality: a
// redelivery), and a point whose value moved less than the tag's deadband since
// the last passed value, with the same quality and unit, unless the heartbeat
// is due. A change of quality or unit always passes, and so does every point
// with Bad quality or a non-finite value: points are never dropped for being
// bad. Points older than the tag's last passed point (a replay) pass and do
// not move the reference.
//
// It filters in place: the result shares batch's array. It is safe for
// concurrent use.
type Deadband struct {
	bands     map[string]float64
	def       float64
	heartbeat int64 // ns; 0 never
	maxTags   int

	mu    sync.Mutex
	last  map[string]*dbTag
	cache tagCache[*dbTag]
	stats DeadbandStats
}

type dbTag struct {
	value   float64
	t       int64
	quality scada.Quality
	unit    string
	band    float64
}

// NewDeadband returns a Deadband, or the errors of cfg.Validate.
func NewDeadband(cfg DeadbandConfig) (*Deadband, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	d := &Deadband{bands: make(map[string]float64, len(cfg.Tags)), def: cfg.Default,
		heartbeat: int64(cfg.Heartbeat), maxTags: cfg.MaxTags, last: make(map[string]*dbTag)}
	for tag, band := range cfg.Tags {
		d.bands[tag] = band
	}
	switch {
	case cfg.Heartbeat == 0:
		d.heartbeat = int64(DefaultHeartbeat)
	case cfg.Heartbeat < 0:
		d.heartbeat = 0
	}
	if d.maxTags == 0 {
		d.maxTags = DefaultMaxTags
	}
	return d, nil
}

// Process filters batch in place and returns the points passed.
func (d *Deadband) Process(ctx context.Context, batch []scada.Point) ([]scada.Point, error) {
	if err := ctx.Err(); err != nil {
		return batch, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	out := batch[:0]
	for i := range batch {
		if d.pass(&batch[i]) {
			out = append(out, batch[i])
			d.stats.Passed++
		}
	}
	return out, nil
}

func (d *Deadband) pass(p *scada.Point) bool {
	if p.Quality.IsBad() || math.IsNaN(p.Value) || math.IsInf(p.Value, 0) {
		return true
	}
	t := p.Time.UnixNano()
	last, ok := d.cache.get(p.Tag)
	if !ok {
		if last = d.last[p.Tag]; last != nil {
			d.cache.put(p.Tag, last)
		}
	}
	if last == nil {
		if len(d.last) >= d.maxTags {
			return true
		}
		band, ok := d.bands[p.Tag]
		if !ok {
			band = d.def
		}
		last = &dbTag{value: p.Value, t: t, quality: p.Quality, unit: p.Unit, band: band}
		d.last[p.Tag] = last
		d.cache.put(p.Tag, last)
		return true
	}
	switch {
	case t < last.t:
		return true // a replay of older data: pass, keep the reference
	case t == last.t && p.Value == last.value && p.Quality == last.quality && p.Unit == last.unit:
		d.stats.Duplicates++
		return false
	case p.Quality == last.quality && p.Unit == last.unit && math.Abs(p.Value-last.value) <= last.band &&
		(d.heartbeat == 0 || t-last.t < d.heartbeat):
		d.stats.Suppressed++
		return false
	}
	last.value, last.t, last.quality, last.unit = p.Value, t, p.Quality, p.Unit
	return true
}

// DeadbandStats is a snapshot of a Deadband's counters.
type DeadbandStats struct {
	Passed     uint64 // points passed on
	Duplicates uint64 // redeliveries left out
	Suppressed uint64 // points within the deadband left out
}

// Stats returns the counters so far.
func (d *Deadband) Stats() DeadbandStats {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.stats
}
