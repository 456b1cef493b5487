// Package scadatest holds in-process SCADA simulators for tests and examples:
// an OPC UA server (gopcua's server package), a Modbus TCP server
// (simonvetter/modbus) and an MQTT broker (mochi-mqtt). Each listens on
// 127.0.0.1 on a port the system picks, speaks the real protocol, and can inject
// the faults plants see: exceptions, silent devices, restarts, bad payloads.
//
// # Getting started
//
// Start a simulator, give it values, and point the SDK's Source (or any
// client) at its address; Close it when the test ends:
//
//	srv, err := scadatest.NewModbusServer(scadatest.ModbusConfig{})
//	if err != nil {
//		t.Fatal(err)
//	}
//	t.Cleanup(func() { srv.Close() })
//	srv.SetRegisters(1, scadatest.ModbusInput, 0, 0x4452, 0xA000) // 842.5 as float32
//	src, err := modbus.New(modbus.Config{Address: srv.Addr(), Devices: ...})
//
// The OPC UA server is built the same way from its tags, and reached at
// Endpoint:
//
//	ua, err := scadatest.NewOPCUAServer(scadatest.OPCUAConfig{Tags: []scadatest.OPCUATag{
//		{Name: "boiler1.steam_temp", Initial: 485, Unit: "°C"},
//	}})
//	// opcua.Config{Endpoint: ua.Endpoint(), SecurityPolicy: "None", SecurityMode: "None",
//	//	Tags: []opcua.Tag{{Name: "boiler1.steam_temp", NodeID: ua.NodeID("boiler1.steam_temp")}}}
//	ua.Set("boiler1.steam_temp", 490) // subscribers see the change
//	ua.Stop()                          // clients lose the server; Start brings it back
//
// and the MQTT broker at URL, with Publish and Subscribe for the test's own
// side. The package's examples run each of them against the SDK.
package scadatest
