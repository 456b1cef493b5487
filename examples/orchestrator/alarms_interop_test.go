//go:build interop

package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/greenlang/gl001/internal/nodeopcua"
	"github.com/greenlang/gl001/scada"
	"github.com/greenlang/gl001/scada/guard/guardtest"
	"github.com/greenlang/gl001/scada/opcua"
)

// The alarms part of the interop tier (.ci/interop/alarms.sh): the
// orchestrator, configured through its TOML sections, against the
// node-opcua server of .ci/interop/opcua_server.mjs, which raises an
// exclusive limit alarm (FlueTempHigh, active from the start) and an
// off-normal alarm (FlameFailure). gopcua's in-process server has no
// alarms, so this is where the real acknowledge and confirm calls are
// proven. A missing node or node-opcua is a failure here, never a skip.

const (
	alarmsUser     = "operator"
	alarmsPassword = "Alarms-Interop-Pa55!"
)

// writeAppCert writes a self-signed OPC UA application instance
// certificate (the application URI in the SAN) and its key, PEM.
func writeAppCert(t *testing.T, dir, name, appURI string) (certFile, keyFile string) {
	t.Helper()
	return nodeopcua.WriteCert(t, dir, name, appURI)
}

// startAlarmServer starts the node-opcua interop server and returns its
// endpoint and certificate.
func startAlarmServer(t *testing.T) (endpoint, serverCert string) {
	t.Helper()
	dir := t.TempDir()
	certFile, keyFile := writeAppCert(t, dir, "server", "urn:gl001:interop:server")
	s := nodeopcua.Start(t, nodeopcua.Options{Interop: "../../.ci/interop", Tier: ".ci/interop/alarms.sh",
		CertFile: certFile, KeyFile: keyFile, PKI: filepath.Join(dir, "pki"), User: alarmsUser, Password: alarmsPassword})
	return s.Endpoint, certFile
}

// TestAlarmsInteropNodeOPCUA runs the orchestrator (role all: the events
// travel the edge buffer, JetStream and the central buffer) with an
// [[opcua]] section whose [opcua.events] watches the node-opcua server:
// ConditionRefresh shows the limit alarm active and unacknowledged in
// /healthz; POST /alarms/ack acknowledges it through the guard, the server
// reports the acknowledged state and /healthz shows it; a requester no
// rule allows is refused; confirm is accepted, and the server's Retain
// false event takes the condition out of the table. No secret reaches the
// logs.
func TestAlarmsInteropNodeOPCUA(t *testing.T) {
	endpoint, serverCert := startAlarmServer(t)
	clientCert, clientKey := writeAppCert(t, t.TempDir(), "client", "urn:gl001:interop:client")
	toml := fmt.Sprintf(`
[orchestrator]
id = "GL-001"
summary_interval = "-1s"
log_level = "info"

[http]
listen = "127.0.0.1:0"

[[opcua]]
name = "node-opcua"
endpoint = %q
security_policy = "Basic256Sha256"
security_mode = "Sign"
auth = "username"
username = %q
sampling_interval = "100ms"

  [[opcua.tags]]
  name = "boiler1.steam_temp"
  node_id = "ns=1;s=Boiler1.SteamTemp"

  [opcua.events]
  enabled = true
  types = ["i=2915"]      # AlarmConditionType and its subtypes
  min_severity = 1

    [[opcua.events.fields]]
    name = "high_limit"
    type = "i=9341"
    path = "HighLimit"

[alarms]
ack = true

  [[alarms.rules]]
  requesters = ["operator-*"]
  conditions = ["ns=1;s=Boiler1.*", "FlueTemp*"]
`, endpoint, alarmsUser)
	cfg, err := ParseConfig(toml)
	if err != nil {
		t.Fatal(err)
	}
	secrets := map[string]string{
		"SCADA_CERT_PATH": clientCert, "SCADA_KEY_PATH": clientKey, "SCADA_CA_PATH": serverCert,
		"SCADA_PASSWORD": alarmsPassword, envAckToken: testAckToken,
	}
	logs := &syncBuffer{}
	opts := Options{
		Getenv: func(k string) string { return secrets[k] },
		Logger: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo})),
	}
	r := runInstance(t, cfg, opts)

	flue := func(h Health) (AlarmInfo, bool) {
		for _, a := range h.Alarms.List {
			if a.Name == "FlueTempHigh" {
				return a, true
			}
		}
		return AlarmInfo{}, false
	}
	h := waitHealth(t, r, "the limit and off-normal alarms active, from ConditionRefresh, over JetStream", func(h Health) bool {
		a, ok := flue(h)
		return ok && a.Active && !a.Acknowledged && h.Alarms.Active >= 2 && h.Alarms.Relay != nil && h.Alarms.Relay.Events > 0 &&
			len(h.Alarms.Sources) == 1 && h.Alarms.Sources[0].ConditionRefreshes > 0
	})
	a, _ := flue(h)
	if a.Source != "node-opcua" || a.Severity == 0 || a.Condition == "" || a.EventID == "" || a.SourceNode != "ns=1;s=Boiler1.FlueTemp" {
		t.Errorf("limit alarm %+v", a)
	}
	if a.Fields["high_limit"] != 450.0 {
		t.Errorf("the selected field high_limit = %v, want 450", a.Fields["high_limit"])
	}
	if s := h.Alarms.Sources[0]; s.Source != "node-opcua" || s.Events == 0 || s.BadEvents != 0 {
		t.Errorf("event counters of the connector %+v", s)
	}
	_, metrics := get(t, "http://"+r.addr+"/metrics")
	if !bytes.Contains(metrics, []byte(fmt.Sprintf("gl001_alarms_active %d\n", h.Alarms.Active))) {
		t.Errorf("metrics:\n%s", grepLines(metrics, "gl001_alarms"))
	}

	req := ackRequest{Requester: "operator-7", Source: "node-opcua", Condition: a.Condition, Branch: a.Branch, Comment: "flue damper checked"}
	if code, ar := postAck(t, r.addr, testAckToken, req); code != http.StatusOK || ar.Result != "accepted" {
		t.Fatalf("acknowledge: %d %+v", code, ar)
	}
	h = waitHealth(t, r, "the limit alarm acknowledged", func(h Health) bool {
		a, ok := flue(h)
		return ok && a.Acknowledged && a.Active
	})
	a, _ = flue(h)
	if a.Condition != req.Condition || a.Confirmed {
		t.Errorf("after the acknowledgement: %+v", a)
	}
	// A requester no rule allows is refused by the guard, and audited.
	denied := req
	denied.Requester = "GL-042"
	if code, ar := postAck(t, r.addr, testAckToken, denied); code != http.StatusForbidden || ar.Result != "not_permitted" {
		t.Errorf("unpermitted requester: %d %+v", code, ar)
	}
	// Confirm, with the newest event id (the acknowledgement's event).
	req.Action, req.Comment, req.Branch = "confirm", "dealt with", a.Branch
	if code, ar := postAck(t, r.addr, testAckToken, req); code != http.StatusOK || ar.Result != "accepted" {
		t.Fatalf("confirm: %d %+v", code, ar)
	}
	// node-opcua reports the acknowledged and confirmed state with Retain
	// false, even while the limit is still exceeded: the condition leaves
	// the table. The off-normal alarm, never acknowledged, stays.
	h = waitHealth(t, r, "the confirmed limit alarm gone from the table", func(h Health) bool {
		_, ok := flue(h)
		return !ok && len(h.Alarms.List) > 0
	})
	if ak := h.Alarms.Acks; ak == nil || ak.ByResult["accepted"] != 2 || ak.ByResult["not_permitted"] != 1 || len(ak.Recent) != 3 ||
		ak.Recent[0].Action != "confirm" || ak.Recent[0].Comment != "dealt with" {
		t.Errorf("acks %+v", h.Alarms.Acks)
	}
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{alarmsPassword, testAckToken} {
		if strings.Contains(logs.String(), secret) || strings.Contains(r.out.String(), secret) {
			t.Error("a secret appears in the logs")
		}
	}
	if !strings.Contains(logs.String(), `"result":"accepted"`) {
		t.Error("no audit record of the accepted acknowledgement in the log")
	}
}

// TestAlarmsInteropGuardSuite runs scada/guard/guardtest's acknowledge
// suite against node-opcua's limit alarm through an opcua.Source: the
// guard's refusals reach nothing, the accepted acknowledge and confirm are
// reported back by the server, and a stale event id is refused by it.
func TestAlarmsInteropGuardSuite(t *testing.T) {
	endpoint, serverCert := startAlarmServer(t)
	clientCert, clientKey := writeAppCert(t, t.TempDir(), "client", "urn:gl001:interop:client")
	var mu sync.Mutex
	var latest scada.Event
	var seen bool
	src, err := opcua.New(opcua.Config{
		Name: "node-opcua", Endpoint: endpoint,
		SecurityPolicy: opcua.PolicyBasic256Sha256, SecurityMode: opcua.ModeSign,
		CertFile: clientCert, KeyFile: clientKey, CAFile: serverCert,
		Auth: opcua.AuthUsername, Username: alarmsUser, Password: alarmsPassword,
		SamplingInterval: 100 * time.Millisecond,
		Tags:             []opcua.Tag{{Name: "steam_temp", NodeID: "ns=1;s=Boiler1.SteamTemp"}},
		Events: &opcua.EventConfig{Types: []string{"i=2915"}, Sink: scada.EventSinkFunc(func(_ context.Context, b []scada.Event) error {
			mu.Lock()
			defer mu.Unlock()
			for _, ev := range b {
				if ev.Condition != nil && ev.Condition.Name == "FlueTempHigh" {
					latest, seen = ev, true
				}
			}
			return nil
		})},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- src.Run(ctx, scada.SinkFunc(func(context.Context, []scada.Point) error { return nil }))
	}()
	defer func() {
		cancel()
		<-done
		_ = src.Close()
	}()
	guardtest.RunAcks(t, guardtest.AckDevice{
		Acker: src, Condition: "FlueTempHigh",
		Latest: func() (scada.Event, bool) {
			mu.Lock()
			defer mu.Unlock()
			return latest, seen
		},
		Secrets: []string{alarmsPassword},
	})
}
