package workday

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/greenlang/gl001/erp"
)

// Namespaces of the SOAP messages.
const (
	nsSOAP = "http://schemas.xmlsoap.org/soap/envelope/"
	nsWD   = "urn:com.workday/bsvc"
	nsWSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
	pwText = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordText"
)

// FaultError is a SOAP 1.1 fault from Workday Web Services. Code is the
// faultcode (e.g. "SOAP-ENV:Client.validationError"), String the
// faultstring. It matches erp.ErrUnauthorized for authentication faults,
// erp.ErrServer for Server faults and erp.ErrBadRequest for other Client
// faults, and unwraps to the *erp.StatusError of the HTTP answer when there
// was one. It never contains the password of the UsernameToken.
type FaultError struct {
	System string
	Code   string
	String string
	Err    error // the HTTP error, if the fault came with an error status
}

func (e *FaultError) Error() string {
	return "erp: " + e.System + ": SOAP fault [" + e.Code + "]: " + e.String
}

// Is matches the erp sentinels by fault code.
func (e *FaultError) Is(target error) bool {
	code := e.Code
	if i := strings.IndexByte(code, ':'); i >= 0 {
		code = code[i+1:]
	}
	switch target {
	case erp.ErrUnauthorized:
		return strings.Contains(strings.ToLower(code), "authentication")
	case erp.ErrServer:
		return strings.HasPrefix(code, "Server")
	case erp.ErrBadRequest:
		return strings.HasPrefix(code, "Client") && !strings.Contains(strings.ToLower(code), "authentication")
	}
	return false
}

// Unwrap returns the HTTP error the fault came with, if any.
func (e *FaultError) Unwrap() error { return e.Err }

// ParseFault extracts faultcode and faultstring from a SOAP 1.1 fault
// envelope; ok is false if body holds none.
func ParseFault(body []byte) (code, message string, ok bool) {
	var env struct {
		Body struct {
			Fault *struct {
				Code   string `xml:"faultcode"`
				String string `xml:"faultstring"`
			} `xml:"Fault"`
		} `xml:"Body"`
	}
	if xml.Unmarshal(body, &env) != nil || env.Body.Fault == nil {
		return "", "", false
	}
	return strings.TrimSpace(env.Body.Fault.Code), strings.TrimSpace(env.Body.Fault.String), true
}

// Results is Response_Results: what a page says about the whole answer.
type Results struct {
	TotalResults int // Total_Results
	TotalPages   int // Total_Pages
	PageResults  int // Page_Results
	Page         int // Page
	Documents    int // documents (Response_Data children) decoded
	Fault        *FaultError
}

// Decoder decodes Workday SOAP response pages in one streaming pass over
// the XML (encoding/xml tokens, no tree, no reflection). Each child of
// Response_Data is a document; property paths name elements below it by
// local name, joined by "/", with ID elements selected by their type as
// ID[@type='Currency_ID'] and attributes as @Descriptor. With a line path,
// each element at that path (below the document) is a record, carrying the
// document's other values; without one, each document is a record. Where
// an element repeats, the first value wins.
//
// A Decoder is not safe for concurrent use; reuse it across pages.
type Decoder struct {
	names  []string
	line   string // path of line elements below the document; "" for none
	isLine []bool
	root   *node // the mapped paths below the document, as a tree

	dec   *xml.Decoder
	rd    bytes.Reader
	arena []byte
	head  []span   // values of the document
	lines [][]span // values of each line; reused across documents
	nline int      // lines of the current document
	row   erp.Row
}

// node is one element of the mapped paths; walking the tree as elements
// open costs a map lookup per element and no allocation.
type node struct {
	children map[string]*node // by local name
	ids      map[string]*node // ID children, by their type attribute
	attrs    map[string]int   // mapped attributes, by local name
	prop     int              // the property read from this element's text, -1 if none
	line     bool             // this element is a line record
}

func newNode() *node { return &node{prop: -1} }

func (n *node) child(seg string) *node {
	if typ, ok := strings.CutPrefix(seg, "ID[@type='"); ok && strings.HasSuffix(typ, "']") {
		typ = strings.TrimSuffix(typ, "']")
		if n.ids == nil {
			n.ids = map[string]*node{}
		}
		if n.ids[typ] == nil {
			n.ids[typ] = newNode()
		}
		return n.ids[typ]
	}
	if n.children == nil {
		n.children = map[string]*node{}
	}
	if n.children[seg] == nil {
		n.children[seg] = newNode()
	}
	return n.children[seg]
}

// insert adds path, whose last segment may be an attribute (@name).
func (n *node) insert(path string) *node {
	if path == "" {
		return n
	}
	for seg := range strings.SplitSeq(path, "/") {
		n = n.child(seg)
	}
	return n
}

type span struct {
	start, end int32
	set        bool
}

// NewDecoder returns a decoder for the given property paths.
func NewDecoder(props []string, line string) *Decoder {
	d := &Decoder{names: props, line: strings.Trim(line, "/"), root: newNode(),
		isLine: make([]bool, len(props)), head: make([]span, len(props)), row: make(erp.Row, len(props))}
	if d.line != "" {
		d.root.insert(d.line).line = true
	}
	for i, p := range props {
		p = normalisePath(p)
		d.isLine[i] = d.line != "" && strings.HasPrefix(p, d.line+"/")
		dir, last := "", p
		if j := strings.LastIndexByte(p, '/'); j >= 0 {
			dir, last = p[:j], p[j+1:]
		}
		if attr, ok := strings.CutPrefix(last, "@"); ok {
			n := d.root.insert(dir)
			if n.attrs == nil {
				n.attrs = map[string]int{}
			}
			if _, dup := n.attrs[attr]; !dup {
				n.attrs[attr] = i
			}
			continue
		}
		if n := d.root.insert(p); n.prop < 0 {
			n.prop = i
		}
	}
	d.dec = xml.NewDecoder(&d.rd)
	return d
}

// normalisePath accepts ID[@wd:type='X'] and ID[@type="X"] for ID[@type='X'].
func normalisePath(p string) string {
	p = strings.Trim(p, "/")
	p = strings.ReplaceAll(p, "@wd:", "@")
	p = strings.ReplaceAll(p, "wd:", "")
	return strings.ReplaceAll(p, `"`, "'")
}

// SyntaxError is a page that is not the expected SOAP response.
type SyntaxError struct {
	Field  string // the element being read, e.g. "Response_Data/Supplier_Invoice"
	Offset int64  // byte offset in the page
	Err    error
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("workday: %s at byte %d: %v", e.Field, e.Offset, e.Err)
}
func (e *SyntaxError) Unwrap() error { return e.Err }

var (
	errNoResponse = errors.New("no SOAP response element in the Body")
	errTruncated  = errors.New("unexpected end of page (truncated XML)")
	errDepth      = errors.New("XML nested too deeply")
)

const maxDepth = 128

// Decode decodes one page, calling fn for each record; the row and its
// byte slices are valid only during the call. A fault in the page is
// returned in Results.Fault, not as an error. fn may return errStop.
func (d *Decoder) Decode(page []byte, fn func(erp.Row) error) (Results, error) {
	var res Results
	d.rd.Reset(page)
	d.dec = xml.NewDecoder(&d.rd)
	d.dec.Strict = true
	// stack holds, per open element, its local name and (inside a document)
	// its path relative to the document.
	type frame struct {
		name string
		n    *node // the element's place in the mapped tree; nil off it
	}
	var stack []frame
	docDepth := -1 // depth of the current document element, -1 outside
	lineDepth := -1
	var text []byte
	textIdx := -1 // property collecting character data
	inResults := false
	var fault *FaultError
	faultField := ""
	sawResponse := false
	fail := func(field string, err error) (Results, error) {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			err = errTruncated
		}
		var se *xml.SyntaxError
		if errors.As(err, &se) && strings.Contains(se.Msg, "unexpected EOF") {
			err = errTruncated
		}
		return res, &SyntaxError{Field: field, Offset: d.dec.InputOffset(), Err: err}
	}
	where := func() string {
		if len(stack) == 0 {
			return "page"
		}
		return stack[len(stack)-1].name
	}
	for {
		tok, err := d.dec.RawToken()
		if err == io.EOF {
			if len(stack) != 0 {
				return fail(where(), errTruncated)
			}
			break
		}
		if err != nil {
			return fail(where(), err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if len(stack) >= maxDepth {
				return fail(where(), errDepth)
			}
			name := t.Name.Local
			depth := len(stack)
			var n *node
			switch {
			case docDepth >= 0:
				if parent := stack[len(stack)-1].n; parent != nil {
					if name == "ID" && parent.ids != nil {
						for _, a := range t.Attr {
							if a.Name.Local == "type" {
								n = parent.ids[a.Value]
								break
							}
						}
					} else {
						n = parent.children[name]
					}
				}
				textIdx = -1
				if n != nil {
					if n.line && lineDepth < 0 {
						lineDepth = depth
						d.newLine()
					}
					for _, a := range t.Attr {
						if i, ok := n.attrs[a.Name.Local]; ok {
							d.store(i, []byte(a.Value))
						}
					}
					if n.prop >= 0 {
						textIdx = n.prop
						text = text[:0]
					}
				}
			case depth >= 3 && stack[depth-1].name == "Response_Data":
				docDepth = depth
				n = d.root
				d.startDocument()
			case depth >= 2 && stack[depth-1].name == "Body":
				if name == "Fault" {
					fault = &FaultError{}
				} else {
					sawResponse = true
				}
			case name == "Response_Results" && depth == 3:
				inResults = true
			case fault != nil && (name == "faultcode" || name == "faultstring"):
				faultField = name
				text = text[:0]
			case inResults:
				textIdx = -2 // a Response_Results member
				text = text[:0]
			}
			stack = append(stack, frame{name: name, n: n})
		case xml.CharData:
			if textIdx != -1 || faultField != "" {
				text = append(text, t...)
			}
		case xml.EndElement:
			if len(stack) == 0 || stack[len(stack)-1].name != t.Name.Local {
				return fail(where(), fmt.Errorf("element <%s> closed by </%s>", where(), t.Name.Local))
			}
			depth := len(stack) - 1
			switch {
			case textIdx >= 0:
				d.store(textIdx, bytes.TrimSpace(text))
				textIdx = -1
			case textIdx == -2:
				n, err := strconv.Atoi(string(bytes.TrimSpace(text)))
				if err != nil {
					return fail("Response_Results/"+t.Name.Local, errors.New("not an integer"))
				}
				switch t.Name.Local {
				case "Total_Results":
					res.TotalResults = n
				case "Total_Pages":
					res.TotalPages = n
				case "Page_Results":
					res.PageResults = n
				case "Page":
					res.Page = n
				}
				textIdx = -1
			case faultField != "":
				if faultField == "faultcode" {
					fault.Code = strings.TrimSpace(string(text))
				} else {
					fault.String = strings.TrimSpace(string(text))
				}
				faultField = ""
			}
			if depth == 3 && t.Name.Local == "Response_Results" {
				inResults = false
			}
			if depth == lineDepth {
				lineDepth = -1
			}
			if depth == docDepth {
				docDepth = -1
				res.Documents++
				if err := d.emit(fn); err != nil {
					return res, err
				}
			}
			stack = stack[:depth]
		}
	}
	if fault != nil {
		res.Fault = fault
		return res, nil
	}
	if !sawResponse {
		return res, &SyntaxError{Field: "Body", Offset: 0, Err: errNoResponse}
	}
	return res, nil
}

func (d *Decoder) newLine() {
	if d.nline < len(d.lines) {
		clear(d.lines[d.nline])
	} else {
		d.lines = append(d.lines, make([]span, len(d.names)))
	}
	d.nline++
}

func (d *Decoder) startDocument() {
	d.arena = d.arena[:0]
	clear(d.head)
	d.nline = 0
}

// store keeps the first value of property i: in the current line if the
// property is line-scoped, else in the document.
func (d *Decoder) store(i int, v []byte) {
	sp := &d.head[i]
	if d.isLine[i] {
		if d.nline == 0 {
			return
		}
		sp = &d.lines[d.nline-1][i]
	}
	if sp.set {
		return
	}
	start := len(d.arena)
	d.arena = append(d.arena, v...)
	*sp = span{start: int32(start), end: int32(len(d.arena)), set: true}
}

func (d *Decoder) fill(i int, sp span) {
	if sp.set {
		d.row[i] = d.arena[sp.start:sp.end:sp.end]
	} else {
		d.row[i] = nil
	}
}

func (d *Decoder) emit(fn func(erp.Row) error) error {
	if d.line == "" {
		for i, sp := range d.head {
			d.fill(i, sp)
		}
		return fn(d.row)
	}
	for _, l := range d.lines[:d.nline] {
		for i := range d.names {
			if d.isLine[i] {
				d.fill(i, l[i])
			} else {
				d.fill(i, d.head[i])
			}
		}
		if err := fn(d.row); err != nil {
			return err
		}
	}
	return nil
}

// request writes a Get_... request envelope.
type request struct {
	op       Operation
	version  string
	user     string
	password string // empty: no WS-Security header (OAuth bearer instead)
	from, to time.Time
	plant    string
	asOf     time.Time
	page     int
	count    int
}

func (r *request) bytes() []byte {
	var b bytes.Buffer
	b.Grow(1024)
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	b.WriteString(`<soapenv:Envelope xmlns:soapenv="` + nsSOAP + `" xmlns:bsvc="` + nsWD + `">`)
	if r.password != "" {
		b.WriteString(`<soapenv:Header><wsse:Security soapenv:mustUnderstand="1" xmlns:wsse="` + nsWSSE + `"><wsse:UsernameToken><wsse:Username>`)
		esc(&b, r.user)
		b.WriteString(`</wsse:Username><wsse:Password Type="` + pwText + `">`)
		esc(&b, r.password)
		b.WriteString(`</wsse:Password></wsse:UsernameToken></wsse:Security></soapenv:Header>`)
	}
	b.WriteString(`<soapenv:Body><bsvc:` + r.op.Name + `_Request bsvc:version="`)
	esc(&b, r.version)
	b.WriteString(`">`)
	if r.plant != "" || !r.from.IsZero() || !r.to.IsZero() {
		b.WriteString(`<bsvc:Request_Criteria>`)
		if r.plant != "" && r.op.PlantElement != "" {
			b.WriteString(`<bsvc:` + r.op.PlantElement + `><bsvc:ID bsvc:type="`)
			esc(&b, r.op.PlantIDType)
			b.WriteString(`">`)
			esc(&b, r.plant)
			b.WriteString(`</bsvc:ID></bsvc:` + r.op.PlantElement + `>`)
		}
		if !r.from.IsZero() && r.op.FromElement != "" {
			b.WriteString(`<bsvc:` + r.op.FromElement + `>` + r.from.UTC().Format(time.DateOnly) + `</bsvc:` + r.op.FromElement + `>`)
		}
		if !r.to.IsZero() && r.op.ToElement != "" {
			// The criteria are inclusive dates; [From, To) ends the day before To
			// (the day of To itself when To is not midnight).
			last := r.to.UTC().Add(-time.Nanosecond)
			b.WriteString(`<bsvc:` + r.op.ToElement + `>` + last.Format(time.DateOnly) + `</bsvc:` + r.op.ToElement + `>`)
		}
		b.WriteString(`</bsvc:Request_Criteria>`)
	}
	b.WriteString(`<bsvc:Response_Filter><bsvc:As_Of_Entry_DateTime>` + r.asOf.UTC().Format("2006-01-02T15:04:05.000Z07:00") +
		`</bsvc:As_Of_Entry_DateTime><bsvc:Page>` + strconv.Itoa(r.page) + `</bsvc:Page><bsvc:Count>` + strconv.Itoa(r.count) +
		`</bsvc:Count></bsvc:Response_Filter>`)
	b.WriteString(`</bsvc:` + r.op.Name + `_Request></soapenv:Body></soapenv:Envelope>`)
	return b.Bytes()
}

func esc(b *bytes.Buffer, s string) { _ = xml.EscapeText(b, []byte(s)) }
