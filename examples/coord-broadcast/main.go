// Command coord-broadcast commands a fleet of process-heat agents and
// aggregates their answers.
//
// It starts ten agents (GL-002..GL-011) on the in-process bus, each a
// coord.Agent with capabilities and typed handlers, signs every message with
// HS256 (a key made up for the run; real deployments read AGENT_JWT_SECRET),
// and runs one command per strategy: a broadcast averaged, a capability-based
// query summed, a load-balanced query and a majority vote. One agent is
// slow: the broadcast's result lists it as timed out instead of failing.
//
//	go run ./examples/coord-broadcast
package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"sync"
	"time"

	"github.com/greenlang/gl001/coord"
	"github.com/greenlang/gl001/coord/jwtauth"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "coord-broadcast:", err)
		os.Exit(1)
	}
}

// setpoint is the command's parameters and reading is every reply.
type setpoint struct {
	SteamTempC float64 `json:"steam_temp_c"`
}

type reading struct {
	FiringRatePct float64 `json:"firing_rate_pct"`
	HeatDemandKW  float64 `json:"heat_demand_kw"`
	Mode          string  `json:"mode"`
}

func run(ctx context.Context, out io.Writer) error {
	key := make([]byte, jwtauth.MinSecretLen)
	_, _ = rand.Read(key)
	hs, err := jwtauth.NewHS256(key)
	if err != nil {
		return err
	}
	bus, err := coord.NewLocalBus(coord.LocalBusConfig{})
	if err != nil {
		return err
	}
	defer bus.Close()

	reg, err := coord.NewRegistry(coord.RegistryConfig{HeartbeatInterval: time.Second})
	if err != nil {
		return err
	}
	guard, err := coord.NewGuard(coord.GuardConfig{Verifier: hs})
	if err != nil {
		return err
	}
	co, err := coord.NewCoordinator(coord.CoordinatorConfig{Bus: bus, Registry: reg, Signer: hs, Guard: guard, Timeout: time.Second})
	if err != nil {
		return err
	}
	defer co.Close()

	// The agents: GL-002..GL-011. Odd ones control boilers, even ones
	// furnaces; GL-011 is slow to answer.
	agentCtx, stopAgents := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() { stopAgents(); wg.Wait() }()
	const n = 10
	for i := range n {
		id := fmt.Sprintf("GL-%03d", i+2)
		capability := "furnace_control"
		if i%2 == 1 {
			capability = "boiler_control"
		}
		g, err := coord.NewGuard(coord.GuardConfig{Verifier: hs}) // each agent remembers its own message ids
		if err != nil {
			return err
		}
		a, err := coord.NewAgent(coord.AgentConfig{ID: id, Capabilities: []string{capability}, Version: "1.0", Bus: bus,
			HeartbeatInterval: time.Second, Signer: hs, Guard: g})
		if err != nil {
			return err
		}
		delay := 5 * time.Millisecond
		if id == "GL-011" {
			delay = 3 * time.Second
		}
		answer := func(ctx context.Context) (reading, error) {
			t := time.NewTimer(delay)
			defer t.Stop()
			select {
			case <-ctx.Done():
				return reading{}, ctx.Err()
			case <-t.C:
			}
			mode := "normal"
			if i == 0 || i == 4 {
				mode = "economy"
			}
			return reading{FiringRatePct: 60 + float64(i), HeatDemandKW: 100 * float64(i+1), Mode: mode}, nil
		}
		err = errors.Join(
			coord.Handle(a, "set_steam_temperature", func(ctx context.Context, m coord.Message, p setpoint) (reading, error) {
				if p.SteamTempC <= 0 {
					return reading{}, errors.New("no setpoint")
				}
				return answer(ctx) // idempotent: the same setpoint twice changes nothing
			}),
			coord.Handle(a, "read_state", func(ctx context.Context, m coord.Message, _ struct{}) (reading, error) {
				return answer(ctx)
			}),
		)
		if err != nil {
			return err
		}
		wg.Go(func() { _ = a.Run(agentCtx) })
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := reg.Wait(wctx, n); err != nil {
		return fmt.Errorf("waiting for the agents: %w", err)
	}
	fmt.Fprintf(out, "%d agents registered\n", len(reg.Agents()))

	commands := []coord.Command{
		{Name: "set_steam_temperature", Params: setpoint{SteamTempC: 485}, Strategy: coord.Broadcast, Aggregate: coord.Average, Field: "firing_rate_pct"},
		{Name: "read_state", Query: true, Strategy: coord.CapabilityBased, Capability: "furnace_control", Aggregate: coord.Sum, Field: "heat_demand_kw"},
		{Name: "read_state", Query: true, Strategy: coord.Broadcast, Targets: []string{"GL-002", "GL-003", "GL-004", "GL-005", "GL-006"}, Aggregate: coord.Majority, Field: "mode"},
		// Load-balanced among the agents known to answer: the registry has
		// no latency for an agent that only ever timed out, and ranks it
		// as fast.
		{Name: "read_state", Query: true, Strategy: coord.LoadBalanced, Count: 2, Aggregate: coord.All,
			Targets: []string{"GL-002", "GL-003", "GL-004", "GL-005", "GL-006", "GL-007", "GL-008", "GL-009", "GL-010"}},
	}
	for _, cmd := range commands {
		res, err := co.Execute(ctx, cmd)
		if err != nil {
			return err
		}
		slices.Sort(res.Answered)
		fmt.Fprintf(out, "%s %s %s: %d answered, timed out %v", cmd.Name, cmd.Strategy, cmd.Aggregate, len(res.Answered), res.TimedOut)
		switch cmd.Aggregate {
		case coord.All:
			fmt.Fprintf(out, ", %d replies\n", len(res.Replies))
		case coord.Majority:
			fmt.Fprintf(out, " -> %s %s (%d votes, consensus %v)\n", cmd.Field, res.Value, res.Votes, res.Consensus)
		default:
			fmt.Fprintf(out, " -> %s %.1f\n", cmd.Field, res.Number)
		}
	}
	return nil
}
