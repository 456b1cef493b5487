package coord

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Aggregation says how the Coordinator combines the replies of one Execute.
type Aggregation uint8

// Aggregations. The numeric ones read each reply's value (the payload, or
// its Command.Field) as a JSON number; a reply whose value is not a number
// counts as failed with ErrBadMessage.
const (
	// All keeps every reply and computes nothing (Result.Replies).
	All Aggregation = iota
	Average
	Sum
	Min
	Max
	Median
	// Majority picks the most common value (compared as compact JSON);
	// Result.Votes counts its supporters and Result.Consensus says whether
	// they are more than half of the agents asked.
	Majority
	// First takes the earliest successful reply.
	First
)

var aggNames = [...]string{"all", "average", "sum", "min", "max", "median", "majority", "first"}

// String returns the aggregation's name ("average", "majority"...).
func (a Aggregation) String() string {
	if int(a) < len(aggNames) {
		return aggNames[a]
	}
	return "aggregation(" + strconv.Itoa(int(a)) + ")"
}

func (a Aggregation) numeric() bool { return a >= Average && a <= Median }

// value extracts what a reply contributes: the payload or one top-level field.
func value(payload json.RawMessage, field string) (json.RawMessage, error) {
	if len(payload) == 0 {
		return nil, fmt.Errorf("%w: empty reply", ErrBadMessage)
	}
	if !json.Valid(payload) {
		return nil, fmt.Errorf("%w: reply is not valid JSON", ErrBadMessage)
	}
	if field == "" {
		return payload, nil
	}
	v, isObj := lookup(payload, field)
	if !isObj {
		return nil, fmt.Errorf("%w: reply is not an object", ErrBadMessage)
	}
	if v == nil {
		return nil, fmt.Errorf("%w: reply has no field %q", ErrBadMessage, field)
	}
	return v, nil
}

// lookup returns the raw value of key in the valid JSON document doc (the
// last one if the key repeats, as encoding/json does), scanning instead of
// decoding into a map: it runs once per reply. isObj is false when doc is
// not an object.
func lookup(doc []byte, key string) (v json.RawMessage, isObj bool) {
	i := skipSpace(doc, 0)
	if i >= len(doc) || doc[i] != '{' {
		return nil, false
	}
	i++
	for {
		i = skipSpace(doc, i)
		if i >= len(doc) || doc[i] == '}' {
			return v, true
		}
		if doc[i] == ',' {
			i = skipSpace(doc, i+1)
		}
		kEnd := skipString(doc, i)
		k := doc[i:kEnd]
		i = skipSpace(doc, kEnd) + 1 // the ':'
		i = skipSpace(doc, i)
		vEnd := skipValue(doc, i)
		if keyEquals(k, key) {
			v = doc[i:vEnd]
		}
		i = vEnd
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index after the string starting at b[i] == '"'.
func skipString(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return len(b)
}

// skipValue returns the index after the value starting at b[i].
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return i
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for i < len(b) {
			switch b[i] {
			case '"':
				i = skipString(b, i)
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return i
	}
	for i < len(b) && !strings.ContainsRune(",}] \t\r\n", rune(b[i])) {
		i++
	}
	return i
}

// keyEquals compares a raw JSON string token with key, decoding escapes
// only when there are any.
func keyEquals(raw []byte, key string) bool {
	if len(raw) < 2 {
		return false
	}
	inner := raw[1 : len(raw)-1]
	if !bytes.ContainsRune(inner, '\\') {
		return string(inner) == key
	}
	var k string
	return json.Unmarshal(raw, &k) == nil && k == key
}

// number reads the JSON value v, valid JSON taken from a reply, as a float.
func number(v json.RawMessage) (float64, error) {
	// Fast path for a plain JSON number; strconv accepts a superset of the
	// JSON grammar (hex, "Inf", "_"), so only digits, sign, dot and exponent
	// go this way.
	if s := strings.TrimSpace(string(v)); s != "" && plainNumber(s) && s[0] != '+' {
		if f, err := strconv.ParseFloat(s, 64); err == nil {
			return f, nil
		}
	}
	var f float64
	if err := json.Unmarshal(v, &f); err != nil {
		return 0, fmt.Errorf("%w: value %s is not a number", ErrBadMessage, truncate(v))
	}
	return f, nil
}

// plainNumber reports whether s holds only digits, signs, dots and
// exponent letters.
func plainNumber(s string) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9', c == '-', c == '+', c == '.', c == 'e', c == 'E':
		default:
			return false
		}
	}
	return true
}

func truncate(v json.RawMessage) string {
	s := string(v)
	if len(s) > 40 {
		s = s[:40] + "..."
	}
	return strings.ToValidUTF8(s, "?")
}

// reduce computes the numeric aggregations.
func reduce(a Aggregation, xs []float64) float64 {
	switch a {
	case Sum, Average:
		s := 0.0
		for _, x := range xs {
			s += x
		}
		if a == Average {
			return s / float64(len(xs))
		}
		return s
	case Min:
		return slices.Min(xs)
	case Max:
		return slices.Max(xs)
	case Median:
		s := slices.Clone(xs)
		slices.Sort(s)
		n := len(s)
		if n%2 == 1 {
			return s[n/2]
		}
		return (s[n/2-1] + s[n/2]) / 2
	}
	return math.NaN()
}

// majority returns the most common value; ties go to the value seen first.
func majority(vs []json.RawMessage) (json.RawMessage, int) {
	type tally struct {
		v json.RawMessage
		n int
	}
	var order []string
	counts := map[string]*tally{}
	for _, v := range vs {
		var buf bytes.Buffer
		key := string(v)
		if json.Compact(&buf, v) == nil {
			key = buf.String()
		}
		t, ok := counts[key]
		if !ok {
			t = &tally{v: v}
			counts[key] = t
			order = append(order, key)
		}
		t.n++
	}
	var best *tally
	for _, k := range order {
		if t := counts[k]; best == nil || t.n > best.n {
			best = t
		}
	}
	if best == nil {
		return nil, 0
	}
	return best.v, best.n
}

func nanValue() float64 { return math.NaN() }
