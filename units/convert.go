package units

import (
	"math"
	"math/big"
	"sync"
	"sync/atomic"
)

// StandardAtmosphere is the standard atmosphere, 101 325 Pa exactly (NIST SP
// 811 B.8): a reference for [NewGaugeConverter] when no barometer reading is
// at hand.
const StandardAtmosphere = 101325.0

// Converter converts values from one unit to another. It is resolved once, by
// [NewConverter] or [NewGaugeConverter], and then converts without allocating,
// parsing or failing: use it in hot loops.
//
// Every conversion this package knows is affine, v*scale + offset, including
// temperatures (an offset) and gauge-to-absolute pressure (the reference as
// offset). The coefficients are computed exactly from the defined constants and
// rounded once, and Convert evaluates v*scale + offset with a single rounding
// (fused multiply-add), so results are the same on every platform.
//
// The zero Converter is not usable: it converts everything to 0.
type Converter struct {
	scale, offset float64
	from, to      Unit
}

// Convert returns v, measured in c's source unit, in c's target unit.
func (c Converter) Convert(v float64) float64 { return math.FMA(v, c.scale, c.offset) }

// From returns the unit c converts from.
func (c Converter) From() Unit { return c.from }

// To returns the unit c converts to.
func (c Converter) To() Unit { return c.to }

// Affine returns c's coefficients: Convert(v) is v*scale + offset. A caller that
// folds conversion into its own arithmetic (a calibration, say) uses them.
func (c Converter) Affine() (scale, offset float64) { return c.scale, c.offset }

// NewConverter returns a Converter from one unit to another of the same
// dimension. Each pair is resolved once per process and then cached. Units of different dimensions (kWh to kW, a temperature to a
// temperature difference), the zero Unit, and a gauge with an absolute pressure
// return an *[IncompatibleError]; the last also matches [ErrNeedsReference] (use
// [NewGaugeConverter]).
func NewConverter(from, to Unit) (Converter, error) {
	if err := compatible(from, to); err != nil {
		return Converter{}, err
	}
	slot := &pairs()[int(from.id)*len(table)+int(to.id)]
	if c := slot.Load(); c != nil {
		return *c, nil
	}
	c := newAffine(from, to, nil)
	slot.Store(&c)
	return c, nil
}

// pairs caches the resolved Converter of every (from, to) pair, so that
// resolving one costs a lookup after the first time. It is allocated on first
// use: len(table)² pointers.
var pairs = sync.OnceValue(func() []atomic.Pointer[Converter] {
	return make([]atomic.Pointer[Converter], len(table)*len(table))
})

// NewGaugeConverter returns a Converter between two pressure units, either of
// which may be gauge, using atmosphere (the absolute pressure of the local
// atmosphere, in Pa) as the reference: absolute = gauge + atmosphere. Use
// [StandardAtmosphere] when no barometer reading is at hand. Between two gauge
// or two absolute units the reference plays no part. An atmosphere that is not
// finite and positive returns an error matching [ErrBadReference]; units that
// are not both pressures return an *[IncompatibleError].
func NewGaugeConverter(from, to Unit, atmosphere float64) (Converter, error) {
	if math.IsNaN(atmosphere) || math.IsInf(atmosphere, 0) || atmosphere <= 0 {
		return Converter{}, ErrBadReference
	}
	if from.Dimension() != Pressure || to.Dimension() != Pressure {
		return Converter{}, &IncompatibleError{From: from, To: to}
	}
	var ref *big.Rat
	switch {
	case from.IsGauge() && !to.IsGauge():
		ref = new(big.Rat).SetFloat64(atmosphere)
	case !from.IsGauge() && to.IsGauge():
		ref = new(big.Rat).SetFloat64(-atmosphere)
	}
	return newAffine(from, to, ref), nil
}

// Convert converts v from the unit named from to the unit named to, parsing
// both names with [Parse]: Convert(212, "fahrenheit", "celsius") is 100. It
// returns an *[UnknownError] for a name Parse does not know and an
// *[IncompatibleError] for units that do not convert into each other. It
// allocates nothing once the pair has been resolved, but parses both names on
// every call: in a loop, resolve a [Converter] once with [NewConverter].
func Convert(v float64, from, to string) (float64, error) {
	f, err := Parse(from)
	if err != nil {
		return 0, err
	}
	t, err := Parse(to)
	if err != nil {
		return 0, err
	}
	c, err := NewConverter(f, t)
	if err != nil {
		return 0, err
	}
	return c.Convert(v), nil
}

func compatible(from, to Unit) error {
	if from.IsZero() || to.IsZero() || from.Dimension() != to.Dimension() || from.IsGauge() != to.IsGauge() {
		return &IncompatibleError{From: from, To: to}
	}
	return nil
}

// newAffine computes, in exact rational arithmetic, the coefficients of
//
//	out = (v*s_from + o_from + ref - o_to) / s_to
//
// and rounds each once to float64. ref (in SI units) may be nil.
func newAffine(from, to Unit, ref *big.Rat) Converter {
	f, t := from.def(), to.def()
	scale := new(big.Rat).Quo(f.scale, t.scale)
	off := new(big.Rat)
	if f.offset != nil {
		off.Add(off, f.offset)
	}
	if ref != nil {
		off.Add(off, ref)
	}
	if t.offset != nil {
		off.Sub(off, t.offset)
	}
	off.Quo(off, t.scale)
	a, _ := scale.Float64()
	b, _ := off.Float64()
	return Converter{scale: a, offset: b, from: from, to: to}
}
