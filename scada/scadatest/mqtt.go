package scadatest

import (
	"context"
	"crypto/subtle"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"
)

// MQTTBrokerConfig configures an [MQTTBroker]. The zero value is a plain TCP
// broker that lets every client in.
type MQTTBrokerConfig struct {
	// TLS, when set, makes the TCP listener speak TLS (mqtts://) and the
	// websocket listener, if any, wss://.
	TLS *tls.Config
	// WebSocket adds a websocket listener (path /mqtt) beside the TCP one.
	WebSocket bool
	// Users maps user names to passwords. When it is empty every client may
	// connect; otherwise a CONNECT with other credentials is refused with
	// reason code 0x86 (bad user name or password).
	Users map[string]string
	// Persistent keeps client sessions, subscriptions, queued QoS 1/2
	// messages and retained messages across [MQTTBroker.Restart], as a
	// broker with a persistence store does. Without it a restart loses them.
	Persistent bool
	// MaxClientWritesPending is the broker's per-client outbound queue; a
	// message that finds it full is dropped and counted in
	// MQTTBrokerStats.MessagesDropped, even at QoS 1. Zero means mochi's
	// default, 8192.
	MaxClientWritesPending int32
	// MaxInflight is the number of unacknowledged QoS 1/2 messages the broker
	// keeps per client; more are dropped and counted in InflightDropped. Zero
	// means mochi's default, 8192.
	MaxInflight uint16
	// EnforceReceiveMaximum makes the broker honour the Receive Maximum a
	// client sends in CONNECT. It is off by default because mochi v2.7.9
	// takes an in-flight table's read lock twice (Inflight.NextImmediate
	// calls GetAll) on that path: a message published to the client while
	// the broker handles the client's PUBACK can deadlock the client's
	// session for good. With it off the broker sends without a quota and
	// TCP back-pressure paces it.
	EnforceReceiveMaximum bool
}

// MQTTBroker is an in-process MQTT 5 broker (github.com/mochi-mqtt/server/v2)
// listening on 127.0.0.1 on ports the system picks. It can be stopped and
// started again on the same ports, to test reconnection.
type MQTTBroker struct {
	cfg   MQTTBrokerConfig
	store *memoryStore // nil unless cfg.Persistent

	mu      sync.Mutex
	srv     *mochi.Server
	tcpAddr string
	wsAddr  string
	closed  bool

	inlineSubs int
	retainMu   sync.RWMutex // retained publishes vs SUBSCRIBE handling

	subMu   sync.Mutex
	subs    int           // SUBSCRIBE packets accepted since the broker was created
	subWake chan struct{} // closed and replaced on every accepted SUBSCRIBE
	hold    *subHold      // set by HoldSubscribes: SUBSCRIBEs wait for its release
}

// subHold holds client SUBSCRIBEs until released.
type subHold struct {
	held     chan struct{} // closed when the first SUBSCRIBE is held
	heldOnce sync.Once
	release  chan struct{}
}

// MQTTBrokerStats is a snapshot of the broker's counters since it last started.
type MQTTBrokerStats struct {
	ClientsConnected int64
	Subscriptions    int64
	MessagesReceived int64
	MessagesSent     int64
	// MessagesDropped counts messages the broker dropped because a
	// subscriber's outbound queue was full (mochi does this at any QoS).
	MessagesDropped int64
	// InflightDropped counts QoS 1/2 messages dropped because a client had
	// too many unacknowledged messages.
	InflightDropped int64
	// Inflight is the number of QoS 1/2 messages sent and not yet
	// acknowledged by their subscribers.
	Inflight int64
}

// NewMQTTBroker starts a broker. Close it when done.
func NewMQTTBroker(cfg MQTTBrokerConfig) (*MQTTBroker, error) {
	b := &MQTTBroker{cfg: cfg, subWake: make(chan struct{})}
	if cfg.Persistent {
		b.store = newMemoryStore()
	}
	if err := b.start("127.0.0.1:0", "127.0.0.1:0"); err != nil {
		return nil, err
	}
	return b, nil
}

func (b *MQTTBroker) start(tcpAddr, wsAddr string) error {
	caps := mochi.NewDefaultServerCapabilities()
	if b.cfg.MaxClientWritesPending > 0 {
		caps.MaximumClientWritesPending = b.cfg.MaxClientWritesPending
	}
	if b.cfg.MaxInflight > 0 {
		caps.MaximumInflight = b.cfg.MaxInflight
	}
	srv := mochi.New(&mochi.Options{
		InlineClient: true,
		Capabilities: caps,
		Logger:       slog.New(slog.DiscardHandler),
		// $SYS topics once an hour: the tests do not need them.
		SysTopicResendInterval: 3600,
	})
	if err := srv.AddHook(&brokerHook{b: b}, nil); err != nil {
		return err
	}
	if b.store != nil {
		if err := srv.AddHook(&storeHook{s: b.store}, nil); err != nil {
			return err
		}
	}
	tcp := listeners.NewTCP(listeners.Config{ID: "tcp", Address: tcpAddr, TLSConfig: b.cfg.TLS})
	if err := srv.AddListener(tcp); err != nil {
		return fmt.Errorf("scadatest: mqtt listener: %w", err)
	}
	var ws *wsListener
	if b.cfg.WebSocket {
		ws = &wsListener{id: "ws", addr: wsAddr, tlsConfig: b.cfg.TLS}
		if err := srv.AddListener(ws); err != nil {
			_ = srv.Close()
			return fmt.Errorf("scadatest: mqtt websocket listener: %w", err)
		}
	}
	if err := srv.Serve(); err != nil {
		_ = srv.Close()
		return err
	}
	b.srv = srv
	b.tcpAddr = tcp.Address()
	if ws != nil {
		b.wsAddr = ws.Address()
	}
	return nil
}

// URL is the broker's TCP address as an MQTT URL: mqtt://127.0.0.1:port, or
// mqtts:// when the broker speaks TLS.
func (b *MQTTBroker) URL() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cfg.TLS != nil {
		return "mqtts://" + b.tcpAddr
	}
	return "mqtt://" + b.tcpAddr
}

// WebSocketURL is the websocket listener's URL (ws:// or wss://), or "" when
// the broker has none.
func (b *MQTTBroker) WebSocketURL() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.wsAddr == "" {
		return ""
	}
	if b.cfg.TLS != nil {
		return "wss://" + b.wsAddr + "/mqtt"
	}
	return "ws://" + b.wsAddr + "/mqtt"
}

// Publish publishes a message as if a device had sent it.
func (b *MQTTBroker) Publish(topic string, payload []byte, qos byte, retain bool) error {
	b.mu.Lock()
	srv := b.srv
	b.mu.Unlock()
	if srv == nil {
		return errors.New("scadatest: mqtt broker is stopped")
	}
	if retain {
		// mochi v2.7.9 reads a topic's retained path without a lock while it
		// sends retained messages to a new subscription; keep retained
		// publishes out of that window (see brokerHook.OnSubscribe).
		b.retainMu.Lock()
		defer b.retainMu.Unlock()
	}
	return srv.Publish(topic, payload, retain, qos)
}

// Subscribe calls fn for every message published on a topic matching
// filter, as a client subscribed inside the broker would see it (to watch
// what a Source publishes, such as a Sparkplug rebirth request). fn runs on
// the publisher's goroutine: keep it quick. The subscription ends when the
// broker stops.
func (b *MQTTBroker) Subscribe(filter string, fn func(topic string, payload []byte)) error {
	b.mu.Lock()
	srv := b.srv
	id := b.inlineSubs + 1
	b.inlineSubs = id
	b.mu.Unlock()
	if srv == nil {
		return errors.New("scadatest: mqtt broker is stopped")
	}
	return srv.Subscribe(filter, id, func(_ *mochi.Client, _ packets.Subscription, pk packets.Packet) {
		fn(pk.TopicName, pk.Payload)
	})
}

// Stats returns the broker's counters.
func (b *MQTTBroker) Stats() MQTTBrokerStats {
	b.mu.Lock()
	srv := b.srv
	b.mu.Unlock()
	if srv == nil {
		return MQTTBrokerStats{}
	}
	i := srv.Info.Clone()
	return MQTTBrokerStats{
		ClientsConnected: i.ClientsConnected,
		Subscriptions:    i.Subscriptions,
		MessagesReceived: i.MessagesReceived,
		MessagesSent:     i.MessagesSent,
		MessagesDropped:  i.MessagesDropped,
		InflightDropped:  i.InflightDropped,
		Inflight:         i.Inflight,
	}
}

// Subscribers reports how many client subscriptions match topic, shared
// subscription groups counting once each.
func (b *MQTTBroker) Subscribers(topic string) int {
	b.mu.Lock()
	srv := b.srv
	b.mu.Unlock()
	if srv == nil {
		return 0
	}
	s := srv.Topics.Subscribers(topic)
	return len(s.Subscriptions) + len(s.Shared)
}

// WaitSubscribed blocks until the broker has accepted n SUBSCRIBE packets in
// all since it was created (restarts included), or ctx ends.
func (b *MQTTBroker) WaitSubscribed(ctx context.Context, n int) error {
	for {
		b.subMu.Lock()
		got, wake := b.subs, b.subWake
		b.subMu.Unlock()
		if got >= n {
			return nil
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return fmt.Errorf("scadatest: %d of %d subscriptions: %w", got, n, ctx.Err())
		}
	}
}

// HoldSubscribes makes the broker hold every client SUBSCRIBE it receives,
// without answering, until release is called (release is idempotent). held
// is closed when the first SUBSCRIBE is being held. It shows what a client
// does between CONNACK and SUBACK.
func (b *MQTTBroker) HoldSubscribes() (held <-chan struct{}, release func()) {
	h := &subHold{held: make(chan struct{}), release: make(chan struct{})}
	b.subMu.Lock()
	b.hold = h
	b.subMu.Unlock()
	var once sync.Once
	return h.held, func() {
		once.Do(func() {
			b.subMu.Lock()
			if b.hold == h {
				b.hold = nil
			}
			b.subMu.Unlock()
			close(h.release)
		})
	}
}

// ClientSessionExpiry returns the Session Expiry Interval, in seconds, that
// the connected client id sent in its CONNECT; ok is false when no such
// client is connected. A CONNECT without the property means 0.
func (b *MQTTBroker) ClientSessionExpiry(id string) (seconds uint32, ok bool) {
	b.mu.Lock()
	srv := b.srv
	b.mu.Unlock()
	if srv == nil {
		return 0, false
	}
	cl, found := srv.Clients.Get(id)
	if !found || cl.Closed() {
		return 0, false
	}
	p := cl.Properties.Props
	if !p.SessionExpiryIntervalFlag {
		return 0, true
	}
	return p.SessionExpiryInterval, true
}

func (b *MQTTBroker) subscribed() {
	b.subMu.Lock()
	b.subs++
	close(b.subWake)
	b.subWake = make(chan struct{})
	b.subMu.Unlock()
}

// DisconnectClient drops the connection of the client with the given id, as a
// network fault would; its session stays on the broker.
func (b *MQTTBroker) DisconnectClient(id string) error {
	b.mu.Lock()
	srv := b.srv
	b.mu.Unlock()
	if srv == nil {
		return errors.New("scadatest: mqtt broker is stopped")
	}
	cl, ok := srv.Clients.Get(id)
	if !ok || cl.Net.Conn == nil {
		return fmt.Errorf("scadatest: no connected mqtt client %q", id)
	}
	return cl.Net.Conn.Close()
}

// Stop stops the broker, dropping every connection. Start brings it back on
// the same ports.
func (b *MQTTBroker) Stop() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.srv == nil {
		return nil
	}
	err := b.srv.Close()
	b.srv = nil
	return err
}

// Start starts a stopped broker on the ports it had. With
// MQTTBrokerConfig.Persistent the sessions it had are restored.
func (b *MQTTBroker) Start() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return errors.New("scadatest: mqtt broker is closed")
	}
	if b.srv != nil {
		return nil
	}
	ws := b.wsAddr
	if ws == "" {
		ws = "127.0.0.1:0"
	}
	return b.start(b.tcpAddr, ws)
}

// Restart stops and starts the broker.
func (b *MQTTBroker) Restart() error {
	if err := b.Stop(); err != nil {
		return err
	}
	return b.Start()
}

// Close stops the broker for good. It is idempotent.
func (b *MQTTBroker) Close() error {
	err := b.Stop()
	b.mu.Lock()
	b.closed = true
	b.mu.Unlock()
	return err
}

// brokerHook authenticates clients against MQTTBrokerConfig.Users and counts
// subscriptions.
type brokerHook struct {
	mochi.HookBase
	b *MQTTBroker
}

func (h *brokerHook) ID() string { return "scadatest" }

func (h *brokerHook) Provides(t byte) bool {
	switch t {
	case mochi.OnConnectAuthenticate, mochi.OnACLCheck, mochi.OnSubscribed, mochi.OnConnect,
		mochi.OnSubscribe, mochi.OnPacketProcessed:
		return true
	}
	return false
}

// OnSubscribe and OnPacketProcessed bracket the handling of a client's
// SUBSCRIBE, which ends with sending the retained messages it matches.
// MQTTBroker.Publish holds retainMu for a retained message meanwhile, since
// mochi reads the retained index there without its lock.
func (h *brokerHook) OnSubscribe(cl *mochi.Client, pk packets.Packet) packets.Packet {
	if !cl.Net.Inline {
		h.b.subMu.Lock()
		hold := h.b.hold
		h.b.subMu.Unlock()
		if hold != nil {
			hold.heldOnce.Do(func() { close(hold.held) })
			// mochi has no signal for a closed client here: look every 10 ms.
			tick := time.NewTicker(10 * time.Millisecond)
			for waiting := true; waiting && !cl.Closed(); {
				select {
				case <-hold.release:
					waiting = false
				case <-tick.C:
				}
			}
			tick.Stop()
		}
		h.b.retainMu.RLock()
	}
	return pk
}

func (h *brokerHook) OnPacketProcessed(cl *mochi.Client, pk packets.Packet, _ error) {
	if !cl.Net.Inline && pk.FixedHeader.Type == packets.Subscribe {
		h.b.retainMu.RUnlock()
	}
}

func (h *brokerHook) OnConnect(cl *mochi.Client, _ packets.Packet) error {
	if !h.b.cfg.EnforceReceiveMaximum {
		cl.State.Inflight.ResetSendQuota(0) // see MQTTBrokerConfig.EnforceReceiveMaximum
	}
	return nil
}

func (h *brokerHook) OnConnectAuthenticate(cl *mochi.Client, pk packets.Packet) bool {
	users := h.b.cfg.Users
	if len(users) == 0 {
		return true
	}
	want, ok := users[string(pk.Connect.Username)]
	return ok && subtle.ConstantTimeCompare([]byte(want), pk.Connect.Password) == 1
}

func (h *brokerHook) OnACLCheck(*mochi.Client, string, bool) bool { return true }

func (h *brokerHook) OnSubscribed(cl *mochi.Client, pk packets.Packet, codes []byte) {
	if cl.Net.Inline {
		return
	}
	h.b.subscribed()
}

// wsListener is a mochi websocket listener that binds before it serves, so it
// can listen on a port the system picks (mochi's own binds in Serve and cannot
// report the port).
type wsListener struct {
	id        string
	addr      string
	tlsConfig *tls.Config

	ln  net.Listener
	srv *http.Server

	mu    sync.Mutex
	conns map[net.Conn]struct{}
}

func (l *wsListener) ID() string       { return l.id }
func (l *wsListener) Protocol() string { return "ws" }
func (l *wsListener) Address() string {
	if l.ln != nil {
		return l.ln.Addr().String()
	}
	return l.addr
}

func (l *wsListener) Init(*slog.Logger) error {
	ln, err := net.Listen("tcp", l.addr)
	if err != nil {
		return err
	}
	if l.tlsConfig != nil {
		ln = tls.NewListener(ln, l.tlsConfig)
	}
	l.ln = ln
	l.conns = map[net.Conn]struct{}{}
	return nil
}

func (l *wsListener) Serve(establish listeners.EstablishFn) {
	mux := http.NewServeMux()
	mux.HandleFunc("/mqtt", func(w http.ResponseWriter, r *http.Request) {
		c, err := wsUpgrader.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		conn := &wsServerConn{Conn: c.UnderlyingConn(), c: c}
		l.mu.Lock()
		l.conns[conn] = struct{}{}
		l.mu.Unlock()
		defer func() {
			l.mu.Lock()
			delete(l.conns, conn)
			l.mu.Unlock()
			_ = c.Close()
		}()
		_ = establish(l.id, conn)
	})
	l.mu.Lock()
	l.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	srv := l.srv
	l.mu.Unlock()
	_ = srv.Serve(l.ln)
}

func (l *wsListener) Close(closeClients listeners.CloseFn) {
	closeClients(l.id)
	l.mu.Lock()
	srv := l.srv
	for c := range l.conns {
		_ = c.Close()
	}
	l.mu.Unlock()
	if srv != nil {
		_ = srv.Close()
	} else if l.ln != nil {
		_ = l.ln.Close()
	}
}
