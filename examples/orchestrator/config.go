package main

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/greenlang/gl001/coord"
	"github.com/greenlang/gl001/coord/jwtauth"
	fjs "github.com/greenlang/gl001/scada/forward/jetstream"
	"github.com/greenlang/gl001/scada/modbus"
)

// Config is the orchestrator's configuration file, in TOML. Every section and
// field is described in orchestrator.sample.toml. Secrets never appear in it:
// they come from the environment variables of README.md.
type Config struct {
	Orchestrator OrchestratorConfig `toml:"orchestrator"`
	HTTP         HTTPConfig         `toml:"http"`
	Buffer       BufferConfig       `toml:"buffer"`
	Transform    TransformConfig    `toml:"transform"`
	OPCUA        []OPCUAConfig      `toml:"opcua"`
	Modbus       []ModbusConfig     `toml:"modbus"`
	MQTT         []MQTTConfig       `toml:"mqtt"`
	ERP          []ERPConfig        `toml:"erp"`
	Agents       AgentsConfig       `toml:"agents"`
	Coordination CoordinationConfig `toml:"coordination"`
	Forward      ForwardConfig      `toml:"forward"`
	Historian    HistorianConfig    `toml:"historian"`
	Writes       WritesConfig       `toml:"writes"`
	Alarms       AlarmsConfig       `toml:"alarms"`
}

// ForwardConfig chooses the role of this process and the JetStream road
// between an edge and the central node.
type ForwardConfig struct {
	// Role is "all" (default: the edge and the central node in one
	// process, through JetStream), "edge" (collect, buffer, forward) or
	// "central" (consume from JetStream, coordinate).
	Role string `toml:"role"`
	// NATSURL is the JetStream server, nats:// or tls://. Required for edge
	// and central; with role all, empty starts an embedded server on
	// 127.0.0.1 with file storage in a temporary directory.
	NATSURL string `toml:"nats_url"`
	// CredsFile is a NATS credentials file (a user JWT and its NKey seed).
	CredsFile string `toml:"creds_file"`
	// CAFile trusts the server's certificate; CertFile and KeyFile are this
	// client's certificate for mutual TLS. Any of them makes the
	// connection require TLS.
	CAFile   string `toml:"ca_file"`
	CertFile string `toml:"cert_file"`
	KeyFile  string `toml:"key_file"`
	// Stream is the JetStream stream (default "GL001_POINTS"); Prefix the
	// first subject token (default "gl001"); points travel on
	// <prefix>.points.<site>.<source>.
	Stream string `toml:"stream"`
	Prefix string `toml:"prefix"`
	// EdgeID names this edge's log of points (default orchestrator.id);
	// Site its subject token (default the edge id). One edge per site.
	EdgeID string `toml:"edge_id"`
	Site   string `toml:"site"`
	// Replicas and MaxAge shape the stream when this process creates it
	// (default 1 and 7 days); an existing stream must match.
	Replicas int           `toml:"replicas"`
	MaxAge   time.Duration `toml:"max_age"`
	// Durable is the central node's consumer (default "gl001-central"):
	// a restarted central node goes on where it stopped.
	Durable string `toml:"durable"`
}

// OrchestratorConfig names this instance and paces its output.
type OrchestratorConfig struct {
	ID              string        `toml:"id"`               // sender id on the agent bus; default "GL-001"
	Plant           string        `toml:"plant"`            // plant code used in ERP queries; empty means every plant
	SummaryInterval time.Duration `toml:"summary_interval"` // live summary period; default 2s; negative disables
	LogLevel        string        `toml:"log_level"`        // debug, info, warn, error; default warn
}

// HTTPConfig is the operations listener.
type HTTPConfig struct {
	Listen  string `toml:"listen"`  // default "127.0.0.1:8080"; "off" disables
	Public  bool   `toml:"public"`  // allow a non-loopback address
	Refresh int    `toml:"refresh"` // status page refresh, seconds; default 2
}

// BufferConfig selects the store-and-forward buffer.
type BufferConfig struct {
	Kind     string        `toml:"kind"`      // "memory" (default) or "disk"
	Dir      string        `toml:"dir"`       // required for disk
	MaxAge   time.Duration `toml:"max_age"`   // default 24h
	MaxBytes int64         `toml:"max_bytes"` // default 256 MiB in memory, 10 GiB on disk
}

// TransformConfig configures the point pipeline.
type TransformConfig struct {
	Calibration map[string]CalibrationConfig `toml:"calibration"` // per tag
	Limits      map[string]LimitsConfig      `toml:"limits"`      // per tag
	Deadband    float64                      `toml:"deadband"`    // default 0: drop only repeats
	Stale       time.Duration                `toml:"stale"`       // default 15m
	Window      time.Duration                `toml:"window"`      // aggregation window sent to agents; default 1m
}

// CalibrationConfig is one tag's factor and offset.
type CalibrationConfig struct {
	Factor float64 `toml:"factor"`
	Offset float64 `toml:"offset"`
}

// LimitsConfig is one tag's validation limits.
type LimitsConfig struct {
	Unit      string     `toml:"unit"`
	Range     [2]float64 `toml:"range"`     // physical range [min, max]
	Operating [2]float64 `toml:"operating"` // operating range [min, max]
	MaxRate   float64    `toml:"max_rate"`  // per second
	FlatLine  int        `toml:"flat_line"`
}

// OPCUAConfig is one OPC UA server.
type OPCUAConfig struct {
	Name             string          `toml:"name"`
	Endpoint         string          `toml:"endpoint"`
	SecurityPolicy   string          `toml:"security_policy"`
	SecurityMode     string          `toml:"security_mode"`
	Auth             string          `toml:"auth"` // anonymous, username, certificate
	Username         string          `toml:"username"`
	PollInterval     time.Duration   `toml:"poll_interval"`
	SamplingInterval time.Duration   `toml:"sampling_interval"`
	Tags             []OPCUATagEntry `toml:"tags"`
	// Events subscribes to the server's events and alarms ([opcua.events]).
	Events OPCUAEventsConfig `toml:"events"`
	// Backfill fills an outage's gap from the server's history
	// ([opcua.backfill]).
	Backfill OPCUABackfillConfig `toml:"backfill"`
}

// OPCUATagEntry maps a node to a tag.
type OPCUATagEntry struct {
	Name   string `toml:"name"`
	NodeID string `toml:"node_id"`
	Unit   string `toml:"unit"`
	// Writable lets [writes] write the tag (the server must allow it too).
	Writable bool `toml:"writable"`
}

// ModbusConfig is one Modbus/TCP connection.
type ModbusConfig struct {
	Name    string         `toml:"name"`
	Address string         `toml:"address"`
	TLS     bool           `toml:"tls"`
	Timeout time.Duration  `toml:"timeout"`
	MaxGap  int            `toml:"max_gap"`
	Devices []ModbusDevice `toml:"devices"`
}

// ModbusDevice is one unit id behind a connection.
type ModbusDevice struct {
	UnitID       uint8             `toml:"unit_id"`
	PollInterval time.Duration     `toml:"poll_interval"`
	Tags         []ModbusTagConfig `toml:"tags"`
}

// ModbusTagConfig maps registers to a tag.
type ModbusTagConfig struct {
	Name    string       `toml:"name"`
	Table   modbus.Table `toml:"table"`
	Address int          `toml:"address"`
	Type    modbus.Type  `toml:"type"`
	Order   modbus.Order `toml:"order"`
	Scale   float64      `toml:"scale"`
	Offset  float64      `toml:"offset"`
	Unit    string       `toml:"unit"`
}

// MQTTConfig is one MQTT broker connection.
type MQTTConfig struct {
	Name          string                   `toml:"name"`
	Broker        string                   `toml:"broker"`
	ClientID      string                   `toml:"client_id"`
	Username      string                   `toml:"username"`
	CAFile        string                   `toml:"ca_file"`
	Subscriptions []MQTTSubscriptionConfig `toml:"subscriptions"`
}

// MQTTSubscriptionConfig is one topic filter.
type MQTTSubscriptionConfig struct {
	Topic   string `toml:"topic"`
	Tag     string `toml:"tag"`
	QoS     byte   `toml:"qos"`
	Unit    string `toml:"unit"`
	Decoder string `toml:"decoder"` // number (default), json, sparkplug
}

// ERPConfig is one business system.
type ERPConfig struct {
	Name           string   `toml:"name"`
	Kind           string   `toml:"kind"` // sap, oracle, dynamics, workday
	BaseURL        string   `toml:"base_url"`
	TokenURL       string   `toml:"token_url"`       // OAuth 2.0 token endpoint (sap, dynamics)
	IdentityDomain string   `toml:"identity_domain"` // oracle
	ClientID       string   `toml:"client_id"`
	Scopes         []string `toml:"scopes"`
	SAPClient      string   `toml:"sap_client"`
	Flavour        string   `toml:"flavour"`       // dynamics: webapi (default) or finance_operations
	Tenant         string   `toml:"tenant"`        // workday
	Plant          string   `toml:"plant"`         // restricts production and maintenance orders
	Username       string   `toml:"username"`      // workday: integration system user for Web Services
	EnergyReport   string   `toml:"energy_report"` // workday: custom report "<owner>/<name>" of utility invoice lines
	// EnergyPlantField (sap) is the property of the energy entity that
	// names the plant. SAP's standard measurement documents have none (they
	// name a measuring point), so without it SAP's energy carries no plant
	// and the historian cannot reconcile it with a plant's meters.
	EnergyPlantField  string        `toml:"energy_plant_field"`
	Fetch             []string      `toml:"fetch"` // energy, production, maintenance, costs
	Interval          time.Duration `toml:"interval"`
	RequestsPerMinute int           `toml:"requests_per_minute"`
	Timeout           time.Duration `toml:"timeout"`
}

// AgentsConfig is the agent bus.
type AgentsConfig struct {
	Bus               string        `toml:"bus"` // local (default) or nats
	NATSURL           string        `toml:"nats_url"`
	Sign              bool          `toml:"sign"`
	HeartbeatInterval time.Duration `toml:"heartbeat_interval"`
	Expect            int           `toml:"expect"`
}

// CoordinationConfig paces the coordination rounds.
type CoordinationConfig struct {
	Interval    time.Duration `toml:"interval"`
	Timeout     time.Duration `toml:"timeout"`
	Command     string        `toml:"command"`
	Aggregation string        `toml:"aggregation"`
	Field       string        `toml:"field"`
	Capability  string        `toml:"capability"`
	MaxParallel int           `toml:"max_parallel"`
}

// Environment variables the orchestrator reads (see README.md).
const (
	envBusTimeout = "MESSAGE_BUS_TIMEOUT"
)

// secretEnv is the environment variable holding each ERP kind's secret.
var secretEnv = map[string]string{
	"sap":      "SAP_CLIENT_SECRET",
	"oracle":   "ORACLE_CLIENT_SECRET",
	"dynamics": "DYNAMICS_CLIENT_SECRET",
	"workday":  "WORKDAY_API_KEY",
}

var recordKinds = []string{"energy", "production", "maintenance", "costs"}

// FieldError is a configuration problem: the field, as a path in the file,
// and what is wrong with it.
type FieldError struct {
	Field   string
	Problem string
	Err     error
}

func (e *FieldError) Error() string {
	if e.Err != nil {
		return e.Field + ": " + e.Problem + ": " + e.Err.Error()
	}
	return e.Field + ": " + e.Problem
}

func (e *FieldError) Unwrap() error { return e.Err }

type problems []error

func (p *problems) add(field, format string, args ...any) {
	*p = append(*p, &FieldError{Field: field, Problem: fmt.Sprintf(format, args...)})
}

func (p *problems) wrap(field, problem string, err error) {
	if err != nil {
		*p = append(*p, &FieldError{Field: field, Problem: problem, Err: err})
	}
}

// LoadConfig reads a TOML file strictly: a key the Config does not know is an
// error naming it. The result has its defaults filled in but is not validated.
func LoadConfig(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, err
	}
	return ParseConfig(string(data))
}

// ParseConfig is LoadConfig on the text of a file.
func ParseConfig(text string) (Config, error) {
	var cfg Config
	md, err := toml.Decode(text, &cfg)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			if pe.LastKey != "" {
				return Config{}, fmt.Errorf("config: line %d: %s: %s", pe.Position.Line, pe.LastKey, pe.Message)
			}
			return Config{}, fmt.Errorf("config: line %d: %s", pe.Position.Line, pe.Message)
		}
		return Config{}, fmt.Errorf("config: %w", err)
	}
	var errs problems
	for _, k := range md.Undecoded() {
		if line := keyLine(text, k); line > 0 {
			errs.add(fmt.Sprintf("line %d: %s", line, k.String()), "unknown key")
		} else {
			errs.add(k.String(), "unknown key")
		}
	}
	if len(errs) > 0 {
		return Config{}, fmt.Errorf("config: %w", errors.Join(errs...))
	}
	cfg.setDefaults()
	return cfg, nil
}

// keyLine returns the line of text where key is set or its table begins,
// or 0. The TOML library keeps key positions to itself, so this follows the
// file's table headers and "key =" lines; a key inside a multi-line value is
// not found.
func keyLine(text string, key toml.Key) int {
	var table []string
	for i, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		var path []string
		switch {
		case strings.HasPrefix(line, "[["):
			end := strings.Index(line, "]]")
			if end < 0 {
				continue
			}
			table = splitKey(line[2:end])
			path = table
		case line[0] == '[':
			end := strings.Index(line, "]")
			if end < 0 {
				continue
			}
			table = splitKey(line[1:end])
			path = table
		default:
			k, _, ok := strings.Cut(line, "=")
			if !ok {
				continue
			}
			path = append(slices.Clip(table), splitKey(k)...)
		}
		if slices.Equal(path, key) {
			return i + 1
		}
	}
	return 0
}

// splitKey splits a dotted TOML key into its parts, unquoting quoted ones.
func splitKey(s string) []string {
	var parts []string
	var cur strings.Builder
	quote := byte(0)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0 && c == quote:
			quote = 0
		case quote != 0:
			cur.WriteByte(c)
		case c == '"' || c == '\'':
			quote = c
		case c == '.':
			parts = append(parts, strings.TrimSpace(cur.String()))
			cur.Reset()
		case c == ' ' || c == '\t':
		default:
			cur.WriteByte(c)
		}
	}
	return append(parts, strings.TrimSpace(cur.String()))
}

// CheckFiles reports, joined, every certificate, key and CA file the
// configuration names (directly or through SCADA_CERT_PATH, SCADA_KEY_PATH
// and SCADA_CA_PATH) that cannot be read. Validate checks the shape of the
// configuration; this checks the machine it runs on, as -check does.
func (c *Config) CheckFiles(getenv func(string) string) error {
	var p problems
	file := func(field, path string) {
		if path == "" {
			return
		}
		f, err := os.Open(path)
		if err != nil {
			p.add(field, "cannot read %s: %v", path, errors.Unwrap(err))
			return
		}
		f.Close()
	}
	envFiles := func(field string) {
		for _, v := range []string{"SCADA_CERT_PATH", "SCADA_KEY_PATH", "SCADA_CA_PATH"} {
			file(field+" ("+v+")", getenv(v))
		}
	}
	for i, o := range c.OPCUA {
		if o.SecurityPolicy != "None" || o.Auth == "certificate" {
			envFiles(fmt.Sprintf("opcua[%d]", i))
		}
	}
	for i, m := range c.Modbus {
		if m.TLS {
			envFiles(fmt.Sprintf("modbus[%d].tls", i))
		}
	}
	for i, m := range c.MQTT {
		file(fmt.Sprintf("mqtt[%d].ca_file", i), m.CAFile)
	}
	file("forward.creds_file", c.Forward.CredsFile)
	file("forward.ca_file", c.Forward.CAFile)
	file("forward.cert_file", c.Forward.CertFile)
	file("forward.key_file", c.Forward.KeyFile)
	if len(p) > 0 {
		return fmt.Errorf("config: %w", errors.Join(p...))
	}
	return nil
}

// setDefaults fills zero fields with the documented defaults.
func (c *Config) setDefaults() {
	if c.Orchestrator.ID == "" {
		c.Orchestrator.ID = "GL-001"
	}
	if c.Orchestrator.SummaryInterval == 0 {
		c.Orchestrator.SummaryInterval = 2 * time.Second
	}
	if c.Orchestrator.LogLevel == "" {
		c.Orchestrator.LogLevel = "warn"
	}
	if c.HTTP.Listen == "" {
		c.HTTP.Listen = "127.0.0.1:8080"
	}
	if c.HTTP.Refresh == 0 {
		c.HTTP.Refresh = 2
	}
	if c.Buffer.Kind == "" {
		c.Buffer.Kind = "memory"
	}
	if c.Transform.Window == 0 {
		c.Transform.Window = time.Minute
	}
	for i := range c.MQTT {
		for j := range c.MQTT[i].Subscriptions {
			if c.MQTT[i].Subscriptions[j].Decoder == "" {
				c.MQTT[i].Subscriptions[j].Decoder = "number"
			}
		}
	}
	for i := range c.ERP {
		e := &c.ERP[i]
		if e.Interval == 0 {
			e.Interval = 5 * time.Minute
		}
		if e.Fetch == nil {
			switch e.Kind {
			case "workday":
				e.Fetch = []string{"energy", "costs"}
			case "dynamics":
				e.Fetch = []string{"maintenance"}
			default:
				e.Fetch = []string{"energy", "production", "maintenance"}
			}
		}
	}
	if c.Agents.Bus == "" {
		c.Agents.Bus = "local"
	}
	if c.Agents.HeartbeatInterval == 0 {
		c.Agents.HeartbeatInterval = 30 * time.Second
	}
	if c.Coordination.Interval == 0 {
		c.Coordination.Interval = 5 * time.Second
	}
	if c.Coordination.Timeout == 0 {
		c.Coordination.Timeout = 2 * time.Second
	}
	if c.Coordination.Command == "" {
		c.Coordination.Command = "optimize_heat_distribution"
	}
	if c.Coordination.Aggregation == "" {
		c.Coordination.Aggregation = "sum"
	}
	if c.Coordination.Field == "" {
		c.Coordination.Field = "heat_demand_kw"
	}
	f := &c.Forward
	if f.Role == "" {
		f.Role = "all"
	}
	if f.Stream == "" {
		f.Stream = "GL001_POINTS"
	}
	if f.Prefix == "" {
		f.Prefix = fjs.DefaultPrefix
	}
	if f.EdgeID == "" {
		f.EdgeID = c.Orchestrator.ID
	}
	if f.Site == "" {
		f.Site = fjs.Token(f.EdgeID)
	}
	if f.Replicas == 0 {
		f.Replicas = 1
	}
	if f.Durable == "" {
		f.Durable = "gl001-central"
	}
}

var aggregations = map[string]coord.Aggregation{
	"all": coord.All, "average": coord.Average, "sum": coord.Sum, "min": coord.Min,
	"max": coord.Max, "median": coord.Median, "majority": coord.Majority, "first": coord.First,
}

// Validate reports every problem of c, each naming its field, joined with
// errors.Join. getenv looks up the environment (os.Getenv in main): the
// secrets the configuration needs must be set, and MESSAGE_BUS_TIMEOUT, when
// set, must be a positive duration. Nothing touches the network.
func (c *Config) Validate(getenv func(string) string) error {
	var p problems
	if err := coord.ValidSubject(c.Orchestrator.ID, false); err != nil || strings.Contains(c.Orchestrator.ID, ".") {
		p.add("orchestrator.id", "%q is not one subject token (letters, digits, - and _)", c.Orchestrator.ID)
	}
	switch c.Orchestrator.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		p.add("orchestrator.log_level", "%q is not debug, info, warn or error", c.Orchestrator.LogLevel)
	}
	c.validateHTTP(&p)
	switch c.Buffer.Kind {
	case "memory":
		if c.Buffer.Dir != "" {
			p.add("buffer.dir", "set, but buffer.kind is memory")
		}
	case "disk":
		if c.Buffer.Dir == "" {
			p.add("buffer.dir", "required when buffer.kind is disk")
		}
	default:
		p.add("buffer.kind", "%q is not memory or disk", c.Buffer.Kind)
	}
	if c.Buffer.MaxAge < 0 {
		p.add("buffer.max_age", "negative")
	}
	if c.Transform.Window < time.Second {
		p.add("transform.window", "%v is shorter than 1s", c.Transform.Window)
	}
	if c.Transform.Deadband < 0 {
		p.add("transform.deadband", "negative")
	}
	for tag, l := range c.Transform.Limits {
		f := "transform.limits." + tag
		if l.Range[0] > l.Range[1] {
			p.add(f+".range", "min %v above max %v", l.Range[0], l.Range[1])
		}
		if l.Operating[0] > l.Operating[1] {
			p.add(f+".operating", "min %v above max %v", l.Operating[0], l.Operating[1])
		}
		if l.FlatLine == 1 {
			p.add(f+".flat_line", "must be 0 (off) or at least 2")
		}
	}
	c.validateForward(&p)
	c.validateHistorian(&p)
	c.validateWrites(&p)
	c.validateAlarms(&p, getenv)
	switch n := len(c.OPCUA) + len(c.Modbus) + len(c.MQTT); {
	case n == 0 && c.Forward.Role != "central":
		p.add("opcua, modbus, mqtt", "no SCADA connector configured")
	case n > 0 && c.Forward.Role == "central":
		p.add("opcua, modbus, mqtt", "the central role reads its points from JetStream; SCADA connectors belong to an edge")
	}
	if len(c.ERP) > 0 && c.Forward.Role == "edge" {
		p.add("erp", "the edge role does not coordinate; ERP systems are polled by the central role")
	}
	names := map[string]string{}
	unique := func(field, name string) {
		if name == "" {
			p.add(field, "required")
			return
		}
		if prev, ok := names[name]; ok {
			p.add(field, "%q is already the name of %s", name, prev)
			return
		}
		names[name] = field
	}
	for i, o := range c.OPCUA {
		f := fmt.Sprintf("opcua[%d]", i)
		unique(f+".name", o.Name)
		validateOPCUAEvents(&p, f, o)
		if _, err := opcuaSourceConfig(o, getenv, nil, nil); err != nil {
			p.wrap(f, "invalid", err)
		}
	}
	for i, m := range c.Modbus {
		f := fmt.Sprintf("modbus[%d]", i)
		unique(f+".name", m.Name)
		cfg := modbusSourceConfig(m)
		if err := cfg.Validate(); err != nil {
			p.wrap(f, "invalid", err)
		}
		if m.TLS {
			for _, v := range []string{modbus.EnvCertPath, modbus.EnvKeyPath, modbus.EnvCAPath} {
				if getenv(v) == "" {
					p.add(f+".tls", "needs %s, which is not set", v)
				}
			}
		}
	}
	for i, m := range c.MQTT {
		f := fmt.Sprintf("mqtt[%d]", i)
		unique(f+".name", m.Name)
		for j, s := range m.Subscriptions {
			switch s.Decoder {
			case "number", "json", "sparkplug":
			default:
				p.add(fmt.Sprintf("%s.subscriptions[%d].decoder", f, j), "%q is not number, json or sparkplug", s.Decoder)
			}
		}
		if cfg, err := mqttSourceConfig(m); err != nil {
			p.wrap(f, "invalid", err)
		} else if err := cfg.Validate(); err != nil {
			p.wrap(f, "invalid", err)
		}
	}
	erpNames := map[string]bool{}
	for i := range c.ERP {
		c.validateERP(&p, i, erpNames, getenv)
	}
	switch c.Agents.Bus {
	case "local":
		if c.Agents.NATSURL != "" {
			p.add("agents.nats_url", "set, but agents.bus is local")
		}
	case "nats":
		if u, err := url.Parse(c.Agents.NATSURL); err != nil || (u.Scheme != "nats" && u.Scheme != "tls") || u.Host == "" {
			p.add("agents.nats_url", "%q is not a nats:// or tls:// URL", c.Agents.NATSURL)
		}
	default:
		p.add("agents.bus", "%q is not local or nats", c.Agents.Bus)
	}
	if c.Agents.Sign {
		if _, err := jwtauth.NewHS256([]byte(getenv(jwtauth.EnvSecret))); err != nil {
			p.add("agents.sign", "needs %s of at least %d bytes", jwtauth.EnvSecret, jwtauth.MinSecretLen)
		}
	}
	if c.Agents.HeartbeatInterval < 0 {
		p.add("agents.heartbeat_interval", "negative")
	}
	if c.Agents.Expect < 0 {
		p.add("agents.expect", "negative")
	}
	co := c.Coordination
	if co.Interval <= 0 {
		p.add("coordination.interval", "must be positive")
	}
	if co.Timeout <= 0 || co.Timeout >= co.Interval {
		p.add("coordination.timeout", "%v must be positive and shorter than coordination.interval (%v)", co.Timeout, co.Interval)
	}
	if err := coord.ValidSubject(co.Command, false); err != nil {
		p.add("coordination.command", "%q is not a valid command name", co.Command)
	}
	if _, ok := aggregations[co.Aggregation]; !ok {
		p.add("coordination.aggregation", "%q is not one of all, average, sum, min, max, median, majority, first", co.Aggregation)
	}
	if co.MaxParallel < 0 {
		p.add("coordination.max_parallel", "negative")
	}
	if v := getenv(envBusTimeout); v != "" {
		if d, err := time.ParseDuration(v); err != nil || d <= 0 {
			p.add(envBusTimeout, "%q is not a positive Go duration such as 2s", v)
		}
	}
	if len(p) > 0 {
		return fmt.Errorf("config: %w", errors.Join(p...))
	}
	return nil
}

func (c *Config) validateForward(p *problems) {
	f := c.Forward
	switch f.Role {
	case "all", "edge", "central":
	default:
		p.add("forward.role", "%q is not all, edge or central", f.Role)
	}
	if f.NATSURL == "" {
		if f.Role == "edge" || f.Role == "central" {
			p.add("forward.nats_url", "required for the %s role", f.Role)
		}
		if f.CredsFile != "" || f.CAFile != "" || f.CertFile != "" || f.KeyFile != "" {
			p.add("forward", "creds_file and TLS files need a nats_url; the embedded server uses neither")
		}
	} else if u, err := url.Parse(f.NATSURL); err != nil || (u.Scheme != "nats" && u.Scheme != "tls") || u.Host == "" {
		p.add("forward.nats_url", "is not a nats:// or tls:// URL")
	} else if u.User != nil {
		p.add("forward.nats_url", "carries credentials; use creds_file")
	}
	if (f.CertFile == "") != (f.KeyFile == "") {
		p.add("forward.cert_file", "cert_file and key_file go together")
	}
	sc := fjs.StreamConfig{Name: f.Stream, Prefix: f.Prefix, Replicas: f.Replicas, MaxAge: f.MaxAge}
	p.wrap("forward", "invalid stream", sc.Validate())
	if f.Site == "" || strings.ContainsAny(f.Site, ".*> \t\r\n") {
		p.add("forward.site", "%q is not one subject token", f.Site)
	}
	if f.EdgeID == "" || strings.ContainsAny(f.EdgeID, "/ \t\r\n") {
		p.add("forward.edge_id", "%q must be a non-empty name without / or spaces", f.EdgeID)
	}
	if f.Durable == "" || strings.ContainsAny(f.Durable, ".*> \t\r\n") {
		p.add("forward.durable", "%q is not a consumer name", f.Durable)
	}
}

func (c *Config) validateHTTP(p *problems) {
	if c.HTTP.Listen == "off" {
		return
	}
	host, port, err := net.SplitHostPort(c.HTTP.Listen)
	if err != nil {
		p.add("http.listen", "%q is not host:port", c.HTTP.Listen)
		return
	}
	if port == "" {
		p.add("http.listen", "%q has no port", c.HTTP.Listen)
	}
	ip := net.ParseIP(host)
	loopback := host == "localhost" || (ip != nil && ip.IsLoopback())
	if !loopback && !c.HTTP.Public {
		p.add("http.listen", "%q is not a loopback address; set http.public = true to serve the status page and metrics beyond this machine", c.HTTP.Listen)
	}
	if c.HTTP.Refresh < 1 {
		p.add("http.refresh", "must be at least 1 second")
	}
}

func (c *Config) validateERP(p *problems, i int, seen map[string]bool, getenv func(string) string) {
	e := c.ERP[i]
	f := fmt.Sprintf("erp[%d]", i)
	if e.Name == "" {
		p.add(f+".name", "required")
	} else if seen[e.Name] {
		p.add(f+".name", "%q is already the name of another erp system", e.Name)
	}
	seen[e.Name] = true
	env, ok := secretEnv[e.Kind]
	if !ok {
		p.add(f+".kind", "%q is not sap, oracle, dynamics or workday", e.Kind)
		return
	}
	if u, err := url.Parse(e.BaseURL); err != nil || u.Scheme != "https" || u.Host == "" {
		p.add(f+".base_url", "%q is not an https URL", e.BaseURL)
	}
	switch e.Kind {
	case "sap", "dynamics":
		if u, err := url.Parse(e.TokenURL); err != nil || u.Scheme != "https" || u.Host == "" {
			p.add(f+".token_url", "%q is not an https URL", e.TokenURL)
		}
	case "oracle":
		if u, err := url.Parse(e.IdentityDomain); err != nil || u.Scheme != "https" || u.Host == "" {
			p.add(f+".identity_domain", "%q is not an https URL", e.IdentityDomain)
		}
	case "workday":
		if e.Tenant == "" {
			p.add(f+".tenant", "required for workday")
		}
		if slices.Contains(e.Fetch, "energy") {
			if owner, name, ok := strings.Cut(e.EnergyReport, "/"); !ok || owner == "" || name == "" {
				p.add(f+".energy_report", "%q is not <owner>/<report>; Workday's energy comes from a custom report", e.EnergyReport)
			}
		}
		if slices.Contains(e.Fetch, "costs") && e.Username == "" {
			p.add(f+".username", "required to read costs through Workday Web Services")
		}
		if e.Username != "" && getenv("WORKDAY_PASSWORD") == "" {
			p.add(f+".username", "the password comes from WORKDAY_PASSWORD, which is not set")
		}
	}
	if e.Kind != "workday" && (e.Username != "" || e.EnergyReport != "") {
		p.add(f, "username and energy_report are for workday only")
	}
	if e.Kind != "workday" && e.ClientID == "" {
		p.add(f+".client_id", "required for %s", e.Kind)
	}
	if e.Kind == "dynamics" && e.Flavour != "" && e.Flavour != "webapi" && e.Flavour != "finance_operations" {
		p.add(f+".flavour", "%q is not webapi or finance_operations", e.Flavour)
	}
	if e.Kind != "dynamics" && e.Flavour != "" {
		p.add(f+".flavour", "only dynamics has flavours")
	}
	if e.Kind != "sap" && e.SAPClient != "" {
		p.add(f+".sap_client", "only sap has a sap-client")
	}
	if e.Kind != "sap" && e.EnergyPlantField != "" {
		p.add(f+".energy_plant_field", "only for sap; the other systems' energy records name their plant")
	}
	if strings.ContainsAny(e.EnergyPlantField, " /,()'\"") {
		p.add(f+".energy_plant_field", "%q is not an OData property name", e.EnergyPlantField)
	}
	if len(e.Fetch) == 0 {
		p.add(f+".fetch", "empty: name at least one of %s", strings.Join(recordKinds, ", "))
	}
	for j, k := range e.Fetch {
		if !slices.Contains(recordKinds, k) {
			p.add(fmt.Sprintf("%s.fetch[%d]", f, j), "%q is not one of %s", k, strings.Join(recordKinds, ", "))
		}
		if e.Kind == "workday" && (k == "production" || k == "maintenance") {
			p.add(fmt.Sprintf("%s.fetch[%d]", f, j), "workday has no %s data", k)
		}
	}
	if e.Interval < time.Second {
		p.add(f+".interval", "%v is shorter than 1s", e.Interval)
	}
	if e.Timeout < 0 {
		p.add(f+".timeout", "negative")
	}
	if e.Kind == "workday" && e.EnergyReport == "" {
		return // the API key reads reports only
	}
	if getenv(env) == "" {
		p.add(f, "the %s system's secret comes from %s, which is not set", e.Kind, env)
	}
}

// busTimeout returns MESSAGE_BUS_TIMEOUT, or def when it is not set. Validate
// has checked it.
func busTimeout(getenv func(string) string, def time.Duration) time.Duration {
	if d, err := time.ParseDuration(getenv(envBusTimeout)); err == nil && d > 0 {
		return d
	}
	return def
}
