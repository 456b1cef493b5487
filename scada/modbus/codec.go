package modbus

import (
	"encoding/binary"
	"fmt"
	"math"
	"strings"
)

// canonical copies the registers in b (wire order, two bytes each) into dst in
// big-endian ABCD order, undoing the word and byte order o. len(dst) == len(b).
// The transformation is its own inverse, so it also encodes.
func canonical(dst, b []byte, o Order) {
	words := len(b) / 2
	for i := range words {
		src := i
		if o.wordSwap() {
			src = words - 1 - i
		}
		hi, lo := b[2*src], b[2*src+1]
		if o.byteSwap() {
			hi, lo = lo, hi
		}
		dst[2*i], dst[2*i+1] = hi, lo
	}
}

// decodeRegisters decodes a numeric value of type typ from its registers b
// (wire order). b must hold exactly typ.registers() registers; bit is used
// for Bool.
func decodeRegisters(typ Type, o Order, bit int, b []byte) (float64, error) {
	n := typ.registers(0)
	if n == 0 || len(b) != 2*n {
		return 0, fmt.Errorf("modbus: %d bytes for a %s: %w", len(b), typ, errDecode)
	}
	switch n {
	case 1:
		v := uint16(b[0])<<8 | uint16(b[1])
		if o.byteSwap() {
			v = v<<8 | v>>8
		}
		switch typ {
		case Bool:
			if bit < 0 || bit > 15 {
				return 0, fmt.Errorf("modbus: bit %d: %w", bit, errDecode)
			}
			return float64(v >> bit & 1), nil
		case Int16:
			return float64(int16(v)), nil
		}
		return float64(v), nil
	case 2:
		var v uint32
		switch o {
		case ABCD:
			v = uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
		case CDAB:
			v = uint32(b[2])<<24 | uint32(b[3])<<16 | uint32(b[0])<<8 | uint32(b[1])
		case BADC:
			v = uint32(b[1])<<24 | uint32(b[0])<<16 | uint32(b[3])<<8 | uint32(b[2])
		default: // DCBA
			v = uint32(b[3])<<24 | uint32(b[2])<<16 | uint32(b[1])<<8 | uint32(b[0])
		}
		switch typ {
		case Int32:
			return float64(int32(v)), nil
		case Float32:
			return float64(math.Float32frombits(v)), nil
		}
		return float64(v), nil
	}
	var buf [8]byte
	canonical(buf[:], b, o)
	v := binary.BigEndian.Uint64(buf[:])
	switch typ {
	case Int64:
		return float64(int64(v)), nil
	case Float64:
		return math.Float64frombits(v), nil
	}
	return float64(v), nil
}

// decodeText decodes a String tag's registers: two characters a register,
// high byte first unless o swaps bytes. Trailing NULs and spaces are dropped
// (devices pad fixed-size fields with either) and invalid UTF-8 is replaced.
func decodeText(o Order, b []byte) string {
	s := make([]byte, len(b)&^1)
	for i := 0; i+1 < len(b); i += 2 {
		if o.byteSwap() {
			s[i], s[i+1] = b[i+1], b[i]
		} else {
			s[i], s[i+1] = b[i], b[i+1]
		}
	}
	return strings.ToValidUTF8(strings.TrimRight(string(s), "\x00 "), "\uFFFD")
}

// bitAt returns bit i of a coil or discrete-input response payload (LSB of the
// first byte is the first bit).
func bitAt(b []byte, i int) float64 {
	return float64(b[i/8] >> (i % 8) & 1)
}

// encodeRegisters encodes raw (the value before Scale and Offset) as typ in
// order o, for a write. Integers are rounded to the nearest; a value outside
// the type's range, NaN or an infinity fails with ErrOutOfRange.
func encodeRegisters(typ Type, o Order, raw float64) ([]byte, error) {
	if math.IsNaN(raw) || math.IsInf(raw, 0) {
		return nil, fmt.Errorf("modbus: %v is not a %s: %w", raw, typ, ErrOutOfRange)
	}
	r := math.Round(raw)
	var c []byte
	inRange := true
	switch typ {
	case Int16, Uint16:
		if typ == Int16 {
			inRange = r >= math.MinInt16 && r <= math.MaxInt16
		} else {
			inRange = r >= 0 && r <= math.MaxUint16
		}
		c = binary.BigEndian.AppendUint16(nil, uint16(int64(r)))
	case Int32, Uint32:
		if typ == Int32 {
			inRange = r >= math.MinInt32 && r <= math.MaxInt32
		} else {
			inRange = r >= 0 && r <= math.MaxUint32
		}
		c = binary.BigEndian.AppendUint32(nil, uint32(int64(r)))
	case Float32:
		inRange = math.Abs(raw) <= math.MaxFloat32
		c = binary.BigEndian.AppendUint32(nil, math.Float32bits(float32(raw)))
	case Int64:
		inRange = r >= -(1<<63) && r < 1<<63
		c = binary.BigEndian.AppendUint64(nil, uint64(int64(r)))
	case Uint64:
		inRange = r >= 0 && r < 1<<64
		if inRange {
			c = binary.BigEndian.AppendUint64(nil, uint64(r))
		}
	case Float64:
		c = binary.BigEndian.AppendUint64(nil, math.Float64bits(raw))
	default:
		return nil, fmt.Errorf("modbus: a %s cannot be written: %w", typ, ErrOutOfRange)
	}
	if !inRange {
		return nil, fmt.Errorf("modbus: %v does not fit a %s: %w", raw, typ, ErrOutOfRange)
	}
	out := make([]byte, len(c))
	canonical(out, c, o)
	return out, nil
}

func isNaNOrInf(f float64) bool { return math.IsNaN(f) || math.IsInf(f, 0) }
