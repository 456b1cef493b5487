package main

import (
	"context"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"sync"
	"time"

	"github.com/greenlang/gl001/coord"
)

// The simulated fleet: agents GL-002 onwards, each a coord.Agent with
// capabilities and the handlers the coordination rounds call. Most answer in
// tens of milliseconds; a few are slow (they answer after the round's
// timeout), a few always fail, a few fail now and then.

var capabilities = []string{"boiler_control", "furnace_control", "steam_distribution", "heat_recovery", "emissions_monitoring"}

// agentProfile is how one simulated agent behaves.
type agentProfile struct {
	slow    bool    // answers after 2.5 s
	failing bool    // every command fails
	flaky   float64 // probability a command fails
	base    float64 // its share of the heat demand, kW
}

func profile(i int) agentProfile {
	return agentProfile{
		slow:    i%31 == 5,
		failing: i%19 == 7,
		flaky:   map[bool]float64{true: 0.3, false: 0}[i%11 == 3],
		base:    250 + float64(i%17)*35,
	}
}

// heatReply is an agent's answer to the round's commands and queries.
type heatReply struct {
	HeatDemandKW  float64 `json:"heat_demand_kw"`
	SetpointDelta float64 `json:"setpoint_delta_c,omitempty"`
	EfficiencyPct float64 `json:"efficiency_pct,omitempty"`
	Mode          string  `json:"mode,omitempty"`
	TagsSeen      int     `json:"tags_seen,omitempty"`
	// Setpoints are the agent's recommended setpoints, now and then.
	Setpoints []setpoint `json:"setpoints,omitempty"`
}

// simFleet returns the Options.Fleet hook that runs n simulated agents until
// ctx ends.
func simFleet(n int, log *slog.Logger) func(ctx context.Context, bus coord.Bus, signer coord.Signer, verifier coord.Verifier) error {
	return func(ctx context.Context, bus coord.Bus, signer coord.Signer, verifier coord.Verifier) error {
		var wg sync.WaitGroup
		defer wg.Wait()
		for i := range n {
			a, err := newSimAgent(i, bus, signer, verifier, log)
			if err != nil {
				return fmt.Errorf("simulated agent %d: %w", i+2, err)
			}
			wg.Go(func() {
				if err := a.Run(ctx); err != nil && ctx.Err() == nil {
					log.Error("simulated agent", "agent", a.ID(), "err", err)
				}
			})
		}
		<-ctx.Done()
		return nil
	}
}

func newSimAgent(i int, bus coord.Bus, signer coord.Signer, verifier coord.Verifier, log *slog.Logger) (*coord.Agent, error) {
	id := fmt.Sprintf("GL-%03d", i+2)
	cfg := coord.AgentConfig{
		ID:                id,
		Capabilities:      []string{capabilities[i%len(capabilities)], "heat_optimization"},
		Version:           "1.4.2",
		Bus:               bus,
		HeartbeatInterval: 2 * time.Second,
		Signer:            signer,
		Logger:            log.With("agent", id),
	}
	if verifier != nil {
		g, err := coord.NewGuard(coord.GuardConfig{Verifier: verifier})
		if err != nil {
			return nil, err
		}
		cfg.Guard = g
	}
	a, err := coord.NewAgent(cfg)
	if err != nil {
		return nil, err
	}
	p := profile(i)
	rng := mrand.New(mrand.NewPCG(uint64(i), 42))
	var mu sync.Mutex // handlers of one agent run one at a time, but keep rng safe anyway
	calls := 0        // optimize_heat_distribution calls, under mu
	work := func(ctx context.Context) error {
		mu.Lock()
		d := time.Duration(5+rng.ExpFloat64()*25) * time.Millisecond
		fail := p.failing || rng.Float64() < p.flaky
		mu.Unlock()
		if p.slow {
			d = 2500 * time.Millisecond
		}
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
		if fail {
			return fmt.Errorf("%w: burner management system not answering", errSimulated)
		}
		return nil
	}
	errs := []error{
		coord.Handle(a, "optimize_heat_distribution", func(ctx context.Context, m coord.Message, params heatParams) (heatReply, error) {
			if err := work(ctx); err != nil {
				return heatReply{}, err
			}
			demand := p.base
			if params.Energy.KWh24h > 0 {
				demand *= 1.05 // the ERP shows yesterday's consumption: plan a little higher
			}
			reply := heatReply{HeatDemandKW: demand, SetpointDelta: float64(i%5-2) * 0.5, TagsSeen: len(params.SCADA)}
			mu.Lock()
			calls++
			recommend := (calls*7+i)%10 == 0
			bold := calls%3 == 0
			mu.Unlock()
			if recommend {
				// Now and then an agent recommends moving the setpoint
				// from its current value; a bold one asks for too much.
				for _, tv := range params.SCADA {
					if tv.Tag == simSetpoint && tv.Value != nil {
						delta := float64(i%3 - 1)
						if bold {
							delta = 6
						}
						reply.Setpoints = []setpoint{{Tag: simSetpoint, Value: *tv.Value + delta}}
					}
				}
			}
			return reply, nil
		}),
		coord.Handle(a, "report_efficiency", func(ctx context.Context, m coord.Message, _ struct{}) (heatReply, error) {
			if err := work(ctx); err != nil {
				return heatReply{}, err
			}
			return heatReply{HeatDemandKW: p.base, EfficiencyPct: 82 + float64(i%9)}, nil
		}),
		coord.Handle(a, "recommend_mode", func(ctx context.Context, m coord.Message, _ struct{}) (heatReply, error) {
			if err := work(ctx); err != nil {
				return heatReply{}, err
			}
			mode := "normal"
			if i%4 == 0 {
				mode = "economy"
			}
			return heatReply{HeatDemandKW: p.base, Mode: mode}, nil
		}),
		coord.Handle(a, "forecast_heat_demand", func(ctx context.Context, m coord.Message, _ struct{}) (heatReply, error) {
			if err := work(ctx); err != nil {
				return heatReply{}, err
			}
			return heatReply{HeatDemandKW: p.base * 1.1}, nil
		}),
	}
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return a, nil
}
