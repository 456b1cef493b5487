package natsbus_test

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/greenlang/gl001/coord"
	"github.com/greenlang/gl001/coord/natsbus"
)

// Request and reply over NATS; here with an embedded server, in production
// with the plant's NATS cluster.
func ExampleNew() {
	srv, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: server.RANDOM_PORT, NoLog: true, NoSigs: true})
	if err != nil {
		fmt.Println(err)
		return
	}
	srv.Start()
	defer func() { srv.Shutdown(); srv.WaitForShutdown() }()
	if !srv.ReadyForConnections(5 * time.Second) {
		fmt.Println("server not ready")
		return
	}
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer nc.Close()
	bus, err := natsbus.New(nc, natsbus.Config{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer bus.Close()

	_, err = bus.Subscribe("gl001.agent.*", func(ctx context.Context, m coord.Message) {
		_ = bus.Publish(ctx, m.ReplyTo, coord.Message{
			ID: coord.NewID(), Type: coord.TypeResponse, From: m.To, CorrelationID: m.CorrelationID,
			Headers: map[string]string{"Trace-Id": m.Headers["Trace-Id"]}, Payload: []byte(`"running"`),
		})
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	r, err := bus.Request(ctx, "gl001.agent.GL-017", coord.Message{
		ID: coord.NewID(), Type: coord.TypeQuery, From: "GL-001", To: "GL-017", Name: "state",
		CorrelationID: "q-9", Headers: map[string]string{"Trace-Id": "t-1"},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(r.Type, r.From, r.CorrelationID, r.Headers["Trace-Id"], string(r.Payload))
	// Output:
	// response GL-017 q-9 t-1 "running"
}
