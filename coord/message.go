package coord

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Type says what a Message is for.
type Type uint8

// Message types.
const (
	// TypeEvent is a fire-and-forget notification (the zero value).
	TypeEvent Type = iota
	// TypeCommand asks an agent to act. Handlers must be idempotent: the same
	// command can arrive again after the requester timed out and retried.
	TypeCommand
	// TypeQuery asks an agent for data without changing anything.
	TypeQuery
	// TypeResponse answers a command or query.
	TypeResponse
	// TypeHeartbeat tells the registry an agent is alive.
	TypeHeartbeat
)

var typeNames = [...]string{"event", "command", "query", "response", "heartbeat"}

// String returns the lower-case name ("command", "query"...).
func (t Type) String() string {
	if int(t) < len(typeNames) {
		return typeNames[t]
	}
	return "type(" + strconv.Itoa(int(t)) + ")"
}

// MarshalText encodes t by name.
func (t Type) MarshalText() ([]byte, error) {
	if int(t) >= len(typeNames) {
		return nil, fmt.Errorf("%w: unknown type %d", ErrBadMessage, t)
	}
	return []byte(typeNames[t]), nil
}

// UnmarshalText decodes a name written by MarshalText.
func (t *Type) UnmarshalText(b []byte) error {
	for i, n := range typeNames {
		if string(b) == n {
			*t = Type(i)
			return nil
		}
	}
	return fmt.Errorf("%w: unknown type %q", ErrBadMessage, b)
}

// Message is what travels on a Bus. It is a value: a Bus may hand the same
// Headers map and Payload slice to several subscribers, so handlers must not
// modify them.
type Message struct {
	// ID identifies this one transmission; receivers that check signatures
	// reject a second message with the same sender and ID (replay).
	ID string
	// Type says what the message is for.
	Type Type
	// From is the sender's agent id ("GL-001"); To the addressee ("GL-042"),
	// empty for events.
	From, To string
	// Name is the command or query name ("set_firing_rate"), used by Agent to
	// pick the handler.
	Name string
	// Subject is the subject the message was published on; set by the Bus on
	// delivery.
	Subject string
	// ReplyTo is the subject replies go to. Request sets it; Agent replies to
	// it.
	ReplyTo string
	// CorrelationID is the id of the logical command: the same on every retry
	// of one command and on its replies. Handlers dedupe on it.
	CorrelationID string
	// Time is when the message was created; Deadline when its answer stops
	// being useful (zero: none).
	Time, Deadline time.Time
	// Headers carry application metadata (trace ids...). On NATS they map onto
	// NATS headers; names starting with "Coord-" are reserved.
	Headers map[string]string
	// Payload is the JSON body: command parameters, a query result...
	Payload json.RawMessage
	// Error is set on a response that reports a failure instead of a result.
	Error *ReplyError
	// Signature is the compact JWT binding sender, id, digest and expiry; see
	// Seal and Guard. Empty when unsigned.
	Signature string
}

// Digest is the SHA-256 over the fields a signature protects: ID, Type, From,
// To, Name, CorrelationID, Time, Deadline, Payload and Error. Subject, ReplyTo,
// Headers and Signature are routing and metadata and are not covered.
func Digest(m *Message) [32]byte {
	// Length-prefixed fields in one buffer, hashed at once: no allocation
	// for ordinary messages.
	var stack [1024]byte
	b := stack[:0]
	str := func(s string) {
		b = binary.BigEndian.AppendUint64(b, uint64(len(s)))
		b = append(b, s...)
	}
	tm := func(t time.Time) {
		v := int64(0)
		if !t.IsZero() {
			v = t.UnixNano()
		}
		b = binary.BigEndian.AppendUint64(b, uint64(v))
	}
	str(m.ID)
	b = append(b, byte(m.Type))
	str(m.From)
	str(m.To)
	str(m.Name)
	str(m.CorrelationID)
	tm(m.Time)
	tm(m.Deadline)
	str(string(m.Payload))
	if m.Error != nil {
		b = append(b, 1)
		str(m.Error.Code)
		str(m.Error.Message)
	} else {
		b = append(b, 0)
	}
	return sha256.Sum256(b)
}

// Decode unmarshals the payload into v.
func (m *Message) Decode(v any) error {
	if len(m.Payload) == 0 {
		return fmt.Errorf("%w: empty payload", ErrBadMessage)
	}
	if err := json.Unmarshal(m.Payload, v); err != nil {
		return fmt.Errorf("%w: payload: %w", ErrBadMessage, err)
	}
	return nil
}

var ids struct {
	once   sync.Once
	prefix string
	n      atomic.Uint64
}

// NewID returns an id unique across processes: a random per-process prefix
// and a counter. It is cheap enough to call for every message.
func NewID() string {
	ids.once.Do(func() {
		var b [9]byte
		_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
		const alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
		out := make([]byte, 0, 15)
		v := binary.BigEndian.Uint64(b[:8])
		for i := 0; i < 12; i++ {
			out = append(out, alphabet[v&31])
			v >>= 5
		}
		ids.prefix = string(out)
	})
	var b [32]byte // prefix (12) + a base-36 uint64 (at most 13): one allocation
	return string(strconv.AppendUint(append(b[:0], ids.prefix...), ids.n.Add(1), 36))
}

// NewInbox returns a fresh reply subject, "_INBOX.<id>".
func NewInbox() string { return inboxPrefix + NewID() }

const inboxPrefix = "_INBOX."
