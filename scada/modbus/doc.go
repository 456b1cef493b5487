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
// tags delivered as BadNoCommunication, for Config.UnitCooldown, and then
// probed with one request (Device.Timeout shortens or lengthens the wait for
// one unit). Run ends, with an error that matches [scada.ErrConnection], when
// the connection breaks or no unit answers at all. Malformed answers give
// BadDecodingError points and count as BadInput; NaN and infinite floats
// give BadSensorFailure. A text tag whose read fails is delivered as a Bad
// point too.
//
// # One unit does not hold up the others
//
// Run polls each device from a goroutine of its own over the shared
// connection, and requests of different units are on the wire together
// (Modbus/TCP tells the answers apart by transaction id; Config.MaxInFlight
// caps them, one per device by default). A unit that never answers therefore
// waits out its own timeouts, during its first failures and at every probe,
// while the other units keep their pace: BenchmarkSilentUnitPollRate measures
// the live unit's poll rate next to a silent unit at 0.97 to 1.0 of its rate
// alone, over several probe cycles (0.72 when requests go one at a time). A
// gateway that can take only one request at a time is configured with
// MaxInFlight 1; then each of a silent unit's timeouts holds the connection,
// so give such a unit a short Device.Timeout.
//
// An answer that breaks the framing (a length field no frame can have, a
// frame cut short, a frame dripped a byte at a time: the rest of a frame
// must follow its first byte within Config.Timeout) ends the connection for
// every unit. The units that were not in the failing poll get
// BadNoCommunication points at once, before Run returns. The unit whose
// answer it was (known by the transaction id) is skipped for
// Config.UnitCooldown on the next connections, its tags Bad with
// BadCommunicationError and counted in Stats.FramingFaults; then it is
// probed alone on the wire and only after every other unit's first poll of
// the connection, so a unit still broken costs the others at most one
// reconnection per cooldown and never their first poll. When the culprit
// cannot be told (the framing broke before its transaction id arrived with
// several units in flight), every unit in flight is polled alone until it
// answers cleanly.
//
// # Writes
//
// Source implements [scada.Writer]: [Source.Write] sets a tag the
// configuration marks Writable (coils, and holding registers of any numeric
// type) through the running connection, or, when no Run is active, through
// a connection it opens for the write and closes after, as the OPC UA
// Source does. Other tags are refused with a
// [*TagError] matching [scada.ErrNotWritable] or [scada.ErrUnknownTag]; a value
// that does not fit the tag's type fails with [ErrOutOfRange].
//
// # Security
//
// Setting Config.TLS makes the connection Modbus/TCP Security (port 802 by
// convention): the client presents its certificate, verifies the device's,
// and requires TLS 1.3 unless Config.TLS.MinVersion says otherwise. A
// certificate either side refuses, or a TLS version or handshake the device
// does not accept, ends Run with an error matching [scada.ErrPermanent] as
// well as [scada.ErrConnection]: retrying cannot fix it. Exceptions 1, 2 and
// 3 (illegal function, data address, data value) say the request does not
// fit the device; their [*ExceptionError] matches [scada.ErrPermanent] too.
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
// Answers are matched to requests by transaction id; a late answer to a
// request that timed out is recognised and dropped.
package modbus
