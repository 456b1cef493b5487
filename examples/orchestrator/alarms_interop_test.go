//go:build interop

package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

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
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	uri, err := url.Parse(appURI)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: name, Organization: []string{"GreenLang GL-001 interop"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment | x509.KeyUsageKeyEncipherment | x509.KeyUsageDataEncipherment | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
		URIs:                  []*url.URL{uri},
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, name+".pem"), filepath.Join(dir, name+".key")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// startAlarmServer starts the node-opcua interop server and returns its
// endpoint and certificate.
func startAlarmServer(t *testing.T) (endpoint, serverCert string) {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("interop peer missing: node is not installed (run .ci/interop/alarms.sh): %v", err)
	}
	interop, err := filepath.Abs("../../.ci/interop")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(interop, "node_modules", "node-opcua", "package.json")); err != nil {
		t.Fatalf("interop peer missing: node-opcua is not installed in %s (run .ci/interop/alarms.sh): %v", interop, err)
	}
	dir := t.TempDir()
	certFile, keyFile := writeAppCert(t, dir, "server", "urn:gl001:interop:server")
	cmd := exec.Command(node, filepath.Join(interop, "opcua_server.mjs"), certFile, keyFile, filepath.Join(dir, "pki"), alarmsUser, alarmsPassword)
	cmd.Dir = interop
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	t.Cleanup(func() {
		once.Do(func() {
			stdin.Close() // the script shuts down when its stdin ends
			done := make(chan struct{})
			go func() { _ = cmd.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(15 * time.Second):
				_ = cmd.Process.Kill()
				<-done
			}
		})
	})
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if ep, ok := strings.CutPrefix(sc.Text(), "READY "); ok {
				ready <- ep
			}
		}
		close(ready)
	}()
	select {
	case ep, ok := <-ready:
		if !ok {
			t.Fatal("node-opcua server exited before it was ready")
		}
		return ep, certFile
	case <-time.After(180 * time.Second):
		t.Fatal("node-opcua server did not start")
	}
	return "", ""
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
