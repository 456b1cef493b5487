package main

import (
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// The agent bus over NATS: the configuration names a nats:// URL (here an
// embedded nats-server), and the coordination rounds, signed, reach the
// agents through it.
func TestEndToEndNATS(t *testing.T) {
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: server.RANDOM_PORT, NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	ns.Start()
	t.Cleanup(func() {
		ns.Shutdown()
		ns.WaitForShutdown()
	})
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server not ready")
	}
	r := startOrchestrator(t, 6, func(c *Config) {
		c.Agents.Bus = "nats"
		c.Agents.NATSURL = ns.ClientURL()
	})
	h := waitHealth(t, r, "a round answered over NATS", func(h Health) bool {
		return h.Agents.Total == 6 && h.Coordination.Rounds >= 1 && len(h.Coordination.Last) == 4 && h.Coordination.Last[0].Answered > 0
	})
	if got := h.Coordination.Last[0]; got.Targets != 6 || got.Answered+got.Failed+got.TimedOut != 6 {
		t.Errorf("broadcast over NATS: %+v", got)
	}
	if err := r.stop(); err != nil {
		t.Fatalf("run: %v", err)
	}
	// The server notices the closed connection on its own time.
	deadline := time.Now().Add(30 * time.Second)
	for ns.NumClients() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d NATS clients still connected 30s after stopping", ns.NumClients())
		}
		time.Sleep(10 * time.Millisecond)
	}
}
