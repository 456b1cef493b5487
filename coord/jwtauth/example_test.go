package jwtauth_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/greenlang/gl001/coord"
	"github.com/greenlang/gl001/coord/jwtauth"
)

// Sign a command with the shared key from AGENT_JWT_SECRET and check it on the
// receiving side: accepted once, rejected when replayed or altered.
func Example() {
	os.Setenv(jwtauth.EnvSecret, "example-only-secret-0123456789abcdef") // normally set by the deployment
	key, err := jwtauth.FromEnv()
	if err != nil {
		fmt.Println(err)
		return
	}
	guard, err := coord.NewGuard(coord.GuardConfig{Verifier: key})
	if err != nil {
		fmt.Println(err)
		return
	}

	m := coord.Message{
		ID: coord.NewID(), Type: coord.TypeCommand, From: "GL-001", To: "GL-042",
		Name: "set_firing_rate", Payload: json.RawMessage(`{"percent":72.5}`),
	}
	if err := coord.Seal(&m, key, time.Minute); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("first delivery:", guard.Check(&m))
	fmt.Println("replayed:", errors.Is(guard.Check(&m), coord.ErrReplayed))

	m.ID = coord.NewID() // a fresh id, but the payload is altered too
	m.Payload = json.RawMessage(`{"percent":100}`)
	fmt.Println("tampered:", errors.Is(guard.Check(&m), coord.ErrTampered))
	fmt.Printf("%+v\n", guard.Stats())
	// Output:
	// first delivery: <nil>
	// replayed: true
	// tampered: true
	// {Accepted:1 Unsigned:0 Expired:0 Replayed:1 Tampered:1 Future:0 Full:0}
}
