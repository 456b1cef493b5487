package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is an io.Writer the test can read while the orchestrator writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// running is an orchestrator on the embedded simulators, run in-process.
type running struct {
	sim  *simulation
	addr string
	out  *syncBuffer
	stop func() error // cancels and waits for Run; returns its error
}

// startOrchestrator runs the whole loop with a small fleet and fast pacing,
// so that a test sees every layer deliver within seconds.
func startOrchestrator(t *testing.T, agents int, mod func(*Config)) *running {
	t.Helper()
	sim, cfg, opts, err := startSimulation(SimOptions{
		Agents: agents, Tick: 200 * time.Millisecond, CoordinationInterval: 700 * time.Millisecond,
		ERPInterval: 3 * time.Second, SummaryInterval: time.Second, HTTP: "127.0.0.1:0",
	})
	if err != nil {
		t.Fatal(err)
	}
	// Cleanups run last first: the orchestrator stops before the
	// simulators close.
	t.Cleanup(sim.Close)
	if mod != nil {
		mod(&cfg)
	}
	r := runInstance(t, cfg, opts)
	r.sim = sim
	return r
}

// runInstance runs one orchestrator with cfg and opts until the test stops
// it, and waits for its status page.
func runInstance(t *testing.T, cfg Config, opts Options) *running {
	t.Helper()
	addr := make(chan string, 1)
	opts.OnHTTP = func(a string) { addr <- a }
	r := &running{out: &syncBuffer{}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, cfg, opts, r.out) }()
	var once sync.Once
	var runErr error
	r.stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case runErr = <-done:
			case <-time.After(60 * time.Second):
				t.Error("the orchestrator did not stop within 60s")
			}
		})
		return runErr
	}
	t.Cleanup(func() { _ = r.stop() })
	select {
	case r.addr = <-addr:
	case err := <-done:
		done <- err
		t.Fatalf("run returned before listening: %v", err)
	case <-time.After(60 * time.Second):
		t.Fatal("the status page did not start within 60s")
	}
	return r
}

func get(t *testing.T, url string) (int, []byte) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, body
}

// waitHealth polls /healthz until cond holds, and fails the test with the
// last snapshot after a generous deadline.
func waitHealth(t *testing.T, r *running, what string, cond func(Health) bool) Health {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		code, body := get(t, "http://"+r.addr+"/healthz")
		var h Health
		if err := json.Unmarshal(body, &h); err != nil {
			t.Fatalf("/healthz (%d) is not JSON: %v\n%s", code, err, body)
		}
		if (h.Status == "ok") != (code == http.StatusOK) || (code != http.StatusOK && code != http.StatusServiceUnavailable) {
			t.Fatalf("/healthz answered %d with status %q", code, h.Status)
		}
		if cond(h) {
			return h
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s; last health:\n%s", what, body)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// The whole loop: points from every protocol reach the buffer and its
// consumer, records from every ERP system arrive, coordination rounds get
// answers, and /healthz, /metrics and the status page answer. goleak (in
// TestMain) checks that stopping it left nothing running.
func TestEndToEnd(t *testing.T) {
	// The disk buffer here; `go run` uses the memory one.
	dir := t.TempDir()
	r := startOrchestrator(t, 12, func(c *Config) { c.Buffer = BufferConfig{Kind: "disk", Dir: dir} })

	h := waitHealth(t, r, "data through every layer", func(h Health) bool {
		for _, c := range h.Connectors {
			if c.Points == 0 {
				return false
			}
		}
		for _, e := range h.ERP {
			total := 0
			for _, n := range e.Records {
				total += n
			}
			if total == 0 {
				return false
			}
		}
		return h.Consumed > 0 && h.Coordination.Rounds >= 2 && len(h.Coordination.Last) == 4 &&
			h.Coordination.Last[0].Answered > 0 && h.Agents.Total == 12
	})
	// Four SCADA connectors at the edge, and the central node's JetStream
	// Source.
	if len(h.Connectors) != 5 || len(h.ERP) != 4 {
		t.Errorf("connectors %d, erp systems %d; want 5 and 4", len(h.Connectors), len(h.ERP))
	}
	if h.Role != "all" || !h.Forward.Embedded || len(h.Forward.Forwarders) != 1 {
		t.Errorf("role %q, forward %+v; want all, an embedded JetStream and one forwarder", h.Role, h.Forward)
	} else if f := h.Forward.Forwarders[0]; f.Name != "jetstream" || f.Points == 0 {
		t.Errorf("forwarder %+v acknowledged nothing", f)
	}
	protocols := map[string]bool{}
	for _, c := range h.Connectors {
		protocols[c.Protocol] = true
	}
	for _, p := range []string{"opcua", "modbus", "mqtt", "jetstream"} {
		if !protocols[p] {
			t.Errorf("no %s connector delivered", p)
		}
	}
	if h.Grades["Excellent"] == 0 {
		t.Errorf("no point graded Excellent: %v", h.Grades)
	}
	main := h.Coordination.Last[0]
	if main.Name != "optimize_heat_distribution" || main.Strategy != "broadcast" || main.Targets != 12 {
		t.Errorf("main command result %+v", main)
	}
	// The simulated fleet has agents that fail on purpose (GL-009 with 12
	// agents): the result lists them instead of failing the round.
	if main.Failed == 0 {
		t.Errorf("no failed agent reported: %+v", main)
	}

	code, body := get(t, "http://"+r.addr+"/metrics")
	if code != http.StatusOK {
		t.Fatalf("/metrics: %d", code)
	}
	for _, m := range []string{
		`gl001_scada_points_total{protocol="opcua",source="boilerhouse"}`,
		`gl001_pipeline_points_total{grade="Excellent"}`,
		`gl001_erp_records_total{kind="energy",system="sap-s4"}`,
		`gl001_erp_records_total{kind="costs",system="workday"}`,
		`gl001_coordination_replies_total{command="optimize_heat_distribution",outcome="answered"}`,
		`gl001_agents{health="healthy"}`,
		"gl001_coordination_duration_seconds_bucket",
		"gl001_buffer_bytes",
		`gl001_forward_lag_points{forwarder="jetstream"}`,
		`gl001_forward_points_total{forwarder="jetstream"}`,
		`gl001_scada_points_total{protocol="jetstream",source="jetstream"}`,
		"go_goroutines",
		// Errors by source and kind, with the protocol on every SCADA series.
		`gl001_scada_errors_total{kind="tag_error",protocol="opcua",source="boilerhouse"}`,
		`gl001_scada_errors_total{kind="exception",protocol="modbus",source="energy-meters"}`,
		`gl001_scada_errors_total{kind="timeout",protocol="modbus",source="energy-meters"}`,
		`gl001_scada_errors_total{kind="bad_message",protocol="mqtt",source="iot-sensors"}`,
		`gl001_scada_errors_total{kind="unmatched",protocol="mqtt",source="sparkplug-edge"}`,
		`gl001_scada_connected{protocol="modbus",source="energy-meters"} 1`,
		`gl001_scada_breaker_open{protocol="opcua",source="boilerhouse"} 0`,
		`gl001_scada_reconnects_total{protocol="mqtt",source="iot-sensors"}`,
		`gl001_scada_last_point_timestamp_seconds{protocol="opcua",source="boilerhouse"}`,
		`gl001_erp_request_errors_total{kind="throttled",system="oracle-fusion"}`,
		`gl001_erp_request_errors_total{kind="timeout",system="sap-s4"}`,
		`gl001_erp_breaker_open{system="workday"} 0`,
		`gl001_erp_last_success_timestamp_seconds{system="dynamics-fs"}`,
		`gl001_erp_record_issues_total{kind="gap",system="sap-s4"}`,
		`gl001_build_info{goversion="go`,
	} {
		if !bytes.Contains(body, []byte(m)) {
			t.Errorf("/metrics lacks %s", m)
		}
	}
	code, body = get(t, "http://"+r.addr+"/")
	if code != http.StatusOK || !bytes.Contains(body, []byte("boilerhouse")) || !bytes.Contains(body, []byte("GL-013")) || !bytes.Contains(body, []byte(`id="forwarders"`)) {
		t.Errorf("status page (%d) does not show the connectors and agents", code)
	}

	if err := r.stop(); err != nil {
		t.Fatalf("run: %v", err)
	}
	out := r.out.String()
	for _, want := range []string{"status page http://", "── final GL-001", "drained:", "optimize_heat_distribution", "energy-meters"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	// Nothing is lost or doubled on the way: every accepted point reaches
	// the pipeline, every point the deadband keeps reaches the edge's
	// buffer, the forwarder has JetStream acknowledge each of them, the
	// central Source receives each once into the central buffer, and the
	// consumer reads them all.
	line := out[strings.LastIndex(out, "drained:"):]
	var accepted, delivered, leftOut, unchanged, redelivered, buffered, acked, batches, left, received, central, read int
	if _, err := fmt.Sscanf(line, "drained: %d points accepted, %d delivered to the pipeline, %d buffered\n"+
		"  the deadband left out %d (%d unchanged, %d redelivered)\n"+
		"  forwarder jetstream: %d points acknowledged in %d batches, %d left\n"+
		"  central: %d points received from JetStream, %d buffered\n"+
		"  consumer: %d points read",
		&accepted, &delivered, &buffered, &leftOut, &unchanged, &redelivered, &acked, &batches, &left, &received, &central, &read); err != nil {
		t.Fatalf("drained line %q: %v", line, err)
	}
	if accepted == 0 || accepted != delivered || delivered-leftOut != buffered || buffered != acked || left != 0 ||
		acked != received || received != central || central != read {
		t.Errorf("points lost or doubled between the stages: %s", line)
	}
}

// connectorProblems returns the problems that name a connector.
func connectorProblems(h Health) []string {
	var out []string
	for _, p := range h.Problems {
		if strings.HasPrefix(p, "connector ") {
			out = append(out, p)
		}
	}
	return out
}

// A connector whose server goes away makes /healthz answer 503 naming it,
// with the other connectors still delivering; when the server is back, the
// Collector reconnects and the problem is gone. (The status as a whole may
// stay degraded: the simulated agents fail now and then on purpose.)
func TestHealthDegradedWhileAServerIsDown(t *testing.T) {
	r := startOrchestrator(t, 4, nil)
	waitHealth(t, r, "every connector connected", func(h Health) bool {
		return len(connectorProblems(h)) == 0 && len(h.Connectors) == 5 && h.Connectors[0].State == "connected"
	})

	if err := r.sim.opcua.Stop(); err != nil {
		t.Fatal(err)
	}
	h := waitHealth(t, r, "boilerhouse reported down", func(h Health) bool {
		return h.Status == "degraded" && strings.Contains(strings.Join(h.Problems, ";"), "connector boilerhouse")
	})
	code, _ := get(t, "http://"+r.addr+"/healthz")
	if code != http.StatusServiceUnavailable {
		t.Errorf("/healthz answered %d while degraded", code)
	}
	before := map[string]uint64{}
	for _, c := range h.Connectors {
		before[c.Name] = c.Points
	}
	waitHealth(t, r, "the other connectors still delivering", func(h Health) bool {
		for _, c := range h.Connectors {
			if c.Name != "boilerhouse" && c.Points <= before[c.Name] {
				return false
			}
		}
		return true
	})

	if err := r.sim.opcua.Start(); err != nil {
		t.Fatal(err)
	}
	h = waitHealth(t, r, "boilerhouse reconnected", func(h Health) bool {
		return len(connectorProblems(h)) == 0 && h.Connectors[0].Reconnects >= 1
	})
	if h.Connectors[0].Name != "boilerhouse" || h.Connectors[0].State != "connected" {
		t.Errorf("after the restart: %+v", h.Connectors[0])
	}
	if err := r.stop(); err != nil {
		t.Fatalf("run: %v", err)
	}
}
