package modbus

import (
	"encoding/binary"
	"errors"
	"math"
	"testing"
	"unicode/utf8"

	"github.com/greenlang/gl001/scada"
)

// golden holds known encodings, written out by hand for every type and
// order: the registers as a device sends them and the value they mean.
var golden = []struct {
	typ   Type
	order Order
	bit   int
	regs  []uint16
	want  float64
}{
	{Uint16, ABCD, 0, []uint16{0x1234}, 0x1234},
	{Uint16, CDAB, 0, []uint16{0x1234}, 0x1234},
	{Uint16, BADC, 0, []uint16{0x3412}, 0x1234},
	{Uint16, DCBA, 0, []uint16{0x3412}, 0x1234},
	{Int16, ABCD, 0, []uint16{0xFFFE}, -2},
	{Int16, CDAB, 0, []uint16{0xFFFE}, -2},
	{Int16, BADC, 0, []uint16{0xFEFF}, -2},
	{Int16, DCBA, 0, []uint16{0xFEFF}, -2},
	{Int16, ABCD, 0, []uint16{0x8000}, math.MinInt16},

	{Float32, ABCD, 0, []uint16{0x42F6, 0xE979}, float64(float32(123.456))},
	{Float32, CDAB, 0, []uint16{0xE979, 0x42F6}, float64(float32(123.456))},
	{Float32, BADC, 0, []uint16{0xF642, 0x79E9}, float64(float32(123.456))},
	{Float32, DCBA, 0, []uint16{0x79E9, 0xF642}, float64(float32(123.456))},
	{Float32, ABCD, 0, []uint16{0xBFC0, 0x0000}, -1.5},
	{Int32, ABCD, 0, []uint16{0xF8A4, 0x32EB}, -123456789},
	{Int32, CDAB, 0, []uint16{0x32EB, 0xF8A4}, -123456789},
	{Int32, BADC, 0, []uint16{0xA4F8, 0xEB32}, -123456789},
	{Int32, DCBA, 0, []uint16{0xEB32, 0xA4F8}, -123456789},
	{Uint32, ABCD, 0, []uint16{0xDEAD, 0xBEEF}, 0xDEADBEEF},
	{Uint32, CDAB, 0, []uint16{0xBEEF, 0xDEAD}, 0xDEADBEEF},
	{Uint32, BADC, 0, []uint16{0xADDE, 0xEFBE}, 0xDEADBEEF},
	{Uint32, DCBA, 0, []uint16{0xEFBE, 0xADDE}, 0xDEADBEEF},

	{Uint64, ABCD, 0, []uint16{0x0102, 0x0304, 0x0506, 0x0708}, 0x0102030405060708},
	{Uint64, CDAB, 0, []uint16{0x0708, 0x0506, 0x0304, 0x0102}, 0x0102030405060708},
	{Uint64, BADC, 0, []uint16{0x0201, 0x0403, 0x0605, 0x0807}, 0x0102030405060708},
	{Uint64, DCBA, 0, []uint16{0x0807, 0x0605, 0x0403, 0x0201}, 0x0102030405060708},
	{Uint64, CDAB, 0, []uint16{0x0001, 0x0000, 0x0000, 0x0010}, 1<<52 + 1},
	{Int64, ABCD, 0, []uint16{0xFFFF, 0xFEE0, 0x8E04, 0xFB35}, -1234567890123},
	{Int64, CDAB, 0, []uint16{0xFB35, 0x8E04, 0xFEE0, 0xFFFF}, -1234567890123},
	{Int64, BADC, 0, []uint16{0xFFFF, 0xE0FE, 0x048E, 0x35FB}, -1234567890123},
	{Int64, DCBA, 0, []uint16{0x35FB, 0x048E, 0xE0FE, 0xFFFF}, -1234567890123},
	{Float64, ABCD, 0, []uint16{0x4009, 0x21FB, 0x5444, 0x2D18}, math.Pi},
	{Float64, CDAB, 0, []uint16{0x2D18, 0x5444, 0x21FB, 0x4009}, math.Pi},
	{Float64, BADC, 0, []uint16{0x0940, 0xFB21, 0x4454, 0x182D}, math.Pi},
	{Float64, DCBA, 0, []uint16{0x182D, 0x4454, 0xFB21, 0x0940}, math.Pi},
	{Float64, ABCD, 0, []uint16{0xBFB9, 0x9999, 0x9999, 0x999A}, -0.1},

	{Bool, ABCD, 0, []uint16{0x0001}, 1},
	{Bool, ABCD, 3, []uint16{0x0008}, 1},
	{Bool, ABCD, 3, []uint16{0xFFF7}, 0},
	{Bool, ABCD, 15, []uint16{0x8000}, 1},
	{Bool, BADC, 15, []uint16{0x0080}, 1},
	{Bool, BADC, 0, []uint16{0x0100}, 1},
}

func wire(regs []uint16) []byte {
	b := make([]byte, 0, 2*len(regs))
	for _, r := range regs {
		b = binary.BigEndian.AppendUint16(b, r)
	}
	return b
}

func TestDecodeGolden(t *testing.T) {
	for _, g := range golden {
		got, err := decodeRegisters(g.typ, g.order, g.bit, wire(g.regs))
		if err != nil || got != g.want {
			t.Errorf("%s %s bit %d %04X: got %v, %v; want %v", g.typ, g.order, g.bit, g.regs, got, err, g.want)
		}
	}
}

func TestEncodeGolden(t *testing.T) {
	for _, g := range golden {
		if g.typ == Bool || math.Abs(g.want) > 1<<53 {
			continue // bits are not written; a float64 does not hold every 64-bit integer
		}
		got, err := encodeRegisters(g.typ, g.order, g.want)
		if err != nil || string(got) != string(wire(g.regs)) {
			t.Errorf("encode %v as %s %s: got % X, %v; want % X", g.want, g.typ, g.order, got, err, wire(g.regs))
		}
	}
}

func TestEncodeRange(t *testing.T) {
	for _, c := range []struct {
		typ Type
		v   float64
		ok  bool
	}{
		{Int16, 32767, true}, {Int16, 32768, false}, {Int16, -32768, true}, {Int16, -32769, false},
		{Uint16, 65535, true}, {Uint16, -1, false}, {Uint16, 65535.4, true}, {Uint16, 65535.6, false},
		{Int32, math.MaxInt32, true}, {Int32, math.MaxInt32 + 1, false},
		{Uint32, math.MaxUint32, true}, {Uint32, -0.6, false},
		{Int64, -(1 << 63), true}, {Int64, 1 << 63, false},
		{Uint64, 1 << 63, true}, {Uint64, 1 << 64, false}, {Uint64, -1, false},
		{Float32, math.MaxFloat32, true}, {Float32, math.MaxFloat64, false},
		{Float64, math.MaxFloat64, true}, {Float64, math.NaN(), false}, {Float64, math.Inf(-1), false},
		{String, 1, false}, {Bool, 1, false},
	} {
		_, err := encodeRegisters(c.typ, ABCD, c.v)
		if (err == nil) != c.ok || (err != nil && !errors.Is(err, ErrOutOfRange)) {
			t.Errorf("encode %v as %s: err %v, want ok=%v", c.v, c.typ, err, c.ok)
		}
	}
}

func TestDecodeText(t *testing.T) {
	for _, c := range []struct {
		order Order
		regs  []uint16
		want  string
	}{
		{ABCD, []uint16{0x4142, 0x3132}, "AB12"},
		{CDAB, []uint16{0x4142, 0x3132}, "AB12"},
		{BADC, []uint16{0x4241, 0x3231}, "AB12"},
		{DCBA, []uint16{0x4241, 0x3231}, "AB12"},
		{ABCD, []uint16{0x4F4B, 0x0000, 0x0000}, "OK"},
		{ABCD, []uint16{0x4F4B, 0x2020}, "OK"},
		{ABCD, []uint16{0xFF41}, "\uFFFDA"},
	} {
		if got := decodeText(c.order, wire(c.regs)); got != c.want {
			t.Errorf("%s %04X: got %q, want %q", c.order, c.regs, got, c.want)
		}
	}
}

func TestDecodeWrongLength(t *testing.T) {
	for _, typ := range []Type{Int16, Int32, Float32, Int64, Float64} {
		b := make([]byte, 2*typ.registers(0)+2)
		if _, err := decodeRegisters(typ, ABCD, 0, b); !errors.Is(err, scada.ErrBadInput) {
			t.Errorf("%s from %d bytes: err %v, want ErrBadInput", typ, len(b), err)
		}
	}
}

// FuzzDecodeRegisters checks that any registers, type, order and bit decode
// without panicking, and that values that decode re-encode to the same
// registers (integers and non-NaN floats).
func FuzzDecodeRegisters(f *testing.F) {
	for _, g := range golden {
		f.Add(uint8(g.typ), uint8(g.order), g.bit, wire(g.regs))
	}
	f.Fuzz(func(t *testing.T, typ, order uint8, bit int, b []byte) {
		ty, o := Type(typ%uint8(len(typeNames))), Order(order%4)
		v, err := decodeRegisters(ty, o, bit, b)
		if err != nil {
			if !errors.Is(err, scada.ErrBadInput) {
				t.Fatalf("error %v does not match ErrBadInput", err)
			}
			return
		}
		if ty == Bool || ty == Default || ty == String || math.IsNaN(v) || ty == Int64 || ty == Uint64 {
			return // bits lose the rest of the register; 64-bit integers lose precision in a float64
		}
		enc, err := encodeRegisters(ty, o, v)
		if err != nil {
			if math.IsInf(v, 0) {
				return
			}
			t.Fatalf("%s %s: %v decoded from % X does not re-encode: %v", ty, o, v, b, err)
		}
		if string(enc) != string(b) {
			t.Fatalf("%s %s: % X -> %v -> % X", ty, o, b, v, enc)
		}
	})
}

// FuzzDecodeText checks that any registers decode to valid UTF-8.
func FuzzDecodeText(f *testing.F) {
	f.Add(uint8(0), []byte("AB12\x00\x00"))
	f.Add(uint8(2), []byte{0xFF, 0x41, 0x20})
	f.Fuzz(func(t *testing.T, order uint8, b []byte) {
		s := decodeText(Order(order%4), b)
		if !utf8.ValidString(s) {
			t.Fatalf("% X -> %q is not UTF-8", b, s)
		}
	})
}
