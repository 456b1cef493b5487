package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/greenlang/gl001/scada/modbus"
)

// env is a fake environment for Validate.
func env(kv map[string]string) func(string) string {
	return func(k string) string { return kv[k] }
}

var allSecrets = map[string]string{
	"SAP_CLIENT_SECRET":      "sap-secret-value",
	"ORACLE_CLIENT_SECRET":   "oracle-secret-value",
	"DYNAMICS_CLIENT_SECRET": "dynamics-secret-value",
	"WORKDAY_API_KEY":        "workday-key-value",
	"WORKDAY_PASSWORD":       "workday-password-value",
	"AGENT_JWT_SECRET":       "0123456789abcdef0123456789abcdef",
	"SCADA_CERT_PATH":        "/etc/gl001/client.pem",
	"SCADA_KEY_PATH":         "/etc/gl001/client.key",
	"SCADA_CA_PATH":          "/etc/gl001/ca.pem",
	"SCADA_PASSWORD":         "opcua-password-value",
}

func TestSampleConfigParsesAndValidates(t *testing.T) {
	cfg, err := LoadConfig("orchestrator.sample.toml")
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(env(allSecrets)); err != nil {
		t.Fatalf("the sample does not validate:\n%v", err)
	}
	// A few values travel all the way to the connector configurations.
	if got := len(cfg.OPCUA) + len(cfg.Modbus) + len(cfg.MQTT); got != 3 {
		t.Errorf("SCADA sections = %d, want 3", got)
	}
	if len(cfg.ERP) != 4 {
		t.Errorf("ERP sections = %d, want 4", len(cfg.ERP))
	}
	tag := cfg.Modbus[0].Devices[0].Tags[0]
	if tag.Type != modbus.Float32 || tag.Order != modbus.CDAB || tag.Table != modbus.InputRegister {
		t.Errorf("modbus tag decoded as %v %v %v, want float32 CDAB input", tag.Type, tag.Order, tag.Table)
	}
	if e := cfg.OPCUA[0].Events; !e.Enabled || e.MinSeverity != 200 || len(e.Types) != 1 || len(e.Fields) != 1 || e.Fields[0].Path != "HighLimit" ||
		!cfg.OPCUA[0].Backfill.Enabled || cfg.OPCUA[0].Backfill.MaxGap != 6*time.Hour {
		t.Errorf("opcua events and backfill decoded as %+v %+v", e, cfg.OPCUA[0].Backfill)
	}
	if len(cfg.Alarms.Rules) != 1 || cfg.Alarms.Rules[0].Conditions[0] != "ns=2;s=Boiler1.*" {
		t.Errorf("alarms decoded as %+v", cfg.Alarms)
	}
	if cfg.Coordination.Timeout != 2*time.Second || cfg.Agents.HeartbeatInterval != 30*time.Second {
		t.Errorf("durations decoded as %v and %v", cfg.Coordination.Timeout, cfg.Agents.HeartbeatInterval)
	}
	if got := cfg.Transform.Calibration["furnace1.zone1_temp"].Factor; got != 1.02 {
		t.Errorf("calibration factor = %v, want 1.02", got)
	}
	if got := cfg.Transform.Limits["boiler1.steam_temp"].Operating; got != [2]float64{450, 510} {
		t.Errorf("operating limits = %v", got)
	}
}

func TestSampleConfigNamesMissingSecrets(t *testing.T) {
	cfg, err := LoadConfig("orchestrator.sample.toml")
	if err != nil {
		t.Fatal(err)
	}
	err = cfg.Validate(env(nil))
	for _, want := range []string{"SAP_CLIENT_SECRET", "ORACLE_CLIENT_SECRET", "DYNAMICS_CLIENT_SECRET", "WORKDAY_API_KEY", "WORKDAY_PASSWORD", "AGENT_JWT_SECRET", "SCADA_CERT_PATH"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error does not name %s:\n%v", want, err)
		}
	}
}

// minimal is the smallest valid configuration; each case below breaks it.
const minimal = `
[[modbus]]
name = "m"
address = "127.0.0.1:502"
  [[modbus.devices]]
  unit_id = 1
    [[modbus.devices.tags]]
    name = "t"
    type = "float32"
`

func TestMinimalConfigIsValid(t *testing.T) {
	cfg, err := ParseConfig(minimal)
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(env(nil)); err != nil {
		t.Fatal(err)
	}
	if cfg.HTTP.Listen != "127.0.0.1:8080" || cfg.Buffer.Kind != "memory" || cfg.Coordination.Command != "optimize_heat_distribution" {
		t.Errorf("defaults not filled: %+v", cfg)
	}
}

func TestBadConfigNamesTheField(t *testing.T) {
	cases := []struct {
		name string
		text string
		env  map[string]string
		want []string // every substring must appear in the error
	}{
		{"unknown key", minimal + "\n[http]\nlisen = \"127.0.0.1:1\"\n", nil, []string{"line 12: http.lisen: unknown key"}},
		{"unknown nested key", strings.Replace(minimal, `type = "float32"`, "type = \"float32\"\nwordorder = \"CDAB\"", 1), nil, []string{"line 10: modbus.devices.tags.wordorder: unknown key"}},
		{"unknown quoted key", minimal + "\n[transform.limits.\"a.b\"]\nunit = \"°C\"\nrnage = [0.0, 1.0]\n", nil, []string{`line 13: transform.limits."a.b".rnage: unknown key`}},
		{"wrong type", minimal + "\n[http]\nlisten = 8080\n", nil, []string{"http.listen", "incompatible types"}},
		{"bad duration", minimal + "\n[coordination]\ninterval = \"soon\"\n", nil, []string{"coordination.interval", "invalid duration"}},
		{"bad enum", strings.Replace(minimal, `"float32"`, `"float33"`, 1), nil, []string{"modbus.devices.tags.type", "float33"}},
		{"syntax", "[http\n", nil, []string{"line"}},
		{"disk buffer without dir", minimal + "\n[buffer]\nkind = \"disk\"\n", nil, []string{"buffer.dir: required"}},
		{"public listener", minimal + "\n[http]\nlisten = \"0.0.0.0:8080\"\n", nil, []string{"http.listen", "not a loopback address"}},
		{"modbus register map", strings.Replace(minimal, `name = "t"`, "name = \"t\"\naddress = 65535", 1), nil, []string{"modbus[0]"}},
		{"no connector", "[http]\nlisten = \"127.0.0.1:1\"\n", nil, []string{"no SCADA connector"}},
		{"duplicate names", minimal + `
[[mqtt]]
name = "m"
broker = "mqtt://127.0.0.1:1883"
client_id = "c"
  [[mqtt.subscriptions]]
  topic = "a/b"
`, nil, []string{"mqtt[0].name", `"m" is already the name of modbus[0].name`}},
		{"mqtt decoder", minimal + `
[[mqtt]]
name = "q"
broker = "mqtt://127.0.0.1:1883"
client_id = "c"
  [[mqtt.subscriptions]]
  topic = "a/b"
  decoder = "xml"
`, nil, []string{"mqtt[0].subscriptions[0].decoder", `"xml"`}},
		{"opcua without security", minimal + `
[[opcua]]
name = "o"
endpoint = "opc.tcp://127.0.0.1:4840"
  [[opcua.tags]]
  name = "x"
  node_id = "ns=2;s=X"
`, nil, []string{"opcua[0]", "ecurity"}},
		{"erp kind", minimal + "\n[[erp]]\nname = \"e\"\nkind = \"navision\"\n", nil, []string{"erp[0].kind", `"navision"`}},
		{"erp plain http", minimal + `
[[erp]]
name = "e"
kind = "sap"
base_url = "http://sap.example.com"
token_url = "https://login.example.com/token"
client_id = "c"
`, map[string]string{"SAP_CLIENT_SECRET": "sap-secret-value"}, []string{"erp[0].base_url", "not an https URL"}},
		{"erp secret missing", minimal + `
[[erp]]
name = "e"
kind = "dynamics"
base_url = "https://org.crm.dynamics.com"
token_url = "https://login.example.com/token"
client_id = "c"
`, nil, []string{"erp[0]", "DYNAMICS_CLIENT_SECRET, which is not set"}},
		{"workday orders", minimal + `
[[erp]]
name = "w"
kind = "workday"
base_url = "https://wd2.workday.com"
tenant = "t"
fetch = ["production"]
`, nil, []string{"erp[0].fetch[0]", "workday has no production data"}},
		{"nats url", minimal + "\n[agents]\nbus = \"nats\"\nnats_url = \"http://x\"\n", nil, []string{"agents.nats_url"}},
		{"short jwt key", minimal + "\n[agents]\nsign = true\n", map[string]string{"AGENT_JWT_SECRET": "short-key-value"}, []string{"agents.sign", "AGENT_JWT_SECRET of at least 32 bytes"}},
		{"timeout above interval", minimal + "\n[coordination]\ninterval = \"1s\"\ntimeout = \"2s\"\n", nil, []string{"coordination.timeout"}},
		{"aggregation", minimal + "\n[coordination]\naggregation = \"mean\"\n", nil, []string{"coordination.aggregation", `"mean"`}},
		{"forward role", minimal + "\n[forward]\nrole = \"hub\"\n", nil, []string{"forward.role", `"hub"`}},
		{"edge without nats", minimal + "\n[forward]\nrole = \"edge\"\n", nil, []string{"forward.nats_url: required for the edge role"}},
		{"forward url", minimal + "\n[forward]\nrole = \"edge\"\nnats_url = \"http://x\"\n", nil, []string{"forward.nats_url", "nats:// or tls://"}},
		{"forward url password", minimal + "\n[forward]\nrole = \"edge\"\nnats_url = \"nats://u:hunter2secret@x:4222\"\n", map[string]string{"X": "hunter2secret"}, []string{"forward.nats_url", "use creds_file"}},
		{"forward tls without url", minimal + "\n[forward]\nca_file = \"/etc/ca.pem\"\n", nil, []string{"need a nats_url"}},
		{"forward cert without key", minimal + "\n[forward]\nrole = \"edge\"\nnats_url = \"tls://x:4222\"\ncert_file = \"/c.pem\"\n", nil, []string{"forward.cert_file", "go together"}},
		{"forward stream", minimal + "\n[forward]\nstream = \"a.b\"\n", nil, []string{"forward: invalid stream"}},
		{"forward site", minimal + "\n[forward]\nsite = \"a.b\"\n", nil, []string{"forward.site"}},
		{"central with connectors", minimal + "\n[forward]\nrole = \"central\"\nnats_url = \"nats://x:4222\"\n", nil, []string{"central role reads its points from JetStream"}},
		{"edge with erp", minimal + `
[[erp]]
name = "e"
kind = "sap"
base_url = "https://sap.example.com"
token_url = "https://login.example.com/token"
client_id = "c"
[forward]
role = "edge"
nats_url = "nats://x:4222"
`, map[string]string{"SAP_CLIENT_SECRET": "sap-secret-value"}, []string{"erp", "polled by the central role"}},
		{"historian password in dsn", minimal + "\n[historian]\ndsn = \"postgres://h:pg-Secret-9@db.example/plant?sslmode=verify-full\"\n", map[string]string{"X": "pg-Secret-9"}, []string{"historian.dsn", "holds a password"}},
		{"historian password keyword", minimal + "\n[historian]\ndsn = \"host=db.example password=pg-Secret-9 sslmode=verify-full\"\n", map[string]string{"X": "pg-Secret-9"}, []string{"historian.dsn", "holds a password"}},
		{"historian plain text", minimal + "\n[historian]\ndsn = \"host=db.example user=h dbname=plant sslmode=require\"\n", nil, []string{"historian", "verify-full"}},
		{"historian retention", minimal + "\n[historian]\ndsn = \"host=127.0.0.1 user=h dbname=plant sslmode=disable\"\nretention = \"1h\"\n", nil, []string{"historian.retention", "at least 24h"}},
		{"historian without dsn", minimal + "\n[historian]\nschema = \"h\"\n", nil, []string{"historian", "set dsn or from_env"}},
		{"historian meter", minimal + "\n[historian]\nfrom_env = true\n[[historian.meters]]\ntag = \"m\"\n", nil, []string{"historian.meters[0]", "plant are required"}},
		{"writes unsigned", minimal + "\n[writes]\nenabled = true\n[writes.tags.t]\nsource = \"m\"\nmin = 0.0\nmax = 1.0\n[[writes.rules]]\nrequesters = [\"GL-0*\"]\n", nil, []string{"writes.enabled", "agents.sign"}},
		{"writes source", minimal + "\n[writes]\nenabled = true\n[writes.tags.t]\nsource = \"plc9\"\nmin = 0.0\nmax = 1.0\n", nil, []string{"writes.tags.t.source", `"plc9"`, "writes.rules", "nobody may write"}},
		{"writes range", minimal + "\n[writes]\nenabled = true\n[writes.tags.t]\nsource = \"m\"\nmin = 5.0\nmax = 1.0\nmax_step = -1.0\n", nil, []string{"writes.tags.t", "not a range", "must not be negative"}},
		{"writes central", minimal + "\n[forward]\nrole = \"edge\"\nnats_url = \"nats://x:4222\"\n[writes]\nenabled = true\n", nil, []string{"writes need the role all"}},
		{"bus timeout env", minimal, map[string]string{"MESSAGE_BUS_TIMEOUT": "soon"}, []string{"MESSAGE_BUS_TIMEOUT", `"soon"`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := ParseConfig(c.text)
			if err == nil {
				err = cfg.Validate(env(c.env))
			}
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not say %q:\n%v", w, err)
				}
			}
			for k, v := range c.env {
				if k != envBusTimeout && strings.Contains(err.Error(), v) {
					t.Errorf("error shows a secret: %v", err)
				}
			}
		})
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	cfg, err := ParseConfig(minimal + "\n[buffer]\nkind = \"tape\"\n[coordination]\naggregation = \"mean\"\n")
	if err != nil {
		t.Fatal(err)
	}
	err = cfg.Validate(env(nil))
	var fe *FieldError
	if !errors.As(err, &fe) {
		t.Fatalf("not a *FieldError: %v", err)
	}
	for _, w := range []string{"buffer.kind", "coordination.aggregation"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("missing %s in %v", w, err)
		}
	}
}

// A bad configuration stops the program before anything starts: the error
// comes back and the status page's port was never opened.
func TestMainRejectsBadConfigBeforeStarting(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bad.toml")
	if err := os.WriteFile(path, []byte(minimal+"\n[coordination]\naggregation = \"mean\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	err := mainErr([]string{"-config", path, "-http", "127.0.0.1:0"}, &stdout, &stderr)
	if err == nil || !strings.Contains(err.Error(), "coordination.aggregation") {
		t.Fatalf("err = %v", err)
	}
	if strings.Contains(stdout.String(), "status page") {
		t.Errorf("the orchestrator started: %s", stdout.String())
	}
}

// sampleWithFiles writes the sample configuration, with its CA file and
// the certificate paths of the environment pointing at files that exist,
// and sets the environment; missing names a file to leave out.
func sampleWithFiles(t *testing.T, missing string) string {
	t.Helper()
	dir := t.TempDir()
	for k, v := range allSecrets {
		t.Setenv(k, v)
	}
	files := map[string]string{"SCADA_CERT_PATH": "client.pem", "SCADA_KEY_PATH": "client.key", "SCADA_CA_PATH": "ca.pem", "ca_file": "plant-ca.pem"}
	for env, name := range files {
		path := filepath.Join(dir, name)
		if env != missing {
			if err := os.WriteFile(path, []byte("-----BEGIN CERTIFICATE-----\n"), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		if env != "ca_file" {
			t.Setenv(env, path)
		}
	}
	sample, err := os.ReadFile("orchestrator.sample.toml")
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Replace(string(sample), `"/etc/gl001/plant-ca.pem"`, strconv.Quote(filepath.Join(dir, "plant-ca.pem")), 1)
	path := filepath.Join(dir, "plant.toml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestMainCheckAcceptsTheSample(t *testing.T) {
	path := sampleWithFiles(t, "")
	var stdout, stderr bytes.Buffer
	if err := mainErr([]string{"-config", path, "-check"}, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stdout.String(), "configuration ok") {
		t.Errorf("stdout = %q", stdout.String())
	}
}

// -check fails on a certificate, key or CA file that does not exist, naming
// the field and the path.
// The edge and central samples pass -check as they are (the central one
// with its secrets set).
func TestMainCheckAcceptsTheRoleSamples(t *testing.T) {
	t.Setenv("SAP_CLIENT_SECRET", "sap-secret-value")
	t.Setenv("AGENT_JWT_SECRET", "0123456789abcdef0123456789abcdef")
	for file, role := range map[string]string{"edge.sample.toml": "edge", "central.sample.toml": "central"} {
		var stdout, stderr bytes.Buffer
		if err := mainErr([]string{"-config", file, "-check"}, &stdout, &stderr); err != nil {
			t.Errorf("%s: %v", file, err)
		}
		if !strings.Contains(stdout.String(), "configuration ok") {
			t.Errorf("%s: stdout = %q", file, stdout.String())
		}
		cfg, err := LoadConfig(file)
		if err != nil || cfg.Forward.Role != role || cfg.Forward.NATSURL == "" {
			t.Errorf("%s: role %q, nats_url %q, err %v", file, cfg.Forward.Role, cfg.Forward.NATSURL, err)
		}
	}
}

// -check reads the [forward] section's credentials and TLS files.
func TestMainCheckRefusesMissingForwardFiles(t *testing.T) {
	text := minimal + "\n[forward]\nrole = \"edge\"\nnats_url = \"tls://127.0.0.1:4222\"\ncreds_file = \"/nonexistent/edge.creds\"\n"
	path := filepath.Join(t.TempDir(), "edge.toml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	err := mainErr([]string{"-config", path, "-check"}, &stdout, &stderr)
	if err == nil || !strings.Contains(err.Error(), "forward.creds_file: cannot read /nonexistent/edge.creds") {
		t.Fatalf("err = %v", err)
	}
}

func TestMainCheckRefusesMissingFiles(t *testing.T) {
	for _, c := range []struct{ missing, want string }{
		{"SCADA_KEY_PATH", "opcua[0] (SCADA_KEY_PATH): cannot read"},
		{"SCADA_CA_PATH", "opcua[0] (SCADA_CA_PATH): cannot read"},
		{"ca_file", "mqtt[0].ca_file: cannot read"},
	} {
		t.Run(c.missing, func(t *testing.T) {
			path := sampleWithFiles(t, c.missing)
			var stdout, stderr bytes.Buffer
			err := mainErr([]string{"-config", path, "-check"}, &stdout, &stderr)
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "no such file") {
				t.Fatalf("err = %v, want %q", err, c.want)
			}
			if strings.Contains(stdout.String(), "configuration ok") {
				t.Errorf("stdout = %q", stdout.String())
			}
		})
	}
}

// The command line: -h is not an error, a bad flag is explained once (by
// the flag package, with the usage), and a duration without a unit gets a
// hint.
func TestMainFlags(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if err := mainErr([]string{"-h"}, &stdout, &stderr); err != nil {
		t.Errorf("-h: %v", err)
	}
	if !strings.Contains(stderr.String(), "-duration") || strings.Contains(stderr.String(), "help requested") {
		t.Errorf("-h printed:\n%s", stderr.String())
	}

	stderr.Reset()
	err := mainErr([]string{"-bogus"}, &stdout, &stderr)
	if !errors.Is(err, errUsage) {
		t.Errorf("-bogus: err = %v, want errUsage (already explained)", err)
	}
	if n := strings.Count(stderr.String(), "-bogus"); n != 1 {
		t.Errorf("-bogus named %d times:\n%s", n, stderr.String())
	}

	stderr.Reset()
	err = mainErr([]string{"-duration", "5"}, &stdout, &stderr)
	if !errors.Is(err, errUsage) || !strings.Contains(stderr.String(), "did you mean 5s?") {
		t.Errorf("-duration 5: err = %v, stderr:\n%s", err, stderr.String())
	}
}

// README's first command, in-process and shorter: the flags, the simulators
// and the summary.
func TestMainRunsTheSimulation(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if err := mainErr([]string{"-duration", "4s", "-agents", "3", "-http", "127.0.0.1:0"}, &stdout, &stderr); err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	for _, want := range []string{"status page http://127.0.0.1:", "── final GL-001 (embedded simulators)", "agents  3 registered", "drained:", "stopped after running"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, stdout.String())
		}
	}
}

// energy_plant_field is for SAP only, and must be a property name.
func TestEnergyPlantField(t *testing.T) {
	cfg, err := LoadConfig("orchestrator.sample.toml")
	if err != nil {
		t.Fatal(err)
	}
	for i := range cfg.ERP {
		switch cfg.ERP[i].Kind {
		case "sap":
			cfg.ERP[i].EnergyPlantField = "Plant,Other"
		case "oracle":
			cfg.ERP[i].EnergyPlantField = "plant"
		}
	}
	err = cfg.Validate(env(allSecrets))
	if err == nil || !strings.Contains(err.Error(), `energy_plant_field: "Plant,Other" is not an OData property name`) ||
		!strings.Contains(err.Error(), "energy_plant_field: only for sap") {
		t.Fatalf("Validate: %v", err)
	}
}
