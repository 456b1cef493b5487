package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// startJetStream runs a nats-server with JetStream and file storage on
// 127.0.0.1, as `nats-server -js` would, until the test ends.
func startJetStream(t *testing.T) *server.Server {
	t.Helper()
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: server.RANDOM_PORT, JetStream: true,
		StoreDir: t.TempDir(), NoLog: true, NoSigs: true})
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
	return ns
}

// drainedCount reads "<label>: N <what>" from an orchestrator's final
// output.
func drainedCount(t *testing.T, out, label string) int {
	t.Helper()
	i := strings.LastIndex(out, label)
	if i < 0 {
		t.Fatalf("output lacks %q:\n%s", label, out)
	}
	var n int
	if _, err := fmt.Sscanf(out[i+len(label):], "%d", &n); err != nil {
		t.Fatalf("%q: %v\n%s", label, err, out)
	}
	return n
}

// An edge and a central node as two orchestrators against one JetStream
// server: the edge collects from the simulators and forwards, the central
// node consumes the stream and coordinates the agents. Every point the
// edge buffered reaches the central node once: the edge's forwarder had
// each acknowledged, and the central node received exactly as many.
func TestEdgeAndCentral(t *testing.T) {
	ns := startJetStream(t)
	sim, cfg, opts, err := startSimulation(SimOptions{
		Agents: 6, Tick: 200 * time.Millisecond, CoordinationInterval: 700 * time.Millisecond,
		ERPInterval: 3 * time.Second, SummaryInterval: -1, HTTP: "127.0.0.1:0",
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim.Close)

	// Agent-driven writes need both halves in one process.
	cfg.Writes = WritesConfig{}
	edge := cfg
	edge.Orchestrator.ID = "edge-1"
	edge.ERP = nil
	edge.Forward.Role, edge.Forward.NATSURL = "edge", ns.ClientURL()
	edge.Forward.EdgeID, edge.Forward.Site = "edge-1", "boilerhouse-1"
	edgeOpts := opts
	edgeOpts.Fleet = nil

	central := cfg
	central.OPCUA, central.Modbus, central.MQTT = nil, nil, nil
	central.Forward.Role, central.Forward.NATSURL = "central", ns.ClientURL()

	c := runInstance(t, central, opts)
	e := runInstance(t, edge, edgeOpts)

	eh := waitHealth(t, e, "the edge forwarding", func(h Health) bool {
		return len(h.Forward.Forwarders) == 1 && h.Forward.Forwarders[0].Points > 0
	})
	if eh.Role != "edge" || eh.Forward.Embedded || len(eh.Connectors) != 4 || eh.Agents.Total != 0 || len(eh.ERP) != 0 {
		t.Errorf("edge health: role %q, embedded %v, %d connectors, %d agents, %d erp", eh.Role, eh.Forward.Embedded, len(eh.Connectors), eh.Agents.Total, len(eh.ERP))
	}
	ch := waitHealth(t, c, "the central node consuming and coordinating", func(h Health) bool {
		fromEdge := false
		for _, tag := range h.Tags {
			fromEdge = fromEdge || tag.Source == "boilerhouse"
		}
		return fromEdge && h.Consumed > 0 && h.Coordination.Rounds >= 1 && len(h.Coordination.Last) > 0 && h.Coordination.Last[0].Answered > 0
	})
	if ch.Role != "central" || len(ch.Connectors) != 1 || ch.Connectors[0].Protocol != "jetstream" || len(ch.Forward.Forwarders) != 0 {
		t.Errorf("central health: role %q, connectors %+v, forwarders %+v", ch.Role, ch.Connectors, ch.Forward.Forwarders)
	}
	if ch.Grades["Excellent"] == 0 {
		t.Errorf("the edge's scores did not reach the central node: %v", ch.Grades)
	}

	// Stop the edge: it forwards what it holds before it stops.
	if err := e.stop(); err != nil {
		t.Fatalf("edge: %v", err)
	}
	eout := e.out.String()
	buffered := drainedCount(t, eout, "delivered to the pipeline, ")
	acked := drainedCount(t, eout, "forwarder jetstream: ")
	if !strings.Contains(eout, ", 0 left") || acked != buffered || acked == 0 {
		t.Fatalf("the edge stopped with points not forwarded (buffered %d, acknowledged %d):\n%s", buffered, acked, eout)
	}
	waitHealth(t, c, "every forwarded point at the central node", func(h Health) bool {
		return h.Connectors[0].Points >= uint64(acked)
	})
	if err := c.stop(); err != nil {
		t.Fatalf("central: %v", err)
	}
	cout := c.out.String()
	if got := drainedCount(t, cout, "central: "); got != acked {
		t.Errorf("the central node received %d points, the edge had %d acknowledged", got, acked)
	}
	if got := drainedCount(t, cout, "consumer: "); got != acked {
		t.Errorf("the central consumer read %d points, the edge had %d acknowledged", got, acked)
	}
}
