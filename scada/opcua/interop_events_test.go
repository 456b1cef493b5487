//go:build interop

package opcua_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/greenlang/gl001/internal/nodeopcua"
	"github.com/greenlang/gl001/scada"
	"github.com/greenlang/gl001/scada/opcua"
)

// The events and history part of the interop tier: node-opcua raises
// alarms (an exclusive limit alarm on a temperature, an off-normal alarm on
// a flame) and historizes a counter, which gopcua's in-process server cannot.

// nodeProc is one node-opcua server process.
type nodeProc struct {
	endpoint     string
	historyStart time.Time // the start of the Hist.* history, when the environment asked for it
	stop         func()
}

// startNodeAt starts the interop server with the given certificate on port
// (0 for any), with env added to its environment, and waits until it listens.
func startNodeAt(t testing.TB, certFile, keyFile, pki string, port int, env ...string) nodeProc {
	t.Helper()
	s := nodeopcua.Start(t, nodeopcua.Options{Interop: "../../.ci/interop", Tier: ".ci/interop/opcua.sh",
		CertFile: certFile, KeyFile: keyFile, PKI: pki, User: interopUser, Password: interopPassword, Port: port, Env: env})
	return nodeProc{endpoint: s.Endpoint, historyStart: s.HistoryStart, stop: s.Stop}
}

// eventRecorder is an EventSink that keeps every event.
type eventRecorder struct {
	mu     sync.Mutex
	events []scada.Event
}

func (r *eventRecorder) DeliverEvents(_ context.Context, b []scada.Event) error {
	r.mu.Lock()
	r.events = append(r.events, b...)
	r.mu.Unlock()
	return nil
}

func (r *eventRecorder) snapshot() []scada.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]scada.Event(nil), r.events...)
}

func waitEvents(t *testing.T, r *eventRecorder, what string, f func([]scada.Event) bool) []scada.Event {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		evs := r.snapshot()
		if f(evs) {
			return evs
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s; %d events: %+v", what, len(evs), evs)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// lastOf returns the newest event of the named condition, from index from on.
func lastOf(evs []scada.Event, name string, from int) (scada.Event, bool) {
	for i := len(evs) - 1; i >= from; i-- {
		if c := evs[i].Condition; c != nil && c.Name == name && c.Branch == "" {
			return evs[i], true
		}
	}
	return scada.Event{}, false
}

// supervise runs src again and again until the test ends, as a Collector
// would, so the source reconnects after an outage.
func supervise(t *testing.T, src *opcua.Source, sink scada.Sink) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			_ = src.Run(ctx, sink)
			select {
			case <-ctx.Done():
			case <-time.After(200 * time.Millisecond):
			}
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
}

func eventsConfig(t *testing.T, srv nodeServer, endpoint string) opcua.Config {
	cfg := secureConfig(t, srv, opcua.ModeSign)
	cfg.Endpoint = endpoint
	cfg.Tags = []opcua.Tag{{Name: "counter", NodeID: "ns=1;s=Boiler1.Counter"}}
	cfg.KeepAliveCount = 5
	cfg.NoDataTimeout = 2 * time.Second
	cfg.RequestTimeout = 5 * time.Second
	cfg.DialTimeout = 5 * time.Second
	return cfg
}

func TestInteropAlarms(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := writeCert(t, dir, "server", "urn:gl001:interop:server")
	first := startNodeAt(t, certFile, keyFile, filepath.Join(dir, "pki"), 0)
	_, portStr, _ := net.SplitHostPort(strings.TrimPrefix(first.endpoint, "opc.tcp://"))
	var port int
	fmt.Sscan(portStr, &port)

	srv := nodeServer{endpoint: first.endpoint, serverCert: certFile, dir: dir}
	cfg := eventsConfig(t, srv, first.endpoint)
	evs := &eventRecorder{}
	cfg.Events = &opcua.EventConfig{Sink: evs, Types: []string{"i=2915"} /* AlarmConditionType */, MinSeverity: 1,
		Fields: []opcua.EventField{{Name: "high", Type: "i=2955" /* LimitAlarmType */, Path: "HighLimit"}}}
	src, err := opcua.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	supervise(t, src, newRecorder())

	active := func(from int) func([]scada.Event) bool {
		return func(e []scada.Event) bool {
			a, ok1 := lastOf(e, "FlueTempHigh", from)
			b, ok2 := lastOf(e, "FlameFailure", from)
			return ok1 && ok2 && a.Condition.Active && a.Condition.Retain && b.Condition.Active
		}
	}
	got := waitEvents(t, evs, "both alarms active after ConditionRefresh", active(0))
	flue, _ := lastOf(got, "FlueTempHigh", 0)
	if flue.Severity < 1 || flue.EventType == "" || flue.SourceNode != "ns=1;s=Boiler1.FlueTemp" || len(flue.ID) == 0 || flue.Condition.Acknowledged {
		t.Fatalf("flue alarm = %+v %+v", flue, flue.Condition)
	}
	if flue.Fields["high"] != 450.0 {
		t.Fatalf("flue alarm fields = %v, want the high limit 450", flue.Fields)
	}
	if st := src.EventStats(); st.ConditionRefreshes < 1 || st.EventItems != 1 || st.BadEvents != 0 {
		t.Fatalf("stats = %+v", st)
	}

	// Acknowledge: the server reports the acknowledged state.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := src.Acknowledge(ctx, flue, "seen by the interop test"); err != nil {
		t.Fatalf("Acknowledge: %v", err)
	}
	mark := len(got)
	waitEvents(t, evs, "the acknowledged flue alarm", func(e []scada.Event) bool {
		ev, ok := lastOf(e, "FlueTempHigh", mark)
		return ok && ev.Condition.Acknowledged && ev.Condition.Active
	})
	// The same event again: refused, with the method's status as a typed error.
	err = src.Acknowledge(ctx, flue, "again")
	var ce *opcua.CallError
	if !errors.As(err, &ce) || !ce.Code.IsBad() {
		t.Fatalf("second Acknowledge = %v, want a *CallError", err)
	}

	// Restart the server with its alarms active: ConditionRefresh on the
	// new session reports them again.
	refreshes := src.EventStats().ConditionRefreshes
	first.stop()
	mark = len(evs.snapshot())
	startNodeAt(t, certFile, keyFile, filepath.Join(dir, "pki"), port)
	waitEvents(t, evs, "both alarms active after the restart", active(mark))
	if st := src.EventStats(); st.ConditionRefreshes <= refreshes {
		t.Fatalf("stats = %+v, want a refresh after the restart", st)
	}
}

// proxy forwards TCP connections to a target until cut: then it drops every
// connection and refuses new ones until healed. It stands for a network
// outage between the collector and the server.
type proxy struct {
	ln     net.Listener
	target string
	down   atomic.Bool
	mu     sync.Mutex
	conns  []net.Conn
	wg     sync.WaitGroup
}

func newProxy(t *testing.T, target string) *proxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: target}
	p.wg.Go(p.serve)
	t.Cleanup(func() { ln.Close(); p.cut(); p.wg.Wait() })
	return p
}

func (p *proxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		if p.down.Load() {
			c.Close()
			continue
		}
		u, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, c, u)
		p.mu.Unlock()
		p.wg.Go(func() { io.Copy(u, c); u.Close() })
		p.wg.Go(func() { io.Copy(c, u); c.Close() })
	}
}

func (p *proxy) cut() {
	p.down.Store(true)
	p.mu.Lock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
	p.mu.Unlock()
}

func (p *proxy) heal() { p.down.Store(false) }
