package coord_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/greenlang/gl001/coord"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func TestRegistryHealth(t *testing.T) {
	clock := &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	type change struct {
		id       string
		from, to coord.Health
	}
	var changes []change
	r, err := coord.NewRegistry(coord.RegistryConfig{
		HeartbeatInterval: 10 * time.Second, Now: clock.Now,
		OnHealthChange: func(id string, from, to coord.Health) { changes = append(changes, change{id, from, to}) },
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Register(coord.AgentInfo{ID: "GL-002", Capabilities: []string{"steam"}, Version: "2.1"}); err != nil {
		t.Fatal(err)
	}
	if err := r.Register(coord.AgentInfo{}); !errors.Is(err, coord.ErrBadMessage) {
		t.Errorf("empty id: %v", err)
	}
	if err := r.Heartbeat("GL-404"); !errors.Is(err, coord.ErrUnknownAgent) {
		t.Errorf("unknown heartbeat: %v", err)
	}
	health := func() coord.Health {
		st, ok := r.Get("GL-002")
		if !ok {
			t.Fatal("agent missing")
		}
		return st.Health
	}
	steps := []struct {
		advance time.Duration
		want    coord.Health
	}{
		{19 * time.Second, coord.Healthy},
		{time.Second, coord.Suspect}, // 2 intervals of silence
		{19 * time.Second, coord.Suspect},
		{time.Second, coord.Unreachable}, // 4 intervals
	}
	for _, s := range steps {
		clock.Add(s.advance)
		r.Sweep()
		if h := health(); h != s.want {
			t.Fatalf("after %v more: %v, want %v", s.advance, h, s.want)
		}
	}
	if err := r.Heartbeat("GL-002"); err != nil {
		t.Fatal(err)
	}
	if h := health(); h != coord.Healthy {
		t.Fatalf("after heartbeat: %v", h)
	}
	want := []change{
		{"GL-002", coord.Healthy, coord.Suspect},
		{"GL-002", coord.Suspect, coord.Unreachable},
		{"GL-002", coord.Unreachable, coord.Healthy},
	}
	if !slices.Equal(changes, want) {
		t.Errorf("transitions = %v, want %v", changes, want)
	}
	if !r.Deregister("GL-002") || r.Deregister("GL-002") || len(r.Agents()) != 0 {
		t.Error("Deregister")
	}
}

func TestUnreachableAgentsSkipped(t *testing.T) {
	clock := &fakeClock{t: time.Now()}
	f := newFleet(t, 3, fleetOpts{
		registry: coord.RegistryConfig{HeartbeatInterval: time.Hour, Now: clock.Now},
		agentCfg: func(i int, c *coord.AgentConfig) { c.HeartbeatInterval = time.Hour },
		handlers: valueHandlers,
	})
	// Only GL-002 heartbeats again; the others fall silent.
	clock.Add(3 * time.Hour)
	if err := f.reg.Heartbeat(agentID(0)); err != nil {
		t.Fatal(err)
	}
	clock.Add(2 * time.Hour)
	res, err := f.coord.Execute(context.Background(), coord.Command{Name: "read_temp", Params: tempParams{"B-1"}})
	if err != nil || !slices.Equal(res.Answered, []string{agentID(0)}) || len(res.Failed) != 0 {
		t.Fatalf("broadcast to the healthy: %+v %v", res, err)
	}
	res, err = f.coord.Execute(context.Background(), coord.Command{Name: "read_temp", Params: tempParams{"B-1"}, Targets: []string{agentID(1)}})
	if !errors.Is(err, coord.ErrNoTargets) || len(res.Failed) != 1 || !errors.Is(res.Failed[0].Err, coord.ErrUnreachable) {
		t.Fatalf("explicit unreachable target: %+v %v", res, err)
	}
}

func TestRegistryFromHeartbeatsAndLeave(t *testing.T) {
	bus, err := coord.NewLocalBus(coord.LocalBusConfig{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = bus.Close() })
	reg, _ := coord.NewRegistry(coord.RegistryConfig{})
	c, err := coord.NewCoordinator(coord.CoordinatorConfig{Bus: bus, Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	a, _ := coord.NewAgent(coord.AgentConfig{ID: "GL-050", Bus: bus, Capabilities: []string{"economizer"}, Version: "3.0"})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- a.Run(ctx) }()
	wctx, wcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer wcancel()
	if err := reg.Wait(wctx, 1); err != nil {
		t.Fatal(err)
	}
	st, _ := reg.Get("GL-050")
	if !st.Has("economizer") || st.Version != "3.0" || st.Health != coord.Healthy {
		t.Errorf("registered as %+v", st)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	eventually(t, "deregistration", func() bool { _, ok := reg.Get("GL-050"); return !ok })
	if err := a.Run(context.Background()); !errors.Is(err, coord.ErrClosed) {
		t.Errorf("second Run = %v", err)
	}

	// A coordinator that starts after the agents learns them through the
	// discovery request instead of waiting for the next heartbeat.
	b, _ := coord.NewAgent(coord.AgentConfig{ID: "GL-051", Bus: bus})
	ctx2, cancel2 := context.WithCancel(context.Background())
	defer cancel2()
	go func() { done <- b.Run(ctx2) }()
	reg2, _ := coord.NewRegistry(coord.RegistryConfig{})
	c2, err := coord.NewCoordinator(coord.CoordinatorConfig{Bus: bus, Registry: reg2, ID: "GL-001-b"})
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if err := reg2.Wait(wctx, 1); err != nil {
		t.Fatal(err)
	}
	cancel2()
	<-done
}

func TestRegistryRun(t *testing.T) {
	changed := make(chan coord.Health, 4)
	clock := &fakeClock{t: time.Now()}
	r, _ := coord.NewRegistry(coord.RegistryConfig{HeartbeatInterval: 10 * time.Millisecond, Now: clock.Now,
		OnHealthChange: func(_ string, _, to coord.Health) { changed <- to }})
	_ = r.Register(coord.AgentInfo{ID: "GL-002"})
	clock.Add(time.Hour)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- r.Run(ctx) }()
	select {
	case h := <-changed:
		if h != coord.Unreachable {
			t.Errorf("transition to %v", h)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run never swept")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
