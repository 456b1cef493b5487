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
	if field == "" {
		return payload, nil
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(payload, &obj); err != nil {
		return nil, fmt.Errorf("%w: reply is not an object: %w", ErrBadMessage, err)
	}
	v, ok := obj[field]
	if !ok {
		return nil, fmt.Errorf("%w: reply has no field %q", ErrBadMessage, field)
	}
	return v, nil
}

func number(v json.RawMessage) (float64, error) {
	// Fast path for a plain JSON number; strconv accepts a superset of the
	// JSON grammar (hex, "Inf", "_"), so only digits, sign, dot and exponent
	// go this way.
	if s := strings.TrimSpace(string(v)); s != "" && strings.Trim(s, "0123456789+-.eE") == "" && s[0] != '+' {
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
