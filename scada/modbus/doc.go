// Package modbus reads plant devices over Modbus/TCP and Modbus/TCP Security
// (TLS), as a [scada.Source].
//
// A [Source] is one connection: to a PLC or meter directly, or to a gateway
// in front of a serial bus with many unit ids. [Config] lists the [Device]s
// (unit ids) behind the connection, each with its poll interval and its
// [Tag]s; [New] validates the whole configuration at once and plans the reads.
//
//	src, err := modbus.New(modbus.Config{
//		Name:    "boiler1",
//		Address: "10.0.4.17:502",
//		Devices: []modbus.Device{{UnitID: 1, PollInterval: 2 * time.Second, Tags: []modbus.Tag{
//			{Name: "boiler1.steam_temp", Table: modbus.InputRegister, Address: 0, Type: modbus.Float32, Unit: "degC"},
//			{Name: "boiler1.setpoint", Address: 100, Type: modbus.Int16, Scale: 0.1, Unit: "degC", Writable: true},
//		}}},
//	})
//
// Run connects and delivers one batch of points per device poll until its
// context ends or the connection fails; [scada.Collector] calls it again with
// backoff. Reconnecting is deliberately not done here.
//
// # Register maps
//
// Addresses are zero-based protocol addresses ([ParseReference] converts the
// one-based 40001-style references of device manuals). A tag's [Type] is a
// bit (a coil, a discrete input, or bit n of a register), a 16-, 32- or
// 64-bit integer, an IEEE float of 32 or 64 bits, or text of N registers;
// multi-register values come in all four byte and word orders seen in the
// field ([Order]: ABCD, CDAB, BADC, DCBA). Scale and Offset turn raw values
// into engineering units. Text has no numeric value: it goes to
// Config.OnText instead of the sink.
//
// # Request planning
//
// The tags of a device are merged into the fewest reads the protocol allows
// (125 registers, 2000 bits), reading across unconfigured runs of at most
// Config.MaxGap addresses. [Source.Plan] lists the reads; a device with 100
// tags on 100 consecutive registers takes one request per poll. A merged read
// answered "illegal data address" is split into one read per tag, at once
// and for good, so a single wrong address costs only its own tag.
//
// # Faults stay local
//
// A Modbus exception fails only the request that got it: its tags are
// delivered with a Bad quality chosen by [Exception.Quality] and the rest of
// the poll is delivered as usual. The exception is counted by code in
// [Source.Stats] and passed to Config.OnError as an [*ExceptionError]. An
// answer "busy" (exception 6) is retried with exponential backoff. A unit id
// that stops answering (timeouts, or its gateway reporting exception 10 or 11)
// has its own breaker: after Config.UnitFailures failures it is skipped, its
// tags delivered as BadNoCommunication, for Config.UnitCooldown, so the other
// unit ids on the connection keep their pace (Device.Timeout shortens or
// lengthens the wait for one unit). Run ends, with an error that
// matches [scada.ErrConnection], when the connection breaks or no unit answers
// at all. Malformed answers give BadDecodingError points and count as
// BadInput; NaN and infinite floats give BadSensorFailure.
//
// # Writes
//
// Source implements [scada.Writer]: [Source.Write] sets a tag the
// configuration marks Writable (coils, and holding registers of any numeric
// type) through the running connection. Other tags are refused with a
// [*TagError] matching [scada.ErrNotWritable] or [scada.ErrUnknownTag]; a value
// that does not fit the tag's type fails with [ErrOutOfRange].
//
// # Security
//
// Setting Config.TLS makes the connection Modbus/TCP Security (port 802 by
// convention): the client presents its certificate, verifies the device's,
// and requires TLS 1.3 unless Config.TLS.MinVersion says otherwise.
// [TLSFromEnv] builds that configuration from SCADA_CERT_PATH, SCADA_KEY_PATH
// and SCADA_CA_PATH; it is called only when the caller calls it.
//
// # The wire
//
// The Modbus/TCP framing is this package's own: the simonvetter/modbus
// client it was planned on cannot be cancelled (its Close waits for the
// request in flight), cannot require TLS 1.3, switches unit ids for the whole
// client, and drops unknown exception codes. Every test runs against
// simonvetter/modbus's server, through
// [github.com/greenlang/gl001/scada/scadatest.ModbusServer], and the four
// byte and word orders are checked both ways against that library's client.
// Requests on one connection go one at a time, as most devices and gateways
// require; a late answer to a request that timed out is recognised by its
// transaction id and dropped.
package modbus
