package opcua

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/gopcua/opcua/ua"

	"github.com/greenlang/gl001/scada"
)

// errNotNumeric is wrapped in a TagError when a Good or Uncertain value has a
// type that is not a number or a Boolean.
var errNotNumeric = fmt.Errorf("value is not numeric: %w", scada.ErrBadInput)

// toFloat converts an OPC UA scalar to float64: every numeric built-in type and
// Boolean (0 or 1). Anything else (strings, arrays, structures) is not a
// sensor value and reports false.
func toFloat(v *ua.Variant) (float64, bool) {
	if v == nil {
		return 0, false
	}
	switch x := v.Value().(type) {
	case float64:
		return x, true
	case float32:
		return float64(x), true
	case int32:
		return float64(x), true
	case uint32:
		return float64(x), true
	case int16:
		return float64(x), true
	case uint16:
		return float64(x), true
	case int64:
		return float64(x), true
	case uint64:
		return float64(x), true
	case int8:
		return float64(x), true
	case uint8:
		return float64(x), true
	case bool:
		if x {
			return 1, true
		}
		return 0, true
	}
	return 0, false
}

// mapValue turns a DataValue into a Point's value, quality and time.
//
// The quality is the status code as the server sent it. A Bad status carries
// no value: Value is 0, never the last good value. Uncertain values are kept.
// The time is the source timestamp, else the server timestamp, else now.
// A Good or Uncertain value that is not numeric becomes BadTypeMismatch and
// errNotNumeric.
func mapValue(dv *ua.DataValue, now time.Time) (value float64, q scada.Quality, t time.Time, err error) {
	if dv == nil {
		return 0, scada.BadNoData, now, nil
	}
	if dv.EncodingMask&ua.DataValueStatusCode != 0 {
		q = scada.Quality(dv.Status)
	}
	switch {
	case dv.EncodingMask&ua.DataValueSourceTimestamp != 0 && !dv.SourceTimestamp.IsZero():
		t = dv.SourceTimestamp
	case dv.EncodingMask&ua.DataValueServerTimestamp != 0 && !dv.ServerTimestamp.IsZero():
		t = dv.ServerTimestamp
	default:
		t = now
	}
	if q.IsBad() {
		return 0, q, t, nil
	}
	if dv.EncodingMask&ua.DataValueValue == 0 {
		return 0, scada.BadNoData, t, nil
	}
	f, ok := toFloat(dv.Value)
	if !ok {
		return 0, scada.BadTypeMismatch, t, errNotNumeric
	}
	if math.IsNaN(f) && q.IsGood() {
		// A NaN is not a measurement; keep it visible but not Good.
		q = scada.UncertainSensorNotAccurate
	}
	return f, q, t, nil
}

// fromFloat converts a setpoint to the variant type the node holds, refusing
// values the type cannot represent exactly enough (out of range, fractions for
// integers, NaN).
func fromFloat(f float64, like *ua.Variant) (*ua.Variant, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil, fmt.Errorf("value %v is not finite: %w", f, scada.ErrBadInput)
	}
	intIn := func(lo, hi float64) error {
		if f != math.Trunc(f) || f < lo || f > hi {
			return fmt.Errorf("value %v does not fit the node's type %s: %w", f, variantType(like), scada.ErrBadInput)
		}
		return nil
	}
	var v any
	var err error
	switch like.Value().(type) {
	case float64:
		v = f
	case float32:
		if math.Abs(f) > math.MaxFloat32 {
			err = intIn(1, 0) // always fails, with the same message
		}
		v = float32(f)
	case int8:
		err, v = intIn(math.MinInt8, math.MaxInt8), int8(f)
	case uint8:
		err, v = intIn(0, math.MaxUint8), uint8(f)
	case int16:
		err, v = intIn(math.MinInt16, math.MaxInt16), int16(f)
	case uint16:
		err, v = intIn(0, math.MaxUint16), uint16(f)
	case int32:
		err, v = intIn(math.MinInt32, math.MaxInt32), int32(f)
	case uint32:
		err, v = intIn(0, math.MaxUint32), uint32(f)
	case int64:
		err, v = intIn(-(1<<53), 1<<53), int64(f)
	case uint64:
		err, v = intIn(0, 1<<53), uint64(f)
	case bool:
		if f != 0 && f != 1 {
			err = fmt.Errorf("value %v for a Boolean node: want 0 or 1: %w", f, scada.ErrBadInput)
		}
		v = f == 1
	default:
		return nil, fmt.Errorf("node holds %s, not a number: %w", variantType(like), scada.ErrBadInput)
	}
	if err != nil {
		return nil, err
	}
	return ua.NewVariant(v)
}

// variantType names a variant's type as OPC UA does ("Int16", "Double").
func variantType(v *ua.Variant) string { return strings.TrimPrefix(v.Type().String(), "TypeID") }

var errNoValue = errors.New("node has no value to take the type from")
