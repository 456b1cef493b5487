package mqtt

import (
	"errors"
	"fmt"

	"github.com/greenlang/gl001/internal/tlsrefusal"
	"github.com/greenlang/gl001/scada"
)

// ErrRunning is returned by [Source.Run] when another Run of the same Source
// is still active: one Source is one client id, and a broker allows one
// connection per client id. Not retryable until the other Run returns.
var ErrRunning = errors.New("mqtt: source is already running")

// ErrLimit is matched by a [*LimitError]: an input larger than a documented
// limit. The input is refused (or cut at the limit) and counted in
// Stats.LimitExceeded; the stream goes on. Retrying the same input fails the
// same way.
var ErrLimit = errors.New("mqtt: input limit exceeded")

// ErrBadTopic is matched by the error reported for a message whose topic is
// not valid UTF-8 or holds a NUL character, and for points whose tag or unit
// does: every store and wire format downstream needs valid UTF-8, so they are
// refused and counted (Stats.BadTopics, Stats.BadTags). Not retryable.
var ErrBadTopic = errors.New("mqtt: not valid UTF-8 text, or holds NUL")

// LimitError is an input that exceeded a limit: a payload larger than
// Config.MaxPayload, more points in one message than
// Config.MaxPointsPerMessage, or one of the Sparkplug decoder's limits
// (metrics per payload, aliases per node, edge nodes). It matches [ErrLimit]
// and [scada.ErrBadInput].
type LimitError struct {
	Limit string // what was limited, e.g. "payload bytes"
	Max   int    // the limit
	Got   int    // the size met (at least Max+1 when counting stopped there)
}

func (e *LimitError) Error() string {
	return fmt.Sprintf("mqtt: %s limit exceeded: %d, at most %d", e.Limit, e.Got, e.Max)
}

// Unwrap returns ErrLimit and scada.ErrBadInput.
func (e *LimitError) Unwrap() []error { return []error{ErrLimit, scada.ErrBadInput} }

// DecodeError reports a payload a [Decoder] could not turn into points. It
// matches [scada.ErrBadInput]. The message is counted in [Stats.BadMessages]
// and the stream goes on; retrying the same payload fails the same way.
type DecodeError struct {
	Topic string // the topic the message arrived on
	Err   error  // what the decoder reported
}

func (e *DecodeError) Error() string {
	return fmt.Sprintf("mqtt: bad payload on topic %q: %v", e.Topic, e.Err)
}

// Unwrap returns scada.ErrBadInput and the decoder's error.
func (e *DecodeError) Unwrap() []error { return []error{scada.ErrBadInput, e.Err} }

// ConnackError is a broker's refusal of the connection, with its MQTT 5
// reason code (0x86 bad user name or password, 0x87 not authorized, 0x88
// server unavailable, ...). It matches [scada.ErrConnection]; a Collector
// retries it with backoff, but codes 0x84-0x87 and 0x8C will not change
// until the configuration does.
type ConnackError struct {
	ReasonCode byte
	Reason     string // the broker's reason string, if it sent one
}

func (e *ConnackError) Error() string {
	if e.Reason != "" {
		return fmt.Sprintf("mqtt: broker refused connection: reason code 0x%02X (%s)", e.ReasonCode, e.Reason)
	}
	return fmt.Sprintf("mqtt: broker refused connection: reason code 0x%02X (%s)", e.ReasonCode, reasonName(e.ReasonCode))
}

// Unwrap returns scada.ErrConnection.
func (e *ConnackError) Unwrap() error { return scada.ErrConnection }

// Is reports whether the refusal matches [scada.ErrPermanent]: codes that
// retrying cannot change until the configuration or the broker's does
// (0x84 unsupported protocol version, 0x85 client identifier not valid, 0x86
// bad user name or password, 0x87 not authorized, 0x8A banned, 0x8C bad
// authentication method). A Collector retries them only slowly.
func (e *ConnackError) Is(target error) bool {
	if target != scada.ErrPermanent {
		return false
	}
	switch e.ReasonCode {
	case 0x84, 0x85, 0x86, 0x87, 0x8A, 0x8C:
		return true
	}
	return false
}

// SubscribeError is a broker's refusal of a subscription, with the MQTT 5
// reason code from its SUBACK (0x87 not authorized, 0x8F topic filter
// invalid, 0x9E shared subscriptions not supported, ...). Retrying will fail
// the same way until the broker's configuration changes.
type SubscribeError struct {
	Filter     string
	ReasonCode byte
}

// Is reports whether the refusal matches [scada.ErrPermanent]: every refusal
// except 0x80 (unspecified), 0x83 (implementation specific), 0x91 (packet
// identifier in use) and 0x97 (quota exceeded) lasts until the broker's
// configuration or ours changes.
func (e *SubscribeError) Is(target error) bool {
	if target != scada.ErrPermanent {
		return false
	}
	switch e.ReasonCode {
	case 0x80, 0x83, 0x91, 0x97:
		return false
	}
	return e.ReasonCode >= 0x80
}

func (e *SubscribeError) Error() string {
	return fmt.Sprintf("mqtt: broker refused subscription %q: reason code 0x%02X (%s)", e.Filter, e.ReasonCode, reasonName(e.ReasonCode))
}

func reasonName(code byte) string {
	switch code {
	case 0x80:
		return "unspecified error"
	case 0x81:
		return "malformed packet"
	case 0x82:
		return "protocol error"
	case 0x83:
		return "implementation specific error"
	case 0x84:
		return "unsupported protocol version"
	case 0x85:
		return "client identifier not valid"
	case 0x86:
		return "bad user name or password"
	case 0x87:
		return "not authorized"
	case 0x88:
		return "server unavailable"
	case 0x89:
		return "server busy"
	case 0x8A:
		return "banned"
	case 0x8B:
		return "server shutting down"
	case 0x8C:
		return "bad authentication method"
	case 0x8D:
		return "keep alive timeout"
	case 0x8E:
		return "session taken over"
	case 0x8F:
		return "topic filter invalid"
	case 0x91:
		return "packet identifier in use"
	case 0x97:
		return "quota exceeded"
	case 0x9E:
		return "shared subscriptions not supported"
	case 0xA1:
		return "subscription identifiers not supported"
	case 0xA2:
		return "wildcard subscriptions not supported"
	}
	return "unknown"
}

// permanent marks connection errors that retrying cannot fix with
// [scada.ErrPermanent]: a certificate either side refuses, a TLS version or
// handshake the broker does not accept.
func permanent(err error) error {
	if err == nil || errors.Is(err, scada.ErrPermanent) || !tlsrefusal.Is(err) {
		return err
	}
	return fmt.Errorf("%w: %w", scada.ErrPermanent, err)
}
