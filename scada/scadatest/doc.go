// Package scadatest holds in-process SCADA simulators for tests and examples:
// an OPC UA server (gopcua's server package), a Modbus TCP server
// (simonvetter/modbus) and an MQTT broker (mochi-mqtt). Each listens on
// 127.0.0.1 on a port the system picks, speaks the real protocol, and can inject
// the faults plants see: exceptions, silent devices, restarts, bad payloads.
package scadatest
