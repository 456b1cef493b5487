// Package odata decodes OData V2 and V4 JSON collection pages and builds
// OData query options. It is shared by the OData system packages (erp/sap,
// erp/dynamics); callers use those.
//
// The decoder is a single pass over the page that copies nothing but the
// properties a mapping asks for, so a page of energy records decodes at
// several hundred thousand records a second without building maps.
package odata

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/greenlang/gl001/erp"
)

// Meta is what a page says about the collection besides its entities.
type Meta struct {
	Version  int    // 2 or 4, as detected from the envelope
	Next     string // V2 d.__next, V4 @odata.nextLink; empty on the last page
	Delta    string // V2 d.__delta, V4 @odata.deltaLink; only on the last page of a tracked query
	Count    int64  // V2 d.__count (a string), V4 @odata.count; -1 if absent
	Entities int    // entities in the page, deleted ones included
}

// Entity is what the decoder knows about an entity besides its row.
type Entity struct {
	Deleted bool   // a V4 deleted entity (@removed, @odata.removed or a $deletedEntity context)
	ID      []byte // for deleted entities: the "id" member Dynamics sends, if any
	Offset  int64  // byte offset of the entity in the page
}

// Error is a page that could not be decoded.
type Error struct {
	Field  string // envelope member or entity property, e.g. "d.__next", "value[3].Plant"
	Offset int64
	Err    error
}

func (e *Error) Error() string {
	return fmt.Sprintf("odata: %s at byte %d: %v", e.Field, e.Offset, e.Err)
}
func (e *Error) Unwrap() error { return e.Err }

// ErrStop may be returned by the callback to stop decoding without error.
var ErrStop = errors.New("odata: stop")

var (
	errSyntax    = errors.New("invalid JSON")
	errTruncated = errors.New("unexpected end of page (truncated JSON)")
	errDepth     = errors.New("JSON nested too deeply")
	errEnvelope  = errors.New("no OData collection envelope (want d.results, d as an array, or value)")
)

const maxDepth = 64

// Props is a compiled set of property names.
type Props struct {
	names []string
	index map[string]int
}

// NewProps compiles names; a Row passed to a callback has len(names) slots.
func NewProps(names []string) *Props {
	p := &Props{names: names, index: make(map[string]int, len(names))}
	for i, n := range names {
		p.index[n] = i
	}
	return p
}

// Decoder decodes pages; reuse one per stream to reuse its buffers. It is not
// safe for concurrent use.
type Decoder struct {
	props *Props
	row   erp.Row
	s     scanner
	// order remembers the members of the previous entity: the entities of a
	// page share one member order, so the j-th key is checked against the
	// j-th key seen before one comparison instead of a map lookup.
	order []member
	// OnCount, if set, is called with the collection count as soon as it is
	// read, before the entities that follow it.
	OnCount func(int64)
}

type member struct {
	name string
	idx  int // property index, -1 if not mapped
}

// NewDecoder returns a decoder filling rows for props.
func NewDecoder(props *Props) *Decoder {
	return &Decoder{props: props, row: make(erp.Row, len(props.names))}
}

// Decode decodes one page, calling fn for each entity in order. The row and
// its byte slices are valid only during the call. If fn returns ErrStop,
// Decode returns what it has of Meta and no error; another error from fn is
// returned as it is. Envelope members that come after the entity array (V4
// servers may put @odata.nextLink last) are read too.
func (d *Decoder) Decode(body []byte, fn func(row erp.Row, e Entity) error) (Meta, error) {
	s := &d.s
	s.reset(body)
	m := Meta{Count: -1}
	s.ws()
	if err := s.expect('{'); err != nil {
		return m, s.fail("page", err)
	}
	found := false
	for first := true; ; first = false {
		more, err := s.nextMember(first)
		if err != nil {
			return m, s.fail("page", err)
		}
		if !more {
			break
		}
		key, err := s.str()
		if err != nil {
			return m, s.fail("page", err)
		}
		if err := s.colon(); err != nil {
			return m, s.fail(string(key), err)
		}
		switch string(key) {
		case "d":
			m.Version = 2
			f, err := d.v2(&m, fn)
			if err != nil {
				return m, err
			}
			found = found || f
		case "value":
			m.Version = 4
			found = true
			if err := d.entities("value", &m, fn); err != nil {
				return m, err
			}
		case "@odata.nextLink", "odata.nextLink", "@nextLink":
			if m.Next, err = s.strValue(); err != nil {
				return m, s.fail(string(key), err)
			}
		case "@odata.deltaLink", "odata.deltaLink", "@deltaLink":
			if m.Delta, err = s.strValue(); err != nil {
				return m, s.fail(string(key), err)
			}
		case "@odata.count", "odata.count", "@count":
			if m.Count, err = s.countValue(false); err != nil {
				return m, s.fail(string(key), err)
			}
			if d.OnCount != nil {
				d.OnCount(m.Count)
			}
		case "error":
			return m, &Error{Field: "error", Offset: int64(s.i), Err: errors.New("the service answered with an error object")}
		default:
			if err := s.skip(0); err != nil {
				return m, s.fail(string(key), err)
			}
		}
	}
	s.ws()
	if s.i != len(s.b) {
		return m, s.fail("page", errSyntax)
	}
	if !found {
		return m, &Error{Field: "page", Offset: 0, Err: errEnvelope}
	}
	return m, nil
}

// v2 decodes the value of "d": {"results": [...], "__next": ..., "__count": ...} or [...].
func (d *Decoder) v2(m *Meta, fn func(erp.Row, Entity) error) (bool, error) {
	s := &d.s
	s.ws()
	if s.peek() == '[' {
		return true, d.entities("d", m, fn)
	}
	if err := s.expect('{'); err != nil {
		return false, s.fail("d", err)
	}
	found := false
	for first := true; ; first = false {
		more, err := s.nextMember(first)
		if err != nil {
			return found, s.fail("d", err)
		}
		if !more {
			return found, nil
		}
		key, err := s.str()
		if err != nil {
			return found, s.fail("d", err)
		}
		if err := s.colon(); err != nil {
			return found, s.fail("d."+string(key), err)
		}
		switch string(key) {
		case "results":
			found = true
			if err := d.entities("d.results", m, fn); err != nil {
				return found, err
			}
		case "__next":
			if m.Next, err = s.strValue(); err != nil {
				return found, s.fail("d.__next", err)
			}
		case "__delta":
			if m.Delta, err = s.strValue(); err != nil {
				return found, s.fail("d.__delta", err)
			}
		case "__count":
			if m.Count, err = s.countValue(true); err != nil {
				return found, s.fail("d.__count", err)
			}
			if d.OnCount != nil {
				d.OnCount(m.Count)
			}
		default:
			if err := s.skip(0); err != nil {
				return found, s.fail("d."+string(key), err)
			}
		}
	}
}

func (d *Decoder) entities(field string, m *Meta, fn func(erp.Row, Entity) error) error {
	s := &d.s
	s.ws()
	if err := s.expect('['); err != nil {
		return s.fail(field, err)
	}
	for first := true; ; first = false {
		s.ws()
		if s.i >= len(s.b) {
			return s.fail(field, errTruncated)
		}
		if s.b[s.i] == ']' {
			s.i++
			return nil
		}
		if !first {
			if s.b[s.i] != ',' {
				return s.fail(field, errSyntax)
			}
			s.i++
			s.ws()
		}
		e := Entity{Offset: int64(s.i)}
		if err := d.entity(field, m.Entities, &e); err != nil {
			return err
		}
		m.Entities++
		if err := fn(d.row, e); err != nil {
			if err == ErrStop {
				return err
			}
			return err
		}
	}
}

var deletedSuffix = []byte("$deletedEntity")

func (d *Decoder) entity(field string, n int, e *Entity) error {
	s := &d.s
	clear(d.row)
	s.scratch = s.scratch[:0]
	if err := s.expect('{'); err != nil {
		return s.fail(field+"["+strconv.Itoa(n)+"]", err)
	}
	j := 0
	for first := true; ; first = false {
		more, err := s.nextMember(first)
		if err != nil {
			return s.fail(field+"["+strconv.Itoa(n)+"]", err)
		}
		if !more {
			return nil
		}
		key, err := s.str()
		if err != nil {
			return s.fail(field+"["+strconv.Itoa(n)+"]", err)
		}
		if err := s.colon(); err != nil {
			return s.fail(field+"["+strconv.Itoa(n)+"]."+string(key), err)
		}
		i := -1
		if j < len(d.order) && d.order[j].name == string(key) {
			i = d.order[j].idx
		} else {
			if k, ok := d.props.index[string(key)]; ok {
				i = k
			}
			if j < len(d.order) {
				d.order[j] = member{name: string(key), idx: i}
			} else if j == len(d.order) && j < 256 {
				d.order = append(d.order, member{name: string(key), idx: i})
			}
		}
		j++
		if i >= 0 {
			v, err := s.scalar()
			if err != nil {
				return s.fail(field+"["+strconv.Itoa(n)+"]."+string(key), err)
			}
			d.row[i] = v
			continue
		}
		if len(key) > 0 && key[0] == '@' || string(key) == "id" {
			switch string(key) {
			case "@removed", "@odata.removed":
				e.Deleted = true
			case "@odata.context", "id":
				v, err := s.scalar()
				if err != nil {
					return s.fail(field+"["+strconv.Itoa(n)+"]."+string(key), err)
				}
				if string(key) == "id" {
					e.ID = v
				} else if bytes.HasSuffix(v, deletedSuffix) {
					e.Deleted = true
				}
				continue
			}
		}
		if err := s.skip(0); err != nil {
			return s.fail(field+"["+strconv.Itoa(n)+"]."+string(key), err)
		}
	}
}

// scanner is a minimal JSON reader over a byte slice.
type scanner struct {
	b       []byte
	i       int
	scratch []byte // unescaped strings of the current entity
}

func (s *scanner) reset(b []byte) { s.b, s.i = b, 0 }

func (s *scanner) fail(field string, err error) error {
	if err == ErrStop {
		return err
	}
	var oe *Error
	if errors.As(err, &oe) {
		return err
	}
	return &Error{Field: field, Offset: int64(s.i), Err: err}
}

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

func (s *scanner) peek() byte {
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

func (s *scanner) expect(c byte) error {
	s.ws()
	if s.i >= len(s.b) {
		return errTruncated
	}
	if s.b[s.i] != c {
		return errSyntax
	}
	s.i++
	return nil
}

func (s *scanner) colon() error { return s.expect(':') }

// nextMember consumes the separator before an object member; it reports
// false at the closing brace.
func (s *scanner) nextMember(first bool) (bool, error) {
	s.ws()
	if s.i >= len(s.b) {
		return false, errTruncated
	}
	if s.b[s.i] == '}' {
		s.i++
		return false, nil
	}
	if !first {
		if s.b[s.i] != ',' {
			return false, errSyntax
		}
		s.i++
		s.ws()
	}
	if s.i >= len(s.b) {
		return false, errTruncated
	}
	if s.b[s.i] != '"' {
		return false, errSyntax
	}
	return true, nil
}

// str reads a string at s.i and returns its contents, unescaped. Without
// escapes the result aliases the page.
func (s *scanner) str() ([]byte, error) {
	s.ws()
	if s.i >= len(s.b) {
		return nil, errTruncated
	}
	if s.b[s.i] != '"' {
		return nil, errSyntax
	}
	start := s.i + 1
	// Keys and values are mostly short: a plain loop over the first bytes
	// beats calling bytes.IndexByte; longer strings use it.
	end := min(start+24, len(s.b))
	for i := start; i < end; i++ {
		switch s.b[i] {
		case '"':
			s.i = i + 1
			return s.b[start:i], nil
		case '\\':
			return s.strEscaped(start)
		}
	}
	j := bytes.IndexByte(s.b[end:], '"')
	if j < 0 {
		if bytes.IndexByte(s.b[end:], '\\') >= 0 {
			return s.strEscaped(start)
		}
		return nil, errTruncated
	}
	if bytes.IndexByte(s.b[end:end+j], '\\') >= 0 {
		return s.strEscaped(start)
	}
	s.i = end + j + 1
	return s.b[start : end+j], nil
}

// strEscaped unescapes into the scanner's scratch buffer, which is reset
// per entity; a grown buffer leaves earlier values in the old one, so they
// stay valid until the entity is handed over.
func (s *scanner) strEscaped(start int) ([]byte, error) {
	base := len(s.scratch)
	out := s.scratch
	defer func() { s.scratch = out }()
	i := start
	for {
		if i >= len(s.b) {
			return nil, errTruncated
		}
		c := s.b[i]
		switch {
		case c == '"':
			s.i = i + 1
			return out[base:len(out):len(out)], nil
		case c == '\\':
			if i+1 >= len(s.b) {
				return nil, errTruncated
			}
			i++
			switch s.b[i] {
			case '"', '\\', '/':
				out = append(out, s.b[i])
			case 'b':
				out = append(out, '\b')
			case 'f':
				out = append(out, '\f')
			case 'n':
				out = append(out, '\n')
			case 'r':
				out = append(out, '\r')
			case 't':
				out = append(out, '\t')
			case 'u':
				r, n, err := s.hex4(i + 1)
				if err != nil {
					return nil, err
				}
				i += n
				if utf16.IsSurrogate(r) {
					if i+2 < len(s.b) && s.b[i+1] == '\\' && s.b[i+2] == 'u' {
						r2, n2, err := s.hex4(i + 3)
						if err != nil {
							return nil, err
						}
						if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
							r = d
							i += n2 + 2
						} else {
							r = utf8.RuneError
						}
					} else {
						r = utf8.RuneError
					}
				}
				out = utf8.AppendRune(out, r)
			default:
				return nil, errSyntax
			}
			i++
		case c < 0x20:
			return nil, errSyntax
		default:
			out = append(out, c)
			i++
		}
	}
}

// hex4 reads four hex digits at i; n is how many bytes were consumed (4).
func (s *scanner) hex4(i int) (rune, int, error) {
	if i+4 > len(s.b) {
		return 0, 0, errTruncated
	}
	var r rune
	for _, c := range s.b[i : i+4] {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c - 'a' + 10)
		case c >= 'A' && c <= 'F':
			r |= rune(c - 'A' + 10)
		default:
			return 0, 0, errSyntax
		}
	}
	return r, 4, nil
}

// strValue reads a string or null.
func (s *scanner) strValue() (string, error) {
	s.ws()
	if s.literalIs("null") {
		return "", nil
	}
	v, err := s.str()
	return string(v), err
}

// countValue reads V2's "__count": "123" (asString) or V4's @odata.count: 123.
func (s *scanner) countValue(asString bool) (int64, error) {
	s.ws()
	var v []byte
	var err error
	if s.peek() == '"' {
		v, err = s.str()
	} else {
		v, err = s.scalar()
	}
	if err != nil {
		return 0, err
	}
	n, perr := strconv.ParseInt(string(v), 10, 64)
	if perr != nil || n < 0 {
		return 0, errors.New("count is not a non-negative integer")
	}
	_ = asString // V2 sends a string and V4 a number; both are accepted
	return n, nil
}

func (s *scanner) literalIs(lit string) bool {
	if len(s.b)-s.i >= len(lit) && string(s.b[s.i:s.i+len(lit)]) == lit {
		s.i += len(lit)
		return true
	}
	return false
}

// scalar reads a string (its contents), number, true or false (their text) or
// null (nil). Objects and arrays are skipped and give nil.
func (s *scanner) scalar() ([]byte, error) {
	s.ws()
	if s.i >= len(s.b) {
		return nil, errTruncated
	}
	switch c := s.b[s.i]; {
	case c == '"':
		return s.str()
	case c == 'n':
		if s.literalIs("null") {
			return nil, nil
		}
		return nil, s.truncOrSyntax("null")
	case c == 't':
		if s.literalIs("true") {
			return s.b[s.i-4 : s.i], nil
		}
		return nil, s.truncOrSyntax("true")
	case c == 'f':
		if s.literalIs("false") {
			return s.b[s.i-5 : s.i], nil
		}
		return nil, s.truncOrSyntax("false")
	case c == '-' || (c >= '0' && c <= '9'):
		return s.number()
	case c == '{' || c == '[':
		return nil, s.skip(0)
	}
	return nil, errSyntax
}

func (s *scanner) truncOrSyntax(lit string) error {
	rest := s.b[s.i:]
	if len(rest) < len(lit) && string(rest) == lit[:len(rest)] {
		return errTruncated
	}
	return errSyntax
}

func (s *scanner) number() ([]byte, error) {
	start := s.i
	if s.b[s.i] == '-' {
		s.i++
	}
	digits := 0
	for s.i < len(s.b) {
		c := s.b[s.i]
		if (c >= '0' && c <= '9') || c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-' {
			if c >= '0' && c <= '9' {
				digits++
			}
			s.i++
			continue
		}
		break
	}
	if digits == 0 {
		if s.i >= len(s.b) {
			return nil, errTruncated
		}
		return nil, errSyntax
	}
	if s.i >= len(s.b) {
		return nil, errTruncated // a number cannot end a page
	}
	return s.b[start:s.i], nil
}

// skip skips one value of any kind, checking its syntax.
func (s *scanner) skip(depth int) error {
	if depth > maxDepth {
		return errDepth
	}
	s.ws()
	if s.i >= len(s.b) {
		return errTruncated
	}
	switch s.b[s.i] {
	case '{':
		s.i++
		for first := true; ; first = false {
			more, err := s.nextMember(first)
			if err != nil || !more {
				return err
			}
			if _, err := s.str(); err != nil {
				return err
			}
			if err := s.colon(); err != nil {
				return err
			}
			if err := s.skip(depth + 1); err != nil {
				return err
			}
		}
	case '[':
		s.i++
		for first := true; ; first = false {
			s.ws()
			if s.i >= len(s.b) {
				return errTruncated
			}
			if s.b[s.i] == ']' {
				s.i++
				return nil
			}
			if !first {
				if s.b[s.i] != ',' {
					return errSyntax
				}
				s.i++
			}
			if err := s.skip(depth + 1); err != nil {
				return err
			}
		}
	case '"':
		_, err := s.skipStr()
		return err
	default:
		_, err := s.scalar()
		return err
	}
}

// skipStr skips a string without unescaping it.
func (s *scanner) skipStr() (int, error) {
	i := s.i + 1
	for {
		j := bytes.IndexByte(s.b[i:], '"')
		if j < 0 {
			return 0, errTruncated
		}
		// Count the backslashes before the quote: odd means escaped.
		k := i + j - 1
		n := 0
		for k >= i && s.b[k] == '\\' {
			n++
			k--
		}
		if n%2 == 0 {
			s.i = i + j + 1
			return j, nil
		}
		i += j + 1
	}
}

// ParseError extracts code and message from an OData error body, V2
// ({"error":{"code":..,"message":{"lang":..,"value":..}}}) or V4
// ({"error":{"code":..,"message":..}}), or from SAP's XML error document.
func ParseError(body []byte) (code, message string) {
	var e struct {
		Error struct {
			Code    string          `json:"code"`
			Message json.RawMessage `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(body, &e); err == nil {
		code = e.Error.Code
		var m string
		if json.Unmarshal(e.Error.Message, &m) == nil {
			return code, m
		}
		var mv struct {
			Value string `json:"value"`
		}
		if json.Unmarshal(e.Error.Message, &mv) == nil {
			return code, mv.Value
		}
		return code, ""
	}
	// <error xmlns="..."><code>..</code><message xml:lang="en">..</message></error>
	code = xmlElem(body, "code")
	message = xmlElem(body, "message")
	return code, message
}

func xmlElem(b []byte, name string) string {
	i := bytes.Index(b, []byte("<"+name))
	if i < 0 {
		return ""
	}
	j := bytes.IndexByte(b[i:], '>')
	if j < 0 {
		return ""
	}
	rest := b[i+j+1:]
	k := bytes.Index(rest, []byte("</"+name+">"))
	if k < 0 {
		return ""
	}
	return string(rest[:k])
}

// DecodeMember decodes a JSON page that is not OData but has the same shape:
// an object whose member named member is an array of entities (Oracle REST
// "items", Workday Reports-as-a-Service "Report_Entry"). fn is called for
// each entity; every other top-level member with a scalar value is passed to
// other, if set (Oracle's "hasMore", "count", "offset"), with string
// contents unescaped. It returns the number of entities.
func (d *Decoder) DecodeMember(body []byte, member string, fn func(row erp.Row, e Entity) error, other func(name string, value []byte)) (int, error) {
	s := &d.s
	s.reset(body)
	var m Meta
	s.ws()
	if err := s.expect('{'); err != nil {
		return 0, s.fail("page", err)
	}
	found := false
	for first := true; ; first = false {
		more, err := s.nextMember(first)
		if err != nil {
			return m.Entities, s.fail("page", err)
		}
		if !more {
			break
		}
		key, err := s.str()
		if err != nil {
			return m.Entities, s.fail("page", err)
		}
		name := string(key)
		if err := s.colon(); err != nil {
			return m.Entities, s.fail(name, err)
		}
		if name == member {
			found = true
			if err := d.entities(member, &m, fn); err != nil {
				return m.Entities, err
			}
			continue
		}
		s.ws()
		if c := s.peek(); c == '{' || c == '[' {
			if err := s.skip(0); err != nil {
				return m.Entities, s.fail(name, err)
			}
			continue
		}
		v, err := s.scalar()
		if err != nil {
			return m.Entities, s.fail(name, err)
		}
		if other != nil {
			other(name, v)
		}
	}
	s.ws()
	if s.i != len(s.b) {
		return m.Entities, s.fail("page", errSyntax)
	}
	if !found {
		return 0, &Error{Field: member, Offset: 0, Err: errors.New("the page has no " + strconv.Quote(member) + " array")}
	}
	return m.Entities, nil
}
