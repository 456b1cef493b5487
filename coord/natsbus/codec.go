package natsbus

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/nats-io/nats.go"

	"github.com/greenlang/gl001/coord"
)

// Header names carrying the coord.Message envelope. Application headers
// (Message.Headers) travel beside them under their own names; the "Coord-"
// prefix is reserved.
const (
	HeaderID            = "Coord-Id"
	HeaderType          = "Coord-Type"
	HeaderFrom          = "Coord-From"
	HeaderTo            = "Coord-To"
	HeaderName          = "Coord-Name"
	HeaderCorrelationID = "Coord-Correlation-Id"
	HeaderTime          = "Coord-Time"
	HeaderDeadline      = "Coord-Deadline"
	HeaderErrorCode     = "Coord-Error-Code"
	HeaderError         = "Coord-Error"
	HeaderSignature     = "Coord-Signature"

	reservedPrefix = "Coord-"
)

// Encode turns m into a NATS message for subject: the envelope in Coord-*
// headers, the application headers as NATS headers, the JSON payload as the
// data. Times are RFC 3339 with nanoseconds.
func Encode(subject string, m *coord.Message) (*nats.Msg, error) {
	// Sized exactly: a map of at most eight entries (a typical reply) is
	// one small allocation, a larger hint a table twice the size.
	n := len(m.Headers) + 1 // Type
	for _, v := range [...]string{m.ID, m.From, m.To, m.Name, m.CorrelationID, m.Signature} {
		if v != "" {
			n++
		}
	}
	if !m.Time.IsZero() {
		n++
	}
	if !m.Deadline.IsZero() {
		n++
	}
	if m.Error != nil {
		n += 2
	}
	h := make(nats.Header, n)
	// One backing array for every header's value slice; each slice is
	// capped so that an append by the caller cannot clobber its neighbour.
	vals := make([]string, 0, n)
	put := func(k, v string) {
		vals = append(vals, v)
		n := len(vals)
		h[k] = vals[n-1 : n : n]
	}
	for k, v := range m.Headers {
		if strings.HasPrefix(k, reservedPrefix) {
			return nil, fmt.Errorf("%w: header %q uses the reserved prefix %q", coord.ErrBadMessage, k, reservedPrefix)
		}
		if !validHeader(k, v) {
			return nil, fmt.Errorf("%w: header %q: name or value not encodable", coord.ErrBadMessage, k)
		}
		put(k, v)
	}
	var bad string
	set := func(k, v string) {
		if v == "" {
			return
		}
		if bad == "" && !validValue(v) {
			bad = k
		}
		put(k, v)
	}
	set(HeaderID, m.ID)
	set(HeaderType, m.Type.String())
	set(HeaderFrom, m.From)
	set(HeaderTo, m.To)
	set(HeaderName, m.Name)
	set(HeaderCorrelationID, m.CorrelationID)
	if !m.Time.IsZero() || !m.Deadline.IsZero() {
		// Both times in one string: one allocation.
		var buf [2 * len(time.RFC3339Nano)]byte
		b := buf[:0]
		if !m.Time.IsZero() {
			b = m.Time.AppendFormat(b, time.RFC3339Nano)
		}
		n := len(b)
		if !m.Deadline.IsZero() {
			b = m.Deadline.AppendFormat(b, time.RFC3339Nano)
		}
		times := string(b)
		set(HeaderTime, times[:n])
		set(HeaderDeadline, times[n:])
	}
	if m.Error != nil {
		if !validValue(m.Error.Code) && bad == "" {
			bad = HeaderErrorCode
		}
		put(HeaderErrorCode, m.Error.Code)
		set(HeaderError, m.Error.Message)
	}
	set(HeaderSignature, m.Signature)
	if bad != "" {
		return nil, fmt.Errorf("%w: field %s not encodable as a NATS header", coord.ErrBadMessage, bad)
	}
	return &nats.Msg{Subject: subject, Reply: m.ReplyTo, Header: h, Data: m.Payload}, nil
}

// validHeader reports whether a header survives the NATS text header block.
func validHeader(k, v string) bool {
	if k == "" || strings.ContainsAny(k, ": \t\r\n") {
		return false
	}
	return validValue(v)
}

// validValue reports whether a header value survives the NATS text header
// block: no line breaks, and no white space at either end (the reader trims
// it). It is strings.TrimSpace(v) == v without CR or LF, checked with the
// vectorised byte search and the two end runes only.
func validValue(v string) bool {
	if strings.IndexByte(v, '\n') >= 0 || strings.IndexByte(v, '\r') >= 0 {
		return false
	}
	if v == "" {
		return true
	}
	first, _ := utf8.DecodeRuneInString(v)
	last, _ := utf8.DecodeLastRuneInString(v)
	return !unicode.IsSpace(first) && !unicode.IsSpace(last)
}

// Decode turns a received NATS message back into a coord.Message. A message
// from a sender that is not a coord bus decodes as an event with no envelope.
// Malformed envelope fields give an error wrapping coord.ErrBadMessage.
func Decode(msg *nats.Msg) (coord.Message, error) {
	m := coord.Message{Subject: msg.Subject, ReplyTo: msg.Reply}
	if len(msg.Data) > 0 {
		m.Payload = json.RawMessage(msg.Data)
	}
	var errCode, errMsg string
	var hasErr bool
	for k, vs := range msg.Header {
		if len(vs) == 0 {
			continue
		}
		v := vs[0]
		if !strings.HasPrefix(k, reservedPrefix) {
			if m.Headers == nil {
				m.Headers = make(map[string]string, len(msg.Header))
			}
			m.Headers[k] = v
			continue
		}
		switch k {
		case HeaderID:
			m.ID = v
		case HeaderType:
			if err := m.Type.UnmarshalText([]byte(v)); err != nil {
				return coord.Message{}, err
			}
		case HeaderFrom:
			m.From = v
		case HeaderTo:
			m.To = v
		case HeaderName:
			m.Name = v
		case HeaderCorrelationID:
			m.CorrelationID = v
		case HeaderTime, HeaderDeadline:
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				return coord.Message{}, fmt.Errorf("%w: %s: %w", coord.ErrBadMessage, k, err)
			}
			if k == HeaderTime {
				m.Time = t
			} else {
				m.Deadline = t
			}
		case HeaderErrorCode:
			errCode, hasErr = v, true
		case HeaderError:
			errMsg = v
		case HeaderSignature:
			m.Signature = v
		default:
			return coord.Message{}, fmt.Errorf("%w: unknown envelope header %q", coord.ErrBadMessage, k)
		}
	}
	if hasErr {
		m.Error = &coord.ReplyError{Code: errCode, Message: errMsg}
	} else if errMsg != "" {
		return coord.Message{}, fmt.Errorf("%w: %s without %s", coord.ErrBadMessage, HeaderError, HeaderErrorCode)
	}
	return m, nil
}
