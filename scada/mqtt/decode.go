package mqtt

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/greenlang/gl001/scada"
)

// Decoder turns the payload of one MQTT message into points.
//
// Decode appends the points it finds in m to dst and returns the extended
// slice. When part of a payload is bad, Decode appends the good points,
// skips the bad ones and returns an error describing them: the Source
// delivers what was appended, counts the message as bad and reports it with
// its topic. A payload with nothing usable returns dst unchanged and an error.
//
// A Source calls Decode from one goroutine at a time, but a Decoder value
// shared by several Sources is called concurrently and must be safe for that
// (the decoders in this package and in scada/mqtt/sparkplug are).
type Decoder interface {
	Decode(dst []scada.Point, m *Message) ([]scada.Point, error)
}

// Message is an MQTT message as a [Decoder] sees it. Decoders must not keep
// Payload after Decode returns.
type Message struct {
	Topic    string
	Payload  []byte
	QoS      byte
	Retained bool
	Received time.Time // when the Source received it; the default point time

	// Tag is the tag the subscription's mapping named from the topic (the
	// topic itself when the subscription has no Tag template), and Unit the
	// subscription's Unit. Decoders that find no tag or unit in the payload
	// use them.
	Tag  string
	Unit string

	// MaxPoints, when positive, is the most points the Source will take from
	// this message (Config.MaxPointsPerMessage). A decoder that can give
	// more stops appending at MaxPoints and returns a *[LimitError]; the
	// Source cuts what a decoder appends beyond it anyway.
	MaxPoints int

	// Publish, when not nil, queues a QoS 0 message to the broker on the
	// connection this message arrived on (the Sparkplug decoder asks for
	// rebirths with it). It never blocks: when the queue is full it drops the
	// message and returns an error.
	Publish func(topic string, payload []byte) error
}

// Point returns a Good point for m's tag and unit at m's receive time.
func (m *Message) Point(v float64) scada.Point {
	return scada.Point{Tag: m.Tag, Value: v, Unit: m.Unit, Quality: scada.Good, Time: m.Received}
}

// DecoderFunc adapts a function to a [Decoder].
type DecoderFunc func(dst []scada.Point, m *Message) ([]scada.Point, error)

// Decode calls f(dst, m).
func (f DecoderFunc) Decode(dst []scada.Point, m *Message) ([]scada.Point, error) { return f(dst, m) }

// Number decodes a payload that is one number in text, such as "21.5" or
// " 1e3\n", or true/false (1 and 0), into one Good point named by the
// message's tag, at the time the message was received. It is the default
// decoder of a [Subscription].
type Number struct{}

var errEmptyPayload = errors.New("empty payload")

// Decode implements [Decoder].
func (Number) Decode(dst []scada.Point, m *Message) ([]scada.Point, error) {
	b := bytes.TrimSpace(m.Payload)
	if len(b) == 0 {
		return dst, errEmptyPayload
	}
	switch string(b) {
	case "true":
		return append(dst, m.Point(1)), nil
	case "false":
		return append(dst, m.Point(0)), nil
	}
	v, err := strconv.ParseFloat(string(b), 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return dst, fmt.Errorf("not a finite number: %q", truncate(b, 32))
	}
	return append(dst, m.Point(v)), nil
}

func truncate(b []byte, n int) []byte {
	if len(b) > n {
		return b[:n]
	}
	return b
}
