package coord_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/greenlang/gl001/coord"
)

// hmacSigner is a minimal Signer/Verifier for coord's own tests; the JWT
// implementation is tested in coord/jwtauth.
type hmacSigner struct{ key []byte }

func (h hmacSigner) mac(body string) string {
	m := hmac.New(sha256.New, h.key)
	m.Write([]byte(body))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func (h hmacSigner) Sign(c coord.Claims) (string, error) {
	b, err := json.Marshal(c)
	if err != nil {
		return "", err
	}
	body := base64.RawURLEncoding.EncodeToString(b)
	return body + "." + h.mac(body), nil
}

func (h hmacSigner) Verify(tok string) (coord.Claims, error) {
	body, mac, ok := strings.Cut(tok, ".")
	if !ok || !hmac.Equal([]byte(mac), []byte(h.mac(body))) {
		return coord.Claims{}, errors.New("bad mac")
	}
	b, err := base64.RawURLEncoding.DecodeString(body)
	if err != nil {
		return coord.Claims{}, err
	}
	var c coord.Claims
	return c, json.Unmarshal(b, &c)
}

func TestSignedFleet(t *testing.T) {
	key := hmacSigner{[]byte("fleet-key")}
	newGuard := func() *coord.Guard {
		g, err := coord.NewGuard(coord.GuardConfig{Verifier: key})
		if err != nil {
			t.Fatal(err)
		}
		return g
	}
	cg := newGuard()
	agentGuards := map[string]*coord.Guard{}
	f := newFleet(t, 5, fleetOpts{
		coordCfg: func(c *coord.CoordinatorConfig) { c.Signer, c.Guard = key, cg },
		agentCfg: func(i int, c *coord.AgentConfig) {
			c.Signer, c.Guard = key, newGuard()
			agentGuards[c.ID] = c.Guard
		},
		handlers: valueHandlers,
	})
	res, err := f.coord.Execute(context.Background(), coord.Command{Name: "read_temp", Params: tempParams{"B-1"}, Aggregate: coord.Sum, Field: "temp"})
	if err != nil || res.Number != 15 {
		t.Fatalf("signed broadcast: %+v %v", res, err)
	}
	if st := cg.Stats(); st.Accepted < 10 { // 5 heartbeats + 5 replies at least
		t.Errorf("coordinator guard: %+v", st)
	}

	// Talk to an agent directly, as an attacker on the bus would.
	target := agentID(0)
	ask := func(m coord.Message) coord.Message {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		r, err := f.bus.Request(ctx, coord.AgentSubject(coord.DefaultPrefix, target), m)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	cmd := coord.Message{
		ID: coord.NewID(), Type: coord.TypeQuery, From: "GL-001", To: target, Name: "read_temp",
		CorrelationID: "q-1", Payload: json.RawMessage(`{"boiler":"B-1"}`),
	}
	if r := ask(cmd); !errors.Is(r.Error, coord.ErrUnsigned) {
		t.Errorf("unsigned: %v", r.Error)
	}
	signed := cmd
	if err := coord.Seal(&signed, key, time.Minute); err != nil {
		t.Fatal(err)
	}
	if r := ask(signed); r.Error != nil {
		t.Errorf("signed: %v", r.Error)
	}
	if r := ask(signed); !errors.Is(r.Error, coord.ErrReplayed) {
		t.Errorf("replayed: %v", r.Error)
	}
	tampered := signed
	tampered.ID = coord.NewID()
	if r := ask(tampered); !errors.Is(r.Error, coord.ErrTampered) {
		t.Errorf("tampered: %v", r.Error)
	}
	expired := cmd
	expired.ID = coord.NewID()
	expired.Time = time.Now().Add(-time.Hour)
	if err := coord.Seal(&expired, key, time.Minute); err != nil {
		t.Fatal(err)
	}
	if r := ask(expired); !errors.Is(r.Error, coord.ErrExpired) {
		t.Errorf("expired: %v", r.Error)
	}
	st := agentGuards[target].Stats()
	if st.Unsigned != 1 || st.Replayed != 1 || st.Tampered != 1 || st.Expired != 1 {
		t.Errorf("agent guard counters: %+v", st)
	}
	if n := f.agents[target].Stats().Rejected; n != 4 {
		t.Errorf("agent rejected %d, want 4", n)
	}
	// The replies themselves are signed by the agent.
	replyGuard := newGuard()
	r := ask(func() coord.Message { m := cmd; m.ID = coord.NewID(); _ = coord.Seal(&m, key, 0); return m }())
	if err := replyGuard.Check(&r); err != nil {
		t.Errorf("agent reply does not verify: %v", err)
	}

	// A forged reply to the coordinator is rejected, not counted as an answer.
	before := f.coord.Stats().Rejected
	forged := coord.Message{ID: coord.NewID(), Type: coord.TypeHeartbeat, From: "GL-777", Payload: json.RawMessage(`{"id":"GL-777"}`)}
	if err := f.bus.Publish(context.Background(), coord.DefaultPrefix+".registry.heartbeat", forged); err != nil {
		t.Fatal(err)
	}
	eventually(t, "forged heartbeat rejected", func() bool { return f.coord.Stats().Rejected == before+1 })
	if _, ok := f.reg.Get("GL-777"); ok {
		t.Error("unsigned heartbeat registered an agent")
	}
}

func TestSealNeedsIdentity(t *testing.T) {
	m := coord.Message{Payload: json.RawMessage(`1`)}
	if err := coord.Seal(&m, hmacSigner{[]byte("k")}, 0); !errors.Is(err, coord.ErrBadMessage) {
		t.Errorf("Seal without ID/From: %v", err)
	}
	if _, err := coord.NewGuard(coord.GuardConfig{}); !errors.Is(err, coord.ErrBadConfig) {
		t.Errorf("Guard without verifier: %v", err)
	}
}

// gatedVerifier, once armed, holds every check until the gate opens:
// signature checks slower than the replies arrive.
type gatedVerifier struct {
	coord.Verifier
	armed *atomic.Bool
	gate  <-chan struct{}
}

func (g gatedVerifier) Verify(tok string) (coord.Claims, error) {
	if g.armed.Load() {
		<-g.gate
	}
	return g.Verifier.Verify(tok)
}

// TestSignedRepliesOutnumberVerifiers checks that when the coordinator's
// signature checks fall behind, no reply is dropped: more agents answer than
// the verification queue holds.
func TestSignedRepliesOutnumberVerifiers(t *testing.T) {
	const n = 70
	key := hmacSigner{[]byte("fleet-key")}
	gate := make(chan struct{})
	var open bool
	var armed atomic.Bool
	g, err := coord.NewGuard(coord.GuardConfig{Verifier: gatedVerifier{key, &armed, gate}})
	if err != nil {
		t.Fatal(err)
	}
	f := newFleet(t, n, fleetOpts{
		coordCfg: func(c *coord.CoordinatorConfig) { c.Signer, c.Guard = key, g },
		agentCfg: func(i int, c *coord.AgentConfig) { c.Signer = key },
		handlers: valueHandlers,
	})
	t.Cleanup(func() {
		if !open {
			close(gate)
		}
	})
	armed.Store(true)
	done := make(chan *coord.Result)
	go func() {
		res, err := f.coord.Execute(context.Background(), coord.Command{
			Name: "read_temp", Params: tempParams{"B-1"}, Aggregate: coord.Sum, Field: "temp", Timeout: time.Minute,
		})
		if err != nil {
			t.Error(err)
		}
		done <- res
	}()
	eventually(t, "every agent answered", func() bool {
		var handled uint64
		for _, a := range f.agents {
			handled += a.Stats().Handled
		}
		return handled == n
	})
	open = true
	close(gate)
	res := <-done
	if res == nil || len(res.Answered) != n || res.Number != n*(n+1)/2 {
		t.Fatalf("answered %d of %d: %+v", len(res.Answered), n, res)
	}
	if st := f.coord.Stats(); st.Unexpected != 0 || st.Late != 0 || st.Rejected != 0 {
		t.Errorf("coordinator stats %+v", st)
	}
}
