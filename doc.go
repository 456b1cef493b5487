// Package gl001 is the integration SDK of GL-001, the GreenLang process-heat
// orchestrator. It connects the orchestrator, or any plant software that embeds it,
// to the plant floor (SCADA), to the business systems (ERP) and to the fleet of
// process-heat agents GL-002..GL-100, and makes the data that flows between them
// trustworthy.
//
// This package holds no code; it is the map. Callers import the packages they
// need and wire them together themselves:
//
//	units       quantities and unit conversion (standard library only)
//	resilience  backoff, circuit breakers, connection supervision
//	  resilience/httpretry  HTTP retries and breaker for the ERP clients
//	scada       Point, Quality, Source, Sink, Collector and the store-and-forward Buffer
//	  scada/opcua    Source over OPC UA (gopcua)
//	  scada/modbus   Source over Modbus TCP and Modbus/TCP Security
//	  scada/mqtt     Source over MQTT 5 (paho.golang), JSON and Sparkplug B
//	  scada/guard    the write guard: limits, permission, audit and read-back for every setpoint
//	  scada/scadatest  in-process OPC UA, Modbus and MQTT simulators
//	  scada/sourcetest the conformance suite every Source passes
//	erp         Client, Query, the record types and the shared HTTP machinery
//	  erp/odata      Client for any OData V2/V4 service; sap and dynamics build on it
//	  erp/sap, erp/oracle, erp/dynamics, erp/workday   one Client per system
//	  erp/erptest    fake ERP servers and the conformance suite every Client passes
//	coord       Message, Bus, in-process bus, Registry, Coordinator, Agent
//	  coord/natsbus  Bus over NATS
//	  coord/jwtauth  message signing and verification with JWT
//	  coord/bustest  the conformance suite every Bus passes
//	transform   Pipeline and its stages: calibrate, convert, validate, score,
//	            aggregate; ERP normalisation; agent message payloads
//
// The core packages (units, scada, erp, coord, transform) import only the
// standard library, golang.org/x, resilience and each other. units and coord
// link nothing outside the standard library. scada, erp and transform reach,
// through resilience, the one third-party library it wraps, failsafe-go, and
// the two that failsafe-go brings (bits-and-blooms/bitset and
// influxdata/tdigest); erp adds golang.org/x/oauth2 and golang.org/x/time.
// Protocol libraries (gopcua, simonvetter/modbus, paho, nats.go, jwt) appear
// only in the leaf packages, so a caller who needs only Modbus links only
// Modbus. `go list -deps` on a package shows exactly what it links.
//
// The runnable programs live in a module of their own, examples/ (with a
// replace directive pointing at this one), so that importers of this module
// never inherit their dependencies (Prometheus, TOML); go.work at the root
// joins the two for work in this repository. examples/orchestrator is the
// reference wiring: the whole GL-001 loop on one machine, on embedded
// simulators.
package gl001
