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
	if typ == Uint16 && len(b) == 2 && !o.byteSwap() {
		return float64(uint16(b[0])<<8 | uint16(b[1])), nil // the common case
	}
	if n := typ.registers(0); n == 0 || len(b) != 2*n {
		return 0, fmt.Errorf("modbus: %d bytes for a %s: %w", len(b), typ, errDecode)
	}
	var buf [8]byte
	c := buf[:len(b)]
	canonical(c, b, o)
	switch typ {
	case Bool:
		if bit < 0 || bit > 15 {
			return 0, fmt.Errorf("modbus: bit %d: %w", bit, errDecode)
		}
		return float64(binary.BigEndian.Uint16(c) >> bit & 1), nil
	case Int16:
		return float64(int16(binary.BigEndian.Uint16(c))), nil
	case Uint16:
		return float64(binary.BigEndian.Uint16(c)), nil
	case Int32:
		return float64(int32(binary.BigEndian.Uint32(c))), nil
	case Uint32:
		return float64(binary.BigEndian.Uint32(c)), nil
	case Float32:
		return float64(math.Float32frombits(binary.BigEndian.Uint32(c))), nil
	case Int64:
		return float64(int64(binary.BigEndian.Uint64(c))), nil
	case Uint64:
		return float64(binary.BigEndian.Uint64(c)), nil
	case Float64:
		return math.Float64frombits(binary.BigEndian.Uint64(c)), nil
	}
	return 0, fmt.Errorf("modbus: type %s: %w", typ, errDecode)
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
