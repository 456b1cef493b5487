package transform

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"

	"github.com/greenlang/gl001/scada"
)

// Calibration corrects a sensor's raw value: v*Factor + Offset. A zero Factor
// means 1, so the zero Calibration changes nothing.
type Calibration struct {
	Factor float64 // the multiplier (a raw reading's calibration_factor); 0 means 1
	Offset float64 // added after the factor, in the point's unit as delivered
}

func (c Calibration) factor() float64 {
	if c.Factor == 0 {
		return 1
	}
	return c.Factor
}

func (c Calibration) validate() error {
	var errs []error
	if math.IsNaN(c.Factor) || math.IsInf(c.Factor, 0) {
		errs = append(errs, fmt.Errorf("factor %v is not finite", c.Factor))
	}
	if math.IsNaN(c.Offset) || math.IsInf(c.Offset, 0) {
		errs = append(errs, fmt.Errorf("offset %v is not finite", c.Offset))
	}
	return errors.Join(errs...)
}

// CalibrateConfig configures a [Calibrator].
type CalibrateConfig struct {
	// Tags maps a tag to its calibration. Tags not listed use Default.
	Tags map[string]Calibration
	// Default applies to tags not in Tags; the zero value leaves them alone.
	Default Calibration
}

// Validate reports every non-finite factor or offset.
func (c CalibrateConfig) Validate() error {
	var errs []error
	if err := c.Default.validate(); err != nil {
		errs = append(errs, fmt.Errorf("transform: calibrate: default: %w", err))
	}
	for tag, cal := range c.Tags {
		if err := cal.validate(); err != nil {
			errs = append(errs, fmt.Errorf("transform: calibrate: tag %q: %w", tag, err))
		}
	}
	return errors.Join(errs...)
}

// Calibrator is the calibration stage: it applies each tag's factor and offset
// to the value, in the unit the source delivered (so put it before [Converter]
// in a Chain). Points with Bad quality or a non-finite value are passed on
// unchanged. It is safe for concurrent use.
type Calibrator struct {
	tags map[string]Calibration
	def  Calibration

	mu         sync.Mutex
	cache      tagCache[Calibration]
	calibrated uint64
}

// NewCalibrator returns a Calibrator, or the errors of cfg.Validate.
func NewCalibrator(cfg CalibrateConfig) (*Calibrator, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	tags := make(map[string]Calibration, len(cfg.Tags))
	for tag, c := range cfg.Tags {
		tags[tag] = Calibration{Factor: c.factor(), Offset: c.Offset}
	}
	return &Calibrator{tags: tags, def: Calibration{Factor: cfg.Default.factor(), Offset: cfg.Default.Offset}}, nil
}

// Process calibrates batch in place and returns it.
func (c *Calibrator) Process(ctx context.Context, batch []scada.Point) ([]scada.Point, error) {
	if err := ctx.Err(); err != nil {
		return batch, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := range batch {
		p := &batch[i]
		if p.Quality.IsBad() || math.IsNaN(p.Value) || math.IsInf(p.Value, 0) {
			continue
		}
		cal, ok := c.cache.get(p.Tag)
		if !ok {
			if cal, ok = c.tags[p.Tag]; !ok {
				cal = c.def
			}
			c.cache.put(p.Tag, cal)
		}
		if cal.Factor == 1 && cal.Offset == 0 {
			continue
		}
		// One rounding, the same on every platform (Go may fuse a*b+c on some).
		p.Value = math.FMA(p.Value, cal.Factor, cal.Offset)
		c.calibrated++
	}
	return batch, nil
}

// CalibrateStats is a snapshot of a Calibrator's counters.
type CalibrateStats struct {
	Calibrated uint64 // points whose value was changed
}

// Stats returns the counters so far.
func (c *Calibrator) Stats() CalibrateStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return CalibrateStats{Calibrated: c.calibrated}
}
