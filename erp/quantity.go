package erp

import (
	"strings"

	"github.com/greenlang/gl001/units"
)

// Quantity is an exact amount of something in a unit.
//
// Code is the unit exactly as the system sent it ("KWH", "M3", "ST").
// Unit is that unit resolved by package units when it is a physical unit
// units knows (kWh, GJ, m³, t ...), so it converts with units.Convert; it is
// the zero units.Unit for counting units such as pieces, which have no
// physical dimension. The zero Quantity means "no quantity given".
type Quantity struct {
	Value Decimal
	Unit  units.Unit
	Code  string
}

// IsZero reports whether q carries no value and no unit.
func (q Quantity) IsZero() bool { return q.Value.IsZero() && q.Code == "" }

// String formats q as "1520.5 KWH".
func (q Quantity) String() string {
	if q.Code == "" {
		return q.Value.String()
	}
	return q.Value.String() + " " + q.Code
}

// erpUnitCodes maps the upper-case unit codes ERP systems use (SAP internal
// and ISO codes, UN/ECE Rec 20) to names package units parses.
var erpUnitCodes = map[string]string{
	"WH": "Wh", "KWH": "kWh", "MWH": "MWh", "GWH": "GWh", "KWT": "kWh", "MWT": "MWh",
	"J": "J", "KJ": "kJ", "MJ": "MJ", "GJ": "GJ", "TJ": "TJ", "KJO": "kJ", "MJO": "MJ", "GJO": "GJ",
	"M3": "m3", "MTQ": "m3", "L": "L", "LTR": "L", "HL": "hL",
	"KG": "kg", "KGM": "kg", "G": "g", "GRM": "g", "TO": "t", "TNE": "t", "T": "t",
	"W": "W", "KW": "kW", "KWT_": "kW", "MW": "MW",
}

// newQuantity builds a Quantity from a value and the system's unit code. The
// error reports a code package units cannot resolve; the Quantity is still
// complete, with a zero Unit.
func newQuantity(v Decimal, code string) (Quantity, error) {
	code = strings.TrimSpace(code)
	q := Quantity{Value: v, Code: code}
	if code == "" {
		return q, &units.UnknownError{Name: code}
	}
	name := code
	if alias, ok := erpUnitCodes[strings.ToUpper(code)]; ok {
		name = alias
	}
	u, err := units.Parse(name)
	if err != nil {
		return q, err
	}
	q.Unit = u
	return q, nil
}
