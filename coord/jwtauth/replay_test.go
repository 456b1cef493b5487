package jwtauth_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/greenlang/gl001/coord"
	"github.com/greenlang/gl001/coord/jwtauth"
)

type firingRate struct {
	Percent float64 `json:"percent"`
}

// runAgent starts agent GL-042 on bus with a fresh Guard (a process start:
// nothing remembered), counting the commands its handler runs, and returns
// once it is subscribed. stop ends it and waits for Run to return.
func runAgent(t *testing.T, bus coord.Bus, key *jwtauth.HS256, now func() time.Time, runs *atomic.Int32) (stop func()) {
	t.Helper()
	g, err := coord.NewGuard(coord.GuardConfig{Verifier: key, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	a, err := coord.NewAgent(coord.AgentConfig{ID: "GL-042", Bus: bus, Signer: key, Guard: g})
	if err != nil {
		t.Fatal(err)
	}
	if err := coord.Handle(a, "set_firing_rate", func(context.Context, coord.Message, firingRate) (firingRate, error) {
		runs.Add(1)
		return firingRate{Percent: 72.5}, nil
	}); err != nil {
		t.Fatal(err)
	}
	up := make(chan struct{})
	var once sync.Once
	sub, err := bus.Subscribe(coord.DefaultPrefix+".registry.heartbeat", func(_ context.Context, m coord.Message) {
		if m.From == "GL-042" {
			once.Do(func() { close(up) })
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	select {
	case <-up: // the first heartbeat follows the subscription
	case err := <-done:
		t.Fatalf("agent stopped: %v", err)
	}
	return func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("agent: %v", err)
		}
	}
}

func send(t *testing.T, bus coord.Bus, m coord.Message) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r, err := bus.Request(ctx, coord.AgentSubject(coord.DefaultPrefix, "GL-042"), m)
	if err != nil {
		t.Fatal(err)
	}
	if r.Error != nil {
		return r.Error
	}
	return nil
}

// TestFarFutureDeadlineCannotBeReplayedAfterRestart: a command signed with a
// deadline in 2200 is captured on the bus. Delivered once it runs; replayed
// after the agent restarts (nothing remembered) it is refused, and replayed
// once its capped lifetime has passed it is refused as expired.
func TestFarFutureDeadlineCannotBeReplayedAfterRestart(t *testing.T) {
	bus, err := coord.NewLocalBus(coord.LocalBusConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Close()
	key := hs(t)
	var runs atomic.Int32

	captured := coord.Message{
		ID: coord.NewID(), Type: coord.TypeCommand, From: "GL-001", To: "GL-042", Name: "set_firing_rate",
		CorrelationID: "cmd-far", Deadline: time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC),
		Payload: json.RawMessage(`{"percent":72.5}`),
	}
	stop := runAgent(t, bus, key, nil, &runs)
	if err := coord.Seal(&captured, key, 0); err != nil {
		t.Fatal(err)
	}
	c, err := key.Verify(captured.Signature)
	if err != nil {
		t.Fatal(err)
	}
	if life := c.Expires.Sub(c.IssuedAt); life > coord.MaxSignLifetime {
		t.Errorf("signed lifetime %v, above MaxSignLifetime", life)
	}
	if err := send(t, bus, captured); err != nil {
		t.Fatalf("first delivery: %v", err)
	}
	if err := send(t, bus, captured); !errors.Is(err, coord.ErrReplayed) {
		t.Errorf("replay to the same process: %v", err)
	}
	stop()

	// Restarted at once: the new process remembers nothing.
	stop = runAgent(t, bus, key, nil, &runs)
	if err := send(t, bus, captured); !errors.Is(err, coord.ErrReplayed) {
		t.Errorf("replay after a restart: %v, want ErrReplayed", err)
	}
	stop()

	// Restarted ten minutes later, past the capped lifetime.
	later := func() time.Time { return time.Now().Add(10 * time.Minute) }
	stop = runAgent(t, bus, key, later, &runs)
	if err := send(t, bus, captured); !errors.Is(err, coord.ErrExpired) {
		t.Errorf("replay past the lifetime cap: %v, want ErrExpired", err)
	}
	stop()

	if n := runs.Load(); n != 1 {
		t.Errorf("the handler ran %d times, want once", n)
	}
}

// TestFutureDatedMessageRefused: a message dated beyond the skew ahead of the
// receiver's clock is refused, whatever its signature says.
func TestFutureDatedMessageRefused(t *testing.T) {
	key := hs(t)
	g := guard(t, key, nil)
	m := msg("GL-001")
	m.Time = time.Now().Add(time.Hour)
	if err := coord.Seal(&m, key, time.Minute); err != nil {
		t.Fatal(err)
	}
	wantReject(t, g, m, coord.ErrFuture)
	ok := msg("GL-001")
	ok.Time = time.Now().Add(time.Second) // within the default skew
	if err := coord.Seal(&ok, key, time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := g.Check(&ok); err != nil {
		t.Errorf("within the skew: %v", err)
	}
	if st := g.Stats(); st.Future != 1 || st.Accepted != 1 {
		t.Errorf("stats %+v", st)
	}
}
