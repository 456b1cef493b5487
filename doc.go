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
//	resilience  backoff, circuit breakers, connection supervision, HTTP retries
//	scada       Point, Quality, Source, Sink, Collector and the store-and-forward Buffer
//	  scada/opcua    Source over OPC UA (gopcua)
//	  scada/modbus   Source over Modbus TCP and Modbus/TCP Security
//	  scada/mqtt     Source over MQTT 5 (paho.golang), JSON and Sparkplug B
//	  scada/guard    the write guard: limits, permission, audit and read-back for every setpoint
//	  scada/scadatest  in-process OPC UA, Modbus and MQTT simulators
//	  scada/sourcetest the conformance suite every Source passes
//	erp         Client, Query, the record types and the shared HTTP machinery
//	  erp/sap, erp/oracle, erp/dynamics, erp/workday   one Client per system
//	  erp/erptest    fake ERP servers speaking each system's wire format
//	coord       Message, Bus, in-process bus, Registry, Coordinator, Agent
//	  coord/natsbus  Bus over NATS
//	  coord/jwtauth  message signing and verification with JWT
//	  coord/bustest  the conformance suite every Bus passes
//	transform   Pipeline and its stages: calibrate, convert, validate, score,
//	            aggregate; ERP normalisation; agent message payloads
//
// The core packages (units, scada, erp, coord, transform) import only the
// standard library, golang.org/x and each other; protocol libraries appear only in
// the leaf packages, so a caller who needs only Modbus links only Modbus.
//
// examples/orchestrator is the reference wiring: the whole GL-001 loop on one
// machine, on embedded simulators.
package gl001
