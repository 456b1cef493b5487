// Package scada holds what every SCADA connector shares: the [Point] and its
// [Quality], the [Source] and [Sink] interfaces, the [Collector] that runs many
// sources under supervision, and the store-and-forward [Buffer].
//
// Protocol implementations live in the subpackages scada/opcua, scada/modbus and
// scada/mqtt; this package imports no protocol library, so a caller who needs only
// Modbus links only Modbus. scada/scadatest holds in-process simulators.
//
// # Optional capabilities
//
// A Source may implement these; find them by type assertion:
//   - [Writer]: write a setpoint to a tag the configuration marks writable.
//   - [Browser]: discover the tags a server offers.
package scada
