package coord_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/greenlang/gl001/coord"
)

// fleet is a coordinator and its agents on one bus, torn down at test end.
type fleet struct {
	bus    coord.Bus
	reg    *coord.Registry
	coord  *coord.Coordinator
	agents map[string]*coord.Agent
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

type fleetOpts struct {
	coordCfg  func(*coord.CoordinatorConfig)
	agentCfg  func(i int, c *coord.AgentConfig)
	handlers  func(i int, a *coord.Agent) error
	registry  coord.RegistryConfig
	busConfig coord.LocalBusConfig
}

func agentID(i int) string { return fmt.Sprintf("GL-%03d", i+2) }

func newFleet(tb testing.TB, n int, o fleetOpts) *fleet {
	tb.Helper()
	bus, err := coord.NewLocalBus(o.busConfig)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = bus.Close() })
	return startFleet(tb, bus, n, o)
}

func startFleet(tb testing.TB, bus coord.Bus, n int, o fleetOpts) *fleet {
	tb.Helper()
	reg, err := coord.NewRegistry(o.registry)
	if err != nil {
		tb.Fatal(err)
	}
	cc := coord.CoordinatorConfig{Bus: bus, Registry: reg}
	if o.coordCfg != nil {
		o.coordCfg(&cc)
	}
	c, err := coord.NewCoordinator(cc)
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	f := &fleet{bus: bus, reg: reg, coord: c, agents: map[string]*coord.Agent{}, cancel: cancel}
	tb.Cleanup(f.stop)
	for i := range n {
		ac := coord.AgentConfig{ID: agentID(i), Bus: bus, Version: "1.0"}
		if o.agentCfg != nil {
			o.agentCfg(i, &ac)
		}
		a, err := coord.NewAgent(ac)
		if err != nil {
			tb.Fatal(err)
		}
		if o.handlers != nil {
			if err := o.handlers(i, a); err != nil {
				tb.Fatal(err)
			}
		}
		f.agents[ac.ID] = a
		f.wg.Go(func() {
			if err := a.Run(ctx); err != nil {
				tb.Errorf("agent %s: %v", a.ID(), err)
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

func (f *fleet) stop() {
	f.cancel()
	f.wg.Wait()
	_ = f.coord.Close()
}

// eventually polls cond until it holds or a generous deadline passes.
func eventually(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}
