package coord_test

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/greenlang/gl001/coord"
)

// A request and its reply on the in-process bus.
func ExampleNewLocalBus() {
	bus, err := coord.NewLocalBus(coord.LocalBusConfig{})
	if err != nil {
		panic(err)
	}
	defer bus.Close()

	// A responder: answers every query on its subject.
	_, err = bus.Subscribe("gl001.agent.GL-042", func(ctx context.Context, m coord.Message) {
		reply := coord.Message{ID: coord.NewID(), Type: coord.TypeResponse, From: "GL-042",
			CorrelationID: m.CorrelationID, Payload: json.RawMessage(`{"efficiency":0.87}`)}
		_ = bus.Publish(ctx, m.ReplyTo, reply)
	})
	if err != nil {
		fmt.Println(err)
		return
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	r, err := bus.Request(ctx, "gl001.agent.GL-042", coord.Message{
		ID: coord.NewID(), Type: coord.TypeQuery, From: "GL-001", Name: "efficiency", CorrelationID: "q-1",
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(r.From, r.CorrelationID, string(r.Payload))

	_, err = bus.Request(ctx, "gl001.agent.GL-099", coord.Message{ID: coord.NewID()})
	fmt.Println(err)
	// Output:
	// GL-042 q-1 {"efficiency":0.87}
	// coord: no responders on "gl001.agent.GL-099"
}

// A Coordinator broadcasts a query to three agents and averages the replies.
func ExampleCoordinator_Execute() {
	bus, err := coord.NewLocalBus(coord.LocalBusConfig{})
	if err != nil {
		panic(err)
	}
	defer bus.Close()
	reg, _ := coord.NewRegistry(coord.RegistryConfig{})
	c, err := coord.NewCoordinator(coord.CoordinatorConfig{Bus: bus, Registry: reg})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()

	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	temps := map[string]float64{"GL-002": 181.5, "GL-003": 183.0, "GL-004": 184.5}
	for id, temp := range temps {
		a, _ := coord.NewAgent(coord.AgentConfig{ID: id, Bus: bus, Capabilities: []string{"steam"}})
		type params struct {
			Header string `json:"header"`
		}
		_ = coord.Handle(a, "steam_temp", func(ctx context.Context, m coord.Message, p params) (float64, error) {
			return temp, nil
		})
		go func() { _ = a.Run(ctx); done <- struct{}{} }()
	}
	defer func() {
		stop()
		for range temps {
			<-done
		}
	}()
	wait, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := reg.Wait(wait, len(temps)); err != nil {
		fmt.Println(err)
		return
	}

	res, err := c.Execute(context.Background(), coord.Command{
		Name:       "steam_temp",
		Query:      true,
		Params:     map[string]string{"header": "HP-1"},
		Strategy:   coord.CapabilityBased,
		Capability: "steam",
		Aggregate:  coord.Average,
		Timeout:    2 * time.Second,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("average %.1f °C from %d agents, partial: %v\n", res.Number, len(res.Answered), res.Partial)
	// Output:
	// average 183.0 °C from 3 agents, partial: false
}
