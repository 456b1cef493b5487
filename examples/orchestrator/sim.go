package main

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	mrand "math/rand/v2"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/greenlang/gl001/coord/jwtauth"
	"github.com/greenlang/gl001/erp/erptest"
	"github.com/greenlang/gl001/scada/modbus"
	"github.com/greenlang/gl001/scada/mqtt/sparkplug"
	"github.com/greenlang/gl001/scada/scadatest"
)

// This file is the embedded plant: in-process simulators that speak the real
// protocols on 127.0.0.1, so that the orchestrator runs with no setup. They
// are configured exactly as real systems would be, through a Config.

// SimOptions size the simulation.
type SimOptions struct {
	// Agents is the number of simulated agents, GL-002 onwards. Default 99.
	Agents int
	// Tick is how often the simulated sensors change. Default 500ms.
	Tick time.Duration
	// CoordinationInterval, ERPInterval and SummaryInterval pace the
	// orchestrator. Defaults 5s, 10s and 2s.
	CoordinationInterval, ERPInterval, SummaryInterval time.Duration
	// HTTP is the status page's address. Default 127.0.0.1:8080.
	HTTP   string
	Logger *slog.Logger
}

// simulation is the running plant.
type simulation struct {
	opcua    *scadatest.OPCUAServer
	modbus   *scadatest.ModbusServer
	broker   *scadatest.MQTTBroker
	sap      *erptest.Server
	dynamics *erptest.Server
	oracle   *erptest.OracleServer
	workday  *erptest.WorkdayServer
	secrets  map[string]string

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// simTag is one simulated sensor: a slow wave with noise around base,
// and the limits the validator is given for it.
type simTag struct {
	name       string
	unit       string
	base, amp  float64
	period     float64 // seconds
	noise      float64
	limits     [2]float64 // operating range, for the validator
	rangeLimit [2]float64 // physical range
}

// simSetpoint is the simulated plant's writable setpoint.
const simSetpoint = "boiler1.steam_temp_sp"

var opcuaTags = []simTag{
	{"boiler1.steam_temp", "°C", 485, 6, 90, 0.4, [2]float64{450, 510}, [2]float64{0, 650}},
	{"boiler1.drum_pressure", "bar", 42, 1.5, 70, 0.05, [2]float64{38, 46}, [2]float64{0, 60}},
	{"boiler1.steam_flow", "t/h", 36, 4, 120, 0.3, [2]float64{10, 45}, [2]float64{0, 60}},
	{"boiler1.fuel_flow", "m³/h", 2850, 250, 120, 10, [2]float64{1000, 3500}, [2]float64{0, 5000}},
	{"boiler2.steam_temp", "°F", 905, 10, 75, 0.8, [2]float64{840, 950}, [2]float64{32, 1200}},
	{"boiler2.drum_pressure", "psi", 610, 20, 95, 1, [2]float64{550, 670}, [2]float64{0, 900}},
	{"boiler2.steam_flow", "t/h", 28, 3, 100, 0.2, [2]float64{10, 45}, [2]float64{0, 60}},
	{"furnace1.zone1_temp", "°C", 955, 15, 60, 1, [2]float64{900, 1000}, [2]float64{0, 1400}},
	// Runs above its operating limit at the top of its wave: Uncertain.
	{"furnace1.zone2_temp", "°C", 990, 25, 40, 1, [2]float64{900, 1000}, [2]float64{0, 1400}},
	{"furnace1.fuel_flow", "m³/h", 640, 40, 80, 3, [2]float64{200, 900}, [2]float64{0, 1500}},
	{"furnace1.flue_o2", "%", 3.2, 0.6, 50, 0.05, [2]float64{1.5, 6}, [2]float64{0, 21}},
}

// Modbus energy meters: one unit id each, float32 registers in the four word
// orders seen in the field.
var meterOrders = []modbus.Order{modbus.ABCD, modbus.CDAB, modbus.BADC, modbus.DCBA}

// mqttSensors publish JSON on plant/site1/<device>/<tag>.
var mqttSensors = []simTag{
	{"stack.temp", "°C", 165, 5, 60, 0.5, [2]float64{120, 200}, [2]float64{0, 400}},
	{"stack.co_ppm", "ppm", 35, 10, 45, 2, [2]float64{0, 100}, [2]float64{0, 1000}},
	{"header.pressure", "barg", 10.2, 0.3, 70, 0.02, [2]float64{9, 11.5}, [2]float64{0, 16}},
	{"condensate.return_flow", "m³/h", 22, 2, 90, 0.2, [2]float64{5, 40}, [2]float64{0, 60}},
	// Sends old timestamps now and then: stale, Uncertain.
	{"ambient.temp", "°C", 18, 3, 300, 0.1, [2]float64{-20, 45}, [2]float64{-40, 60}},
	// Reports a Bad quality now and then: Invalid.
	{"economizer.outlet_temp", "°C", 140, 4, 80, 0.3, [2]float64{100, 180}, [2]float64{0, 300}},
}

// startSimulation starts every simulator and returns the configuration
// that points the orchestrator at them, and the options that let it trust
// them. Close stops the simulators.
func startSimulation(so SimOptions) (_ *simulation, _ Config, _ Options, err error) {
	if so.Agents == 0 {
		so.Agents = 99
	}
	if so.Tick == 0 {
		so.Tick = 500 * time.Millisecond
	}
	if so.CoordinationInterval == 0 {
		so.CoordinationInterval = 5 * time.Second
	}
	if so.ERPInterval == 0 {
		so.ERPInterval = 10 * time.Second
	}
	if so.SummaryInterval == 0 {
		so.SummaryInterval = 2 * time.Second
	}
	if so.HTTP == "" {
		so.HTTP = "127.0.0.1:8080"
	}
	log := so.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &simulation{cancel: cancel, secrets: map[string]string{}}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()

	// OPC UA: boilers and furnace.
	var tags []scadatest.OPCUATag
	for _, t := range opcuaTags {
		tags = append(tags, scadatest.OPCUATag{Name: t.name, Initial: t.base, Unit: t.unit})
	}
	// The steam temperature setpoint: written by the agents' recommended
	// setpoints, through the write guard.
	tags = append(tags, scadatest.OPCUATag{Name: simSetpoint, Initial: 485, Unit: "°C", Writable: true})
	if s.opcua, err = scadatest.NewOPCUAServer(scadatest.OPCUAConfig{Tags: tags, NamespaceURI: "urn:greenlang:gl001:plant1"}); err != nil {
		return nil, Config{}, Options{}, fmt.Errorf("opcua simulator: %w", err)
	}
	// Modbus: four energy meters behind one gateway.
	if s.modbus, err = scadatest.NewModbusServer(scadatest.ModbusConfig{}); err != nil {
		return nil, Config{}, Options{}, fmt.Errorf("modbus simulator: %w", err)
	}
	// MQTT: JSON sensors and a Sparkplug B edge node.
	if s.broker, err = scadatest.NewMQTTBroker(scadatest.MQTTBrokerConfig{}); err != nil {
		return nil, Config{}, Options{}, fmt.Errorf("mqtt simulator: %w", err)
	}
	// ERP: SAP S/4HANA (OData V2), Oracle Fusion (REST), Dynamics 365 (Web API).
	secret := func() string {
		b := make([]byte, 16)
		_, _ = rand.Read(b)
		return hex.EncodeToString(b)
	}
	s.secrets["SAP_CLIENT_SECRET"] = secret()
	s.secrets["ORACLE_CLIENT_SECRET"] = secret()
	s.secrets["DYNAMICS_CLIENT_SECRET"] = secret()
	s.secrets[jwtauth.EnvSecret] = secret() + secret()
	s.sap = erptest.NewServer(erptest.Config{Flavour: erptest.SAPV2, SAPClient: "100", ClientSecret: s.secrets["SAP_CLIENT_SECRET"]})
	s.dynamics = erptest.NewServer(erptest.Config{Flavour: erptest.DynamicsWebAPI, ClientSecret: s.secrets["DYNAMICS_CLIENT_SECRET"]})
	s.oracle = erptest.NewOracleServer(erptest.OracleConfig{ClientSecret: s.secrets["ORACLE_CLIENT_SECRET"]})
	s.secrets["WORKDAY_API_KEY"] = secret()
	s.secrets["WORKDAY_PASSWORD"] = secret()
	s.workday = erptest.NewWorkdayServer(erptest.WorkdayConfig{APIKey: s.secrets["WORKDAY_API_KEY"], Password: s.secrets["WORKDAY_PASSWORD"]})
	s.fillERP(time.Now().UTC())

	s.wg.Go(func() { s.runOPCUA(ctx, so.Tick) })
	s.wg.Go(func() { s.runModbus(ctx, so.Tick) })
	s.wg.Go(func() { s.runMQTT(ctx, so.Tick) })
	if err := s.startSparkplug(ctx, so.Tick); err != nil {
		return nil, Config{}, Options{}, err
	}

	cfg := s.config(so)
	cfg.setDefaults()
	opts := Options{
		Getenv: s.getenv,
		Logger: log,
		ERPTrust: map[string]*tls.Config{
			"sap-s4": s.sap.TLSConfig(), "oracle-fusion": s.oracle.TLSConfig(), "dynamics-fs": s.dynamics.TLSConfig(),
			"workday": s.workday.TLSConfig(),
		},
		Fleet: simFleet(so.Agents, log),
		Extra: "(embedded simulators)",
	}
	return s, cfg, opts, nil
}

// getenv answers the simulators' secrets and leaves the rest (such as
// MESSAGE_BUS_TIMEOUT) to the environment.
func (s *simulation) getenv(name string) string {
	if v, ok := s.secrets[name]; ok {
		return v
	}
	return os.Getenv(name)
}

// Close stops every simulator and waits for their goroutines.
func (s *simulation) Close() {
	s.cancel()
	s.wg.Wait()
	if s.opcua != nil {
		_ = s.opcua.Close()
	}
	if s.modbus != nil {
		_ = s.modbus.Close()
	}
	if s.broker != nil {
		_ = s.broker.Close()
	}
	if s.sap != nil {
		s.sap.Close()
	}
	if s.dynamics != nil {
		s.dynamics.Close()
	}
	if s.oracle != nil {
		s.oracle.Close()
	}
	if s.workday != nil {
		s.workday.Close()
	}
}

// config is the configuration a user would write for this plant.
func (s *simulation) config(so SimOptions) Config {
	cfg := Config{
		Orchestrator: OrchestratorConfig{ID: "GL-001", Plant: "1010", SummaryInterval: so.SummaryInterval},
		HTTP:         HTTPConfig{Listen: so.HTTP},
		Transform: TransformConfig{
			// The furnace thermocouple reads 2% low (the seed's calibration_factor).
			Calibration: map[string]CalibrationConfig{"furnace1.zone1_temp": {Factor: 1.02}},
			Limits:      map[string]LimitsConfig{},
			Window:      10 * time.Second,
		},
		Agents:       AgentsConfig{Bus: "local", Sign: true, HeartbeatInterval: 2 * time.Second, Expect: so.Agents},
		Coordination: CoordinationConfig{Interval: so.CoordinationInterval, Timeout: min(1500*time.Millisecond, so.CoordinationInterval*4/5)},
	}
	for _, list := range [][]simTag{opcuaTags, mqttSensors} {
		for _, t := range list {
			cfg.Transform.Limits[t.name] = LimitsConfig{Unit: t.unit, Range: t.rangeLimit, Operating: t.limits}
		}
	}
	oc := OPCUAConfig{Name: "boilerhouse", Endpoint: s.opcua.Endpoint(), SecurityPolicy: "None", SecurityMode: "None",
		SamplingInterval: so.Tick}
	for _, t := range opcuaTags {
		// The unit comes from each node's EngineeringUnits.
		oc.Tags = append(oc.Tags, OPCUATagEntry{Name: t.name, NodeID: s.opcua.NodeID(t.name)})
	}
	oc.Tags = append(oc.Tags, OPCUATagEntry{Name: simSetpoint, NodeID: s.opcua.NodeID(simSetpoint), Writable: true})
	cfg.OPCUA = []OPCUAConfig{oc}
	// Agents GL-002..GL-049 may move the setpoint within 470..500 °C by at
	// most 2 °C a write and once every 2 s; the others are refused.
	cfg.Writes = WritesConfig{
		Enabled: true,
		Tags: map[string]WriteTagConfig{simSetpoint: {Source: "boilerhouse", Min: 470, Max: 500, MaxStep: 2,
			MinInterval: 2 * time.Second, Tolerance: 0.001, ConfirmWithin: 3 * time.Second}},
		Rules: []WriteRuleConfig{{Requesters: []string{"GL-00*", "GL-01*", "GL-02*", "GL-03*", "GL-04*"}, Tags: []string{"boiler1.*"}}},
	}

	mc := ModbusConfig{Name: "energy-meters", Address: s.modbus.Addr(), Timeout: time.Second}
	for i, order := range meterOrders {
		m := fmt.Sprintf("meter%d", i+1)
		mc.Devices = append(mc.Devices, ModbusDevice{UnitID: uint8(i + 1), PollInterval: time.Second, Tags: []ModbusTagConfig{
			{Name: m + ".power_kw", Table: modbus.InputRegister, Address: 0, Type: modbus.Float32, Order: order, Unit: "kW"},
			{Name: m + ".energy_kwh", Table: modbus.InputRegister, Address: 2, Type: modbus.Float32, Order: order, Unit: "kWh"},
			{Name: m + ".load_pct", Table: modbus.InputRegister, Address: 4, Type: modbus.Uint16, Scale: 0.1, Unit: "%"},
		}})
		cfg.Transform.Limits[m+".load_pct"] = LimitsConfig{Range: [2]float64{0, 120}, Operating: [2]float64{0, 100}, FlatLine: 8}
	}
	cfg.Modbus = []ModbusConfig{mc}

	cfg.MQTT = []MQTTConfig{
		{Name: "iot-sensors", Broker: s.broker.URL(), ClientID: "gl001-iot", Subscriptions: []MQTTSubscriptionConfig{
			{Topic: "plant/{site}/{device}/{tag}", Tag: "{device}.{tag}", QoS: 1, Decoder: "json"},
		}},
		{Name: "sparkplug-edge", Broker: s.broker.URL(), ClientID: "gl001-sparkplug", Subscriptions: []MQTTSubscriptionConfig{
			{Topic: "spBv1.0/plant/#", QoS: 0, Decoder: "sparkplug"},
		}},
	}

	cfg.ERP = []ERPConfig{
		{Name: "sap-s4", Kind: "sap", BaseURL: s.sap.URL(), TokenURL: s.sap.TokenURL(), ClientID: s.sap.ClientID(), SAPClient: "100",
			Plant: "1010", EnergyPlantField: "Plant", Fetch: []string{"energy", "production", "maintenance"}, Interval: so.ERPInterval},
		{Name: "oracle-fusion", Kind: "oracle", BaseURL: s.oracle.URL(), IdentityDomain: s.oracle.IdentityDomain(), ClientID: s.oracle.ClientID(),
			Plant: "M1", Fetch: []string{"energy", "maintenance", "costs"}, Interval: so.ERPInterval},
		{Name: "dynamics-fs", Kind: "dynamics", BaseURL: s.dynamics.URL(), TokenURL: s.dynamics.TokenURL(), ClientID: s.dynamics.ClientID(),
			Fetch: []string{"maintenance"}, Interval: so.ERPInterval},
		{Name: "workday", Kind: "workday", BaseURL: s.workday.URL(), Tenant: s.workday.Tenant(), Username: "isu_gl001",
			EnergyReport: "ISU_GL001/GL001_Utility_Invoices", Fetch: []string{"energy", "costs"}, Interval: so.ERPInterval},
	}
	return cfg
}

// fillERP loads the ERP fakes with two days of hourly energy readings and a
// week of orders around now.
func (s *simulation) fillERP(now time.Time) {
	hour := now.Truncate(time.Hour)
	day := now.Truncate(24 * time.Hour)
	// SAP's standard measurement documents name a measuring point, not a
	// plant; this plant's system carries the plant in a custom field
	// (energy_plant_field in its [[erp]] section), so the historian can
	// reconcile SAP's energy with plant 1010's meters.
	docs := erptest.SAPMeasurementDocuments(48, hour.Add(-47*time.Hour), "1010", true)
	for _, d := range docs {
		d["Plant"] = "1010"
	}
	s.sap.Put(erptest.SAPEnergyPath, []string{"MeasurementDocument"}, docs...)
	s.sap.Put(erptest.SAPProductionPath, []string{"ManufacturingOrder"}, erptest.SAPProductionOrders(9, day.Add(-24*time.Hour), "1010")...)
	s.sap.Put(erptest.SAPMaintenancePath, []string{"MaintenanceOrder"}, erptest.SAPMaintenanceOrders(6, day.Add(-24*time.Hour), "1010")...)
	s.oracle.Put("meterReadings", []string{"MeterReadingId"}, erptest.OracleMeterReadings(48, hour.Add(-47*time.Hour), "M1")...)
	s.oracle.Put("maintenanceWorkOrders", []string{"WorkOrderId"}, erptest.OracleMaintenanceWorkOrders(5, day, "M1")...)
	s.oracle.Put("invoices", []string{"InvoiceId"}, erptest.OracleInvoices(30, day.Add(-29*24*time.Hour))...)
	s.workday.PutSupplierInvoices(erptest.WorkdaySupplierInvoices(30, day.Add(-29*24*time.Hour), "GMS_USA")...)
	var lines []erptest.Row
	for i, m := range []struct {
		meter, unit string
		qty, amount float64
	}{{"ELEC-MAIN", "KWH", 4125.5, 536.32}, {"GAS-BOILERS", "MWH", 21.24, 955.80}, {"STEAM-PURCHASED", "GJ", 31.02, 465.30}} {
		lines = append(lines, erptest.Row{
			"Invoice_Line_ID": fmt.Sprintf("SIL-%04d", i+1), "Company": "GMS_USA", "Meter_ID": m.meter,
			"Service_Period_Start": day.Format(time.DateOnly) + "-00:00", "Service_Period_End": day.Add(24*time.Hour).Format(time.DateOnly) + "-00:00",
			"Quantity": fmt.Sprint(m.qty), "Unit_of_Measure": m.unit, "Extended_Amount": fmt.Sprintf("%.2f", m.amount), "Currency": "USD",
		})
	}
	s.workday.PutReport("ISU_GL001", "GL001_Utility_Invoices", erptest.WorkdayReport{Entries: lines})
	s.dynamics.Put(erptest.DynamicsWorkOrdersPath, []string{"msdyn_workorderid"}, erptest.DynamicsWorkOrders(8, day.Add(-24*time.Hour))...)
}

func wave(t simTag, sec float64, rng *mrand.Rand) float64 {
	return t.base + t.amp*math.Sin(2*math.Pi*sec/t.period) + t.noise*rng.NormFloat64()
}

// every calls fn every tick until ctx ends.
func every(ctx context.Context, tick time.Duration, fn func(now time.Time)) {
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		fn(time.Now())
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (s *simulation) runOPCUA(ctx context.Context, tick time.Duration) {
	rng := mrand.New(mrand.NewPCG(1, 2))
	start := time.Now()
	every(ctx, tick, func(now time.Time) {
		sec := now.Sub(start).Seconds()
		for _, t := range opcuaTags {
			_ = s.opcua.Set(t.name, wave(t, sec, rng))
		}
	})
}

// float32Regs encodes v in two registers in the given byte and word order.
func float32Regs(v float32, o modbus.Order) []uint16 {
	b := math.Float32bits(v)
	a, bb, c, d := uint16(b>>24), uint16(b>>16&0xff), uint16(b>>8&0xff), uint16(b&0xff)
	switch o {
	case modbus.CDAB:
		return []uint16{c<<8 | d, a<<8 | bb}
	case modbus.BADC:
		return []uint16{bb<<8 | a, d<<8 | c}
	case modbus.DCBA:
		return []uint16{d<<8 | c, bb<<8 | a}
	default:
		return []uint16{a<<8 | bb, c<<8 | d}
	}
}

func (s *simulation) runModbus(ctx context.Context, tick time.Duration) {
	rng := mrand.New(mrand.NewPCG(3, 4))
	energy := []float64{182340, 95512, 40210, 12877}
	last := time.Now()
	start := last
	every(ctx, tick, func(now time.Time) {
		dt := now.Sub(last).Hours()
		last = now
		for i, order := range meterOrders {
			kw := 850/float64(i+1) + 60*math.Sin(now.Sub(start).Seconds()/30+float64(i)) + 5*rng.NormFloat64()
			energy[i] += kw * dt
			load := uint16(kw / (1000 / float64(i+1)) * 1000) // 0.1 %
			if i == 3 {
				load = 612 // a stuck transducer: the validator flags the flat line
			}
			unit := uint8(i + 1)
			s.modbus.SetRegisters(unit, scadatest.ModbusInput, 0, float32Regs(float32(kw), order)...)
			s.modbus.SetRegisters(unit, scadatest.ModbusInput, 2, float32Regs(float32(energy[i]), order)...)
			s.modbus.SetRegisters(unit, scadatest.ModbusInput, 4, load)
		}
	})
}

func (s *simulation) runMQTT(ctx context.Context, tick time.Duration) {
	rng := mrand.New(mrand.NewPCG(5, 6))
	start := time.Now()
	n := 0
	every(ctx, tick, func(now time.Time) {
		n++
		sec := now.Sub(start).Seconds()
		for _, t := range mqttSensors {
			ts := now
			quality := "good"
			switch t.name {
			case "ambient.temp":
				if n%4 == 0 {
					ts = now.Add(-20 * time.Minute) // a gateway replaying its backlog late
				}
			case "economizer.outlet_temp":
				if n%10 == 0 {
					quality = "bad"
				}
			}
			device, tag, _ := strings.Cut(t.name, ".")
			payload, _ := json.Marshal(map[string]any{
				"value": math.Round(wave(t, sec, rng)*100) / 100, "unit": t.unit,
				"timestamp": ts.UTC().Format(time.RFC3339Nano), "quality": quality,
			})
			_ = s.broker.Publish("plant/site1/"+device+"/"+tag, payload, 1, false)
		}
	})
}

// A Sparkplug B edge node, "plant/edge1", with three boiler 3 metrics. It
// publishes NBIRTH when asked (a rebirth NCMD from the decoder, which sees
// data before any birth when it subscribes late) and NDATA by alias.
func (s *simulation) startSparkplug(ctx context.Context, tick time.Duration) error {
	rebirth := make(chan struct{}, 1)
	rebirth <- struct{}{}
	err := s.broker.Subscribe("spBv1.0/plant/NCMD/edge1", func(string, []byte) {
		select {
		case rebirth <- struct{}{}:
		default:
		}
	})
	if err != nil {
		return fmt.Errorf("sparkplug simulator: %w", err)
	}
	s.wg.Go(func() {
		// Come online once the orchestrator's two MQTT sources have
		// subscribed, as an edge node that was already running would be
		// seen by a host that has its session; a host that comes later
		// asks for a rebirth.
		if err := s.broker.WaitSubscribed(ctx, 2); err != nil {
			return
		}
		rng := mrand.New(mrand.NewPCG(7, 8))
		start := time.Now()
		var seq uint64
		var bdSeq uint64
		next := func() uint64 { v := seq; seq = (seq + 1) % 256; return v }
		temp := simTag{"boiler3.steam_temp", "°C", 470, 5, 70, 0.4, [2]float64{}, [2]float64{}}
		flow := simTag{"boiler3.steam_flow", "t/h", 18, 2, 110, 0.2, [2]float64{}, [2]float64{}}
		unit := func(u string) []sparkplug.Property {
			return []sparkplug.Property{{Key: "engUnit", Type: sparkplug.String, Kind: sparkplug.StringValue, String: u}}
		}
		var buf []byte
		publish := func(topic string, p *sparkplug.Payload) {
			buf = sparkplug.Marshal(buf[:0], p)
			_ = s.broker.Publish(topic, buf, 0, false)
		}
		every(ctx, tick, func(now time.Time) {
			sec := now.Sub(start).Seconds()
			ms := uint64(now.UnixMilli())
			select {
			case <-rebirth:
				seq = 0
				publish("spBv1.0/plant/NBIRTH/edge1", &sparkplug.Payload{Timestamp: ms, HasTimestamp: true, Seq: next(), HasSeq: true, Metrics: []sparkplug.Metric{
					{Name: "bdSeq", DataType: sparkplug.Int64, Kind: sparkplug.LongValue, Long: bdSeq},
					{Name: "Boiler3/SteamTemp", Alias: 1, HasAlias: true, DataType: sparkplug.Double, Kind: sparkplug.DoubleValue, Double: wave(temp, sec, rng), Properties: unit("°C")},
					{Name: "Boiler3/SteamFlow", Alias: 2, HasAlias: true, DataType: sparkplug.Float, Kind: sparkplug.FloatValue, Float: float32(wave(flow, sec, rng)), Properties: unit("t/h")},
					{Name: "Boiler3/BurnerOn", Alias: 3, HasAlias: true, DataType: sparkplug.Boolean, Kind: sparkplug.BooleanValue, Bool: true},
				}})
				bdSeq++
			default:
				publish("spBv1.0/plant/NDATA/edge1", &sparkplug.Payload{Timestamp: ms, HasTimestamp: true, Seq: next(), HasSeq: true, Metrics: []sparkplug.Metric{
					{Alias: 1, HasAlias: true, Timestamp: ms, HasTimestamp: true, DataType: sparkplug.Double, Kind: sparkplug.DoubleValue, Double: wave(temp, sec, rng)},
					{Alias: 2, HasAlias: true, Timestamp: ms, HasTimestamp: true, DataType: sparkplug.Float, Kind: sparkplug.FloatValue, Float: float32(wave(flow, sec, rng))},
				}})
			}
		})
	})
	return nil
}

// errSimulated marks the failures the simulated agents produce on purpose.
var errSimulated = errors.New("simulated fault")
