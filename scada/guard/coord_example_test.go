package guard_test

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/greenlang/gl001/coord"
	"github.com/greenlang/gl001/coord/jwtauth"
	"github.com/greenlang/gl001/scada/guard"
)

// The glue between a signed coord command and the guard: the requester is
// the sender that coord.Guard authenticated, never a field of the payload.
// The write rules have coord.Rule's shape (patterns on who and what), so
// one policy document can hold both.
func Example_coordCommand() {
	dev := newMemDevice(map[string]float64{"boiler1.firing_rate": 40})
	g, err := guard.New(guard.Config{
		Writer: dev, Reader: dev,
		Tags:  map[string]guard.Limits{"boiler1.firing_rate": {Min: 0, Max: 100, MaxStep: 10}},
		Rules: []guard.Rule{{Requesters: []string{"GL-001"}, Tags: []string{"boiler1.*"}}},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	// In production the key comes from AGENT_JWT_SECRET (jwtauth.FromEnv).
	keys, _ := jwtauth.NewHS256([]byte("an example key of at least 32 bytes!"))
	verify, _ := coord.NewGuard(coord.GuardConfig{Verifier: keys})

	// handle is what the edge runs for each "set_setpoint" command.
	handle := func(m coord.Message) error {
		if err := verify.Check(&m); err != nil {
			return err // unsigned, tampered, expired or replayed: no write
		}
		var p struct {
			Tag   string  `json:"tag"`
			Value float64 `json:"value"`
		}
		if err := json.Unmarshal(m.Payload, &p); err != nil {
			return err
		}
		_, err := g.Apply(context.Background(), guard.Request{Requester: m.From, Ref: m.ID, Tag: p.Tag, Value: p.Value})
		return err
	}

	// The orchestrator GL-001 signs its command.
	m := coord.Message{ID: "cmd-1", Type: coord.TypeCommand, From: "GL-001", To: "edge-1", Name: "set_setpoint",
		Payload: json.RawMessage(`{"tag":"boiler1.firing_rate","value":46}`)}
	if err := coord.Seal(&m, keys, 0); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("signed:", handle(m))

	// The same command claiming another sender fails the signature.
	forged := m
	forged.ID, forged.From = "cmd-2", "GL-007"
	fmt.Println("forged:", handle(forged) != nil)

	// An agent with a valid signature but no write permission is refused.
	a := coord.Message{ID: "cmd-3", Type: coord.TypeCommand, From: "GL-042", To: "edge-1", Name: "set_setpoint",
		Payload: json.RawMessage(`{"tag":"boiler1.firing_rate","value":47}`)}
	_ = coord.Seal(&a, keys, 0)
	fmt.Println("GL-042:", handle(a))
	// Output:
	// signed: <nil>
	// forged: true
	// GL-042: guard: write "boiler1.firing_rate" by "GL-042": not_permitted: no rule allows it
}
