package transform

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/greenlang/gl001/coord"
)

// Payload schemas. Each agent message this package formats carries a JSON
// object with the schema id, its part number among the messages one call
// produced, and one array of records:
//
//	{"schema": "gl001.transform.points/v1", "part": 1, "parts": 3, "points": [...]}
//
// Part is 1-based; every part of one call shares the message CorrelationID,
// so a receiver can tell when it has them all. Values that are not finite
// are null.
const (
	SchemaPoints  = "gl001.transform.points/v1"  // array "points" of PointRecord
	SchemaWindows = "gl001.transform.windows/v1" // array "windows" of WindowRecord
	SchemaEnergy  = "gl001.transform.energy/v1"  // array "energy" of EnergyRecord
)

// DefaultMaxPayload bounds a message payload when MessageConfig.MaxPayload is
// zero: well under the 1 MiB a default NATS server accepts.
const DefaultMaxPayload = 64 << 10

// minMaxPayload is the smallest MaxPayload accepted: room for the envelope
// and a record.
const minMaxPayload = 1 << 10

// ErrRecordTooLarge is returned when one record alone does not fit in
// MaxPayload. Not retryable with the same configuration.
var ErrRecordTooLarge = errors.New("transform: record larger than the message payload limit")

// MessageConfig says how to address the messages [PointMessages],
// [WindowMessages] and [EnergyMessages] build.
type MessageConfig struct {
	From string     // the sending agent, e.g. "GL-001"; required
	To   string     // the addressee; empty for an event
	Type coord.Type // zero: coord.TypeEvent
	// Name is the message name; empty means "points", "windows" or "energy".
	Name string
	// MaxPayload bounds each payload in bytes; 0 means DefaultMaxPayload.
	// Records are split across as many messages as needed, never cut.
	MaxPayload int
	// Now stamps the messages; nil means time.Now.
	Now func() time.Time
}

// Validate reports every problem with c.
func (c MessageConfig) Validate() error {
	var errs []error
	if c.From == "" {
		errs = append(errs, errors.New("transform: messages: From is required"))
	}
	if c.MaxPayload != 0 && c.MaxPayload < minMaxPayload {
		errs = append(errs, fmt.Errorf("transform: messages: MaxPayload %d is below %d bytes", c.MaxPayload, minMaxPayload))
	}
	return errors.Join(errs...)
}

// PointRecord is one point in a points payload.
type PointRecord struct {
	Tag         string    `json:"tag"`
	Value       *float64  `json:"value"` // null when not finite
	Unit        string    `json:"unit,omitempty"`
	Quality     string    `json:"quality"`      // the OPC UA status code name
	QualityCode uint32    `json:"quality_code"` // the OPC UA status code
	Time        time.Time `json:"time"`
	Source      string    `json:"source,omitempty"`
	Score       float64   `json:"score"`
	Grade       Grade     `json:"grade"`
	Reasons     Reason    `json:"reasons"`
}

// WindowRecord is one aggregation window in a windows payload.
type WindowRecord struct {
	Tag          string    `json:"tag"`
	Unit         string    `json:"unit,omitempty"`
	Start        time.Time `json:"start"`
	End          time.Time `json:"end"`
	Count        int       `json:"count"`
	Valid        int       `json:"valid"`
	Expected     int       `json:"expected,omitempty"`
	Mean         *float64  `json:"mean"` // null when no valid point
	Min          *float64  `json:"min"`
	Max          *float64  `json:"max"`
	Last         *float64  `json:"last"`
	Completeness float64   `json:"completeness"`
	Score        float64   `json:"score"`
	Grade        Grade     `json:"grade"`
}

// EnergyRecord is one normalized ERP energy record in an energy payload.
type EnergyRecord struct {
	Plant        string    `json:"plant"`
	Meter        string    `json:"meter,omitempty"`
	Start        time.Time `json:"start"` // UTC, the period is [start, end)
	End          time.Time `json:"end"`
	Value        *float64  `json:"value"` // null when the unit was unusable
	Unit         string    `json:"unit"`
	CostAmount   string    `json:"cost_amount,omitempty"` // exact decimal, as the ERP sent it
	CostCurrency string    `json:"cost_currency,omitempty"`
	Source       string    `json:"source"` // system/entity/key
	Issues       []Issue   `json:"issues,omitempty"`
}

func finite(v float64) *float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return &v
}

// PointMessages formats scored points as agent messages of schema
// SchemaPoints, split so that no payload exceeds cfg.MaxPayload.
func PointMessages(points []Scored, cfg MessageConfig) ([]coord.Message, error) {
	return buildMessages(cfg, "points", SchemaPoints, len(points), func(i int) any {
		s := &points[i]
		return PointRecord{
			Tag: s.Point.Tag, Value: finite(s.Point.Value), Unit: s.Point.Unit, Quality: s.Point.Quality.String(),
			QualityCode: uint32(s.Point.Quality), Time: s.Point.Time, Source: s.Point.Source,
			Score: s.Score, Grade: s.Grade, Reasons: s.Reasons,
		}
	})
}

// WindowMessages formats aggregation windows as agent messages of schema
// SchemaWindows, split so that no payload exceeds cfg.MaxPayload.
func WindowMessages(windows []Window, cfg MessageConfig) ([]coord.Message, error) {
	return buildMessages(cfg, "windows", SchemaWindows, len(windows), func(i int) any {
		w := &windows[i]
		return WindowRecord{
			Tag: w.Tag, Unit: w.Unit, Start: w.Start, End: w.End, Count: w.Count, Valid: w.Valid, Expected: w.Expected,
			Mean: finite(w.Mean), Min: finite(w.Min), Max: finite(w.Max), Last: finite(w.Last),
			Completeness: w.Completeness, Score: w.Score, Grade: w.Grade,
		}
	})
}

// EnergyMessages formats normalized ERP energy records as agent messages of
// schema SchemaEnergy, split so that no payload exceeds cfg.MaxPayload.
func EnergyMessages(records []Energy, cfg MessageConfig) ([]coord.Message, error) {
	return buildMessages(cfg, "energy", SchemaEnergy, len(records), func(i int) any {
		e := &records[i]
		r := EnergyRecord{
			Plant: e.Plant, Meter: e.Meter, Start: e.Period.Start, End: e.Period.End, Value: finite(e.Value),
			Unit: e.Unit.Symbol(), Source: e.Source.System + "/" + e.Source.Entity + "/" + e.Source.Key, Issues: e.Issues,
		}
		if !e.Cost.IsZero() {
			r.CostAmount, r.CostCurrency = e.Cost.Amount.String(), e.Cost.Currency
		}
		return r
	})
}

// buildMessages encodes n records and packs them, in order, into as few
// messages as fit the payload limit.
func buildMessages(cfg MessageConfig, field, schema string, n int, record func(int) any) ([]coord.Message, error) {
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
			return nil, fmt.Errorf("transform: messages: record %d: %w", i, err)
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
	corr := coord.NewID()
	msgs := make([]coord.Message, len(parts))
	for i, body := range parts {
		payload := fmt.Appendf(nil, `{"schema":%q,"part":%d,"parts":%d,%q:[`, schema, i+1, len(parts), field)
		payload = append(payload, body...)
		payload = append(payload, "]}"...)
		msgs[i] = coord.Message{
			ID: coord.NewID(), Type: cfg.Type, From: cfg.From, To: cfg.To, Name: name,
			CorrelationID: corr, Time: t, Payload: payload,
		}
	}
	return msgs, nil
}
