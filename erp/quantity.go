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

// sapUnitCodes maps SAP internal unit codes that are neither symbols nor
// UN/ECE Recommendation 20 codes (which package units reads itself) to names
// units parses.
var sapUnitCodes = map[string]string{
	"TO": "t", // SAP's internal code for the tonne (ISO code TNE)
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
	u, err := units.Parse(code)
	if err != nil {
		alias, ok := sapUnitCodes[strings.ToUpper(code)]
		if !ok {
			return q, err
		}
		u, err = units.Parse(alias)
		if err != nil {
			return q, err
		}
	}
	q.Unit = u
	return q, nil
}
