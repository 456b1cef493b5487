package transform

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"

	"github.com/greenlang/gl001/scada"
	"github.com/greenlang/gl001/units"
)

// DefaultMaxTags bounds the per-tag state a stage keeps when its config leaves
// MaxTags zero. Tags beyond it are still processed, without per-tag caching or
// history, and counted.
const DefaultMaxTags = 100_000

// EngineeringUnits returns the target units plant engineers read, one per
// dimension: °C, Δ°C, kPa, m³/h, kg/h, kWh, kW, kg, m³ and %. Use it as
// ConvertConfig.Dimensions to normalize every point whose tag has no target
// of its own, with [EngineeringGaugeUnit] as ConvertConfig.GaugePressure.
// Each call returns a new map.
func EngineeringUnits() map[units.Dimension]units.Unit {
	return map[units.Dimension]units.Unit{
		units.Temperature:           units.MustParse("°C"),
		units.TemperatureDifference: units.MustParse("Δ°C"),
		units.Pressure:              units.MustParse("kPa"),
		units.VolumeFlow:            units.MustParse("m³/h"),
		units.MassFlow:              units.MustParse("kg/h"),
		units.Energy:                units.MustParse("kWh"),
		units.Power:                 units.MustParse("kW"),
		units.Mass:                  units.MustParse("kg"),
		units.Volume:                units.MustParse("m³"),
		units.Dimensionless:         units.MustParse("%"),
	}
}

// EngineeringGaugeUnit returns kPag, the gauge counterpart of the kPa in
// [EngineeringUnits], for ConvertConfig.GaugePressure.
func EngineeringGaugeUnit() units.Unit { return units.MustParse("kPag") }

// engineeringUnits is the read-only default of ProcessReading.
var engineeringUnits = EngineeringUnits()

// ConvertConfig configures a [Converter].
type ConvertConfig struct {
	// Tags maps a tag to the unit its points must be converted to. A point whose
	// unit is unknown or does not convert to its tag's unit is marked
	// (scada.ReasonUnit), not dropped.
	Tags map[string]units.Unit
	// Dimensions gives the target unit per dimension for tags not in Tags (see
	// [EngineeringUnits]). With Dimensions set, a point whose unit is unknown is
	// marked; nil leaves points of unlisted tags as they are, unparsed.
	Dimensions map[units.Dimension]units.Unit
	// Atmosphere, in Pa, is the reference for converting between gauge and
	// absolute pressure (see units.NewGaugeConverter). Zero means none: a gauge
	// point whose tag targets an absolute unit (or the reverse) is marked.
	Atmosphere float64
	// GaugePressure is the target of gauge pressure points of tags not in Tags
	// when Atmosphere is zero (kPag, say: see [EngineeringGaugeUnit]). Zero
	// leaves such points in their unit. With Atmosphere set they follow
	// Dimensions and become absolute.
	GaugePressure units.Unit
	// MaxTags bounds the per-tag cache; 0 means DefaultMaxTags.
	MaxTags int
	// Logger receives one warning per distinct unknown unit name. Nil discards.
	Logger *slog.Logger
}

// Validate reports every problem with c.
func (c ConvertConfig) Validate() error {
	var errs []error
	for tag, u := range c.Tags {
		if u.IsZero() {
			errs = append(errs, fmt.Errorf("transform: convert: tag %q: no target unit", tag))
		}
	}
	for d, u := range c.Dimensions {
		if u.Dimension() != d {
			errs = append(errs, fmt.Errorf("transform: convert: target for %v is %q, of dimension %v", d, u, u.Dimension()))
		}
	}
	if !c.GaugePressure.IsZero() && !c.GaugePressure.IsGauge() {
		errs = append(errs, fmt.Errorf("transform: convert: gauge pressure target %q is not a gauge pressure unit", c.GaugePressure))
	}
	if math.IsNaN(c.Atmosphere) || math.IsInf(c.Atmosphere, 0) || c.Atmosphere < 0 {
		errs = append(errs, fmt.Errorf("transform: convert: atmosphere %v Pa is not a finite positive pressure", c.Atmosphere))
	}
	if c.MaxTags < 0 {
		errs = append(errs, fmt.Errorf("transform: convert: MaxTags %d is negative", c.MaxTags))
	}
	return errors.Join(errs...)
}

// Converter is the unit conversion stage: it converts each point's value to
// its tag's target unit (or its dimension's) and sets Unit to the target's
// canonical symbol. A point already in the target unit under another
// spelling ("degF" for °F) gets the canonical symbol. Points with Bad quality or
// no unit are passed on unchanged; the [Validator] reports a missing unit.
//
// Conversions are resolved once per tag and unit spelling and then cost one
// fused multiply-add. It is safe for concurrent use.
type Converter struct {
	cfg     ConvertConfig
	maxTags int

	mu     sync.Mutex
	tags   map[string]*convTag
	cache  tagCache[*convTag]
	parsed map[string]parsedUnit // unit spelling -> unit, bounded
	stats  ConvertStats
	spare  convTag // scratch for tags beyond maxTags
}

type parsedUnit struct {
	u  units.Unit
	ok bool
}

type convAction uint8

const (
	actNone    convAction = iota // leave the point alone
	actConvert                   // convert and relabel
	actMark                      // mark scada.ReasonUnit
)

// convTag caches, for one tag, the resolution of the last unit spelling seen.
type convTag struct {
	target units.Unit // zero: use cfg.Dimensions
	unit   string     // the spelling resolved below
	act    convAction
	conv   units.Converter
	sym    string
	known  bool // the spelling is a known unit (for stats)
}

// NewConverter returns a Converter, or the errors of cfg.Validate.
func NewConverter(cfg ConvertConfig) (*Converter, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	c := &Converter{cfg: cfg, maxTags: cfg.MaxTags, tags: make(map[string]*convTag), parsed: make(map[string]parsedUnit)}
	if c.maxTags == 0 {
		c.maxTags = DefaultMaxTags
	}
	for tag, u := range cfg.Tags {
		c.tags[tag] = &convTag{target: u}
	}
	return c, nil
}

// Process converts batch in place and returns it.
func (c *Converter) Process(ctx context.Context, batch []scada.Point) ([]scada.Point, error) {
	if err := ctx.Err(); err != nil {
		return batch, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := range batch {
		p := &batch[i]
		if p.Quality.IsBad() || p.Unit == "" {
			continue
		}
		t, ok := c.cache.get(p.Tag)
		if !ok {
			t = c.tags[p.Tag]
		}
		if t == nil {
			if c.cfg.Dimensions == nil {
				continue // no target for this tag
			}
			if len(c.tags) < c.maxTags {
				t = &convTag{}
				c.tags[p.Tag] = t
				c.cache.put(p.Tag, t)
			} else {
				c.stats.Uncached++
				c.spare = convTag{}
				t = &c.spare
			}
		} else if !ok {
			c.cache.put(p.Tag, t)
		}
		if t.unit != p.Unit {
			c.resolve(t, p.Unit)
		}
		switch t.act {
		case actConvert:
			p.Value = t.conv.Convert(p.Value)
			p.Unit = t.sym
			c.stats.Converted++
		case actMark:
			p.Quality = Mark(scada.ReasonUnit, p.Quality)
			if p.Scored {
				p.Reasons |= scada.ReasonUnit
				p.Score = 0
			}
			if t.known {
				c.stats.Incompatible++
			} else {
				c.stats.UnknownUnit++
			}
		}
	}
	return batch, nil
}

// resolve works out what to do with points of tag t in the unit spelled s.
func (c *Converter) resolve(t *convTag, s string) {
	t.unit, t.act, t.sym, t.known = s, actNone, "", false
	src, ok := c.parse(s)
	if !ok {
		t.act = actMark
		return
	}
	t.known = true
	target, explicit := t.target, !t.target.IsZero()
	switch {
	case explicit:
	case src.IsGauge() && c.cfg.Atmosphere == 0 && !c.cfg.GaugePressure.IsZero():
		target = c.cfg.GaugePressure
	default:
		if target, ok = c.cfg.Dimensions[src.Dimension()]; !ok {
			return
		}
	}
	conv, err := units.NewConverter(src, target)
	if errors.Is(err, units.ErrNeedsReference) {
		switch {
		case c.cfg.Atmosphere > 0:
			conv, err = units.NewGaugeConverter(src, target, c.cfg.Atmosphere)
		case !explicit:
			return // a gauge reading stays gauge when only the dimension default asks otherwise
		}
	}
	if err != nil {
		t.act = actMark
		return
	}
	t.act, t.conv, t.sym = actConvert, conv, target.Symbol()
}

// parse resolves a unit spelling through a bounded cache, logging each new
// unknown spelling once.
func (c *Converter) parse(s string) (units.Unit, bool) {
	if pu, ok := c.parsed[s]; ok {
		return pu.u, pu.ok
	}
	u, err := units.Parse(s)
	if len(c.parsed) < 4096 {
		c.parsed[s] = parsedUnit{u: u, ok: err == nil}
		if err != nil {
			c.cfg.Logger.Warn("transform: unknown unit; points marked", "unit", s, "err", err)
		}
	}
	return u, err == nil
}

// ConvertStats is a snapshot of a Converter's counters.
type ConvertStats struct {
	Converted    uint64 // points converted (or relabelled)
	UnknownUnit  uint64 // points marked: unit name unknown
	Incompatible uint64 // points marked: unit does not convert to the target
	Uncached     uint64 // points of tags beyond MaxTags
}

// Stats returns the counters so far.
func (c *Converter) Stats() ConvertStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stats
}
