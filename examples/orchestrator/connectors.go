package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"time"

	"github.com/greenlang/gl001/erp"
	"github.com/greenlang/gl001/erp/dynamics"
	"github.com/greenlang/gl001/erp/oracle"
	"github.com/greenlang/gl001/erp/sap"
	"github.com/greenlang/gl001/scada"
	"github.com/greenlang/gl001/scada/modbus"
	"github.com/greenlang/gl001/scada/mqtt"
	"github.com/greenlang/gl001/scada/mqtt/sparkplug"
	"github.com/greenlang/gl001/scada/opcua"
)

// This file turns the sections of the configuration file into the SDK's
// connector configurations. It is the part an integrator adapts first.

// opcuaSourceConfig builds the opcua.Config of one [[opcua]] section and
// validates it. Certificate paths and the password come from the environment
// (SCADA_CERT_PATH, SCADA_KEY_PATH, SCADA_CA_PATH, SCADA_PASSWORD). ref,
// when not nil, is the edge buffer: the events' sink, and where backfill
// learns how far the buffer goes.
func opcuaSourceConfig(o OPCUAConfig, getenv func(string) string, log *slog.Logger, ref *bufferRef) (opcua.Config, error) {
	cfg := opcua.Config{
		Name:             o.Name,
		Endpoint:         o.Endpoint,
		SecurityPolicy:   opcua.SecurityPolicy(o.SecurityPolicy),
		SecurityMode:     opcua.SecurityMode(o.SecurityMode),
		Username:         o.Username,
		PollInterval:     o.PollInterval,
		SamplingInterval: o.SamplingInterval,
		Logger:           log,
	}
	switch o.Auth {
	case "", "anonymous":
		cfg.Auth = opcua.AuthAnonymous
	case "username":
		cfg.Auth = opcua.AuthUsername
		cfg.Password = opcua.Secret(getenv(opcua.EnvPassword))
	case "certificate":
		cfg.Auth = opcua.AuthCertificate
	default:
		return cfg, fmt.Errorf("auth: %q is not anonymous, username or certificate", o.Auth)
	}
	if cfg.SecurityPolicy != opcua.PolicyNone || cfg.Auth == opcua.AuthCertificate {
		cfg.CertFile = getenv(opcua.EnvCertPath)
		cfg.KeyFile = getenv(opcua.EnvKeyPath)
		cfg.CAFile = getenv(opcua.EnvCAPath)
	}
	for _, t := range o.Tags {
		cfg.Tags = append(cfg.Tags, opcua.Tag{Name: t.Name, NodeID: t.NodeID, Unit: t.Unit, Writable: t.Writable})
	}
	if e := o.Events; e.Enabled {
		ec := &opcua.EventConfig{Objects: e.Objects, Types: e.Types,
			MinSeverity: uint16(min(max(e.MinSeverity, 0), 1000)), QueueSize: uint32(min(max(e.QueueSize, 0), 1<<20))}
		for _, f := range e.Fields {
			ec.Fields = append(ec.Fields, opcua.EventField{Name: f.Name, Type: f.Type, Path: f.Path})
		}
		if ref != nil {
			ec.Sink = ref
		}
		cfg.Events = ec
	}
	if b := o.Backfill; b.Enabled {
		cfg.Backfill = opcua.BackfillConfig{Enabled: true, MaxGap: b.MaxGap}
		if ref != nil {
			maxGap := b.MaxGap
			if maxGap <= 0 {
				maxGap = 24 * time.Hour
			}
			cfg.Backfill.Last = func(tag string) time.Time { return ref.lastPoint(tag, maxGap) }
		}
	}
	return cfg, cfg.Validate()
}

// modbusSourceConfig builds the modbus.Config of one [[modbus]] section,
// without its TLS configuration (see newSources).
func modbusSourceConfig(m ModbusConfig) modbus.Config {
	cfg := modbus.Config{Name: m.Name, Address: m.Address, Timeout: m.Timeout, MaxGap: m.MaxGap}
	for _, d := range m.Devices {
		dev := modbus.Device{UnitID: d.UnitID, PollInterval: d.PollInterval}
		for _, t := range d.Tags {
			dev.Tags = append(dev.Tags, modbus.Tag{
				Name: t.Name, Table: t.Table, Address: t.Address, Type: t.Type, Order: t.Order,
				Scale: t.Scale, Offset: t.Offset, Unit: t.Unit,
			})
		}
		cfg.Devices = append(cfg.Devices, dev)
	}
	return cfg
}

// mqttSourceConfig builds the mqtt.Config of one [[mqtt]] section, with its
// decoders. The password comes from MQTT_PASSWORD (see newSources).
func mqttSourceConfig(m MQTTConfig) (mqtt.Config, error) {
	cfg := mqtt.Config{Name: m.Name, Broker: m.Broker, ClientID: m.ClientID, Username: m.Username, CAFile: m.CAFile}
	var sp *sparkplug.Decoder
	for _, s := range m.Subscriptions {
		sub := mqtt.Subscription{Topic: s.Topic, QoS: s.QoS, Tag: s.Tag, Unit: s.Unit}
		switch s.Decoder {
		case "json":
			d, err := mqtt.NewJSONDecoder(mqtt.JSONConfig{})
			if err != nil {
				return cfg, err
			}
			sub.Decoder = d
		case "sparkplug":
			if sp == nil {
				d, err := sparkplug.NewDecoder(sparkplug.Config{})
				if err != nil {
					return cfg, err
				}
				sp = d
			}
			sub.Decoder = sp
		}
		cfg.Subscriptions = append(cfg.Subscriptions, sub)
	}
	return cfg, nil
}

// connector is one SCADA source with what the status page shows about it.
type connector struct {
	name     string
	protocol string // "opcua", "modbus", "mqtt"
	src      scada.Source
	detail   func() string // protocol counters, one line
	// errors returns the source's error counters by kind, as the metrics
	// export them (gl001_scada_errors_total).
	errors func() map[string]uint64
	// relay marks a source whose points already name their origin (the
	// central node's JetStream Source): the Collector keeps their Source.
	relay bool
	// events marks an OPC UA source with events enabled; eventStats
	// returns its event, history and backfill counters.
	events     bool
	eventStats func() opcua.EventStats
}

// newSources builds every SCADA source of cfg; nothing connects yet. ref
// is the edge buffer the OPC UA events go to.
func newSources(cfg Config, getenv func(string) string, ref *bufferRef, log *slog.Logger) ([]connector, error) {
	var out []connector
	for _, o := range cfg.OPCUA {
		oc, err := opcuaSourceConfig(o, getenv, log.With("source", o.Name), ref)
		if err != nil {
			return nil, fmt.Errorf("opcua %s: %w", o.Name, err)
		}
		src, err := opcua.New(oc)
		if err != nil {
			return nil, fmt.Errorf("opcua %s: %w", o.Name, err)
		}
		out = append(out, connector{name: o.Name, protocol: "opcua", src: src, detail: func() string {
			s := src.Stats()
			return fmt.Sprintf("%d items, %d publishes, %d tag errors", s.MonitoredItems, s.Publishes, s.TagErrors)
		}, errors: func() map[string]uint64 {
			s := src.Stats()
			return map[string]uint64{"tag_error": s.TagErrors, "bad_input": s.BadInput, "sequence_gap": s.SequenceGaps, "disconnect": s.Disconnects}
		}, events: o.Events.Enabled, eventStats: src.EventStats})
	}
	for _, m := range cfg.Modbus {
		mc := modbusSourceConfig(m)
		mc.Logger = log.With("source", m.Name)
		if m.TLS {
			t, err := modbus.LoadTLS(getenv(modbus.EnvCertPath), getenv(modbus.EnvKeyPath), getenv(modbus.EnvCAPath))
			if err != nil {
				return nil, fmt.Errorf("modbus %s: %w", m.Name, err)
			}
			mc.TLS = t
		}
		src, err := modbus.New(mc)
		if err != nil {
			return nil, fmt.Errorf("modbus %s: %w", m.Name, err)
		}
		reqs := len(src.Plan())
		out = append(out, connector{name: m.Name, protocol: "modbus", src: src, detail: func() string {
			s := src.Stats()
			return fmt.Sprintf("%d polls of %d requests, %d exceptions, %d timeouts", s.Polls, reqs, s.Exceptions, s.Timeouts)
		}, errors: func() map[string]uint64 {
			s := src.Stats()
			return map[string]uint64{"exception": s.Exceptions, "timeout": s.Timeouts, "bad_input": s.BadInput, "dial_error": s.DialErrors}
		}})
	}
	for _, m := range cfg.MQTT {
		mc, err := mqttSourceConfig(m)
		if err != nil {
			return nil, fmt.Errorf("mqtt %s: %w", m.Name, err)
		}
		mc.Password = getenv(mqtt.EnvPassword)
		mc.Logger = log // the source names itself
		src, err := mqtt.New(mc)
		if err != nil {
			return nil, fmt.Errorf("mqtt %s: %w", m.Name, err)
		}
		out = append(out, connector{name: m.Name, protocol: "mqtt", src: src, detail: func() string {
			s := src.Stats()
			return fmt.Sprintf("%d messages, %d bad, %d unmatched", s.Messages, s.BadMessages, s.Unmatched)
		}, errors: func() map[string]uint64 {
			s := src.Stats()
			return map[string]uint64{"bad_message": s.BadMessages, "unmatched": s.Unmatched, "reply_dropped": s.RepliesDropped}
		}})
	}
	return out, nil
}

// newERPClient builds the client of one [[erp]] section. trust, when not
// nil, is the TLS configuration to reach it with (the simulators' own
// certificates); real systems use the system roots.
func newERPClient(e ERPConfig, getenv func(string) string, trust *tls.Config, log *slog.Logger) (erp.Client, func() error, error) {
	env := secretEnv[e.Kind]
	secret := erp.SecretFunc(func(context.Context) (string, error) {
		if v := getenv(env); v != "" {
			return v, nil
		}
		return "", fmt.Errorf("%s is not set", env)
	})
	conn := erp.ConnConfig{
		System:            e.Name,
		RequestsPerMinute: e.RequestsPerMinute,
		Timeout:           e.Timeout,
		TLS:               trust,
		Logger:            log.With("erp", e.Name),
	}
	switch e.Kind {
	case "sap":
		conn.Auth = erp.ClientCredentials{TokenURL: e.TokenURL, ClientID: e.ClientID, Secret: secret, Scopes: e.Scopes}
		sc := sap.Config{ConnConfig: conn, BaseURL: e.BaseURL, SAPClient: e.SAPClient}
		if e.EnergyPlantField != "" {
			sc.EnergyFields = sap.DefaultEnergyFields
			sc.EnergyFields.Plant = e.EnergyPlantField
		}
		c, err := sap.New(sc)
		if err != nil {
			return nil, nil, err
		}
		return c, c.Close, nil
	case "dynamics":
		conn.Auth = erp.ClientCredentials{TokenURL: e.TokenURL, ClientID: e.ClientID, Secret: secret, Scopes: e.Scopes}
		flavour := dynamics.WebAPI
		if e.Flavour == "finance_operations" {
			flavour = dynamics.FinanceOperations
		}
		c, err := dynamics.New(dynamics.Config{ConnConfig: conn, BaseURL: e.BaseURL, Flavour: flavour})
		if err != nil {
			return nil, nil, err
		}
		return c, c.Close, nil
	case "oracle":
		cc := oracle.ClientCredentials(e.IdentityDomain, e.ClientID, e.BaseURL)
		cc.Secret = secret
		if len(e.Scopes) > 0 {
			cc.Scopes = e.Scopes
		}
		conn.Auth = cc
		c, err := oracle.New(oracle.Config{ConnConfig: conn, BaseURL: e.BaseURL})
		if err != nil {
			return nil, nil, err
		}
		return c, c.Close, nil
	case "workday":
		return newWorkdayClient(e, conn, getenv)
	}
	return nil, nil, fmt.Errorf("unknown kind %q", e.Kind)
}
