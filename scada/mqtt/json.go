package mqtt

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/greenlang/gl001/scada"
)

// JSONConfig says where a [JSONDecoder] finds each part of a point. A path
// is a dot-separated list of object keys, such as "data.temp"; empty fields
// take the defaults below.
type JSONConfig struct {
	Value   string // the value: a number, true/false, a numeric string, or null (a Bad point). Default "value".
	Time    string // the source timestamp: RFC 3339 text or a Unix time number. Default "timestamp".
	Quality string // an OPC UA status code number, "good"/"uncertain"/"bad", "0x..." or true/false. Default "quality".
	Unit    string // the engineering unit text. Default "unit".
	Tag     string // the tag name; absent means the message's tag. Default "tag".

	// Points is the path of an array of point objects. Empty means the
	// payload itself: an object is one point, an array is a list of them.
	Points string

	// TimeUnit is the unit of numeric timestamps. Zero infers it from the
	// magnitude: seconds, milliseconds, microseconds or nanoseconds since
	// the Unix epoch.
	TimeUnit time.Duration
}

// JSONDecoder decodes JSON payloads, one point or an array of them, with
// configurable paths. It scans the payload once without building maps, so it
// keeps up with a busy broker. Missing time, quality or unit fall back to the
// receive time, Good and the subscription's unit. An array element without a
// usable value is skipped and reported; the other elements are delivered.
// It is safe for concurrent use.
type JSONDecoder struct {
	paths    [nPaths][]string
	points   []string
	timeUnit time.Duration

	// Tags and units repeat from message to message: interning them saves
	// an allocation per point.
	mu     sync.Mutex
	intern map[string]string
}

const maxInterned = 1 << 16

// str returns the string for b, from the intern table when it is there.
func (d *JSONDecoder) str(b []byte) string {
	d.mu.Lock()
	defer d.mu.Unlock()
	if s, ok := d.intern[string(b)]; ok {
		return s
	}
	s := string(b)
	if len(d.intern) < maxInterned {
		if d.intern == nil {
			d.intern = make(map[string]string)
		}
		d.intern[s] = s
	}
	return s
}

const (
	pValue = iota
	pTime
	pQuality
	pUnit
	pTag
	nPaths
)

// NewJSONDecoder returns a JSON decoder for cfg.
func NewJSONDecoder(cfg JSONConfig) (*JSONDecoder, error) {
	d := &JSONDecoder{timeUnit: cfg.TimeUnit}
	var errs []error
	for i, f := range []struct{ name, path, def string }{
		{"Value", cfg.Value, "value"}, {"Time", cfg.Time, "timestamp"}, {"Quality", cfg.Quality, "quality"},
		{"Unit", cfg.Unit, "unit"}, {"Tag", cfg.Tag, "tag"},
	} {
		p := f.path
		if p == "" {
			p = f.def
		}
		parts, err := splitPath(p)
		if err != nil {
			errs = append(errs, fmt.Errorf("mqtt: JSONConfig.%s: %w", f.name, err))
		}
		d.paths[i] = parts
	}
	if cfg.Points != "" {
		parts, err := splitPath(cfg.Points)
		if err != nil {
			errs = append(errs, fmt.Errorf("mqtt: JSONConfig.Points: %w", err))
		}
		d.points = parts
	}
	if cfg.TimeUnit < 0 {
		errs = append(errs, errors.New("mqtt: JSONConfig.TimeUnit is negative"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return d, nil
}

func splitPath(p string) ([]string, error) {
	parts := strings.Split(p, ".")
	for _, s := range parts {
		if s == "" {
			return nil, fmt.Errorf("path %q has an empty key", p)
		}
	}
	return parts, nil
}

type span struct{ s, e int } // e == 0: absent

// Decode implements [Decoder].
func (d *JSONDecoder) Decode(dst []scada.Point, m *Message) ([]scada.Point, error) {
	b := m.Payload
	i := skipWS(b, 0)
	if i >= len(b) {
		return dst, errEmptyPayload
	}
	var (
		end int
		err error
	)
	if d.points != nil {
		if b[i] != '{' {
			return dst, fmt.Errorf("payload is not an object holding %q", strings.Join(d.points, "."))
		}
		var sp [nPaths]span
		end, err = extractObject(b, i, 0, 1, [][]string{d.points}, sp[:1])
		if err != nil {
			return dst, err
		}
		if sp[0].e == 0 {
			return dst, fmt.Errorf("no %q in payload", strings.Join(d.points, "."))
		}
		if b[sp[0].s] != '[' {
			return dst, fmt.Errorf("%q is not an array", strings.Join(d.points, "."))
		}
		dst, err = d.decodeArray(dst, b, sp[0].s, m)
		if errors.Is(err, ErrLimit) {
			return dst, err
		}
	} else if b[i] == '[' {
		dst, err = d.decodeArray(dst, b, i, m)
		if errors.Is(err, ErrLimit) {
			return dst, err
		}
		if err == nil {
			end, err = skipValue(b, i)
		}
	} else if b[i] == '{' {
		var p scada.Point
		var ok bool
		end, p, ok, err = d.decodeObject(b, i, m)
		if ok {
			dst = append(dst, p)
		}
	} else {
		return dst, errors.New("payload is neither a JSON object nor an array")
	}
	if err != nil {
		return dst, err
	}
	if j := skipWS(b, end); j != len(b) {
		return dst, fmt.Errorf("unexpected data after the JSON value at offset %d", j)
	}
	return dst, nil
}

// decodeArray decodes the array at b[i]. A bad element is skipped and
// reported after the others are decoded; a structural error stops it.
//
// With m.MaxPoints set it stops at that many points and returns a
// *LimitError, without decoding the rest.
func (d *JSONDecoder) decodeArray(dst []scada.Point, b []byte, i int, m *Message) ([]scada.Point, error) {
	limit := -1
	if m.MaxPoints > 0 {
		limit = len(dst) + m.MaxPoints
	}
	i = skipWS(b, i+1)
	if i < len(b) && b[i] == ']' {
		return dst, nil
	}
	var (
		bad      int
		firstErr error
	)
	for n := 0; ; n++ {
		i = skipWS(b, i)
		if i >= len(b) {
			return dst, errUnexpectedEnd
		}
		if b[i] == '{' {
			end, p, ok, err := d.decodeObject(b, i, m)
			if end < 0 {
				return dst, err
			}
			if ok {
				if len(dst) == limit {
					return dst, &LimitError{Limit: "points per message", Max: m.MaxPoints, Got: m.MaxPoints + 1}
				}
				dst = append(dst, p)
			}
			if err != nil {
				bad++
				if firstErr == nil {
					firstErr = fmt.Errorf("element %d: %w", n, err)
				}
			}
			i = end
		} else {
			end, err := skipValue(b, i)
			if err != nil {
				return dst, err
			}
			bad++
			if firstErr == nil {
				firstErr = fmt.Errorf("element %d is not an object", n)
			}
			i = end
		}
		i = skipWS(b, i)
		if i >= len(b) {
			return dst, errUnexpectedEnd
		}
		switch b[i] {
		case ',':
			i++
		case ']':
			if bad > 0 {
				return dst, fmt.Errorf("%d bad array elements, first: %w", bad, firstErr)
			}
			return dst, nil
		default:
			return dst, fmt.Errorf("unexpected %q at offset %d", b[i], i)
		}
	}
}

// decodeObject decodes the point object at b[i]. end is -1 when the JSON
// itself is broken; ok is false when the object has no usable point.
func (d *JSONDecoder) decodeObject(b []byte, i int, m *Message) (end int, p scada.Point, ok bool, err error) {
	var sp [nPaths]span
	paths := d.paths[:]
	end, err = extractObject(b, i, 0, 1<<nPaths-1, paths, sp[:])
	if err != nil {
		return -1, p, false, err
	}
	p = scada.Point{Tag: m.Tag, Unit: m.Unit, Quality: scada.Good, Time: m.Received}
	if s := sp[pValue]; s.e == 0 {
		return end, p, false, fmt.Errorf("no %q", strings.Join(d.paths[pValue], "."))
	} else if v, null, err := jsonNumber(b[s.s:s.e]); err != nil {
		return end, p, false, fmt.Errorf("%s: %w", strings.Join(d.paths[pValue], "."), err)
	} else if null {
		p.Quality = scada.BadNoData
	} else {
		p.Value = v
	}
	if s := sp[pTag]; s.e != 0 {
		t, null, err := d.jsonString(b[s.s:s.e])
		if err != nil {
			return end, p, false, fmt.Errorf("%s: %w", strings.Join(d.paths[pTag], "."), err)
		}
		if !null && t != "" {
			p.Tag = t
		}
	}
	if p.Tag == "" {
		return end, p, false, errors.New("no tag: the payload names none and the subscription gives none")
	}
	if s := sp[pUnit]; s.e != 0 {
		u, null, err := d.jsonString(b[s.s:s.e])
		if err != nil {
			return end, p, false, fmt.Errorf("%s: %w", strings.Join(d.paths[pUnit], "."), err)
		}
		if !null {
			p.Unit = u
		}
	}
	if s := sp[pTime]; s.e != 0 {
		t, err := d.jsonTime(b[s.s:s.e])
		if err != nil {
			return end, p, false, fmt.Errorf("%s: %w", strings.Join(d.paths[pTime], "."), err)
		}
		if !t.IsZero() {
			p.Time = t
		}
	}
	if s := sp[pQuality]; s.e != 0 {
		q, err := jsonQuality(b[s.s:s.e])
		if err != nil {
			return end, p, false, fmt.Errorf("%s: %w", strings.Join(d.paths[pQuality], "."), err)
		}
		if p.Quality.IsGood() {
			p.Quality = q
		}
	}
	return end, p, true, nil
}

var errUnexpectedEnd = errors.New("unexpected end of JSON")

func bstr(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// jsonNumber reads a value: a number, true/false, a numeric string or null.
func jsonNumber(v []byte) (f float64, null bool, err error) {
	switch v[0] {
	case 't':
		return 1, false, nil
	case 'f':
		return 0, false, nil
	case 'n':
		return 0, true, nil
	case '"':
		s, _, err := jsonString(v)
		if err != nil {
			return 0, false, err
		}
		f, err = strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return 0, false, fmt.Errorf("string %q is not a finite number", truncate([]byte(s), 32))
		}
		return f, false, nil
	case '{', '[':
		return 0, false, errors.New("is an object or array, not a number")
	}
	f, err = strconv.ParseFloat(bstr(v), 64)
	if err != nil || math.IsInf(f, 0) {
		return 0, false, fmt.Errorf("number %s is out of range", truncate(v, 32))
	}
	return f, false, nil
}

// jsonString reads a string or null, interning it.
func (d *JSONDecoder) jsonString(v []byte) (string, bool, error) {
	if len(v) >= 2 && v[0] == '"' && bytes.IndexByte(v, '\\') < 0 {
		return d.str(v[1 : len(v)-1]), false, nil
	}
	return jsonString(v)
}

// jsonString reads a string or null.
func jsonString(v []byte) (string, bool, error) {
	switch v[0] {
	case 'n':
		return "", true, nil
	case '"':
	default:
		return "", false, errors.New("is not a string")
	}
	inner := v[1 : len(v)-1]
	for _, c := range inner {
		if c == '\\' {
			var s string
			if err := json.Unmarshal(v, &s); err != nil {
				return "", false, err
			}
			return s, false, nil
		}
	}
	return string(inner), false, nil
}

func (d *JSONDecoder) jsonTime(v []byte) (time.Time, error) {
	switch v[0] {
	case 'n':
		return time.Time{}, nil
	case '"':
		s, _, err := jsonString(v)
		if err != nil {
			return time.Time{}, err
		}
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return time.Time{}, fmt.Errorf("%q is not an RFC 3339 time", truncate([]byte(s), 40))
		}
		return t, nil
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
	default:
		return time.Time{}, errors.New("is neither a number nor a string")
	}
	f, err := strconv.ParseFloat(bstr(v), 64)
	if err != nil || f < 0 || f > math.MaxInt64 {
		return time.Time{}, fmt.Errorf("%s is not a Unix time", truncate(v, 32))
	}
	unit := d.timeUnit
	if unit == 0 {
		switch {
		case f < 1e11: // seconds until the year 5138
			unit = time.Second
		case f < 1e14:
			unit = time.Millisecond
		case f < 1e17:
			unit = time.Microsecond
		default:
			unit = time.Nanosecond
		}
	}
	if n, err := strconv.ParseInt(bstr(v), 10, 64); err == nil {
		if n > math.MaxInt64/int64(unit) {
			return time.Time{}, fmt.Errorf("%s is not a Unix time", truncate(v, 32))
		}
		return time.Unix(0, n*int64(unit)).UTC(), nil
	}
	ns := f * float64(unit)
	if ns > math.MaxInt64 {
		return time.Time{}, fmt.Errorf("%s is not a Unix time", truncate(v, 32))
	}
	return time.Unix(0, int64(ns)).UTC(), nil
}

func jsonQuality(v []byte) (scada.Quality, error) {
	switch v[0] {
	case 't':
		return scada.Good, nil
	case 'f':
		return scada.Bad, nil
	case 'n':
		return scada.Good, nil
	case '"':
		s := bstr(v[1 : len(v)-1])
		switch {
		case strings.EqualFold(s, "good"), strings.EqualFold(s, "ok"):
			return scada.Good, nil
		case strings.EqualFold(s, "uncertain"):
			return scada.Uncertain, nil
		case strings.EqualFold(s, "bad"):
			return scada.Bad, nil
		}
		s, _, err := jsonString(v)
		if err != nil {
			return 0, err
		}
		if h, ok := strings.CutPrefix(strings.ToLower(s), "0x"); ok {
			if q, err := strconv.ParseUint(h, 16, 32); err == nil {
				return scada.Quality(q), nil
			}
		}
		return 0, fmt.Errorf("unknown quality %q", truncate([]byte(s), 32))
	case '{', '[':
		return 0, errors.New("is an object or array")
	}
	f, err := strconv.ParseFloat(bstr(v), 64)
	if err != nil || f < 0 || f > math.MaxUint32 || f != math.Trunc(f) {
		return 0, fmt.Errorf("%s is not an OPC UA status code", truncate(v, 32))
	}
	return scada.Quality(uint32(f)), nil
}

// extractObject scans the object at b[i] and records in spans[k] the first
// value found at paths[k] (for the paths whose bit is set in mask). It
// returns the offset just past the object.
func extractObject(b []byte, i, depth int, mask uint8, paths [][]string, spans []span) (int, error) {
	if depth > maxDepth {
		return 0, errTooDeep
	}
	i = skipWS(b, i+1)
	if i < len(b) && b[i] == '}' {
		return i + 1, nil
	}
	for {
		if i >= len(b) {
			return 0, errUnexpectedEnd
		}
		if b[i] != '"' {
			return 0, fmt.Errorf("expected a key at offset %d", i)
		}
		ke, esc, err := scanString(b, i)
		if err != nil {
			return 0, err
		}
		key := bstr(b[i+1 : ke-1])
		if esc {
			key, _, err = jsonString(b[i:ke])
			if err != nil {
				return 0, err
			}
		}
		i = skipWS(b, ke)
		if i >= len(b) || b[i] != ':' {
			return 0, fmt.Errorf("expected ':' at offset %d", i)
		}
		i = skipWS(b, i+1)
		if i >= len(b) {
			return 0, errUnexpectedEnd
		}
		var ends, deeper uint8
		for k := range paths {
			bit := uint8(1) << k
			if mask&bit == 0 || len(paths[k]) <= depth || paths[k][depth] != key {
				continue
			}
			if len(paths[k]) == depth+1 {
				ends |= bit
			} else {
				deeper |= bit
			}
		}
		vs := i
		if deeper != 0 && b[i] == '{' {
			i, err = extractObject(b, i, depth+1, deeper, paths, spans)
		} else {
			i, err = skipValue(b, i)
		}
		if err != nil {
			return 0, err
		}
		for k := range paths {
			if ends&(1<<k) != 0 && spans[k].e == 0 {
				spans[k] = span{vs, i}
			}
		}
		i = skipWS(b, i)
		if i >= len(b) {
			return 0, errUnexpectedEnd
		}
		switch b[i] {
		case ',':
			i = skipWS(b, i+1)
		case '}':
			return i + 1, nil
		default:
			return 0, fmt.Errorf("unexpected %q at offset %d", b[i], i)
		}
	}
}

const maxDepth = 256

var errTooDeep = errors.New("JSON nested too deeply")

func skipWS(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// scanString scans the string at b[i] (a '"'), returning the offset past its
// closing quote and whether it holds escapes.
func scanString(b []byte, i int) (int, bool, error) {
	esc := false
	for j := i + 1; j < len(b); j++ {
		switch c := b[j]; {
		case c == '"':
			return j + 1, esc, nil
		case c == '\\':
			esc = true
			j++
			if j >= len(b) {
				return 0, false, errUnexpectedEnd
			}
			switch b[j] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if j+4 >= len(b) {
					return 0, false, errUnexpectedEnd
				}
				for _, h := range b[j+1 : j+5] {
					if !isHex(h) {
						return 0, false, fmt.Errorf("bad \\u escape at offset %d", j)
					}
				}
				j += 4
			default:
				return 0, false, fmt.Errorf("bad escape at offset %d", j)
			}
		case c < 0x20:
			return 0, false, fmt.Errorf("control character in string at offset %d", j)
		}
	}
	return 0, false, errUnexpectedEnd
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// scanNumber scans a JSON number at b[i].
func scanNumber(b []byte, i int) (int, error) {
	start := i
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && '1' <= b[i] && b[i] <= '9':
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	default:
		return 0, fmt.Errorf("bad number at offset %d", start)
	}
	if i < len(b) && b[i] == '.' {
		i++
		if i >= len(b) || !isDigit(b[i]) {
			return 0, fmt.Errorf("bad number at offset %d", start)
		}
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || !isDigit(b[i]) {
			return 0, fmt.Errorf("bad number at offset %d", start)
		}
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	}
	return i, nil
}

// skipValue scans and validates the JSON value at b[i], returning the offset
// just past it. It does not recurse, so deep nesting cannot exhaust the stack.
func skipValue(b []byte, i int) (int, error) {
	var buf [32]byte
	stack := buf[:0]
	for {
		// A value starts at i.
		i = skipWS(b, i)
		if i >= len(b) {
			return 0, errUnexpectedEnd
		}
		var err error
		opened := false
		switch c := b[i]; c {
		case '{', '[':
			j := skipWS(b, i+1)
			if j < len(b) && (b[j] == '}' && c == '{' || b[j] == ']' && c == '[') {
				i = j + 1
				break
			}
			if len(stack) >= maxDepth {
				return 0, errTooDeep
			}
			stack = append(stack, c)
			i = j
			if c == '{' {
				if i, err = scanKey(b, i); err != nil {
					return 0, err
				}
			}
			opened = true
		case '"':
			i, _, err = scanString(b, i)
		case 't':
			i, err = scanLiteral(b, i, "true")
		case 'f':
			i, err = scanLiteral(b, i, "false")
		case 'n':
			i, err = scanLiteral(b, i, "null")
		default:
			i, err = scanNumber(b, i)
		}
		if err != nil {
			return 0, err
		}
		if opened {
			continue
		}
		// After a value: close containers or move to the next element.
		for {
			if len(stack) == 0 {
				return i, nil
			}
			i = skipWS(b, i)
			if i >= len(b) {
				return 0, errUnexpectedEnd
			}
			top := stack[len(stack)-1]
			if b[i] == ',' {
				i = skipWS(b, i+1)
				if top == '{' {
					if i, err = scanKey(b, i); err != nil {
						return 0, err
					}
				}
				break
			}
			if top == '{' && b[i] == '}' || top == '[' && b[i] == ']' {
				stack = stack[:len(stack)-1]
				i++
				continue
			}
			return 0, fmt.Errorf("unexpected %q at offset %d", b[i], i)
		}
	}
}

// scanKey scans `"key" :` at b[i] and returns the offset after the colon.
func scanKey(b []byte, i int) (int, error) {
	if i >= len(b) || b[i] != '"' {
		return 0, fmt.Errorf("expected a key at offset %d", i)
	}
	i, _, err := scanString(b, i)
	if err != nil {
		return 0, err
	}
	i = skipWS(b, i)
	if i >= len(b) || b[i] != ':' {
		return 0, fmt.Errorf("expected ':' at offset %d", i)
	}
	return i + 1, nil
}

func scanLiteral(b []byte, i int, lit string) (int, error) {
	if len(b)-i < len(lit) || bstr(b[i:i+len(lit)]) != lit {
		return 0, fmt.Errorf("bad literal at offset %d", i)
	}
	return i + len(lit), nil
}
