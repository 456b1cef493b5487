package mqtt

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/greenlang/gl001/scada"
)

// Command says how the setpoint of one tag is published.
type Command struct {
	// Topic is the command topic, e.g. "plant/boiler1/firing_rate/set".
	// Required; no wildcards.
	Topic string
	// Payload renders the value. Nil publishes it as a plain decimal number
	// ("42.5"), which the [Number] decoder reads back.
	Payload func(value float64) ([]byte, error)
	// Retain publishes the command retained, so a device that connects
	// later still gets it. Off by default: a setpoint applied long after it
	// was asked for is rarely what anyone wants.
	Retain bool
}

// CommanderConfig configures a [Commander].
type CommanderConfig struct {
	// Commands maps tag names to their command. A Write to another tag fails
	// with scada.ErrNotWritable.
	Commands map[string]Command
	// ClientID of the Commander's connections. Empty means the Source's
	// ClientID with "-cmd" appended (or "gl001-cmd").
	ClientID string
	// Timeout bounds one Write: dialling, CONNECT, PUBLISH and its PUBACK.
	// Zero means the Source's ConnectTimeout.
	Timeout time.Duration
	// Logger receives a line per failed write. Nil means the Source's.
	Logger *slog.Logger
}

// Commander publishes setpoints to command topics: it implements
// [scada.Writer] for MQTT. Each Write opens a connection of its own to the
// Source's broker, with the Source's credentials and TLS, publishes the
// command at QoS 1, waits for the broker's PUBACK and disconnects, so a
// Write returns nil only once the broker has taken the command; it never
// queues a command while the broker is unreachable (that fails with an
// error matching scada.ErrConnection). Writes run one at a time. The
// device's confirmation is the value it publishes back, which the Source's
// subscription delivers: wire a scada/guard.Guard with a guard.Latest fed
// by the Source to read it back.
type Commander struct {
	src      *Source
	cmds     map[string]Command
	clientID string
	timeout  time.Duration
	log      *slog.Logger

	mu sync.Mutex // one connection at a time: they share the client id
}

// PublishError is a broker's refusal of a command (a PUBACK reason code of
// 0x80 or more, e.g. 0x87 not authorized). It matches scada.ErrPermanent for
// codes that retrying cannot fix.
type PublishError struct {
	Topic      string
	ReasonCode byte
	Reason     string
}

func (e *PublishError) Error() string {
	r := e.Reason
	if r == "" {
		r = reasonName(e.ReasonCode)
	}
	return fmt.Sprintf("mqtt: broker refused the publish to %q: reason code 0x%02X (%s)", e.Topic, e.ReasonCode, r)
}

// Is matches scada.ErrPermanent for not authorized (0x87), topic name
// invalid (0x90), packet too large (0x95) and payload format invalid (0x99).
func (e *PublishError) Is(target error) bool {
	if target != scada.ErrPermanent {
		return false
	}
	switch e.ReasonCode {
	case 0x87, 0x90, 0x95, 0x99:
		return true
	}
	return false
}

// NewCommander returns a Commander that publishes through src's broker.
func NewCommander(src *Source, cfg CommanderConfig) (*Commander, error) {
	if src == nil {
		return nil, errors.New("mqtt: NewCommander needs a Source")
	}
	var errs []error
	for tag, c := range cfg.Commands {
		if c.Topic == "" || strings.ContainsAny(c.Topic, "+#") || !validText(c.Topic) {
			errs = append(errs, fmt.Errorf("mqtt: command of tag %q: topic %q is not a topic name", tag, c.Topic))
		}
	}
	if cfg.Timeout < 0 {
		errs = append(errs, errors.New("mqtt: CommanderConfig.Timeout is negative"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	w := &Commander{src: src, cmds: make(map[string]Command, len(cfg.Commands)), clientID: cfg.ClientID,
		timeout: cfg.Timeout, log: cfg.Logger}
	for tag, c := range cfg.Commands {
		w.cmds[tag] = c
	}
	if w.clientID == "" {
		w.clientID = "gl001-cmd"
		if src.cfg.ClientID != "" {
			w.clientID = src.cfg.ClientID + "-cmd"
		}
	}
	if w.timeout == 0 {
		w.timeout = src.cfg.ConnectTimeout
		if w.timeout <= 0 {
			w.timeout = DefaultConnectTimeout
		}
	}
	if w.log == nil {
		w.log = src.log
	}
	return w, nil
}

var _ scada.Writer = (*Commander)(nil)

// Write publishes value to the tag's command topic and returns once the
// broker acknowledged it. A tag without a command fails with
// scada.ErrNotWritable; an unreachable broker with scada.ErrConnection; a
// refusal with a *[PublishError].
func (w *Commander) Write(ctx context.Context, tag string, value float64) error {
	c, ok := w.cmds[tag]
	if !ok {
		return fmt.Errorf("mqtt: write %q: %w", tag, scada.ErrNotWritable)
	}
	var payload []byte
	if c.Payload != nil {
		var err error
		if payload, err = c.Payload(value); err != nil {
			return fmt.Errorf("mqtt: write %q: %w: %w", tag, scada.ErrBadInput, err)
		}
	} else {
		payload = strconv.AppendFloat(nil, value, 'g', -1, 64)
	}
	err := w.publish(ctx, c.Topic, payload, c.Retain)
	if err != nil {
		w.log.Warn("mqtt: command not published", "tag", tag, "topic", c.Topic, "error", err)
	}
	return err
}

// Publish publishes payload to topic at QoS 1, not retained, on a
// connection of its own, and returns once the broker acknowledged it; the
// Sparkplug commander of scada/mqtt/sparkplug sends NCMD and DCMD through
// it. Errors are as for Write.
func (w *Commander) Publish(ctx context.Context, topic string, payload []byte) error {
	return w.publish(ctx, topic, payload, false)
}

func (w *Commander) publish(ctx context.Context, topic string, payload []byte, retain bool) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, w.timeout)
	defer cancel()
	s := w.src
	conn, err := s.dial(ctx, s.broker)
	if err != nil {
		if ctx.Err() != nil && !errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return ctx.Err()
		}
		return fmt.Errorf("%w: mqtt: dial %s: %w", scada.ErrConnection, s.broker.Host, permanent(err))
	}
	cli := paho.NewClient(paho.ClientConfig{ClientID: w.clientID, Conn: conn, PacketTimeout: w.timeout,
		OnClientError: func(error) {}})
	cp := &paho.Connect{ClientID: w.clientID, KeepAlive: uint16(max(w.timeout/time.Second, 1)), CleanStart: true}
	if s.cfg.Username != "" {
		cp.Username, cp.UsernameFlag = s.cfg.Username, true
	}
	if s.cfg.Password != "" {
		cp.Password, cp.PasswordFlag = []byte(s.cfg.Password), true
	}
	defer func() {
		_ = cli.Disconnect(&paho.Disconnect{ReasonCode: 0})
		select {
		case <-cli.Done():
		case <-time.After(w.timeout):
		}
	}()
	ca, err := cli.Connect(ctx, cp)
	if err != nil {
		if ca != nil && ca.ReasonCode >= 0x80 {
			e := &ConnackError{ReasonCode: ca.ReasonCode}
			if ca.Properties != nil {
				e.Reason = ca.Properties.ReasonString
			}
			return e
		}
		return fmt.Errorf("%w: mqtt: connect to %s: %w", scada.ErrConnection, s.broker.Host, permanent(err))
	}
	pr, err := cli.Publish(ctx, &paho.Publish{Topic: topic, QoS: 1, Retain: retain, Payload: payload})
	if pr != nil && pr.ReasonCode >= 0x80 {
		e := &PublishError{Topic: topic, ReasonCode: pr.ReasonCode}
		if pr.Properties != nil {
			e.Reason = pr.Properties.ReasonString
		}
		return e
	}
	if err != nil {
		return fmt.Errorf("%w: mqtt: publish to %s: %w", scada.ErrConnection, s.broker.Host, err)
	}
	return nil
}
