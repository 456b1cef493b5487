package scadatest

import (
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"

	"github.com/gorilla/websocket"
	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/storage"
	"github.com/mochi-mqtt/server/v2/packets"
)

var wsUpgrader = websocket.Upgrader{
	Subprotocols: []string{"mqtt"},
	CheckOrigin:  func(*http.Request) bool { return true },
}

// wsServerConn presents a websocket as the byte stream mochi reads packets from.
type wsServerConn struct {
	net.Conn
	c  *websocket.Conn
	r  io.Reader
	wm sync.Mutex
}

func (w *wsServerConn) Read(p []byte) (int, error) {
	for {
		if w.r == nil {
			op, r, err := w.c.NextReader()
			if err != nil {
				return 0, err
			}
			if op != websocket.BinaryMessage {
				return 0, errors.New("scadatest: websocket message is not binary")
			}
			w.r = r
		}
		n, err := w.r.Read(p)
		if errors.Is(err, io.EOF) {
			w.r = nil
			if n > 0 {
				return n, nil
			}
			continue
		}
		return n, err
	}
}

func (w *wsServerConn) Write(p []byte) (int, error) {
	w.wm.Lock()
	defer w.wm.Unlock()
	if err := w.c.WriteMessage(websocket.BinaryMessage, p); err != nil {
		return 0, err
	}
	return len(p), nil
}

// memoryStore is what a broker's persistence store keeps: client sessions,
// subscriptions, in-flight QoS 1/2 messages and retained messages. It lives
// in the MQTTBroker, so it outlives the mochi server across restarts.
type memoryStore struct {
	mu       sync.Mutex
	clients  map[string]storage.Client
	subs     map[string]storage.Subscription
	inflight map[string]storage.Message
	retained map[string]storage.Message
}

func newMemoryStore() *memoryStore {
	return &memoryStore{
		clients:  map[string]storage.Client{},
		subs:     map[string]storage.Subscription{},
		inflight: map[string]storage.Message{},
		retained: map[string]storage.Message{},
	}
}

// storeHook feeds a memoryStore from mochi's hook events and restores it when
// the server starts.
type storeHook struct {
	mochi.HookBase
	s *memoryStore
}

func (h *storeHook) ID() string { return "scadatest-store" }

func (h *storeHook) Provides(b byte) bool {
	switch b {
	case mochi.OnSessionEstablished, mochi.OnDisconnect, mochi.OnSubscribed, mochi.OnUnsubscribed,
		mochi.OnRetainMessage, mochi.OnQosPublish, mochi.OnQosComplete, mochi.OnQosDropped,
		mochi.OnClientExpired, mochi.StoredClients, mochi.StoredSubscriptions,
		mochi.StoredInflightMessages, mochi.StoredRetainedMessages:
		return true
	}
	return false
}

func (h *storeHook) OnSessionEstablished(cl *mochi.Client, _ packets.Packet) {
	if cl.Net.Inline {
		return
	}
	p := cl.Properties.Props
	h.s.mu.Lock()
	h.s.clients[cl.ID] = storage.Client{
		ID: cl.ID, T: storage.ClientKey, Listener: cl.Net.Listener, Username: cl.Properties.Username,
		Clean: cl.Properties.Clean, ProtocolVersion: cl.Properties.ProtocolVersion,
		Properties: storage.ClientProperties{
			SessionExpiryInterval: p.SessionExpiryInterval, SessionExpiryIntervalFlag: p.SessionExpiryIntervalFlag,
			ReceiveMaximum: p.ReceiveMaximum, TopicAliasMaximum: p.TopicAliasMaximum, MaximumPacketSize: p.MaximumPacketSize,
		},
	}
	h.s.mu.Unlock()
}

func (h *storeHook) OnDisconnect(cl *mochi.Client, _ error, expire bool) {
	if !expire || cl.StopCause() == packets.ErrSessionTakenOver {
		return
	}
	h.forget(cl.ID)
}

func (h *storeHook) OnClientExpired(cl *mochi.Client) { h.forget(cl.ID) }

func (h *storeHook) forget(id string) {
	h.s.mu.Lock()
	defer h.s.mu.Unlock()
	delete(h.s.clients, id)
	for k, v := range h.s.subs {
		if v.Client == id {
			delete(h.s.subs, k)
		}
	}
	for k, v := range h.s.inflight {
		if v.Client == id {
			delete(h.s.inflight, k)
		}
	}
}

func (h *storeHook) OnSubscribed(cl *mochi.Client, pk packets.Packet, codes []byte) {
	if cl.Net.Inline {
		return
	}
	h.s.mu.Lock()
	defer h.s.mu.Unlock()
	for i, f := range pk.Filters {
		if i >= len(codes) || codes[i] >= 0x80 {
			continue
		}
		h.s.subs[cl.ID+"|"+f.Filter] = storage.Subscription{
			ID: cl.ID + "|" + f.Filter, T: storage.SubscriptionKey, Client: cl.ID, Filter: f.Filter,
			Qos: codes[i], Identifier: f.Identifier, NoLocal: f.NoLocal,
			RetainHandling: f.RetainHandling, RetainAsPublished: f.RetainAsPublished,
		}
	}
}

func (h *storeHook) OnUnsubscribed(cl *mochi.Client, pk packets.Packet) {
	h.s.mu.Lock()
	defer h.s.mu.Unlock()
	for _, f := range pk.Filters {
		delete(h.s.subs, cl.ID+"|"+f.Filter)
	}
}

func storedMessage(cl *mochi.Client, pk packets.Packet, key string) storage.Message {
	return storage.Message{
		ID: key, T: storage.InflightKey, Client: cl.ID, Origin: pk.Origin, FixedHeader: pk.FixedHeader,
		TopicName: pk.TopicName, Payload: append([]byte(nil), pk.Payload...), Created: pk.Created,
		PacketID: pk.PacketID,
	}
}

func inflightKey(cl *mochi.Client, id uint16) string {
	return cl.ID + "|" + strconv.Itoa(int(id))
}

func (h *storeHook) OnRetainMessage(cl *mochi.Client, pk packets.Packet, r int64) {
	h.s.mu.Lock()
	defer h.s.mu.Unlock()
	if r == -1 {
		delete(h.s.retained, pk.TopicName)
		return
	}
	m := storedMessage(cl, pk, pk.TopicName)
	m.T = storage.RetainedKey
	h.s.retained[pk.TopicName] = m
}

func (h *storeHook) OnQosPublish(cl *mochi.Client, pk packets.Packet, sent int64, _ int) {
	h.s.mu.Lock()
	defer h.s.mu.Unlock()
	k := inflightKey(cl, pk.PacketID)
	m := storedMessage(cl, pk, k)
	m.Sent = sent
	h.s.inflight[k] = m
}

func (h *storeHook) OnQosComplete(cl *mochi.Client, pk packets.Packet) {
	h.s.mu.Lock()
	defer h.s.mu.Unlock()
	delete(h.s.inflight, inflightKey(cl, pk.PacketID))
}

func (h *storeHook) OnQosDropped(cl *mochi.Client, pk packets.Packet) { h.OnQosComplete(cl, pk) }

func (h *storeHook) StoredClients() ([]storage.Client, error) {
	h.s.mu.Lock()
	defer h.s.mu.Unlock()
	v := make([]storage.Client, 0, len(h.s.clients))
	for _, c := range h.s.clients {
		v = append(v, c)
	}
	return v, nil
}

func (h *storeHook) StoredSubscriptions() ([]storage.Subscription, error) {
	h.s.mu.Lock()
	defer h.s.mu.Unlock()
	v := make([]storage.Subscription, 0, len(h.s.subs))
	for _, s := range h.s.subs {
		v = append(v, s)
	}
	return v, nil
}

func (h *storeHook) StoredInflightMessages() ([]storage.Message, error) {
	h.s.mu.Lock()
	defer h.s.mu.Unlock()
	v := make([]storage.Message, 0, len(h.s.inflight))
	for _, m := range h.s.inflight {
		v = append(v, m)
	}
	return v, nil
}

func (h *storeHook) StoredRetainedMessages() ([]storage.Message, error) {
	h.s.mu.Lock()
	defer h.s.mu.Unlock()
	v := make([]storage.Message, 0, len(h.s.retained))
	for _, m := range h.s.retained {
		v = append(v, m)
	}
	return v, nil
}
