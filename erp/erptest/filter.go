package erptest

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/greenlang/gl001/erp"
)

// cond is one "Property op literal" of a $filter.
type cond struct {
	prop, op string
	str      *string
	num      *float64
	tm       *time.Time
	boolean  *bool
}

// parseFilter reads conditions joined by "and", the subset of $filter the
// clients send: eq ne gt ge lt le against 'strings', numbers (with an
// optional M or d suffix), true/false, datetime'..', datetimeoffset'..' and
// bare V4 dates and date-times. Parentheses around a condition are allowed.
func parseFilter(f string) ([]cond, error) {
	f = strings.TrimSpace(f)
	if f == "" {
		return nil, nil
	}
	var out []cond
	for _, part := range splitAnd(f) {
		part = strings.TrimSpace(part)
		for strings.HasPrefix(part, "(") && strings.HasSuffix(part, ")") {
			part = strings.TrimSpace(part[1 : len(part)-1])
		}
		fields := strings.SplitN(part, " ", 3)
		if len(fields) != 3 {
			return nil, fmt.Errorf("cannot read %q", part)
		}
		c := cond{prop: fields[0], op: fields[1]}
		switch c.op {
		case "eq", "ne", "gt", "ge", "lt", "le":
		default:
			return nil, fmt.Errorf("unknown operator %q", c.op)
		}
		if err := c.literal(strings.TrimSpace(fields[2])); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// splitAnd splits on " and " outside quotes.
func splitAnd(f string) []string {
	var parts []string
	inQuote := false
	start := 0
	for i := 0; i < len(f); i++ {
		if f[i] == '\'' {
			inQuote = !inQuote
			continue
		}
		if !inQuote && strings.HasPrefix(f[i:], " and ") {
			parts = append(parts, f[start:i])
			start = i + 5
			i += 4
		}
	}
	return append(parts, f[start:])
}

func (c *cond) literal(l string) error {
	switch {
	case strings.HasPrefix(l, "datetime'") || strings.HasPrefix(l, "datetimeoffset'"):
		v := l[strings.IndexByte(l, '\'')+1:]
		if !strings.HasSuffix(v, "'") {
			return errors.New("unterminated datetime literal")
		}
		t, err := erp.ParseTime(v[:len(v)-1], time.UTC)
		if err != nil {
			return fmt.Errorf("bad datetime literal %q", l)
		}
		c.tm = &t
	case strings.HasPrefix(l, "'"):
		if len(l) < 2 || !strings.HasSuffix(l, "'") {
			return errors.New("unterminated string literal")
		}
		s := strings.ReplaceAll(l[1:len(l)-1], "''", "'")
		c.str = &s
	case l == "true" || l == "false":
		b := l == "true"
		c.boolean = &b
	case len(l) >= 10 && l[4] == '-' && l[7] == '-':
		t, err := erp.ParseTime(l, time.UTC)
		if err != nil {
			return fmt.Errorf("bad date literal %q", l)
		}
		c.tm = &t
	default:
		n, err := strconv.ParseFloat(strings.TrimRight(l, "MmDdFf"), 64)
		if err != nil {
			return fmt.Errorf("bad literal %q", l)
		}
		c.num = &n
	}
	return nil
}

// filterRows returns the rows that meet every condition, in order.
func filterRows(rows []Row, conds []cond) ([]Row, error) {
	var out []Row
	for _, row := range rows {
		ok, err := matches(row, conds)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, row)
		}
	}
	return out, nil
}

func matches(r Row, conds []cond) (bool, error) {
	for _, c := range conds {
		v, ok := r[c.prop]
		if !ok {
			return false, fmt.Errorf("property '%s' not found", c.prop)
		}
		var cmp int
		switch {
		case v == nil:
			return false, nil
		case c.tm != nil:
			t, err := erp.ParseTime(fmt.Sprint(v), time.UTC)
			if err != nil {
				return false, fmt.Errorf("property '%s' is not a date", c.prop)
			}
			cmp = t.Compare(*c.tm)
		case c.num != nil:
			f, err := strconv.ParseFloat(fmt.Sprint(v), 64)
			if err != nil {
				return false, fmt.Errorf("property '%s' is not a number", c.prop)
			}
			switch {
			case f < *c.num:
				cmp = -1
			case f > *c.num:
				cmp = 1
			}
		case c.boolean != nil:
			if fmt.Sprint(v) != strconv.FormatBool(*c.boolean) {
				cmp = 1
			}
		default:
			cmp = strings.Compare(fmt.Sprint(v), *c.str)
		}
		ok = false
		switch c.op {
		case "eq":
			ok = cmp == 0
		case "ne":
			ok = cmp != 0
		case "gt":
			ok = cmp > 0
		case "ge":
			ok = cmp >= 0
		case "lt":
			ok = cmp < 0
		case "le":
			ok = cmp <= 0
		}
		if !ok {
			return false, nil
		}
	}
	return true, nil
}
