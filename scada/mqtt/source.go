package mqtt

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/eclipse/paho.golang/packets"
	"github.com/eclipse/paho.golang/paho"
	"github.com/eclipse/paho.golang/paho/session/state"

	"github.com/greenlang/gl001/scada"
)

// Source is an MQTT 5 client that turns the messages of its subscriptions
// into points. It implements [scada.Source]: each Run is one connection's
// life, and a [scada.Collector] (or the caller) runs it again, with backoff,
// after the connection fails. The broker session, and with it the
// subscriptions and the QoS 1/2 messages published while the Source was away,
// persists from one Run to the next.
type Source struct {
	cfg    Config
	name   string
	broker *url.URL
	tls    *tls.Config
	subs   []subscription
	log    *slog.Logger

	// session is the client side of the MQTT session (packet identifiers and
	// QoS 2 receipts), kept across connections like the broker's side.
	session    *state.State
	running    atomic.Bool
	subscribed bool // a SUBSCRIBE succeeded once; guarded by running

	// Used only by the receiving goroutine of the active Run.
	cache   map[string]route
	vals    []string
	scratch []scada.Point
	msg     Message

	st counters
}

type subscription struct {
	Subscription
	pat  *pattern
	tmpl template
}

type route struct {
	sub *subscription // nil: no subscription matches the topic
	tag string
}

const routeCacheSize = 1 << 16

type counters struct {
	connected      atomic.Bool
	sessionPresent atomic.Bool
	connects       atomic.Uint64
	messages       atomic.Uint64
	points         atomic.Uint64
	bad            atomic.Uint64
	unmatched      atomic.Uint64
	acked          atomic.Uint64
	repliesDropped atomic.Uint64
	limited        atomic.Uint64
	badTopics      atomic.Uint64
	badTags        atomic.Uint64
}

// Stats is a snapshot of a Source's counters since it was created.
type Stats struct {
	Connected      bool   // a Run holds a connection and its subscriptions are acknowledged (SUBACK)
	SessionPresent bool   // the last CONNACK found our session on the broker
	Connects       uint64 // connections established
	Messages       uint64 // messages received
	Points         uint64 // points the sink accepted
	BadMessages    uint64 // payloads a decoder rejected, wholly or in part
	Unmatched      uint64 // messages on topics no subscription pattern matches
	Acked          uint64 // QoS 1/2 messages acknowledged after their points were delivered
	RepliesDropped uint64 // messages to the broker dropped because the send queue was full
	// LimitExceeded counts messages refused or cut by a limit
	// (Config.MaxPayload, Config.MaxPointsPerMessage, a decoder's own); they
	// are counted in BadMessages too.
	LimitExceeded uint64
	// BadTopics counts messages refused because their topic was not valid
	// UTF-8 or held NUL (counted in BadMessages too).
	BadTopics uint64
	// BadTags counts points dropped because the tag or unit a decoder gave
	// them was not valid UTF-8 or held NUL.
	BadTags uint64
}

// New returns a Source for cfg. It validates cfg, reads the TLS files, and
// does not connect: [Source.Run] does.
func New(cfg Config) (*Source, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.KeepAlive == 0 {
		cfg.KeepAlive = DefaultKeepAlive
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = DefaultConnectTimeout
	}
	if cfg.ReceiveMaximum == 0 {
		cfg.ReceiveMaximum = DefaultReceiveMaximum
	}
	if cfg.MaxBatch == 0 {
		cfg.MaxBatch = DefaultMaxBatch
	}
	if cfg.MaxPayload == 0 {
		cfg.MaxPayload = DefaultMaxPayload
	}
	if cfg.MaxPointsPerMessage == 0 {
		cfg.MaxPointsPerMessage = DefaultMaxPointsPerMessage
	}
	u, _ := url.Parse(cfg.Broker) // checked by Validate
	if cfg.Name == "" {
		cfg.Name = cfg.defaultName(u)
	}
	s := &Source{
		cfg:     cfg,
		name:    cfg.Name,
		broker:  u,
		log:     cfg.Logger,
		session: state.NewInMemory(),
		cache:   make(map[string]route),
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	switch strings.ToLower(u.Scheme) {
	case "mqtts", "ssl", "tls", "wss":
		t, err := cfg.tlsConfig(u.Hostname())
		if err != nil {
			return nil, err
		}
		s.tls = t
	}
	for _, sub := range cfg.Subscriptions {
		p, _ := parsePattern(sub.Topic)   // checked by Validate
		t, _ := parseTemplate(sub.Tag, p) // checked by Validate
		if sub.Decoder == nil {
			sub.Decoder = Number{}
		}
		s.subs = append(s.subs, subscription{Subscription: sub, pat: p, tmpl: t})
	}
	return s, nil
}

// Name returns the Source name stamped on its points.
func (s *Source) Name() string { return s.name }

// Stats returns a snapshot of the Source's counters.
func (s *Source) Stats() Stats {
	return Stats{
		Connected:      s.st.connected.Load(),
		SessionPresent: s.st.sessionPresent.Load(),
		Connects:       s.st.connects.Load(),
		Messages:       s.st.messages.Load(),
		Points:         s.st.points.Load(),
		BadMessages:    s.st.bad.Load(),
		Unmatched:      s.st.unmatched.Load(),
		Acked:          s.st.acked.Load(),
		RepliesDropped: s.st.repliesDropped.Load(),
		LimitExceeded:  s.st.limited.Load(),
		BadTopics:      s.st.badTopics.Load(),
		BadTags:        s.st.badTags.Load(),
	}
}

// deferredAcks is the session state with paho's automatic acknowledgement
// turned off: paho acknowledges when the handler returns, but the Source
// acknowledges only after the sink accepted the points, in the order the
// messages arrived, by calling the state's Ack itself. (paho's own manual
// acknowledgement scans a list per message and sends acks on a 50 ms timer;
// this keeps acks O(1) and prompt.)
type deferredAcks struct{ *state.State }

func (deferredAcks) Ack(*packets.Publish) error { return nil }

// Run connects, subscribes and delivers points to sink until ctx ends, the
// connection fails or the sink fails, and returns the reason: ctx.Err() when
// ctx ended; an error matching [scada.ErrConnection] (a *[ConnackError] when
// the broker refused us) when the connection failed; a *[SubscribeError]
// when the broker refused a subscription; the sink's error when it failed.
// It does not reconnect; call it again, with backoff, as [scada.Collector]
// does. Only one Run may be active at a time.
//
// QoS 1 and 2 messages are acknowledged only after sink accepted their
// points, so a message whose points were not delivered is sent again by the
// broker on the next connection (delivery is at least once; a message whose
// points were delivered just before the connection dropped may arrive twice).
// QoS 0 messages received but not yet delivered when ctx ends are lost, as
// QoS 0 allows.
func (s *Source) Run(ctx context.Context, sink scada.Sink) error {
	if sink == nil {
		return errors.New("mqtt: Run needs a sink")
	}
	if !s.running.CompareAndSwap(false, true) {
		return ErrRunning
	}
	defer s.running.Store(false)
	if err := ctx.Err(); err != nil {
		return err
	}

	cctx, cancel := context.WithTimeout(ctx, s.cfg.ConnectTimeout)
	defer cancel()
	conn, err := s.dial(cctx, s.broker)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("%w: mqtt: dial %s: %w", scada.ErrConnection, s.broker.Host, permanent(err))
	}

	r := &run{
		s:         s,
		conn:      conn,
		sink:      sink,
		stop:      make(chan struct{}),
		inputDone: make(chan struct{}),
		failed:    make(chan struct{}),
		wake:      make(chan struct{}, 1),
		room:      make(chan struct{}, 1),
		out:       make(chan outMsg, 16),
		lost:      make(chan error, 1),
	}
	s.msg = Message{Publish: r.publish}
	cli := paho.NewClient(paho.ClientConfig{
		ClientID:          s.cfg.ClientID,
		Conn:              conn,
		Session:           deferredAcks{s.session},
		OnPublishReceived: []func(paho.PublishReceived) (bool, error){r.onPublish},
		OnClientError:     r.connectionLost,
		OnServerDisconnect: func(d *paho.Disconnect) {
			reason := ""
			if d.Properties != nil {
				reason = d.Properties.ReasonString
			}
			r.connectionLost(fmt.Errorf("broker disconnected us: reason code 0x%02X (%s) %s", d.ReasonCode, reasonName(d.ReasonCode), reason))
		},
		PacketTimeout: s.cfg.ConnectTimeout,
	})
	expiry := s.cfg.sessionExpiry()
	recvMax := s.cfg.ReceiveMaximum
	cp := &paho.Connect{
		ClientID:   s.cfg.ClientID,
		KeepAlive:  uint16(s.cfg.KeepAlive / time.Second),
		CleanStart: s.cfg.CleanStart,
		Properties: &paho.ConnectProperties{SessionExpiryInterval: &expiry, ReceiveMaximum: &recvMax},
	}
	if s.cfg.Username != "" {
		cp.Username, cp.UsernameFlag = s.cfg.Username, true
	}
	if s.cfg.Password != "" {
		cp.Password, cp.PasswordFlag = []byte(s.cfg.Password), true
	}

	// The handler may run as soon as CONNACK arrives (the broker resends the
	// session's messages at once), so the delivery goroutines start first.
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); r.deliver(ctx) }()
	go func() { defer wg.Done(); r.sendReplies(ctx, cli) }()
	stop := func() {
		r.halt()
		wg.Wait()
	}

	ca, err := cli.Connect(cctx, cp)
	if err != nil {
		stop()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if ca != nil && ca.ReasonCode >= 0x80 {
			e := &ConnackError{ReasonCode: ca.ReasonCode}
			if ca.Properties != nil {
				e.Reason = ca.Properties.ReasonString
			}
			return e
		}
		return fmt.Errorf("%w: mqtt: connect to %s: %w", scada.ErrConnection, s.broker.Host, permanent(err))
	}
	s.st.connects.Add(1)
	s.st.sessionPresent.Store(ca.SessionPresent)

	// A resumed session keeps its subscriptions (MQTT 5, 4.1), so later
	// connections subscribe only when the broker has lost the session. The
	// first connection of a Source subscribes anyway, in case the persisted
	// session holds another configuration's filters.
	var err2 error
	if !ca.SessionPresent || !s.subscribed {
		// paho keeps a pending SUBSCRIBE across a lost connection when the
		// session persists, so give up waiting for the SUBACK when it drops.
		sctx, scancel := context.WithCancel(cctx)
		go func() {
			select {
			case <-cli.Done():
				scancel()
			case <-sctx.Done():
			}
		}()
		err2 = s.subscribe(sctx, cli)
		scancel()
		var se *SubscribeError
		if err2 != nil && ca.SessionPresent && errors.As(err2, &se) && se.ReasonCode == 0x91 {
			s.log.Warn("mqtt: kept the resumed session's subscriptions: the broker refused to refresh them", "source", s.name, "error", err2)
			err2 = nil
		}
		if err2 == nil {
			s.subscribed = true
		}
	}
	if err := err2; err != nil {
		dropped := false
		select {
		case <-cli.Done():
			dropped = !errors.As(err, new(*SubscribeError))
		default:
		}
		r.halt()
		_ = cli.Disconnect(&paho.Disconnect{ReasonCode: 0})
		wg.Wait()
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case dropped:
			return s.lostError(r) // the connection dropped while subscribing
		}
		return err
	}
	cancel()
	// Connected only now: before the SUBACK the broker may not route our
	// topics to us yet.
	s.st.connected.Store(true)
	defer s.st.connected.Store(false)
	scada.NotifyConnected(sink)
	s.log.Info("mqtt: connected", "source", s.name, "broker", s.broker.Host, "session_present", ca.SessionPresent)

	var result error
	select {
	case <-ctx.Done():
		result = ctx.Err()
	case <-r.failed:
		result = r.err
	case <-cli.Done():
		// paho has stopped calling the handler; deliver what was received.
		close(r.inputDone)
		wg.Wait()
		result = s.lostError(r)
		if r.err != nil {
			result = errors.Join(result, r.err)
		}
	}
	r.halt()
	// A normal DISCONNECT keeps the session for SessionExpiry.
	_ = cli.Disconnect(&paho.Disconnect{ReasonCode: 0})
	wg.Wait()
	s.log.Info("mqtt: disconnected", "source", s.name, "broker", s.broker.Host, "reason", result)
	return result
}

// lostError describes a lost connection. paho reports why (a read error,
// the broker's DISCONNECT) from another goroutine, possibly just after the
// client is done, so it waits a moment for the reason.
func (s *Source) lostError(r *run) error {
	var cause error
	t := time.NewTimer(100 * time.Millisecond)
	defer t.Stop()
	select {
	case cause = <-r.lost:
	case <-t.C:
		cause = errors.New("connection closed")
	}
	return fmt.Errorf("%w: mqtt: connection to %s lost: %w", scada.ErrConnection, s.broker.Host, cause)
}

// subscribe sends one SUBSCRIBE for all subscriptions. Retain handling 1
// asks for retained messages only for subscriptions the session lacks, so a
// resumed session does not replay them.
func (s *Source) subscribe(ctx context.Context, cli *paho.Client) error {
	opts := make([]paho.SubscribeOptions, len(s.subs))
	for i, sub := range s.subs {
		opts[i] = paho.SubscribeOptions{Topic: sub.pat.filter, QoS: sub.QoS, RetainHandling: 1}
	}
	var (
		sa  *paho.Suback
		err error
	)
	// Some brokers (mochi) keep one packet identifier space for both
	// directions and refuse a SUBSCRIBE whose identifier matches a message
	// they still have in flight to us (0x91). The next attempt gets a new
	// identifier.
	for range 16 {
		sa, err = cli.Subscribe(ctx, &paho.Subscribe{Subscriptions: opts})
		if sa == nil || !slices.Contains(sa.Reasons, 0x91) {
			break
		}
	}
	if sa != nil {
		for i, code := range sa.Reasons {
			if i >= len(opts) {
				break
			}
			if code >= 0x80 {
				return &SubscribeError{Filter: opts[i].Topic, ReasonCode: code}
			}
			if code < opts[i].QoS {
				s.log.Warn("mqtt: broker granted a lower QoS", "source", s.name, "filter", opts[i].Topic, "requested", opts[i].QoS, "granted", code)
			}
		}
	}
	if err != nil {
		return fmt.Errorf("%w: mqtt: subscribe: %w", scada.ErrConnection, err)
	}
	return nil
}

// route finds the subscription and tag for a topic. Topics repeat, so the
// answer is cached.
func (s *Source) route(topic string) route {
	if r, ok := s.cache[topic]; ok {
		return r
	}
	var rt route
	for i := range s.subs {
		sub := &s.subs[i]
		vals, ok := sub.pat.match(topic, s.vals[:0])
		s.vals = vals
		if ok {
			rt = route{sub: sub, tag: sub.tmpl.expand(topic, vals)}
			break
		}
	}
	if len(s.cache) >= routeCacheSize {
		clear(s.cache)
	}
	s.cache[topic] = rt
	return rt
}

type ackRec struct {
	qos byte
	id  uint16
}

type outMsg struct {
	topic   string
	payload []byte
}

// run is the state of one Run: the receiving goroutine (paho's handler)
// decodes into a batch, the delivery goroutine hands batches to the sink and
// then acknowledges their messages.
type run struct {
	s    *Source
	sink scada.Sink
	conn net.Conn // written directly only for batched PUBACKs

	stop      chan struct{} // closed by halt: stop everything now
	inputDone chan struct{} // closed when paho will call the handler no more
	failed    chan struct{} // closed when the sink failed; err holds why
	err       error
	failOnce  sync.Once
	haltOnce  sync.Once
	lost      chan error // the first connection error paho reported

	mu   sync.Mutex
	pts  []scada.Point // guarded by mu
	acks []ackRec      // guarded by mu
	wake chan struct{} // a batch is waiting
	room chan struct{} // the delivery goroutine took a batch

	out chan outMsg
}

func (r *run) halt() { r.haltOnce.Do(func() { close(r.stop) }) }

func (r *run) connectionLost(err error) {
	select {
	case r.lost <- err:
	default:
	}
}

// onPublish runs on paho's receiving goroutine, one message at a time.
func (r *run) onPublish(pr paho.PublishReceived) (bool, error) {
	select {
	case <-r.stop:
		return true, nil // not acknowledged: the broker sends it again
	default:
	}
	s := r.s
	p := pr.Packet
	s.st.messages.Add(1)
	pts := s.scratch[:0]
	switch {
	case !validText(p.Topic):
		s.st.badTopics.Add(1)
		s.badMessage(p.Topic, ErrBadTopic)
	case len(p.Payload) > s.cfg.MaxPayload:
		s.badMessage(p.Topic, &LimitError{Limit: "payload bytes", Max: s.cfg.MaxPayload, Got: len(p.Payload)})
	default:
		rt := s.route(p.Topic)
		if rt.sub == nil {
			s.st.unmatched.Add(1)
			break
		}
		m := &s.msg
		m.Topic, m.Payload, m.QoS, m.Retained = p.Topic, p.Payload, p.QoS, p.Retain
		m.Received = time.Now()
		m.Tag, m.Unit = rt.tag, rt.sub.Unit
		m.MaxPoints = s.cfg.MaxPointsPerMessage
		var err error
		pts, err = safeDecode(rt.sub.Decoder, pts, m)
		m.Payload = nil
		if len(pts) > s.cfg.MaxPointsPerMessage {
			if !errors.Is(err, ErrLimit) {
				err = errors.Join(err, &LimitError{Limit: "points per message", Max: s.cfg.MaxPointsPerMessage, Got: len(pts)})
			}
			clear(pts[s.cfg.MaxPointsPerMessage:])
			pts = pts[:s.cfg.MaxPointsPerMessage]
		}
		pts = s.checkTags(pts)
		for i := range pts {
			pts[i].Source = s.name
		}
		if err != nil {
			s.badMessage(p.Topic, err)
		}
	}
	s.scratch = pts

	r.mu.Lock()
	for len(r.pts) >= s.cfg.MaxBatch && len(pts) > 0 {
		r.mu.Unlock()
		select {
		case <-r.room:
		case <-r.stop:
			return true, nil
		}
		r.mu.Lock()
	}
	r.pts = append(r.pts, pts...)
	if p.QoS > 0 {
		r.acks = append(r.acks, ackRec{p.QoS, p.PacketID})
	}
	r.mu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
	return true, nil
}

// safeDecode calls d, turning a panic of a plugged-in decoder into an error
// so that one bad payload cannot stop the stream.
func safeDecode(d Decoder, dst []scada.Point, m *Message) (pts []scada.Point, err error) {
	defer func() {
		if v := recover(); v != nil {
			pts, err = dst, fmt.Errorf("decoder panicked: %v", v)
		}
	}()
	return d.Decode(dst, m)
}

// checkTags drops, in place, the points whose tag or unit is not valid
// UTF-8 or holds NUL, and counts them.
func (s *Source) checkTags(pts []scada.Point) []scada.Point {
	out := pts[:0]
	for _, p := range pts {
		if !validText(p.Tag) || !validText(p.Unit) {
			if n := s.st.badTags.Add(1); n&(n-1) == 0 { // log the 1st, 2nd, 4th, 8th... only
				s.log.Warn("mqtt: point with a tag or unit that is not valid UTF-8 or holds NUL dropped",
					"source", s.name, "tag", strconv.Quote(p.Tag), "dropped", n)
			}
			continue
		}
		out = append(out, p)
	}
	clear(pts[len(out):])
	return out
}

// validText reports whether s is valid UTF-8 without NUL.
func validText(s string) bool {
	return utf8.ValidString(s) && strings.IndexByte(s, 0) < 0
}

func (s *Source) badMessage(topic string, err error) {
	if errors.Is(err, ErrLimit) {
		s.st.limited.Add(1)
	}
	s.st.bad.Add(1)
	de := &DecodeError{Topic: topic, Err: err}
	s.log.Warn("mqtt: bad payload", "source", s.name, "topic", topic, "error", err)
	if s.cfg.OnBadMessage != nil {
		s.cfg.OnBadMessage(de)
	}
}

// deliver hands batches to the sink and acknowledges their messages after.
func (r *run) deliver(ctx context.Context) {
	s := r.s
	var (
		spare     []scada.Point
		spareAcks []ackRec
		pub       packets.Publish
		pubacks   []byte
		final     bool
	)
	for {
		select {
		case <-r.wake:
		case <-r.inputDone:
			final = true
		case <-r.stop:
			return
		}
		for {
			r.mu.Lock()
			if len(r.pts) == 0 && len(r.acks) == 0 {
				r.mu.Unlock()
				break
			}
			pts, acks := r.pts, r.acks
			r.pts, r.acks = spare[:0], spareAcks[:0]
			r.mu.Unlock()
			select {
			case r.room <- struct{}{}:
			default:
			}
			if len(pts) > 0 {
				if err := r.sink.Deliver(ctx, pts); err != nil {
					r.failOnce.Do(func() {
						r.err = fmt.Errorf("mqtt: sink: %w", err)
						close(r.failed)
					})
					return
				}
				s.st.points.Add(uint64(len(pts)))
			}
			// PUBACKs of a batch leave in one write; a QoS 2 PUBREC goes
			// through the session state, which must record it. Order is kept.
			// A write error means the connection is gone; paho reports it.
			for _, a := range acks {
				if a.qos == 1 {
					pubacks = append(pubacks, 0x40, 2, byte(a.id>>8), byte(a.id))
					continue
				}
				pubacks = r.writeAcks(pubacks)
				pub.QoS, pub.PacketID = a.qos, a.id
				_ = s.session.Ack(&pub)
			}
			pubacks = r.writeAcks(pubacks)
			s.st.acked.Add(uint64(len(acks)))
			clear(pts) // drop references to tag strings
			spare, spareAcks = pts, acks
			if !final {
				break
			}
		}
		if final {
			return
		}
	}
}

// writeAcks writes encoded PUBACKs (MQTT 5 allows the short form, packet
// identifier only, for success) in one write and returns buf emptied. paho
// writes each packet in one call too (writev on TCP, under the coalescing
// lock on TLS and websocket), so packets never interleave.
func (r *run) writeAcks(buf []byte) []byte {
	if len(buf) == 0 {
		return buf
	}
	if l, ok := r.conn.(sync.Locker); ok {
		l.Lock()
		_, _ = r.conn.Write(buf)
		l.Unlock()
	} else {
		_, _ = r.conn.Write(buf)
	}
	return buf[:0]
}

var errReplyQueueFull = errors.New("mqtt: send queue full")

// publish queues a QoS 0 message for the broker (Message.Publish).
func (r *run) publish(topic string, payload []byte) error {
	select {
	case r.out <- outMsg{topic, bytes.Clone(payload)}:
		return nil
	default:
		r.s.st.repliesDropped.Add(1)
		return errReplyQueueFull
	}
}

func (r *run) sendReplies(ctx context.Context, cli *paho.Client) {
	for {
		select {
		case m := <-r.out:
			if _, err := cli.Publish(ctx, &paho.Publish{Topic: m.topic, QoS: 0, Payload: m.payload}); err != nil {
				r.s.log.Warn("mqtt: publish failed", "source", r.s.name, "topic", m.topic, "error", err)
			}
		case <-r.stop:
			return
		case <-r.inputDone:
			return
		}
	}
}
