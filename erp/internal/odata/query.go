package odata

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/greenlang/gl001/erp"
)

// TimeKind says how a time is written in $filter.
type TimeKind int

const (
	// DateTime is V2 Edm.DateTime: datetime'2024-01-01T00:00:00' (UTC clock time).
	DateTime TimeKind = iota
	// DateTimeOffset is Edm.DateTimeOffset: V2 datetimeoffset'2024-01-01T00:00:00Z',
	// V4 2024-01-01T00:00:00Z.
	DateTimeOffset
	// Date is V4 Edm.Date: 2024-01-01.
	Date
)

// Literal writes v as an OData literal for the given protocol version.
func Literal(v any, version int, tk TimeKind) (string, error) {
	if l, ok, err := Scalar(v); ok {
		return l, err
	}
	switch x := v.(type) {
	case string:
		return "'" + strings.ReplaceAll(x, "'", "''") + "'", nil
	case erp.Decimal:
		if version == 2 {
			return x.String() + "M", nil
		}
		return x.String(), nil
	case time.Time:
		return TimeLiteral(x, version, tk), nil
	}
	return "", fmt.Errorf("%w: filter value of type %T is not supported", erp.ErrBadRequest, v)
}

// Scalar writes a boolean, integer or floating-point v as the bare literal
// that OData and Oracle's q syntax both use; ok is false for any other type.
// NaN and infinities are refused with erp.ErrBadRequest.
func Scalar(v any) (lit string, ok bool, err error) {
	switch x := v.(type) {
	case bool:
		return strconv.FormatBool(x), true, nil
	case int:
		return strconv.Itoa(x), true, nil
	case int32:
		return strconv.FormatInt(int64(x), 10), true, nil
	case int64:
		return strconv.FormatInt(x, 10), true, nil
	case uint32:
		return strconv.FormatUint(uint64(x), 10), true, nil
	case uint64:
		return strconv.FormatUint(x, 10), true, nil
	case float32:
		return Scalar(float64(x))
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return "", true, fmt.Errorf("%w: filter value %v is not a finite number", erp.ErrBadRequest, x)
		}
		return strconv.FormatFloat(x, 'f', -1, 64), true, nil
	}
	return "", false, nil
}

// TimeLiteral writes t in UTC as the literal for tk.
func TimeLiteral(t time.Time, version int, tk TimeKind) string {
	t = t.UTC()
	const layout = "2006-01-02T15:04:05.9999999"
	switch {
	case tk == Date:
		return t.Format("2006-01-02")
	case version == 2 && tk == DateTime:
		return "datetime'" + t.Format(layout) + "'"
	case version == 2:
		return "datetimeoffset'" + t.Format(layout) + "Z'"
	}
	return t.Format(layout) + "Z"
}

// Cond is one comparison in $filter.
type Cond struct {
	Property string
	Op       erp.Op
	Literal  string
}

// Filter joins conds with "and".
func Filter(conds []Cond) string {
	var b strings.Builder
	for i, c := range conds {
		if i > 0 {
			b.WriteString(" and ")
		}
		b.WriteString(c.Property)
		b.WriteByte(' ')
		b.WriteString(string(c.Op))
		b.WriteByte(' ')
		b.WriteString(c.Literal)
	}
	return b.String()
}

// QueryConds turns q's plant, time range and filters into conditions.
// timeProp is compared with [From, To); plantProp with Plant. Either may be
// empty to leave that part out.
func QueryConds(q erp.Query, timeProp, plantProp string, version int, tk TimeKind) ([]Cond, error) {
	var conds []Cond
	if q.Plant != "" && plantProp != "" {
		l, _ := Literal(q.Plant, version, tk)
		conds = append(conds, Cond{plantProp, erp.Eq, l})
	}
	if timeProp != "" {
		if !q.From.IsZero() {
			conds = append(conds, Cond{timeProp, erp.Ge, TimeLiteral(q.From, version, tk)})
		}
		if !q.To.IsZero() {
			conds = append(conds, Cond{timeProp, erp.Lt, TimeLiteral(q.To, version, tk)})
		}
	}
	for _, f := range q.Filters {
		if !validName(f.Property) {
			return nil, fmt.Errorf("%w: filter property %q is not an OData property name", erp.ErrBadRequest, f.Property)
		}
		switch f.Op {
		case erp.Eq, erp.Ne, erp.Gt, erp.Ge, erp.Lt, erp.Le:
		default:
			return nil, fmt.Errorf("%w: filter operator %q is not one of eq ne gt ge lt le", erp.ErrBadRequest, f.Op)
		}
		l, err := Literal(f.Value, version, tk)
		if err != nil {
			return nil, err
		}
		conds = append(conds, Cond{f.Property, f.Op, l})
	}
	return conds, nil
}

// validName accepts OData identifiers and paths (Nav/Prop), so a filter
// cannot smuggle in another expression.
func validName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '_' || c == '/' || c == '.' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') {
			continue
		}
		return false
	}
	return true
}

// Params is an ordered list of query parameters.
type Params [][2]string

// Add appends a parameter.
func (p *Params) Add(k, v string) { *p = append(*p, [2]string{k, v}) }

// Encode writes the parameters as a query string. Spaces become %20, never
// "+" (SAP Gateway rejects "+" in $filter), and the characters OData
// expressions need ($ ' ( ) , : /) stay as they are.
func (p Params) Encode() string {
	var b strings.Builder
	for i, kv := range p {
		if i > 0 {
			b.WriteByte('&')
		}
		escape(&b, kv[0])
		b.WriteByte('=')
		escape(&b, kv[1])
	}
	return b.String()
}

const hexDigits = "0123456789ABCDEF"

func escape(b *strings.Builder, s string) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if keep(c) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&15])
	}
}

func keep(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	switch c {
	case '-', '.', '_', '~', '$', '\'', '(', ')', ',', ':', '/', '@', '!', '*':
		return true
	}
	return false
}
