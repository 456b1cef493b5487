package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/greenlang/gl001/scada"
	"github.com/greenlang/gl001/scada/buffer"
)

const testAckToken = "ack-token-0123456789-secret"

// startWithOrchestrator runs the simulated plant like startOrchestrator,
// but builds the Orchestrator itself, so the test can reach its parts, and
// logs into a buffer the test can search.
func startWithOrchestrator(t *testing.T, mod func(*Config)) (*running, *Orchestrator, *syncBuffer) {
	t.Helper()
	sim, cfg, opts, err := startSimulation(SimOptions{
		Agents: 3, Tick: 200 * time.Millisecond, CoordinationInterval: 700 * time.Millisecond,
		ERPInterval: 3 * time.Second, SummaryInterval: time.Second, HTTP: "127.0.0.1:0",
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim.Close)
	if mod != nil {
		mod(&cfg)
	}
	logs := &syncBuffer{}
	opts.Logger = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	getenv := opts.Getenv
	opts.Getenv = func(k string) string {
		if k == envAckToken {
			return testAckToken
		}
		return getenv(k)
	}
	r, o := runOrchestrator(t, cfg, opts)
	r.sim = sim
	return r, o, logs
}

// runOrchestrator is runInstance with the Orchestrator built here, so the
// test can reach its parts.
func runOrchestrator(t *testing.T, cfg Config, opts Options) (*running, *Orchestrator) {
	t.Helper()
	o, err := New(cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	addr := make(chan string, 1)
	o.opts.OnHTTP = func(a string) { addr <- a }
	r := &running{out: &syncBuffer{}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- o.Run(ctx, r.out) }()
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
		t.Fatalf("run returned before listening: %v", err)
	case <-time.After(60 * time.Second):
		t.Fatal("the status page did not start within 60s")
	}
	return r, o
}

// An edge and a central node in two processes: an alarm the edge's OPC UA
// connector delivers is in the edge's table (it reads its own buffer) and,
// over JetStream, in the central node's; its Retain false event removes it
// from both.
func TestAlarmsEdgeToCentral(t *testing.T) {
	ns := startJetStream(t)
	sim, cfg, opts, err := startSimulation(SimOptions{
		Agents: 2, Tick: 200 * time.Millisecond, CoordinationInterval: 700 * time.Millisecond,
		ERPInterval: 3 * time.Second, SummaryInterval: -1, HTTP: "127.0.0.1:0",
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim.Close)
	cfg.Writes = WritesConfig{}
	edge := cfg
	edge.Orchestrator.ID = "edge-1"
	edge.ERP = nil
	edge.Forward.Role, edge.Forward.NATSURL = "edge", ns.ClientURL()
	edge.Forward.EdgeID, edge.Forward.Site = "edge-1", "boilerhouse-1"
	edge.OPCUA = append([]OPCUAConfig(nil), cfg.OPCUA...)
	edge.OPCUA[0].Events = OPCUAEventsConfig{Enabled: true}
	edgeOpts := opts
	edgeOpts.Fleet = nil
	central := cfg
	central.OPCUA, central.Modbus, central.MQTT = nil, nil, nil
	central.Forward.Role, central.Forward.NATSURL = "central", ns.ClientURL()

	c := runInstance(t, central, opts)
	e, eo := runOrchestrator(t, edge, edgeOpts)
	const id = "ns=1;s=Boiler1.FlueTempAlarm"
	if err := eo.edgeRef.DeliverEvents(context.Background(), []scada.Event{limitAlarm(id, 1, 700, true, false, true)}); err != nil {
		t.Fatal(err)
	}
	has := func(h Health) bool {
		return len(h.Alarms.List) == 1 && h.Alarms.List[0].Condition == id && h.Alarms.Active == 1
	}
	eh := waitHealth(t, e, "the alarm at the edge", has)
	if eh.Alarms.Lane == nil || eh.Alarms.Relay != nil {
		t.Errorf("edge: lane %+v relay %+v", eh.Alarms.Lane, eh.Alarms.Relay)
	}
	ch := waitHealth(t, c, "the alarm at the central node", func(h Health) bool {
		return has(h) && h.Alarms.Relay != nil && h.Alarms.Relay.Events == 1
	})
	if ch.Alarms.List[0].Source != "boilerhouse" {
		t.Errorf("central: relay %+v, %+v", ch.Alarms.Relay, ch.Alarms.List)
	}
	if err := eo.edgeRef.DeliverEvents(context.Background(), []scada.Event{limitAlarm(id, 2, 700, false, true, false)}); err != nil {
		t.Fatal(err)
	}
	gone := func(h Health) bool { return len(h.Alarms.List) == 0 && h.Alarms.Events == 2 }
	waitHealth(t, e, "the alarm gone at the edge", gone)
	waitHealth(t, c, "the alarm gone at the central node", gone)
}

// alarmsOn enables events on the simulated OPC UA connector and
// acknowledgements for operators on Boiler1's conditions.
func alarmsOn(c *Config) {
	c.OPCUA[0].Events = OPCUAEventsConfig{Enabled: true, MinSeverity: 1}
	c.Alarms = AlarmsConfig{Ack: true, Rules: []AlarmRuleConfig{
		{Requesters: []string{"operator-9"}, Deny: true},
		{Requesters: []string{"operator-*"}, Conditions: []string{"ns=1;s=Boiler1.*"}},
	}}
}

// limitAlarm is the event of an exclusive limit alarm in the state given.
func limitAlarm(id string, seq byte, severity uint16, active, acked, retain bool) scada.Event {
	return scada.Event{
		Source: "boilerhouse", Time: time.Now().UTC(), ReceiveTime: time.Now().UTC(), EventType: "i=9341",
		SourceNode: "ns=1;s=Boiler1.FlueTemp", SourceName: "FlueTemp", Severity: severity,
		Message: "Flue temperature high", ID: []byte{0xe0, seq},
		Condition: &scada.Condition{ID: id, Name: "FlueTempHigh", Retain: retain, Active: active, Acknowledged: acked, State: "High"},
		Fields:    map[string]any{"limit": 450.0},
	}
}

func postAck(t *testing.T, addr, token string, body any) (int, ackResponse) {
	t.Helper()
	b, _ := json.Marshal(body)
	req, err := http.NewRequest(http.MethodPost, "http://"+addr+"/alarms/ack", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var ar ackResponse
	raw, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(raw, &ar); err != nil {
		t.Fatalf("ack answer %d is not JSON: %s", resp.StatusCode, raw)
	}
	return resp.StatusCode, ar
}

// Events delivered to the OPC UA connector's EventSink (what the Source
// calls for every event notification) go through the edge buffer's event
// log, the forwarder's event lane, JetStream, the central EventSource and
// the central buffer's event log into the alarm table: /healthz, the
// status page and /metrics show the conditions, a Retain false event
// removes one, and POST /alarms/ack goes through the guard.
func TestAlarmsThroughTheEventRoad(t *testing.T) {
	r, o, logs := startWithOrchestrator(t, alarmsOn)
	waitHealth(t, r, "the OPC UA connector connected", func(h Health) bool {
		for _, c := range h.Connectors {
			if c.Protocol == "opcua" && c.Healthy {
				return true
			}
		}
		return false
	})
	var sink scada.EventSink = o.edgeRef // the opcua.EventConfig.Sink of the connector
	ctx := context.Background()
	const flue, flame = "ns=1;s=Boiler1.FlueTempAlarm", "ns=1;s=Boiler1.FlameFailure"
	flameEv := limitAlarm(flame, 1, 300, true, false, true)
	flameEv.Condition.Name, flameEv.Message, flameEv.EventType = "FlameFailure", "Flame lost", "i=10637"
	if err := sink.DeliverEvents(ctx, []scada.Event{
		limitAlarm(flue, 1, 800, true, false, true),
		flameEv,
		{Source: "boilerhouse", Time: time.Now().UTC(), EventType: "i=2041", Severity: 100, Message: "burner start"},
	}); err != nil {
		t.Fatal(err)
	}
	h := waitHealth(t, r, "two active alarms", func(h Health) bool { return h.Alarms.Active == 2 })
	a := h.Alarms
	if len(a.List) != 2 || a.Unacknowledged != 2 || a.Events != 3 || len(a.Recent) != 1 || a.Recent[0].Message != "burner start" {
		t.Fatalf("alarms %+v", a)
	}
	top := a.List[0] // the most severe first
	if top.Condition != flue || top.Name != "FlueTempHigh" || top.Severity != 800 || !top.Active || top.Acknowledged ||
		top.Source != "boilerhouse" || top.State != "High" || top.EventID != "e001" || top.Fields["limit"] != 450.0 || top.SourceNode != "ns=1;s=Boiler1.FlueTemp" {
		t.Errorf("first alarm %+v", top)
	}
	// The relay counts a message once JetStream has its acknowledgement,
	// after the buffer took its events.
	road := waitHealth(t, r, "the events counted on the JetStream road", func(h Health) bool {
		return h.Alarms.Lane != nil && h.Alarms.Lane.Events >= 3 && h.Alarms.Relay != nil && h.Alarms.Relay.Events >= 3
	}).Alarms
	if road.Lane.Events != 3 || road.Relay.Events != 3 || road.Relay.Duplicates != 0 || road.Relay.Bad != 0 {
		t.Errorf("lane %+v relay %+v, want 3 events each", road.Lane, road.Relay)
	}
	if h.Status != "ok" {
		// Alarms are the plant's state, not a fault of the orchestrator.
		t.Logf("status %s: %v", h.Status, h.Problems)
	}

	if !strings.Contains(strings.Join(summaryBlock(h, false), "\n"), "alarms  2 active, 2 unacknowledged; top: FlueTempHigh (800)") {
		t.Errorf("summary:\n%s", strings.Join(summaryBlock(h, false), "\n"))
	}
	// The status page carries the alarms in its snapshot and has the table
	// the script fills.
	code, page := get(t, "http://"+r.addr+"/")
	if code != http.StatusOK || !bytes.Contains(page, []byte(`id="alarm-list"`)) || !bytes.Contains(page, []byte(`FlueTempHigh`)) {
		t.Errorf("status page (%d) lacks the alarms", code)
	}
	code, metrics := get(t, "http://"+r.addr+"/metrics")
	if code != http.StatusOK || !bytes.Contains(metrics, []byte("gl001_alarms_active 2\n")) ||
		!bytes.Contains(metrics, []byte(`gl001_alarms_active_by_severity{severity="medium_low"} 1`)) ||
		!bytes.Contains(metrics, []byte("gl001_events_total 3\n")) {
		t.Errorf("metrics lack the alarms:\n%s", grepLines(metrics, "gl001_alarm", "gl001_events"))
	}

	// Acknowledge through the endpoint: refused without the token, for an
	// unknown condition, for a requester no rule allows; allowed requests
	// reach the connector, whose server (the simulator, which has no
	// conditions) refuses the method call: the refusal is audited.
	if code, _ := postAck(t, r.addr, "", ackRequest{Requester: "operator-1", Source: "boilerhouse", Condition: flue}); code != http.StatusUnauthorized {
		t.Errorf("without a token: %d", code)
	}
	if code, _ := postAck(t, r.addr, "wrong-token-wrong-token", ackRequest{Requester: "operator-1", Source: "boilerhouse", Condition: flue}); code != http.StatusUnauthorized {
		t.Errorf("wrong token: %d", code)
	}
	if code, ar := postAck(t, r.addr, testAckToken, ackRequest{Requester: "operator-1", Source: "boilerhouse", Condition: "ns=1;s=Nope"}); code != http.StatusNotFound || ar.Result != "unknown_condition" {
		t.Errorf("unknown condition: %d %+v", code, ar)
	}
	if code, ar := postAck(t, r.addr, testAckToken, ackRequest{Requester: "operator-1", Source: "nope", Condition: flue}); code != http.StatusNotFound || ar.Result != "unknown_source" {
		t.Errorf("unknown source: %d %+v", code, ar)
	}
	if code, ar := postAck(t, r.addr, testAckToken, map[string]any{"requester": "operator-1", "source": "boilerhouse", "condition": flue, "action": "silence"}); code != http.StatusBadRequest {
		t.Errorf("unknown action: %d %+v", code, ar)
	}
	if code, ar := postAck(t, r.addr, testAckToken, ackRequest{Requester: "operator-9", Source: "boilerhouse", Condition: flue}); code != http.StatusForbidden || ar.Result != "not_permitted" {
		t.Errorf("denied requester: %d %+v", code, ar)
	}
	if code, ar := postAck(t, r.addr, testAckToken, ackRequest{Requester: "operator-1", Source: "boilerhouse", Condition: flue, Comment: "checked the flue"}); code != http.StatusConflict || ar.Result != "call_failed" {
		t.Errorf("acknowledge refused by the server: %d %+v", code, ar)
	}
	h = waitHealth(t, r, "two audited acknowledgements", func(h Health) bool { return h.Alarms.Acks != nil && h.Alarms.Acks.Attempts == 2 })
	if ak := h.Alarms.Acks; ak.ByResult["not_permitted"] != 1 || ak.ByResult["call_failed"] != 1 || len(ak.Recent) != 2 ||
		ak.Recent[0].Requester != "operator-1" || ak.Recent[0].Comment != "checked the flue" || ak.Recent[0].OK {
		t.Errorf("acks %+v", ak)
	}

	// The server reports the acknowledged state, then the flame alarm's
	// Retain false: the flue alarm stays acknowledged, the flame alarm
	// leaves the table.
	flameEv.Condition.Retain, flameEv.Condition.Active, flameEv.ID = false, false, []byte{0xe0, 9}
	if err := sink.DeliverEvents(ctx, []scada.Event{limitAlarm(flue, 2, 800, true, true, true), flameEv}); err != nil {
		t.Fatal(err)
	}
	h = waitHealth(t, r, "one acknowledged alarm", func(h Health) bool {
		return len(h.Alarms.List) == 1 && h.Alarms.Unacknowledged == 0 && h.Alarms.Active == 1
	})
	if x := h.Alarms.List[0]; x.Condition != flue || !x.Acknowledged || x.EventID != "e002" {
		t.Errorf("after the acknowledgement: %+v", x)
	}
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(logs.String(), testAckToken) || strings.Contains(r.out.String(), testAckToken) {
		t.Error("the acknowledgement token appears in the logs")
	}
	if !strings.Contains(logs.String(), `"msg":"scada condition ack"`) {
		t.Error("no audit record in the log")
	}
}

// The table keeps the newest state per source, condition and branch, and
// forgets a condition with its Retain false event.
func TestAlarmTable(t *testing.T) {
	a := newAlarmTable(nil, slog.New(slog.DiscardHandler))
	ev := func(src, id, branch string, seq byte, sev uint16, active, acked, retain bool) scada.Event {
		e := limitAlarm(id, seq, sev, active, acked, retain)
		e.Source, e.Condition.Branch = src, branch
		return e
	}
	a.apply([]scada.Event{
		ev("b1", "c1", "", 1, 500, true, false, true),
		ev("b2", "c1", "", 2, 900, true, false, true), // the same condition id on another connector
		ev("b1", "c1", "br1", 3, 500, false, false, true),
		ev("b1", "c1", "", 4, 500, true, true, true), // last state wins
		{Source: "b1", Message: "plain"},
	}, 2)
	ai := a.info()
	if len(ai.List) != 3 || ai.Active != 2 || ai.Unacknowledged != 2 || ai.Events != 5 || ai.Missed != 2 || len(ai.Recent) != 1 {
		t.Fatalf("table %+v", ai)
	}
	if ai.List[0].Source != "b2" || ai.List[1].EventID != "e004" || !ai.List[1].Acknowledged || ai.List[2].Branch != "br1" || ai.List[2].Active {
		t.Errorf("order or states %+v", ai.List)
	}
	a.apply([]scada.Event{ev("b1", "c1", "br1", 5, 500, false, true, false), ev("b2", "c1", "", 6, 900, false, true, false)}, 0)
	if ai := a.info(); len(ai.List) != 1 || ai.List[0].Source != "b1" || ai.List[0].Branch != "" {
		t.Errorf("after Retain false: %+v", ai.List)
	}
	if _, ok := a.find("b1", "c1", ""); !ok {
		t.Error("find")
	}
	for sev, band := range map[uint16]string{1000: "high", 801: "high", 800: "medium_high", 500: "medium", 300: "medium_low", 1: "low"} {
		if got := severityBand(sev); got != band {
			t.Errorf("severity %d: %s, want %s", sev, got, band)
		}
	}
}

func TestAlarmsConfig(t *testing.T) {
	env := func(token string) func(string) string {
		return func(k string) string {
			if k == envAckToken {
				return token
			}
			return ""
		}
	}
	base := func() Config {
		cfg := Config{OPCUA: []OPCUAConfig{{Name: "b", Endpoint: "opc.tcp://127.0.0.1:4840", SecurityPolicy: "None", SecurityMode: "None",
			Tags: []OPCUATagEntry{{Name: "t", NodeID: "ns=1;s=T"}}}}}
		cfg.setDefaults()
		return cfg
	}
	cases := []struct {
		name  string
		mod   func(*Config)
		token string
		want  []string // field paths the error must name
	}{
		{"events settings while disabled", func(c *Config) { c.OPCUA[0].Events.Types = []string{"i=2915"} }, "", []string{"opcua[0].events: settings given but enabled is false"}},
		{"bad severity and queue", func(c *Config) {
			c.OPCUA[0].Events = OPCUAEventsConfig{Enabled: true, MinSeverity: 1001, QueueSize: -1}
		}, "", []string{"opcua[0].events.min_severity", "opcua[0].events.queue_size"}},
		{"events while polling", func(c *Config) {
			c.OPCUA[0].Events.Enabled, c.OPCUA[0].PollInterval = true, time.Second
		}, "", []string{"opcua[0].events.enabled: events need subscriptions"}},
		{"field without path", func(c *Config) {
			c.OPCUA[0].Events = OPCUAEventsConfig{Enabled: true, Fields: []OPCUAEventFieldConfig{{Name: "x"}}}
		}, "", []string{"opcua[0].events.fields[0]"}},
		{"bad object node id", func(c *Config) {
			c.OPCUA[0].Events = OPCUAEventsConfig{Enabled: true, Objects: []string{"nsu="}}
		}, "", []string{"opcua[0]: invalid", "Objects[0]"}},
		{"negative max gap", func(c *Config) { c.OPCUA[0].Backfill = OPCUABackfillConfig{Enabled: true, MaxGap: -time.Second} }, "", []string{"opcua[0].backfill.max_gap: negative"}},
		{"max gap without backfill", func(c *Config) { c.OPCUA[0].Backfill.MaxGap = time.Hour }, "", []string{"opcua[0].backfill.max_gap: set, but"}},
		{"ack without events, rules, token", func(c *Config) { c.Alarms.Ack = true }, "short", []string{"alarms.ack: no [[opcua]]", "alarms.rules: no rule", "alarms.ack: needs GL001_ACK_TOKEN"}},
		{"ack in the central role", func(c *Config) {
			c.OPCUA, c.Forward.Role, c.Forward.NATSURL = nil, "central", "nats://127.0.0.1:4222"
			c.Alarms = AlarmsConfig{Ack: true, Rules: []AlarmRuleConfig{{}}}
		}, testAckToken, []string{"alarms.ack: acknowledgements go to the connector"}},
		{"bad rule pattern", func(c *Config) { c.Alarms.Rules = []AlarmRuleConfig{{Conditions: []string{"["}}} }, "", []string{"alarms.rules[0]: pattern"}},
	}
	for _, c := range cases {
		cfg := base()
		c.mod(&cfg)
		err := cfg.Validate(env(c.token))
		if err == nil {
			t.Errorf("%s: no error", c.name)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: %v\nlacks %q", c.name, err, w)
			}
		}
		var fe *FieldError
		if !errors.As(err, &fe) {
			t.Errorf("%s: not a FieldError: %v", c.name, err)
		}
		if strings.Contains(err.Error(), testAckToken) {
			t.Errorf("%s: the token appears in the error", c.name)
		}
	}
	// A valid one.
	cfg := base()
	alarmsOn(&cfg)
	cfg.OPCUA[0].Events = OPCUAEventsConfig{Enabled: true, Objects: []string{"i=2253"}, Types: []string{"i=2915"}, MinSeverity: 200,
		Fields: []OPCUAEventFieldConfig{{Name: "limit", Type: "i=9341", Path: "HighLimit"}}}
	cfg.OPCUA[0].Backfill = OPCUABackfillConfig{Enabled: true, MaxGap: time.Hour}
	if err := cfg.Validate(env(testAckToken)); err != nil {
		t.Fatalf("valid config: %v", err)
	}
	oc, err := opcuaSourceConfig(cfg.OPCUA[0], env(""), nil, &bufferRef{})
	if err != nil || oc.Events == nil || oc.Events.MinSeverity != 200 || oc.Events.Sink == nil || len(oc.Events.Fields) != 1 ||
		!oc.Backfill.Enabled || oc.Backfill.MaxGap != time.Hour || oc.Backfill.Last == nil {
		t.Fatalf("opcua config %+v %v", oc, err)
	}
	if !oc.Backfill.Last("t").IsZero() {
		t.Error("an empty buffer has a last point")
	}
}

// grepLines returns the lines of b that contain any of subs.
func grepLines(b []byte, subs ...string) string {
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		for _, s := range subs {
			if strings.Contains(l, s) {
				out = append(out, l)
				break
			}
		}
	}
	return strings.Join(out, "\n")
}

// Backfill after a restart starts where the edge buffer ends, per tag:
// the newest point that is not Bad within max_gap.
func TestBufferRefLastPoint(t *testing.T) {
	buf, err := buffer.NewMemory(buffer.MemoryConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer buf.Close()
	now := time.Now().UTC().Truncate(time.Millisecond)
	if _, err := buf.Append(context.Background(), []scada.Point{
		{Tag: "a", Value: 1, Quality: scada.Good, Time: now.Add(-3 * time.Minute)},
		{Tag: "a", Value: 2, Quality: scada.Good, Time: now.Add(-2 * time.Minute)},
		{Tag: "a", Quality: scada.BadNoCommunication, Time: now.Add(-time.Minute)},
		{Tag: "b", Value: 3, Quality: scada.Good, Time: now.Add(-2 * time.Hour)},
	}); err != nil {
		t.Fatal(err)
	}
	ref := &bufferRef{buf: buf}
	if got := ref.lastPoint("a", time.Hour); !got.Equal(now.Add(-2 * time.Minute)) {
		t.Errorf("a: %v, want %v", got, now.Add(-2*time.Minute))
	}
	if got := ref.lastPoint("b", time.Hour); !got.IsZero() {
		t.Errorf("b, older than max_gap: %v", got)
	}
	if got := ref.lastPoint("c", time.Hour); !got.IsZero() {
		t.Errorf("c: %v", got)
	}
}
