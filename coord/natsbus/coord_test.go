package natsbus_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/greenlang/gl001/coord"
	"github.com/greenlang/gl001/coord/jwtauth"
	"github.com/greenlang/gl001/coord/natsbus"
)

type natsFleet struct {
	coord  *coord.Coordinator
	reg    *coord.Registry
	agents []*coord.Agent
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

const testSecret = "natsbus-test-secret-0123456789abcdef"

// startNATSFleet runs a coordinator on one connection and n agents on
// another, all through an embedded server; signed with HS256 unless
// unsigned is set.
func startNATSFleet(tb testing.TB, n int, unsigned bool, handler func(i int, a *coord.Agent) error) *natsFleet {
	tb.Helper()
	srv := startServer(tb)
	coordBus := newBus(tb, connect(tb, srv), natsbus.Config{})
	agentBus := newBus(tb, connect(tb, srv), natsbus.Config{})
	key, err := jwtauth.NewHS256([]byte(testSecret))
	if err != nil {
		tb.Fatal(err)
	}
	var signer coord.Signer = key
	if unsigned {
		signer = nil
	}
	guard := func() *coord.Guard {
		if unsigned {
			return nil
		}
		g, err := coord.NewGuard(coord.GuardConfig{Verifier: key})
		if err != nil {
			tb.Fatal(err)
		}
		return g
	}
	reg, err := coord.NewRegistry(coord.RegistryConfig{})
	if err != nil {
		tb.Fatal(err)
	}
	c, err := coord.NewCoordinator(coord.CoordinatorConfig{Bus: coordBus, Registry: reg, Signer: signer, Guard: guard()})
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	f := &natsFleet{coord: c, reg: reg, cancel: cancel}
	tb.Cleanup(func() {
		cancel()
		f.wg.Wait()
		_ = c.Close()
	})
	for i := range n {
		a, err := coord.NewAgent(coord.AgentConfig{
			ID: fmt.Sprintf("GL-%03d", i+2), Bus: agentBus, Signer: signer, Guard: guard(),
			Capabilities: []string{"steam"}, Version: "1.0",
		})
		if err != nil {
			tb.Fatal(err)
		}
		if err := handler(i, a); err != nil {
			tb.Fatal(err)
		}
		f.agents = append(f.agents, a)
		f.wg.Go(func() {
			if err := a.Run(ctx); err != nil {
				tb.Errorf("agent: %v", err)
			}
		})
	}
	wctx, wcancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer wcancel()
	if err := reg.Wait(wctx, n); err != nil {
		tb.Fatal(err)
	}
	return f
}

type loadReply struct {
	Load float64 `json:"load"`
}

func loadHandler(i int, a *coord.Agent) error {
	return coord.Handle(a, "boiler_load", func(_ context.Context, _ coord.Message, _ struct{}) (loadReply, error) {
		return loadReply{Load: float64(i)}, nil
	})
}

func TestSignedBroadcastOverNATS(t *testing.T) {
	f := startNATSFleet(t, 20, false, loadHandler)
	res, err := f.coord.Execute(context.Background(), coord.Command{
		Name: "boiler_load", Query: true, Aggregate: coord.Max, Field: "load", Timeout: 10 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Answered) != 20 || res.Partial || res.Number != 19 {
		t.Fatalf("answered %d, partial %v, max %v, failed %v", len(res.Answered), res.Partial, res.Number, res.Failed)
	}
	if st := f.coord.Stats(); st.Rejected != 0 || st.Unexpected != 0 {
		t.Errorf("coordinator stats %+v", st)
	}
}

func TestTamperedOverNATS(t *testing.T) {
	srv := startServer(t)
	nc := connect(t, srv)
	bus := newBus(t, nc, natsbus.Config{})
	key, _ := jwtauth.NewHS256([]byte(testSecret))
	g, _ := coord.NewGuard(coord.GuardConfig{Verifier: key})
	a, err := coord.NewAgent(coord.AgentConfig{ID: "GL-007", Bus: bus, Signer: key, Guard: g})
	if err != nil {
		t.Fatal(err)
	}
	if err := coord.Handle(a, "set_firing_rate", func(_ context.Context, _ coord.Message, p struct{ Percent float64 }) (float64, error) {
		return p.Percent, nil
	}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- a.Run(ctx) }()
	defer func() { cancel(); <-done }()

	m := coord.Message{ID: coord.NewID(), Type: coord.TypeCommand, From: "GL-001", To: "GL-007",
		Name: "set_firing_rate", CorrelationID: "c-1", Payload: json.RawMessage(`{"Percent":40}`)}
	if err := coord.Seal(&m, key, time.Minute); err != nil {
		t.Fatal(err)
	}
	// Rewrite the payload on the wire with plain nats.go, as a man in the
	// middle would.
	msg, err := natsbus.Encode(coord.AgentSubject(coord.DefaultPrefix, "GL-007"), &m)
	if err != nil {
		t.Fatal(err)
	}
	msg.Data = []byte(`{"Percent":100}`)
	var r *nats.Msg
	deadline := time.Now().Add(10 * time.Second)
	for {
		rctx, rcancel := context.WithTimeout(context.Background(), 10*time.Second)
		r, err = nc.RequestMsgWithContext(rctx, msg)
		rcancel()
		if !errors.Is(err, nats.ErrNoResponders) || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond) // the agent is still subscribing
	}
	if err != nil {
		t.Fatal(err)
	}
	reply, err := natsbus.Decode(r)
	if err != nil {
		t.Fatal(err)
	}
	if !errors.Is(reply.Error, coord.ErrTampered) {
		t.Fatalf("tampered command answered with %+v", reply)
	}
	if g.Stats().Tampered != 1 || a.Stats().Handled != 0 {
		t.Errorf("guard %+v, agent %+v", g.Stats(), a.Stats())
	}
}

func TestMalformedAndOverflowCounted(t *testing.T) {
	srv := startServer(t)
	slow := make(chan error, 1)
	nc, err := nats.Connect(srv.ClientURL(), nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
		select {
		case slow <- err:
		default:
		}
	}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	bus := newBus(t, nc, natsbus.Config{PendingMessages: 4})
	release := make(chan struct{})
	var once sync.Once
	t.Cleanup(func() { once.Do(func() { close(release) }) })
	got := make(chan coord.Message, 100)
	var sub coord.Subscription
	sub, err = bus.Subscribe("plant.>", func(_ context.Context, m coord.Message) {
		got <- m
		<-release
	})
	if err != nil {
		t.Fatal(err)
	}
	// A malformed envelope from a foreign publisher is dropped and counted.
	bad := nats.NewMsg("plant.bad")
	bad.Header.Set(natsbus.HeaderType, "telegram")
	if err := nc.PublishMsg(bad); err != nil {
		t.Fatal(err)
	}
	// A message from a plain NATS client decodes as an event.
	if err := nc.Publish("plant.raw", []byte(`{"t":1}`)); err != nil {
		t.Fatal(err)
	}
	var first coord.Message
	select {
	case first = <-got:
	case <-time.After(10 * time.Second):
		t.Fatal("no delivery")
	}
	if first.Subject != "plant.raw" || first.Type != coord.TypeEvent || string(first.Payload) != `{"t":1}` {
		t.Errorf("plain message decoded as %+v", first)
	}
	if n := bus.Stats().Malformed; n != 1 {
		t.Errorf("malformed = %d, want 1", n)
	}
	// The handler is now blocked; 4 more fit the pending queue, the rest are
	// dropped by nats.go and counted.
	for range 20 {
		if err := bus.Publish(context.Background(), "plant.temp", coord.Message{ID: coord.NewID()}); err != nil {
			t.Fatal(err)
		}
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-slow:
		if !errors.Is(err, nats.ErrSlowConsumer) {
			t.Errorf("connection error handler got %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("slow consumer never reported")
	}
	// nats.go counts the message in the handler as pending: with it, 3
	// more fit the limit of 4 and 17 of the 20 are dropped.
	if st := sub.Stats(); st.Dropped != 17 || st.Pending != 4 || st.Delivered != 1 {
		t.Errorf("stats = %+v, want 17 dropped, 4 pending, 1 delivered", st)
	}
	once.Do(func() { close(release) })
}

func TestEncodeRejects(t *testing.T) {
	for name, m := range map[string]coord.Message{
		"reserved header": {Headers: map[string]string{"Coord-Id": "x"}},
		"newline header":  {Headers: map[string]string{"X": "a\r\nb"}},
		"colon name":      {Headers: map[string]string{"X:Y": "a"}},
		"newline id":      {ID: "a\nb"},
	} {
		if _, err := natsbus.Encode("s", &m); !errors.Is(err, coord.ErrBadMessage) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := natsbus.New(nil, natsbus.Config{PendingMessages: -1}); !errors.Is(err, coord.ErrBadConfig) {
		t.Errorf("bad config: %v", err)
	}
}

// FuzzDecode feeds arbitrary NATS header blocks and data to Decode: it must
// never panic, and what it accepts must survive Encode and Decode again.
func FuzzDecode(f *testing.F) {
	m := coord.Message{ID: "1", Type: coord.TypeCommand, From: "GL-001", To: "GL-002", Name: "x",
		CorrelationID: "c", Time: time.Unix(1700000000, 5).UTC(), Headers: map[string]string{"Trace": "t"},
		Error: &coord.ReplyError{Code: "denied", Message: "no"}, Signature: "a.b.c"}
	msg, _ := natsbus.Encode("s", &m)
	hdr := []byte("NATS/1.0\r\n")
	for k, v := range msg.Header {
		hdr = append(hdr, k+": "+v[0]+"\r\n"...)
	}
	hdr = append(hdr, "\r\n"...)
	f.Add(hdr, []byte(`{"a":1}`))
	f.Add([]byte("NATS/1.0\r\nCoord-Type: query\r\nCoord-Deadline: 2026-01-01T00:00:00Z\r\n\r\n"), []byte(nil))
	f.Add([]byte("NATS/1.0\r\nCoord-Error: x\r\n\r\n"), []byte("1"))
	f.Fuzz(func(t *testing.T, hdr, data []byte) {
		h, err := nats.DecodeHeadersMsg(hdr)
		if err != nil {
			return
		}
		m, err := natsbus.Decode(&nats.Msg{Subject: "s", Header: h, Data: data})
		if err != nil {
			if !errors.Is(err, coord.ErrBadMessage) {
				t.Fatalf("error %v does not wrap ErrBadMessage", err)
			}
			return
		}
		again, err := natsbus.Encode("s", &m)
		if err != nil {
			return // e.g. a foreign header name Encode refuses to write back
		}
		m2, err := natsbus.Decode(again)
		if err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		if coord.Digest(&m) != coord.Digest(&m2) || m.Signature != m2.Signature {
			t.Fatalf("round trip changed the message:\n%+v\n%+v", m, m2)
		}
	})
}
