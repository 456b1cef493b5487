package units

import (
	"errors"
	"strconv"
)

// Sentinel errors. Every error this package returns matches one of them with
// errors.Is. None is retryable: the same input fails the same way.
var (
	// ErrUnknown is matched by every *UnknownError: a name Parse does not know.
	// Not retryable.
	ErrUnknown = errors.New("units: unknown unit")
	// ErrIncompatible is matched by every *IncompatibleError: a conversion
	// between units of different dimensions (kWh to kW), or between gauge and
	// absolute pressure without a reference. Not retryable.
	ErrIncompatible = errors.New("units: incompatible units")
	// ErrNeedsReference is matched by an *IncompatibleError between a gauge and
	// an absolute pressure unit: the conversion exists, but only with an
	// atmospheric reference (see [NewGaugeConverter]). Not retryable.
	ErrNeedsReference = errors.New("units: gauge and absolute pressure need an atmospheric reference")
	// ErrBadReference is returned by [NewGaugeConverter] for an atmospheric
	// reference that is not a finite positive pressure. Not retryable.
	ErrBadReference = errors.New("units: atmospheric reference must be a finite positive pressure in Pa")
)

// UnknownError reports a unit name that [Parse] does not know. It matches
// [ErrUnknown].
type UnknownError struct {
	Name string // the name as given, unmodified
}

func (e *UnknownError) Error() string {
	if e.Name == "" {
		return "units: no unit given"
	}
	// Names come from outside (OPC UA servers, payloads): quote them so control
	// characters and odd bytes stay visible and cannot forge log lines.
	name := e.Name
	if len(name) > maxNameLen {
		name = name[:maxNameLen] + "..."
	}
	return "units: unknown unit " + strconv.Quote(name)
}

// Is reports whether target is [ErrUnknown].
func (e *UnknownError) Is(target error) bool { return target == ErrUnknown }

// IncompatibleError reports a conversion between units that do not convert
// into each other. It matches [ErrIncompatible], and also [ErrNeedsReference]
// when From and To are a gauge and an absolute pressure.
type IncompatibleError struct {
	From, To Unit
}

func (e *IncompatibleError) Error() string {
	if e.needsReference() {
		return "units: cannot convert " + e.From.describe() + " to " + e.To.describe() +
			" without an atmospheric reference (use NewGaugeConverter)"
	}
	return "units: cannot convert " + e.From.describe() + " to " + e.To.describe()
}

// Is reports whether target is [ErrIncompatible], or [ErrNeedsReference] for a
// gauge/absolute pair.
func (e *IncompatibleError) Is(target error) bool {
	return target == ErrIncompatible || (target == ErrNeedsReference && e.needsReference())
}

func (e *IncompatibleError) needsReference() bool {
	return e.From.Dimension() == Pressure && e.To.Dimension() == Pressure &&
		e.From.IsGauge() != e.To.IsGauge()
}
