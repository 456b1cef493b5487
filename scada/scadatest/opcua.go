package scadatest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gopcua/opcua/id"
	"github.com/gopcua/opcua/server"
	"github.com/gopcua/opcua/ua"
	"github.com/gopcua/opcua/uacp"
	"github.com/gopcua/opcua/uasc"

	"github.com/greenlang/gl001/scada"
)

// OPCUAType is the OPC UA data type of a simulated variable.
type OPCUAType int

// The data types an [OPCUAServer] variable can have. OPCUADouble is the zero value.
const (
	OPCUADouble OPCUAType = iota
	OPCUAFloat
	OPCUAInt16
	OPCUAInt32
	OPCUAInt64
	OPCUAUInt16
	OPCUAUInt32
	OPCUAUInt64
	OPCUAByte
	OPCUASByte
	OPCUABoolean
	OPCUAString // not a sensor value: for testing how clients refuse it
)

var opcuaTypeIDs = [...]uint32{
	OPCUADouble: id.Double, OPCUAFloat: id.Float, OPCUAInt16: id.Int16, OPCUAInt32: id.Int32,
	OPCUAInt64: id.Int64, OPCUAUInt16: id.UInt16, OPCUAUInt32: id.UInt32, OPCUAUInt64: id.UInt64,
	OPCUAByte: id.Byte, OPCUASByte: id.SByte, OPCUABoolean: id.Boolean, OPCUAString: id.String,
}

// variant returns v as a variant of type t.
func (t OPCUAType) variant(v float64) *ua.Variant {
	var x any
	switch t {
	case OPCUAFloat:
		x = float32(v)
	case OPCUAInt16:
		x = int16(v)
	case OPCUAInt32:
		x = int32(v)
	case OPCUAInt64:
		x = int64(v)
	case OPCUAUInt16:
		x = uint16(v)
	case OPCUAUInt32:
		x = uint32(v)
	case OPCUAUInt64:
		x = uint64(v)
	case OPCUAByte:
		x = uint8(v)
	case OPCUASByte:
		x = int8(v)
	case OPCUABoolean:
		x = v != 0
	case OPCUAString:
		x = strconv.FormatFloat(v, 'g', -1, 64)
	default:
		x = v
	}
	return ua.MustVariant(x)
}

// OPCUATag is one variable of an [OPCUAServer]. Its node id is
// "ns=<index>;s=<Name>" in the server's namespace ([OPCUAServer.NodeID]).
type OPCUATag struct {
	Name    string
	Type    OPCUAType
	Initial float64
	// Step is added to the value at every update; zero keeps it constant.
	Step float64
	// Unit, when set, gives the node an EngineeringUnits property
	// (EUInformation) with this display name.
	Unit     string
	Writable bool
	// NoSourceTimestamp makes the server send only its server timestamp.
	NoSourceTimestamp bool
}

// OPCUAConfig configures an [OPCUAServer].
type OPCUAConfig struct {
	Tags []OPCUATag
	// UpdateInterval is how often the changing tags (Step != 0) change. Zero
	// means they change only through Set.
	UpdateInterval time.Duration
	// NamespaceURI names the server's namespace. Default "urn:gl001:scadatest".
	NamespaceURI string
	// Logger receives the server library's messages; nil discards them.
	Logger *slog.Logger
}

// OPCUAServer is an in-process OPC UA server (gopcua's server package) on
// 127.0.0.1 with a namespace of simulated variables. It can be stopped and
// started again on the same port, and a node can be removed across a restart,
// to test what clients do when a server goes away. Its methods are safe for
// concurrent use.
//
// Limits of the gopcua server (v0.8.0), measured: it serves security None
// only; it never splits a response into chunks, so a response over 64 KiB
// drops the connection (keep subscriptions and CreateMonitoredItems calls
// under about 2,500 items); it ignores queue sizes and sampling intervals and
// publishes at the publishing interval whatever changed.
type OPCUAServer struct {
	cfg   OPCUAConfig
	port  int // the gopcua server's own port
	relay *opcuaRelay

	mu      sync.Mutex // guards srv, cancel, running
	srv     *server.Server
	cancel  context.CancelFunc
	running bool
	closed  bool

	ns *opcuaNamespace

	updates atomic.Uint64
	stop    chan struct{}
	wg      sync.WaitGroup
}

// NewOPCUAServer starts a server with cfg's tags on a free port of 127.0.0.1.
// Close it when done.
func NewOPCUAServer(cfg OPCUAConfig) (*OPCUAServer, error) {
	if cfg.NamespaceURI == "" {
		cfg.NamespaceURI = "urn:gl001:scadatest"
	}
	s := &OPCUAServer{cfg: cfg, stop: make(chan struct{})}
	s.ns = newOPCUANamespace(cfg.NamespaceURI)
	for _, t := range cfg.Tags {
		if err := s.ns.add(t); err != nil {
			return nil, err
		}
	}
	port, err := opcuaFreePort()
	if err != nil {
		return nil, err
	}
	s.port = port
	if s.relay, err = newOPCUARelay("127.0.0.1:" + strconv.Itoa(port)); err != nil {
		return nil, err
	}
	if err := s.Start(); err != nil {
		s.relay.close()
		return nil, err
	}
	if cfg.UpdateInterval > 0 {
		s.wg.Add(1)
		go s.updateLoop()
	}
	return s, nil
}

// opcuaFreePort asks the system for a free port on 127.0.0.1. The gopcua server
// does not tell which port it bound, so the port is picked first.
func opcuaFreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Endpoint is the server's URL, e.g. "opc.tcp://127.0.0.1:40123". Clients
// connect through a relay that [OPCUAServer.Stop] and [OPCUAServer.Freeze]
// act on; the port stays the same across Stop and Start.
func (s *OPCUAServer) Endpoint() string { return "opc.tcp://" + s.relay.addr() }

// DirectEndpoint is the gopcua server's own listener, without the relay: for
// benchmarks, where the relay's copying would be measured too. Stop still
// stops the server, but Freeze does not act on connections made here.
func (s *OPCUAServer) DirectEndpoint() string { return "opc.tcp://127.0.0.1:" + strconv.Itoa(s.port) }

// Freeze makes the relay hold every byte in both directions without closing
// anything, as a dead network path or a hung server does: clients see no
// error, only silence. Freeze(false) lets the held bytes through again.
func (s *OPCUAServer) Freeze(on bool) { s.relay.freeze(on) }

// NamespaceURI is the URI of the simulated variables' namespace.
func (s *OPCUAServer) NamespaceURI() string { return s.cfg.NamespaceURI }

// NodeID returns the node id string of a tag: "ns=1;s=<name>".
func (s *OPCUAServer) NodeID(tag string) string { return fmt.Sprintf("ns=%d;s=%s", opcuaNS, tag) }

// Updates returns how many value changes the server has notified.
func (s *OPCUAServer) Updates() uint64 { return s.updates.Load() }

// Start lets clients in again after Stop, on the same port, with the
// address space as it is now (without removed nodes). Values and statuses
// are kept; the subscriptions and sessions of before are gone.
func (s *OPCUAServer) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return scada.ErrClosed
	}
	if s.srv == nil {
		if err := s.startServer(); err != nil {
			return err
		}
	}
	s.running = true
	s.relay.accept(true)
	return nil
}

// startServer builds and starts the gopcua server; it runs once per
// OPCUAServer (building the library's address space takes a while).
func (s *OPCUAServer) startServer() error {
	rport := s.relay.l.Addr().(*net.TCPAddr).Port
	opts := []server.Option{
		server.EndPoint("127.0.0.1", s.port), // the first endpoint is the one it listens on
		server.EndPoint("127.0.0.1", rport),
		server.EnableSecurity("None", ua.MessageSecurityModeNone),
		server.EnableAuthMode(ua.UserTokenTypeAnonymous),
		server.ServerName("gl001 scadatest"),
	}
	if s.cfg.Logger != nil {
		opts = append(opts, server.SetLogger(opcuaLogger{s.cfg.Logger}))
	}
	srv := server.New(opts...)
	// Registered before Start, this handler takes the place of the
	// library's own (which Start registers only where none is).
	guard := &opcuaSubGuard{srv: srv, known: make(map[*server.Subscription]bool)}
	srv.RegisterHandler(id.CreateSubscriptionRequest_Encoding_DefaultBinary, guard.create)
	srv.AddNamespace(s.ns)
	if objs := srv.Node(ua.NewNumericNodeID(0, id.ObjectsFolder)); objs != nil {
		objs.AddRef(s.ns.folder, server.RefType(id.Organizes), true)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := srv.Start(ctx); err != nil {
		cancel()
		return err
	}
	s.ns.setServer(srv)
	s.srv, s.cancel = srv, cancel
	return nil
}

// Stop takes the server down as far as clients can tell: every connection is
// cut, new ones are refused and the subscriptions are deleted, as when a real
// server goes down. Start brings it back on the same port. (The library's
// server keeps running behind the relay: it cannot drop its connections
// itself, and rebuilding it takes long. DirectEndpoint clients stay
// connected but lose their subscriptions.)
func (s *OPCUAServer) Stop() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.running {
		return nil
	}
	s.running = false
	s.relay.accept(false)
	s.relay.drop()
	s.deleteSubscriptions()
	return nil
}

// deleteSubscriptions deletes every subscription of the library's server:
// their goroutines would otherwise run until their lifetime expires.
func (s *OPCUAServer) deleteSubscriptions() {
	svc := s.srv.SubscriptionService
	svc.Mu.Lock()
	ids := make([]uint32, 0, len(svc.Subs))
	for id := range svc.Subs {
		ids = append(ids, id)
	}
	svc.Mu.Unlock()
	for _, id := range ids {
		svc.DeleteSubscription(id)
	}
}

// opcuaSubGuard works around a flaw of the library's server (v0.8.0): it
// numbers a new subscription len(Subs)+1, so ids are reused, and the
// goroutine of a deleted subscription deletes its id once more as it winds
// down. A subscription created in between (a client that reconnects at once,
// after Stop or after deleting its subscriptions) gets the same id and is
// deleted under its feet. CreateSubscription therefore waits until the
// goroutines of the subscriptions deleted before have ended.
type opcuaSubGuard struct {
	srv   *server.Server
	mu    sync.Mutex                    // serialises creations
	known map[*server.Subscription]bool // subscriptions created here, until their goroutine ended
}

func (g *opcuaSubGuard) create(sc *uasc.SecureChannel, r ua.Request, reqID uint32) (ua.Response, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	svc := g.srv.SubscriptionService
	g.awaitDeleted(svc)
	resp, err := svc.CreateSubscription(sc, r, reqID)
	if cr, ok := resp.(*ua.CreateSubscriptionResponse); ok && err == nil {
		svc.Mu.Lock()
		if sub := svc.Subs[cr.SubscriptionID]; sub != nil {
			g.known[sub] = true
		}
		svc.Mu.Unlock()
	}
	return resp, err
}

// awaitDeleted waits, at most a few seconds, until no goroutine of a deleted
// subscription runs. The library offers no handle on them, so it looks for
// their receiver in the goroutines' stacks.
func (g *opcuaSubGuard) awaitDeleted(svc *server.SubscriptionService) {
	deadline := time.Now().Add(5 * time.Second)
	buf := make([]byte, 64<<10)
	for {
		svc.Mu.Lock()
		var deleted []*server.Subscription
		for sub := range g.known {
			if svc.Subs[sub.ID] != sub {
				deleted = append(deleted, sub)
			}
		}
		svc.Mu.Unlock()
		if len(deleted) == 0 {
			return
		}
		n := runtime.Stack(buf, true)
		for n == len(buf) {
			buf = make([]byte, 2*len(buf))
			n = runtime.Stack(buf, true)
		}
		running := false
		for _, sub := range deleted {
			if bytes.Contains(buf[:n], fmt.Appendf(nil, "server.(*Subscription).run(%p", sub)) {
				running = true
			} else {
				delete(g.known, sub)
			}
		}
		if !running || time.Now().After(deadline) {
			return
		}
		time.Sleep(time.Millisecond)
	}
}

// Close stops the server and its update loop. Later calls return
// scada.ErrClosed.
func (s *OPCUAServer) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return scada.ErrClosed
	}
	s.closed = true
	s.running = false
	close(s.stop)
	s.mu.Unlock()
	s.wg.Wait() // the update loop is done: nothing notifies the server any more
	s.relay.close()
	s.awaitAcceptQuiet()
	s.ns.setServer(nil)
	s.deleteSubscriptions()
	// Close before cancelling: the library's connection goroutines hand
	// messages to its dispatcher without watching the context, so the
	// dispatcher must still run while they wind down.
	err := s.srv.Close()
	s.cancel()
	return err
}

// awaitAcceptQuiet works around a race in the library's server (v0.8.0):
// its acceptor hands every connection to a new goroutine that registers it
// (channelBroker.RegisterConn, which calls WaitGroup.Add), while Close waits
// on that WaitGroup. Nothing orders such an Add before the Wait, so a
// connection that registers while Close begins, or that is still
// registered then, is a data race (and, at worst, a panic). A connection
// goroutine that has ended is ordered before Close: it left through the
// broker's mutex, which Close takes before waiting. So Close first lets
// every connection end: the relay, closed before, cut them and sends no
// more; a Hello of its own, answered, shows that the acceptor has taken
// every connection queued before it; then it waits (at most 10 s) until the
// acceptor is back in Accept and every goroutine it started has returned.
// The library offers no handle on these goroutines, so it finds them in
// the goroutines' stacks, the acceptor by its *server.Server. A client
// still connected to DirectEndpoint keeps its goroutine: Close then waits
// the 10 s and the race is not excluded.
func (s *OPCUAServer) awaitAcceptQuiet() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	if c, err := uacp.Dial(ctx, s.DirectEndpoint()); err == nil {
		_ = c.Close()
	}
	cancel()
	acceptor := fmt.Sprintf("server.(*Server).acceptAndRegister(%p", s.srv)
	deadline := time.Now().Add(10 * time.Second)
	buf := make([]byte, 64<<10)
	for time.Now().Before(deadline) {
		n := runtime.Stack(buf, true)
		for n == len(buf) {
			buf = make([]byte, 2*len(buf))
			n = runtime.Stack(buf, true)
		}
		if acceptQuiet(string(buf[:n]), acceptor) {
			return
		}
		time.Sleep(time.Millisecond)
	}
}

// acceptQuiet reports whether, in stacks (runtime.Stack of all goroutines),
// the goroutine running acceptor waits in Accept and none of the
// connection goroutines it started is left, registering or registered.
func acceptQuiet(stacks, acceptor string) bool {
	blocks := strings.Split(stacks, "\n\n")
	id := ""
	for _, b := range blocks {
		if !strings.Contains(b, acceptor) {
			continue
		}
		if !strings.Contains(b, "AcceptTCP") || strings.Contains(b, "srvhandshake") {
			return false // taking a connection in
		}
		if f := strings.Fields(b); len(f) > 1 && f[0] == "goroutine" {
			id = f[1]
		}
	}
	if id == "" {
		return true // the acceptor has ended, or cannot be told apart
	}
	// That includes a goroutine not running yet, whose stack shows only the
	// go statement's wrapper (acceptAndRegister.gowrap1).
	created := "server.(*Server).acceptAndRegister in goroutine " + id + "\n"
	for _, b := range blocks {
		if strings.Contains(b, created) {
			return false
		}
	}
	return true
}

// Set sets a tag's value (with quality Good) and notifies subscribers.
func (s *OPCUAServer) Set(tag string, v float64) error {
	return s.ns.update(tag, func(st *opcuaVar) { st.value, st.status = v, 0 })
}

// SetStatus sets a tag's status code (a Bad status still carries the last
// value, as many servers send it) and notifies subscribers.
func (s *OPCUAServer) SetStatus(tag string, q scada.Quality) error {
	return s.ns.update(tag, func(st *opcuaVar) { st.status = ua.StatusCode(q) })
}

// Value returns a tag's current value.
func (s *OPCUAServer) Value(tag string) (float64, error) {
	s.ns.mu.RLock()
	defer s.ns.mu.RUnlock()
	v, ok := s.ns.byName[tag]
	if !ok {
		return 0, fmt.Errorf("scadatest: opcua tag %q: %w", tag, scada.ErrUnknownTag)
	}
	return v.value, nil
}

// Remove deletes a tag's node: from now on (and after a restart) the server
// answers BadNodeIdUnknown for it.
func (s *OPCUAServer) Remove(tag string) error {
	v, err := s.ns.remove(tag)
	if err == nil {
		s.ns.notify([]*opcuaVar{v})
	}
	return err
}

func (s *OPCUAServer) updateLoop() {
	defer s.wg.Done()
	t := time.NewTicker(s.cfg.UpdateInterval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			s.updates.Add(uint64(s.ns.step()))
		}
	}
}

// opcuaNS is the namespace index of the simulated variables: the first after
// the standard namespace 0.
const opcuaNS = 1

// opcuaNamespace is a server.NameSpace of simulated variables. Values live here,
// under one lock, so the server's goroutines and the update loop never race.
type opcuaNamespace struct {
	uri    string
	folder *server.Node

	mu       sync.RWMutex
	byName   map[string]*opcuaVar
	byKey    map[string]*opcuaVar // node id string -> variable (and its EU property)
	order    []*opcuaVar
	changing []*opcuaVar
	srv      *server.Server
	notified []*opcuaVar // reused by step, which only the update loop calls
}

type opcuaVar struct {
	OPCUATag
	id, euID     *ua.NodeID
	key          string // id.String(), the library's key for monitored items
	node         *server.Node
	value        float64
	status       ua.StatusCode
	removed      bool
	ignoreWrites bool // IgnoreWrites: accept writes, keep the value
	refuseWrites bool // RefuseWrites: answer BadUserAccessDenied
}

func newOPCUANamespace(uri string) *opcuaNamespace {
	fid := ua.NewNumericNodeID(opcuaNS, id.ObjectsFolder)
	folder := server.NewNode(fid, map[ua.AttributeID]*ua.DataValue{
		ua.AttributeIDNodeClass:   server.DataValueFromValue(uint32(ua.NodeClassObject)),
		ua.AttributeIDBrowseName:  server.DataValueFromValue(&ua.QualifiedName{NamespaceIndex: opcuaNS, Name: "Simulation"}),
		ua.AttributeIDDisplayName: server.DataValueFromValue(&ua.LocalizedText{EncodingMask: ua.LocalizedTextText, Text: "Simulation"}),
		ua.AttributeIDDataType:    server.DataValueFromValue(ua.NewNumericExpandedNodeID(0, id.FolderType)),
	}, nil, nil)
	return &opcuaNamespace{uri: uri, folder: folder, byName: map[string]*opcuaVar{}, byKey: map[string]*opcuaVar{}}
}

func (ns *opcuaNamespace) add(t OPCUATag) error {
	if t.Name == "" {
		return errors.New("scadatest: opcua tag without a name")
	}
	if _, dup := ns.byName[t.Name]; dup {
		return fmt.Errorf("scadatest: duplicate opcua tag %q", t.Name)
	}
	v := &opcuaVar{OPCUATag: t, id: ua.NewStringNodeID(opcuaNS, t.Name), value: t.Initial}
	v.key = v.id.String()
	v.node = server.NewNode(v.id, map[ua.AttributeID]*ua.DataValue{
		ua.AttributeIDNodeClass:   server.DataValueFromValue(uint32(ua.NodeClassVariable)),
		ua.AttributeIDBrowseName:  server.DataValueFromValue(&ua.QualifiedName{NamespaceIndex: opcuaNS, Name: t.Name}),
		ua.AttributeIDDisplayName: server.DataValueFromValue(&ua.LocalizedText{EncodingMask: ua.LocalizedTextText, Text: t.Name}),
		ua.AttributeIDDataType:    server.DataValueFromValue(ua.NewNumericExpandedNodeID(0, id.BaseDataVariableType)),
	}, nil, nil)
	ns.byName[t.Name] = v
	ns.byKey[v.key] = v
	if t.Unit != "" {
		v.euID = ua.NewStringNodeID(opcuaNS, t.Name+".EngineeringUnits")
		ns.byKey[v.euID.String()] = v
	}
	ns.order = append(ns.order, v)
	if t.Step != 0 {
		ns.changing = append(ns.changing, v)
	}
	return nil
}

func (ns *opcuaNamespace) setServer(srv *server.Server) {
	ns.mu.Lock()
	ns.srv = srv
	ns.mu.Unlock()
}

func (ns *opcuaNamespace) remove(tag string) (*opcuaVar, error) {
	ns.mu.Lock()
	defer ns.mu.Unlock()
	v, ok := ns.byName[tag]
	if !ok || v.removed {
		return nil, fmt.Errorf("scadatest: opcua tag %q: %w", tag, scada.ErrUnknownTag)
	}
	v.removed = true
	delete(ns.byKey, v.id.String())
	if v.euID != nil {
		delete(ns.byKey, v.euID.String())
	}
	ns.changing = slices.DeleteFunc(ns.changing, func(x *opcuaVar) bool { return x == v })
	return v, nil
}

func (ns *opcuaNamespace) update(tag string, f func(*opcuaVar)) error {
	ns.mu.Lock()
	v, ok := ns.byName[tag]
	if !ok || v.removed {
		ns.mu.Unlock()
		return fmt.Errorf("scadatest: opcua tag %q: %w", tag, scada.ErrUnknownTag)
	}
	f(v)
	ns.mu.Unlock()
	ns.notify([]*opcuaVar{v})
	return nil
}

// step advances every changing tag and notifies the subscribers; it returns
// how many changed.
func (ns *opcuaNamespace) step() int {
	ns.mu.Lock()
	vars := append(ns.notified[:0], ns.changing...)
	for _, v := range vars {
		v.value += v.Step
	}
	ns.notified = vars
	ns.mu.Unlock()
	ns.notify(vars)
	return len(vars)
}

// notify hands the changed variables' values to the subscriptions that
// monitor them. It does what the library's Server.ChangeNotification does,
// through the same exported monitored-item tables, with two differences: it
// does not hold the service's lock while it sends (the library's does, and
// deadlocks when a subscription dies while a notification waits for it), and
// it gives up on a subscription that takes no notification for notifyTimeout.
func (ns *opcuaNamespace) notify(vars []*opcuaVar) {
	ns.mu.RLock()
	srv := ns.srv
	values := make([]*ua.DataValue, len(vars))
	for i, v := range vars {
		if v.removed {
			values[i] = opcuaBad(ua.StatusBadNodeIDUnknown)
		} else {
			values[i] = v.dataValue()
		}
	}
	ns.mu.RUnlock()
	if srv == nil || len(vars) == 0 {
		return
	}
	svc := srv.MonitoredItemService
	targets := make([]notifyTarget, 0, len(vars))
	svc.Mu.Lock()
	for i, v := range vars {
		for _, item := range svc.Nodes[v.key] {
			if item == nil || item.Sub == nil || item.Req == nil || item.Req.RequestedParameters == nil || item.Req.ItemToMonitor == nil {
				continue
			}
			dv := values[i]
			if attr := item.Req.ItemToMonitor.AttributeID; attr != ua.AttributeIDValue {
				dv = ns.Attribute(v.id, attr)
			}
			targets = append(targets, notifyTarget{item.Sub.NotifyChannel, &ua.MonitoredItemNotification{ClientHandle: item.Req.RequestedParameters.ClientHandle, Value: dv}})
		}
	}
	svc.Mu.Unlock()
	if len(targets) == 0 {
		return
	}
	timeout := time.NewTimer(notifyTimeout)
	defer timeout.Stop()
	var dead map[chan *ua.MonitoredItemNotification]bool
	for _, t := range targets {
		if dead[t.ch] {
			continue
		}
		select {
		case t.ch <- t.m: // the usual case: room in the subscription's queue
			continue
		default:
		}
		select {
		case t.ch <- t.m:
		case <-timeout.C:
			if dead == nil {
				dead = map[chan *ua.MonitoredItemNotification]bool{}
			}
			dead[t.ch] = true
			timeout.Reset(notifyTimeout)
		}
	}
}

type notifyTarget struct {
	ch chan *ua.MonitoredItemNotification
	m  *ua.MonitoredItemNotification
}

// notifyTimeout is how long notify waits for a subscription to take a
// notification before it takes the subscription for dead.
const notifyTimeout = time.Second

// The server.NameSpace methods.

func (ns *opcuaNamespace) Name() string                        { return ns.uri }
func (ns *opcuaNamespace) AddNode(n *server.Node) *server.Node { return n }
func (ns *opcuaNamespace) Objects() *server.Node               { return ns.folder }
func (ns *opcuaNamespace) Root() *server.Node                  { return ns.folder }
func (ns *opcuaNamespace) ID() uint16                          { return opcuaNS }
func (ns *opcuaNamespace) SetID(uint16)                        {}

func (ns *opcuaNamespace) Node(nid *ua.NodeID) *server.Node {
	if nid == nil {
		return nil
	}
	if nid.Equal(ns.folder.ID()) {
		return ns.folder
	}
	ns.mu.RLock()
	defer ns.mu.RUnlock()
	if v := ns.byKey[nid.String()]; v != nil && v.id.Equal(nid) {
		return v.node
	}
	return nil
}

func opcuaBad(code ua.StatusCode) *ua.DataValue {
	return &ua.DataValue{
		EncodingMask:    ua.DataValueStatusCode | ua.DataValueServerTimestamp,
		Status:          code,
		ServerTimestamp: time.Now(),
	}
}

func opcuaGood(x any) *ua.DataValue {
	return &ua.DataValue{EncodingMask: ua.DataValueValue, Value: ua.MustVariant(x)}
}

func (ns *opcuaNamespace) Attribute(nid *ua.NodeID, attr ua.AttributeID) *ua.DataValue {
	if nid.Equal(ns.folder.ID()) {
		switch attr {
		case ua.AttributeIDNodeID:
			return opcuaGood(nid)
		case ua.AttributeIDNodeClass:
			return opcuaGood(int32(ua.NodeClassObject))
		case ua.AttributeIDBrowseName:
			return opcuaGood(&ua.QualifiedName{NamespaceIndex: opcuaNS, Name: "Simulation"})
		case ua.AttributeIDDisplayName:
			return opcuaGood(&ua.LocalizedText{EncodingMask: ua.LocalizedTextText, Text: "Simulation"})
		}
		return opcuaBad(ua.StatusBadAttributeIDInvalid)
	}
	ns.mu.RLock()
	defer ns.mu.RUnlock()
	v := ns.byKey[nid.String()]
	if v == nil {
		return opcuaBad(ua.StatusBadNodeIDUnknown)
	}
	if v.euID != nil && v.euID.Equal(nid) {
		return ns.euAttribute(v, nid, attr)
	}
	switch attr {
	case ua.AttributeIDValue:
		return v.dataValue()
	case ua.AttributeIDNodeID:
		return opcuaGood(v.id)
	case ua.AttributeIDNodeClass:
		return opcuaGood(int32(ua.NodeClassVariable))
	case ua.AttributeIDBrowseName:
		return opcuaGood(&ua.QualifiedName{NamespaceIndex: opcuaNS, Name: v.Name})
	case ua.AttributeIDDisplayName:
		return opcuaGood(&ua.LocalizedText{EncodingMask: ua.LocalizedTextText, Text: v.Name})
	case ua.AttributeIDDescription:
		return opcuaGood(&ua.LocalizedText{EncodingMask: ua.LocalizedTextText, Text: "simulated " + v.Name})
	case ua.AttributeIDDataType:
		return opcuaGood(ua.NewNumericNodeID(0, opcuaTypeIDs[v.Type]))
	case ua.AttributeIDValueRank:
		return opcuaGood(int32(-1))
	case ua.AttributeIDAccessLevel, ua.AttributeIDUserAccessLevel:
		lvl := ua.AccessLevelTypeCurrentRead
		if v.Writable {
			lvl |= ua.AccessLevelTypeCurrentWrite
		}
		return opcuaGood(uint8(lvl))
	}
	return opcuaBad(ua.StatusBadAttributeIDInvalid)
}

// dataValue is the variable's current value as the server sends it.
func (v *opcuaVar) dataValue() *ua.DataValue {
	now := time.Now()
	dv := &ua.DataValue{EncodingMask: ua.DataValueValue, Value: v.Type.variant(v.value)}
	if v.NoSourceTimestamp {
		dv.EncodingMask |= ua.DataValueServerTimestamp
		dv.ServerTimestamp = now
	} else {
		dv.EncodingMask |= ua.DataValueSourceTimestamp
		dv.SourceTimestamp = now
	}
	if v.status != 0 {
		dv.EncodingMask |= ua.DataValueStatusCode
		dv.Status = v.status
	}
	return dv
}

func (ns *opcuaNamespace) euAttribute(v *opcuaVar, nid *ua.NodeID, attr ua.AttributeID) *ua.DataValue {
	switch attr {
	case ua.AttributeIDValue:
		return opcuaGood(ua.NewExtensionObject(&ua.EUInformation{
			NamespaceURI: "http://www.opcfoundation.org/UA/units/un/cefact",
			UnitID:       -1,
			DisplayName:  &ua.LocalizedText{EncodingMask: ua.LocalizedTextText, Text: v.Unit},
			Description:  &ua.LocalizedText{EncodingMask: ua.LocalizedTextText, Text: v.Unit},
		}))
	case ua.AttributeIDNodeID:
		return opcuaGood(nid)
	case ua.AttributeIDNodeClass:
		return opcuaGood(int32(ua.NodeClassVariable))
	case ua.AttributeIDBrowseName:
		return opcuaGood(&ua.QualifiedName{Name: "EngineeringUnits"})
	case ua.AttributeIDDisplayName:
		return opcuaGood(&ua.LocalizedText{EncodingMask: ua.LocalizedTextText, Text: "EngineeringUnits"})
	case ua.AttributeIDDataType:
		return opcuaGood(ua.NewNumericNodeID(0, id.EUInformation))
	case ua.AttributeIDAccessLevel, ua.AttributeIDUserAccessLevel:
		return opcuaGood(uint8(ua.AccessLevelTypeCurrentRead))
	}
	return opcuaBad(ua.StatusBadAttributeIDInvalid)
}

func (ns *opcuaNamespace) SetAttribute(nid *ua.NodeID, attr ua.AttributeID, val *ua.DataValue) ua.StatusCode {
	ns.mu.Lock()
	v := ns.byKey[nid.String()]
	switch {
	case v == nil:
		ns.mu.Unlock()
		return ua.StatusBadNodeIDUnknown
	case attr != ua.AttributeIDValue || !v.id.Equal(nid):
		ns.mu.Unlock()
		return ua.StatusBadNotWritable
	case !v.Writable || v.refuseWrites:
		ns.mu.Unlock()
		return ua.StatusBadUserAccessDenied
	}
	if val == nil || val.Value == nil || val.Value.Type() != v.Type.variant(0).Type() {
		ns.mu.Unlock()
		return ua.StatusBadTypeMismatch
	}
	f, ok := opcuaFloat(val.Value)
	if !ok {
		ns.mu.Unlock()
		return ua.StatusBadTypeMismatch
	}
	if v.ignoreWrites {
		ns.mu.Unlock()
		return ua.StatusOK
	}
	v.value, v.status = f, 0
	ns.mu.Unlock()
	ns.notify([]*opcuaVar{v})
	return ua.StatusOK
}

func opcuaFloat(v *ua.Variant) (float64, bool) {
	switch x := v.Value().(type) {
	case bool:
		if x {
			return 1, true
		}
		return 0, true
	case float32:
		return float64(x), true
	case float64:
		return x, true
	case string:
		return math.NaN(), false
	}
	switch v.Type() {
	case ua.TypeIDInt16, ua.TypeIDInt32, ua.TypeIDInt64, ua.TypeIDSByte:
		return float64(v.Int()), true
	case ua.TypeIDUint16, ua.TypeIDUint32, ua.TypeIDUint64, ua.TypeIDByte:
		return float64(v.Uint()), true
	}
	return 0, false
}

// Browse returns the folder's variables (Organizes) and a variable's
// EngineeringUnits property (HasProperty).
func (ns *opcuaNamespace) Browse(bd *ua.BrowseDescription) *ua.BrowseResult {
	if bd.BrowseDirection == ua.BrowseDirectionInverse {
		return &ua.BrowseResult{StatusCode: ua.StatusGood, References: []*ua.ReferenceDescription{}}
	}
	want := func(ref uint32, class ua.NodeClass) bool {
		if bd.NodeClassMask != 0 && bd.NodeClassMask&uint32(class) == 0 {
			return false
		}
		rt := bd.ReferenceTypeID
		if rt == nil || rt.IntID() == 0 || rt.IntID() == ref {
			return true
		}
		// Both are hierarchical references (HasProperty is an Aggregates).
		return bd.IncludeSubtypes && (rt.IntID() == id.HierarchicalReferences || rt.IntID() == id.References)
	}
	refs := []*ua.ReferenceDescription{}
	ns.mu.RLock()
	defer ns.mu.RUnlock()
	switch {
	case bd.NodeID.Equal(ns.folder.ID()):
		if !want(id.Organizes, ua.NodeClassVariable) {
			break
		}
		for _, v := range ns.order {
			if v.removed {
				continue
			}
			refs = append(refs, &ua.ReferenceDescription{
				ReferenceTypeID: ua.NewNumericNodeID(0, id.Organizes),
				IsForward:       true,
				NodeID:          ua.NewExpandedNodeID(v.id, "", 0),
				BrowseName:      &ua.QualifiedName{NamespaceIndex: opcuaNS, Name: v.Name},
				DisplayName:     &ua.LocalizedText{EncodingMask: ua.LocalizedTextText, Text: v.Name},
				NodeClass:       ua.NodeClassVariable,
				TypeDefinition:  ua.NewNumericExpandedNodeID(0, id.BaseDataVariableType),
			})
		}
	default:
		v := ns.byKey[bd.NodeID.String()]
		if v == nil {
			return &ua.BrowseResult{StatusCode: ua.StatusBadNodeIDUnknown}
		}
		if v.euID != nil && v.id.Equal(bd.NodeID) && want(id.HasProperty, ua.NodeClassVariable) {
			refs = append(refs, &ua.ReferenceDescription{
				ReferenceTypeID: ua.NewNumericNodeID(0, id.HasProperty),
				IsForward:       true,
				NodeID:          ua.NewExpandedNodeID(v.euID, "", 0),
				BrowseName:      &ua.QualifiedName{Name: "EngineeringUnits"},
				DisplayName:     &ua.LocalizedText{EncodingMask: ua.LocalizedTextText, Text: "EngineeringUnits"},
				NodeClass:       ua.NodeClassVariable,
				TypeDefinition:  ua.NewNumericExpandedNodeID(0, id.PropertyType),
			})
		}
	}
	return &ua.BrowseResult{StatusCode: ua.StatusGood, References: refs}
}

// opcuaLogger routes the server library's printf-style logging to slog.
type opcuaLogger struct{ l *slog.Logger }

func (a opcuaLogger) Debug(msg string, args ...any) { a.l.Debug(fmt.Sprintf(msg, args...)) }
func (a opcuaLogger) Info(msg string, args ...any)  { a.l.Info(fmt.Sprintf(msg, args...)) }
func (a opcuaLogger) Warn(msg string, args ...any)  { a.l.Warn(fmt.Sprintf(msg, args...)) }
func (a opcuaLogger) Error(msg string, args ...any) { a.l.Error(fmt.Sprintf(msg, args...)) }

// opcuaRelay forwards TCP connections to the gopcua server. It exists because
// the library's server cannot drop its connections or tell its port: the
// relay owns the public port (picked by the system), refuses connections
// while the server is stopped, cuts them on Stop and can freeze them.
type opcuaRelay struct {
	l      net.Listener
	target string

	mu        sync.Mutex
	accepting bool
	closing   bool          // close has begun: no new relayed connection
	frozen    chan struct{} // closed when not frozen
	conns     map[net.Conn]struct{}
	wg        sync.WaitGroup
}

func newOPCUARelay(target string) (*opcuaRelay, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	r := &opcuaRelay{l: l, target: target, frozen: make(chan struct{}), conns: map[net.Conn]struct{}{}}
	close(r.frozen)
	r.wg.Add(1)
	go r.serve()
	return r, nil
}

func (r *opcuaRelay) addr() string { return r.l.Addr().String() }

func (r *opcuaRelay) accept(on bool) {
	r.mu.Lock()
	r.accepting = on
	r.mu.Unlock()
}

func (r *opcuaRelay) serve() {
	defer r.wg.Done()
	for {
		c, err := r.l.Accept()
		if err != nil {
			return
		}
		r.mu.Lock()
		ok := r.accepting
		r.mu.Unlock()
		if !ok {
			c.Close() // a stopped server: connection refused, as near as TCP allows
			continue
		}
		up, err := net.Dial("tcp", r.target)
		if err != nil {
			c.Close()
			continue
		}
		r.mu.Lock()
		if r.closing {
			// close has dropped the connections it knew: this one would
			// outlive it.
			r.mu.Unlock()
			c.Close()
			up.Close()
			continue
		}
		r.conns[c], r.conns[up] = struct{}{}, struct{}{}
		r.mu.Unlock()
		r.wg.Add(2)
		go r.pipe(up, c)
		go r.pipe(c, up)
	}
}

// pipe copies src to dst, holding the bytes while the relay is frozen.
func (r *opcuaRelay) pipe(dst, src net.Conn) {
	defer r.wg.Done()
	defer func() {
		dst.Close()
		src.Close()
		r.mu.Lock()
		delete(r.conns, dst)
		delete(r.conns, src)
		r.mu.Unlock()
	}()
	buf := make([]byte, 64<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			r.mu.Lock()
			thaw := r.frozen
			r.mu.Unlock()
			<-thaw
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (r *opcuaRelay) freeze(on bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	select {
	case <-r.frozen: // thawed now
		if on {
			r.frozen = make(chan struct{})
		}
	default:
		if !on {
			close(r.frozen)
		}
	}
}

// drop closes every relayed connection (and thaws, so no pipe stays blocked).
func (r *opcuaRelay) drop() {
	r.freeze(false)
	r.mu.Lock()
	for c := range r.conns {
		c.Close()
	}
	r.mu.Unlock()
}

func (r *opcuaRelay) close() {
	r.mu.Lock()
	r.closing = true
	r.mu.Unlock()
	r.l.Close()
	r.drop()
	r.wg.Wait()
}
