package erp

import (
	"errors"
	"math"
	"strconv"
)

// Decimal is an exact decimal number: an int64 coefficient and a count of
// decimal places (0 to 18), value = Coefficient / 10^Scale.
//
// ERP systems send amounts as decimal text (OData Edm.Decimal is a JSON
// string, "1234.56"); parsing that into a float64 would turn 0.1 + 0.2 into
// 0.30000000000000004 and lose cents on sums. Decimal keeps exactly the digits
// the system sent, without allocating, so records stay small and comparable. An
// int64 coefficient holds 18 significant digits, enough for any amount an ERP
// ledger holds at its own precision (SAP CURR fields are 23 digits with 2 or 3
// places only in theory; a value that does not fit is reported as malformed,
// never rounded silently).
//
// The zero value is 0.
type Decimal struct {
	coef  int64
	scale uint8
}

var errDecimalSyntax = errors.New("not a decimal number")
var errDecimalRange = errors.New("decimal out of range")

const maxScale = 18

var pow10 = [...]int64{1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10,
	1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18}

// NewDecimal returns coef / 10^scale. It panics if scale is above 18, which is
// a programming error.
func NewDecimal(coef int64, scale int) Decimal {
	if scale < 0 || scale > maxScale {
		panic("erp: decimal scale out of range")
	}
	return Decimal{coef: coef, scale: uint8(scale)}
}

// ParseDecimal parses decimal text such as "-1234.5600", "+7", ".5" or
// "1.5E3" (exponents are accepted because some systems send Edm.Double where
// a decimal was meant). Trailing zeros are kept in the scale.
func ParseDecimal(s string) (Decimal, error) {
	return parseDecimal([]byte(s))
}

func parseDecimal(b []byte) (Decimal, error) {
	if len(b) == 0 {
		return Decimal{}, errDecimalSyntax
	}
	i := 0
	neg := false
	switch b[0] {
	case '-':
		neg = true
		i++
	case '+':
		i++
	}
	var coef uint64
	scale := 0
	digits := 0
	dot := false
	for ; i < len(b); i++ {
		c := b[i]
		if c == '.' {
			if dot {
				return Decimal{}, errDecimalSyntax
			}
			dot = true
			continue
		}
		if c == 'e' || c == 'E' {
			break
		}
		if c < '0' || c > '9' {
			return Decimal{}, errDecimalSyntax
		}
		digits++
		if coef == 0 && c == '0' && !dot {
			continue // leading zeros cost nothing
		}
		dg := uint64(c - '0')
		if coef > (math.MaxInt64-dg)/10 {
			return Decimal{}, errDecimalRange
		}
		coef = coef*10 + dg
		if dot {
			scale++
		}
	}
	if digits == 0 {
		return Decimal{}, errDecimalSyntax
	}
	if i < len(b) { // exponent
		e, err := strconv.Atoi(string(b[i+1:]))
		if err != nil || e < -maxScale || e > maxScale {
			return Decimal{}, errDecimalSyntax
		}
		scale -= e
		for scale < 0 {
			if coef > math.MaxInt64/10 {
				return Decimal{}, errDecimalRange
			}
			coef *= 10
			scale++
		}
	}
	if scale > maxScale {
		return Decimal{}, errDecimalRange
	}
	c := int64(coef)
	if neg {
		c = -c
	}
	return Decimal{coef: c, scale: uint8(scale)}, nil
}

// Coefficient returns the integer c such that d = c / 10^Scale().
func (d Decimal) Coefficient() int64 { return d.coef }

// Scale returns the number of decimal places.
func (d Decimal) Scale() int { return int(d.scale) }

// IsZero reports whether d is zero, whatever its scale.
func (d Decimal) IsZero() bool { return d.coef == 0 }

// Sign returns -1, 0 or +1.
func (d Decimal) Sign() int {
	switch {
	case d.coef < 0:
		return -1
	case d.coef > 0:
		return 1
	}
	return 0
}

// Float64 returns the nearest float64, for display and physics; never sum
// money through it.
func (d Decimal) Float64() float64 {
	f, _ := strconv.ParseFloat(d.String(), 64)
	return f
}

// Rescale returns d with exactly scale decimal places. It reports an error if
// that would drop non-zero digits or overflow.
func (d Decimal) Rescale(scale int) (Decimal, error) {
	if scale < 0 || scale > maxScale {
		return Decimal{}, errDecimalRange
	}
	s := int(d.scale)
	switch {
	case scale == s:
		return d, nil
	case scale > s:
		m := pow10[scale-s]
		if d.coef > math.MaxInt64/m || d.coef < math.MinInt64/m {
			return Decimal{}, errDecimalRange
		}
		return Decimal{coef: d.coef * m, scale: uint8(scale)}, nil
	default:
		m := pow10[s-scale]
		if d.coef%m != 0 {
			return Decimal{}, errors.New("decimal has more places than requested")
		}
		return Decimal{coef: d.coef / m, scale: uint8(scale)}, nil
	}
}

// Add returns d + e exactly, at the larger of the two scales, or an error on overflow.
func (d Decimal) Add(e Decimal) (Decimal, error) {
	s := max(d.scale, e.scale)
	a, err := d.Rescale(int(s))
	if err != nil {
		return Decimal{}, err
	}
	b, err := e.Rescale(int(s))
	if err != nil {
		return Decimal{}, err
	}
	r := a.coef + b.coef
	if (b.coef > 0 && r < a.coef) || (b.coef < 0 && r > a.coef) {
		return Decimal{}, errDecimalRange
	}
	return Decimal{coef: r, scale: s}, nil
}

// Cmp compares d and e numerically: -1 if d < e, 0 if equal (1.50 equals 1.5), +1 if d > e.
func (d Decimal) Cmp(e Decimal) int {
	s := max(d.scale, e.scale)
	a, errA := d.Rescale(int(s))
	b, errB := e.Rescale(int(s))
	if errA != nil || errB != nil { // only on overflow: fall back to float order
		switch x, y := d.Float64(), e.Float64(); {
		case x < y:
			return -1
		case x > y:
			return 1
		}
		return 0
	}
	switch {
	case a.coef < b.coef:
		return -1
	case a.coef > b.coef:
		return 1
	}
	return 0
}

// String formats d with exactly Scale() decimal places, e.g. "-12.50".
func (d Decimal) String() string {
	var buf [24]byte
	return string(d.appendTo(buf[:0]))
}

func (d Decimal) appendTo(b []byte) []byte {
	c := d.coef
	neg := c < 0
	var u uint64
	if neg {
		u = uint64(-c) // two's complement: correct for MinInt64 too
		b = append(b, '-')
	} else {
		u = uint64(c)
	}
	digits := strconv.AppendUint(nil, u, 10)
	s := int(d.scale)
	if s == 0 {
		return append(b, digits...)
	}
	if len(digits) <= s {
		b = append(b, '0', '.')
		for range s - len(digits) {
			b = append(b, '0')
		}
		return append(b, digits...)
	}
	b = append(b, digits[:len(digits)-s]...)
	b = append(b, '.')
	return append(b, digits[len(digits)-s:]...)
}

// MarshalText implements encoding.TextMarshaler: the decimal text, exact.
func (d Decimal) MarshalText() ([]byte, error) { return d.appendTo(nil), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Decimal) UnmarshalText(b []byte) error {
	v, err := parseDecimal(b)
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// Money is an exact amount in an ISO 4217 currency ("EUR", "USD", "JPY").
// The zero Money has no currency and means "the system gave no amount".
type Money struct {
	Amount   Decimal
	Currency string // ISO 4217 alphabetic code, upper case
}

// IsZero reports whether m carries no amount and no currency.
func (m Money) IsZero() bool { return m.Amount.IsZero() && m.Currency == "" }

// String formats m as "1234.56 EUR".
func (m Money) String() string {
	if m.Currency == "" {
		return m.Amount.String()
	}
	return m.Amount.String() + " " + m.Currency
}

// MinorUnits returns the amount in the currency's minor unit given its ISO
// 4217 exponent (2 for EUR, 0 for JPY, 3 for KWD), failing if the amount has
// more places than the currency allows.
func (m Money) MinorUnits(exponent int) (int64, error) {
	d, err := m.Amount.Rescale(exponent)
	if err != nil {
		return 0, err
	}
	return d.coef, nil
}

// validCurrency reports whether s looks like an ISO 4217 alphabetic code.
func validCurrency(s string) bool {
	if len(s) != 3 {
		return false
	}
	for i := range 3 {
		if s[i] < 'A' || s[i] > 'Z' {
			return false
		}
	}
	return true
}
