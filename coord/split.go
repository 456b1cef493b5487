package coord

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"
)

// DefaultMaxPayload bounds a message payload when SplitConfig.MaxPayload is
// zero: well under the 1 MiB a default NATS server accepts.
const DefaultMaxPayload = 64 << 10

// minMaxPayload is the smallest MaxPayload accepted: room for the envelope
// and a record.
const minMaxPayload = 1 << 10

// ErrRecordTooLarge is returned by [SplitRecords] when one record alone does
// not fit in MaxPayload. Not retryable with the same configuration.
var ErrRecordTooLarge = errors.New("coord: record larger than the message payload limit")

// SplitConfig says how to address the messages [SplitRecords] builds.
type SplitConfig struct {
	From string // the sending agent, e.g. "GL-001"; required
	To   string // the addressee; empty for an event
	Type Type   // zero: TypeEvent
	// Name is the message name; empty means the records' field name.
	Name string
	// MaxPayload bounds each payload in bytes; 0 means DefaultMaxPayload.
	// Records are split across as many messages as needed, never cut.
	MaxPayload int
	// Now stamps the messages; nil means time.Now.
	Now func() time.Time
}

// Validate reports every problem with c.
func (c SplitConfig) Validate() error {
	var errs []error
	if c.From == "" {
		errs = append(errs, fmt.Errorf("%w: split: From is required", ErrBadConfig))
	}
	if c.MaxPayload != 0 && c.MaxPayload < minMaxPayload {
		errs = append(errs, fmt.Errorf("%w: split: MaxPayload %d is below %d bytes", ErrBadConfig, c.MaxPayload, minMaxPayload))
	}
	return errors.Join(errs...)
}

// SplitRecords encodes n records as JSON (record(i) returns the i-th, for
// encoding/json) and packs them, in order, into as few messages as keep each
// payload within cfg.MaxPayload, never cutting a record. Each payload is one
// JSON object naming its schema, its 1-based part number among the messages
// of the call, and one array of records under field:
//
//	{"schema": "gl001.transform.points/v1", "part": 1, "parts": 3, "points": [...]}
//
// Every part shares one CorrelationID, so a receiver can tell when it has them
// all. No records give one message with an empty array. The records' own
// types, and so the schemas, belong to the packages whose data they carry.
func SplitRecords(cfg SplitConfig, schema, field string, n int, record func(i int) any) ([]Message, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	limit := cfg.MaxPayload
	if limit == 0 {
		limit = DefaultMaxPayload
	}
	// The envelope, with room for the largest part numbers an int can have.
	head := fmt.Sprintf(`{"schema":%q,"part":%d,"parts":%d,%q:[`, schema, math.MaxInt, math.MaxInt, field)
	room := limit - len(head) - len("]}")

	var parts [][]byte
	var cur []byte
	for i := range n {
		b, err := json.Marshal(record(i))
		if err != nil {
			return nil, fmt.Errorf("coord: split: record %d: %w", i, err)
		}
		if len(b) > room {
			return nil, fmt.Errorf("%w: record %d is %d bytes, room is %d", ErrRecordTooLarge, i, len(b), room)
		}
		if len(cur) > 0 && len(cur)+1+len(b) > room {
			parts = append(parts, cur)
			cur = nil
		}
		if len(cur) > 0 {
			cur = append(cur, ',')
		}
		cur = append(cur, b...)
	}
	if len(cur) > 0 || len(parts) == 0 {
		parts = append(parts, cur)
	}

	now := time.Now
	if cfg.Now != nil {
		now = cfg.Now
	}
	name := cfg.Name
	if name == "" {
		name = field
	}
	t := now()
	corr := NewID()
	msgs := make([]Message, len(parts))
	for i, body := range parts {
		payload := fmt.Appendf(nil, `{"schema":%q,"part":%d,"parts":%d,%q:[`, schema, i+1, len(parts), field)
		payload = append(payload, body...)
		payload = append(payload, "]}"...)
		msgs[i] = Message{
			ID: NewID(), Type: cfg.Type, From: cfg.From, To: cfg.To, Name: name,
			CorrelationID: corr, Time: t, Payload: payload,
		}
	}
	return msgs, nil
}
