package modbus

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Table is one of the four Modbus data tables.
type Table uint8

// The Modbus data tables. The zero value is HoldingRegister.
const (
	HoldingRegister Table = iota // 16-bit registers, read (FC 3) and write (FC 6, 16)
	InputRegister                // 16-bit registers, read only (FC 4)
	Coil                         // single bits, read (FC 1) and write (FC 5)
	DiscreteInput                // single bits, read only (FC 2)
)

var tableNames = [...]string{"holding", "input", "coil", "discrete"}

// String returns the table's configuration name: holding, input, coil or discrete.
func (t Table) String() string {
	if int(t) < len(tableNames) {
		return tableNames[t]
	}
	return "Table(" + strconv.Itoa(int(t)) + ")"
}

// MarshalText implements encoding.TextMarshaler.
func (t Table) MarshalText() ([]byte, error) {
	if int(t) >= len(tableNames) {
		return nil, fmt.Errorf("modbus: unknown table %d", t)
	}
	return []byte(t.String()), nil
}

// UnmarshalText implements encoding.TextUnmarshaler. It accepts the names
// String returns and the common aliases holding_register, input_register,
// discrete_input.
func (t *Table) UnmarshalText(b []byte) error {
	switch strings.ToLower(string(b)) {
	case "holding", "holding_register", "holding_registers", "hr":
		*t = HoldingRegister
	case "input", "input_register", "input_registers", "ir":
		*t = InputRegister
	case "coil", "coils":
		*t = Coil
	case "discrete", "discrete_input", "discrete_inputs", "di":
		*t = DiscreteInput
	default:
		return fmt.Errorf("modbus: unknown table %q", b)
	}
	return nil
}

func (t Table) isBits() bool { return t == Coil || t == DiscreteInput }

// Type is how a tag's registers are decoded.
type Type uint8

// The value types. The zero value Default means Bool on the bit tables
// (coils, discrete inputs) and Uint16 on the register tables.
const (
	Default Type = iota
	Bool         // a coil or discrete input, or bit Tag.Bit of a register
	Int16
	Uint16
	Int32 // two registers
	Uint32
	Int64 // four registers
	Uint64
	Float32 // IEEE 754, two registers
	Float64 // IEEE 754, four registers
	String  // Tag.Length registers of text, two bytes a register
)

var typeNames = [...]string{"", "bool", "int16", "uint16", "int32", "uint32", "int64", "uint64", "float32", "float64", "string"}

// String returns the type's configuration name, e.g. "float32".
func (t Type) String() string {
	if t == Default {
		return "default"
	}
	if int(t) < len(typeNames) {
		return typeNames[t]
	}
	return "Type(" + strconv.Itoa(int(t)) + ")"
}

// MarshalText implements encoding.TextMarshaler.
func (t Type) MarshalText() ([]byte, error) {
	if int(t) >= len(typeNames) {
		return nil, fmt.Errorf("modbus: unknown type %d", t)
	}
	return []byte(typeNames[t]), nil
}

// UnmarshalText implements encoding.TextUnmarshaler: bool, int16, uint16,
// int32, uint32, int64, uint64, float32, float64, string (and "float", "double"
// for float32 and float64). The empty string is Default.
func (t *Type) UnmarshalText(b []byte) error {
	s := strings.ToLower(string(b))
	switch s {
	case "float":
		*t = Float32
		return nil
	case "double":
		*t = Float64
		return nil
	case "bit":
		*t = Bool
		return nil
	}
	for i, n := range typeNames {
		if n == s {
			*t = Type(i)
			return nil
		}
	}
	return fmt.Errorf("modbus: unknown type %q", b)
}

// registers returns how many registers a value of type t takes (for String,
// length), or 0 for Bool on a bit table.
func (t Type) registers(length int) int {
	switch t {
	case Bool, Int16, Uint16:
		return 1
	case Int32, Uint32, Float32:
		return 2
	case Int64, Uint64, Float64:
		return 4
	case String:
		return length
	}
	return 0
}

// Order is the byte and word order of a multi-byte value, named after the
// position of the value's bytes A (most significant) to D on the wire. Devices
// use all four:
//
//	ABCD  big-endian, high word first (the Modbus specification; the default)
//	CDAB  low word first, bytes big-endian in each register ("word swap")
//	BADC  high word first, bytes swapped in each register ("byte swap")
//	DCBA  little-endian: low word first, bytes swapped
//
// For 64-bit values the same rule extends to four registers (CDAB sends the
// least significant register first). For 16-bit values only the byte swap
// matters (BADC and DCBA swap the two bytes). For strings the byte swap decides
// whether the first character is the high or the low byte of each register;
// registers are always in address order.
type Order uint8

// The byte and word orders. The zero value is ABCD.
const (
	ABCD Order = iota
	CDAB
	BADC
	DCBA
)

var orderNames = [...]string{"ABCD", "CDAB", "BADC", "DCBA"}

// String returns the order's name, e.g. "CDAB".
func (o Order) String() string {
	if int(o) < len(orderNames) {
		return orderNames[o]
	}
	return "Order(" + strconv.Itoa(int(o)) + ")"
}

// MarshalText implements encoding.TextMarshaler.
func (o Order) MarshalText() ([]byte, error) {
	if int(o) >= len(orderNames) {
		return nil, fmt.Errorf("modbus: unknown order %d", o)
	}
	return []byte(o.String()), nil
}

// UnmarshalText implements encoding.TextUnmarshaler (case-insensitive; also
// accepts "big", "little", "wordswap", "byteswap").
func (o *Order) UnmarshalText(b []byte) error {
	switch strings.ToUpper(string(b)) {
	case "ABCD", "BIG", "":
		*o = ABCD
	case "CDAB", "WORDSWAP":
		*o = CDAB
	case "BADC", "BYTESWAP":
		*o = BADC
	case "DCBA", "LITTLE":
		*o = DCBA
	default:
		return fmt.Errorf("modbus: unknown order %q", b)
	}
	return nil
}

func (o Order) byteSwap() bool { return o == BADC || o == DCBA }
func (o Order) wordSwap() bool { return o == CDAB || o == DCBA }

// Tag maps one named value to registers or bits of a device.
//
// Addresses are the zero-based protocol addresses sent on the wire (the
// "PDU address"), not the one-based Modicon reference numbers printed in many
// device manuals: reference 40001 is Table HoldingRegister, Address 0;
// 30010 is InputRegister, Address 9. [ParseReference] converts a reference.
type Tag struct {
	Name    string // unique within the Source; becomes Point.Tag
	Table   Table
	Address int   // zero-based protocol address, 0..65535
	Type    Type  // Default: Bool on bit tables, Uint16 on register tables
	Bit     int   // for Bool on a register table: the bit, 0 (least significant) to 15
	Length  int   // for String: the number of registers (two characters each)
	Order   Order // byte and word order of multi-byte values
	// Scale and Offset convert the raw value to engineering units:
	// value = raw*Scale + Offset. A zero Scale means 1.
	Scale, Offset float64
	Unit          string // engineering unit, copied to Point.Unit
	// Writable allows Source.Write to this tag. Only coils, holding registers
	// and whole registers (not a Bit of one) can be written.
	Writable bool
}

// typ returns the effective type, resolving Default.
func (t *Tag) typ() Type {
	if t.Type != Default {
		return t.Type
	}
	if t.Table.isBits() {
		return Bool
	}
	return Uint16
}

// width is the number of registers or bits the tag occupies.
func (t *Tag) width() int {
	if t.Table.isBits() {
		return 1
	}
	return t.typ().registers(t.Length)
}

func (t *Tag) scale() float64 {
	if t.Scale == 0 {
		return 1
	}
	return t.Scale
}

// Device is one Modbus unit (slave) and the tags read from it. A direct
// connection to a PLC usually has one Device; a gateway in front of a serial
// bus has one per unit id, all sharing the Source's connection.
type Device struct {
	// UnitID addresses the device behind a gateway. Devices that ignore it
	// (most Modbus/TCP devices) answer any value; 1 is the usual choice, and
	// 255 is the specification's "no unit" value for direct connections.
	UnitID uint8
	// PollInterval is how often the device's tags are read. Zero means 1 s.
	PollInterval time.Duration
	// Timeout bounds each request to this unit; zero means Config.Timeout.
	// Units on a slow serial bus behind a gateway may need more.
	Timeout time.Duration
	Tags    []Tag
}

func (d *Device) pollInterval() time.Duration {
	if d.PollInterval <= 0 {
		return time.Second
	}
	return d.PollInterval
}

// Limits of the Modbus protocol (Modbus Application Protocol v1.1b3, 6.1-6.4).
const (
	MaxReadRegisters = 125  // registers in one read (FC 3, 4)
	MaxReadBits      = 2000 // coils or discrete inputs in one read (FC 1, 2)
	maxWriteRegs     = 123  // registers in one write (FC 16)
)

// Config configures a [Source]: one connection and the devices behind it.
// Zero values mean the documented defaults.
type Config struct {
	// Name identifies the Source; it becomes Point.Source. Required.
	Name string
	// Address is the device or gateway, "host:port". Required. Modbus/TCP
	// uses port 502, Modbus/TCP Security port 802.
	Address string
	// TLS, when set, makes the connection Modbus/TCP Security: a TLS client
	// certificate is expected by the server, and the server's certificate is
	// verified against TLS.RootCAs. A zero TLS.MinVersion means TLS 1.3; set it
	// explicitly to accept TLS 1.2 devices. See [TLSFromEnv].
	TLS *tls.Config
	// Devices are the units read over this connection. At least one.
	Devices []Device

	// Timeout bounds each request and response. Zero means 1 s.
	Timeout time.Duration
	// DialTimeout bounds the connection and TLS handshake. Zero means 5 s.
	DialTimeout time.Duration

	// MaxGap is the largest run of unconfigured registers (or bits) the
	// planner reads across to merge two tags into one request. Zero merges
	// only adjacent tags, which is safe on every device: reading an address a
	// device does not implement fails the whole request with an exception
	// (the Source then splits that read, but the first poll pays for it).
	MaxGap int
	// MaxRegisters caps the registers of one read; zero means 125, the
	// protocol limit. Some devices accept fewer.
	MaxRegisters int
	// MaxBits caps the coils or discrete inputs of one read; zero means 2000.
	MaxBits int

	// BusyRetries is how many times a request answered with exception 6
	// (server device busy) is retried. Zero means 3; negative means never.
	BusyRetries int
	// BusyBackoff is the wait before the first busy retry; it doubles each
	// retry, with jitter. Zero means 50 ms.
	BusyBackoff time.Duration

	// MaxInFlight caps the requests on the wire at once on the connection
	// (Modbus/TCP tells answers apart by transaction id). Zero means one per
	// Device: every unit has at most one request outstanding, so a unit that
	// does not answer holds up only itself while the others are polled at
	// their pace. 1 sends one request at a time, for a gateway or device
	// that cannot take more; then a silent unit holds the connection for its
	// Timeout at each of its first UnitFailures requests and at each probe
	// after UnitCooldown, so give such a unit a short Device.Timeout.
	MaxInFlight int

	// UnitFailures is how many failed requests in a row (timeouts, or a
	// gateway reporting its target silent) open the breaker of a unit id, so
	// it is skipped without slowing the other unit ids. Zero means 3.
	UnitFailures int
	// UnitCooldown is how long an open unit breaker skips its unit before one
	// probe request is tried again. Zero means 30 s. A unit whose answer broke
	// the connection's framing (a length field no frame can have, a frame cut
	// short or sent a byte at a time) is skipped as long, its tags delivered
	// as BadCommunicationError, and then probed alone on the wire, after the
	// other units' first poll of the connection.
	UnitCooldown time.Duration

	// OnText receives the text of String tags each poll (they carry no
	// numeric value, so they produce no Point). Required when a String tag is
	// configured. It is called from Run's goroutine and must not block.
	OnText func(tag, text string, at time.Time)
	// OnError, when set, receives every failed request (an *ExceptionError, a
	// *RequestError) as it happens. It must not block.
	OnError func(err error)
	// Logger receives connection events and request failures. Nil discards.
	Logger *slog.Logger
}

func (c *Config) timeout() time.Duration     { return orDefault(c.Timeout, time.Second) }
func (c *Config) dialTimeout() time.Duration { return orDefault(c.DialTimeout, 5*time.Second) }
func (c *Config) busyBackoff() time.Duration { return orDefault(c.BusyBackoff, 50*time.Millisecond) }
func (c *Config) unitCooldown() time.Duration {
	return orDefault(c.UnitCooldown, 30*time.Second)
}

func (c *Config) maxRegisters() int {
	if c.MaxRegisters <= 0 {
		return MaxReadRegisters
	}
	return c.MaxRegisters
}

func (c *Config) maxBits() int {
	if c.MaxBits <= 0 {
		return MaxReadBits
	}
	return c.MaxBits
}

func (c *Config) busyRetries() int {
	switch {
	case c.BusyRetries < 0:
		return 0
	case c.BusyRetries == 0:
		return 3
	}
	return c.BusyRetries
}

func (c *Config) maxInFlight(devices int) int {
	if c.MaxInFlight <= 0 {
		return max(devices, 1)
	}
	return c.MaxInFlight
}

func (c *Config) unitFailures() int {
	if c.UnitFailures <= 0 {
		return 3
	}
	return c.UnitFailures
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// Validate reports every problem of the configuration at once, joined with
// errors.Join; each problem names the device and tag. A nil result means New
// will accept the configuration.
func (c *Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("modbus: "+format, args...))
	}
	if c.Name == "" {
		bad("Name is empty")
	}
	if c.Address == "" {
		bad("Address is empty")
	} else if _, port, err := net.SplitHostPort(c.Address); err != nil {
		bad("Address %q: %v", c.Address, err)
	} else if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
		bad("Address %q: port must be 1..65535", c.Address)
	}
	if c.Timeout < 0 || c.DialTimeout < 0 || c.BusyBackoff < 0 || c.UnitCooldown < 0 {
		bad("durations must not be negative")
	}
	if c.TLS != nil {
		if c.TLS.MinVersion != 0 && c.TLS.MinVersion < tls.VersionTLS12 {
			bad("TLS.MinVersion below TLS 1.2: Modbus/TCP Security requires TLS 1.2 or later")
		}
		if len(c.TLS.Certificates) == 0 && c.TLS.GetClientCertificate == nil {
			bad("TLS has no client certificate: Modbus/TCP Security authenticates clients by certificate")
		}
	}
	if c.MaxInFlight < 0 {
		bad("MaxInFlight %d is negative", c.MaxInFlight)
	}
	if c.MaxGap < 0 {
		bad("MaxGap %d is negative", c.MaxGap)
	}
	if c.MaxRegisters > MaxReadRegisters || c.MaxRegisters < 0 {
		bad("MaxRegisters %d is outside 0..%d", c.MaxRegisters, MaxReadRegisters)
	}
	if c.MaxBits > MaxReadBits || c.MaxBits < 0 {
		bad("MaxBits %d is outside 0..%d", c.MaxBits, MaxReadBits)
	}
	if len(c.Devices) == 0 {
		bad("no Devices")
	}
	names := make(map[string]bool)
	units := make(map[uint8]bool)
	for di := range c.Devices {
		d := &c.Devices[di]
		dev := fmt.Sprintf("device %d (unit %d)", di, d.UnitID)
		if units[d.UnitID] {
			bad("%s: unit id %d appears twice; put its tags in one Device", dev, d.UnitID)
		}
		units[d.UnitID] = true
		if d.PollInterval < 0 || d.Timeout < 0 {
			bad("%s: PollInterval and Timeout must not be negative", dev)
		}
		if len(d.Tags) == 0 {
			bad("%s: no Tags", dev)
		}
		for ti := range d.Tags {
			t := &d.Tags[ti]
			where := fmt.Sprintf("%s tag %q", dev, t.Name)
			if t.Name == "" {
				where = fmt.Sprintf("%s tag #%d", dev, ti)
				bad("%s: Name is empty", where)
			} else if names[t.Name] {
				bad("%s: name used twice", where)
			}
			names[t.Name] = true
			for _, p := range t.problems(c) {
				bad("%s: %s", where, p)
			}
		}
		errs = append(errs, overlaps(dev, d.Tags)...)
	}
	return errors.Join(errs...)
}

// problems lists what is wrong with one tag on its own.
func (t *Tag) problems(c *Config) []string {
	var p []string
	if int(t.Table) >= len(tableNames) {
		p = append(p, fmt.Sprintf("unknown table %d", t.Table))
		return p
	}
	typ := t.typ()
	if int(typ) >= len(typeNames) {
		p = append(p, fmt.Sprintf("unknown type %d", t.Type))
		return p
	}
	if int(t.Order) >= len(orderNames) {
		p = append(p, fmt.Sprintf("unknown order %d", t.Order))
	}
	if t.Table.isBits() && typ != Bool {
		p = append(p, fmt.Sprintf("a %s holds single bits; type %s needs a register table", t.Table, typ))
	}
	if typ == String {
		switch {
		case t.Length <= 0:
			p = append(p, "string needs Length, the number of registers")
		case t.Length > c.maxRegisters():
			p = append(p, fmt.Sprintf("string of %d registers does not fit one read of %d", t.Length, c.maxRegisters()))
		}
		if c.OnText == nil {
			p = append(p, "string tags deliver text through Config.OnText, which is nil")
		}
		if t.Writable {
			p = append(p, "string tags cannot be written")
		}
	} else if t.Length != 0 {
		p = append(p, fmt.Sprintf("Length is only for strings (a %s is %d register(s))", typ, typ.registers(0)))
	}
	if typ == Bool && !t.Table.isBits() {
		if t.Bit < 0 || t.Bit > 15 {
			p = append(p, fmt.Sprintf("bit %d is outside 0..15", t.Bit))
		}
		if t.Writable {
			p = append(p, "a bit of a register cannot be written safely (read-modify-write races the device)")
		}
	} else if t.Bit != 0 {
		p = append(p, "Bit is only for bool tags on register tables")
	}
	if t.Address < 0 || t.Address > 65535 {
		p = append(p, fmt.Sprintf("address %d is outside 0..65535", t.Address))
	} else if w := t.width(); t.Address+w-1 > 65535 {
		p = append(p, fmt.Sprintf("a %s at address %d runs past 65535", typ, t.Address))
	}
	if t.Writable && (t.Table == InputRegister || t.Table == DiscreteInput) {
		p = append(p, fmt.Sprintf("the %s table is read-only; the tag cannot be Writable", t.Table))
	}
	if t.Writable && typ.registers(t.Length) > maxWriteRegs {
		p = append(p, "too many registers to write at once")
	}
	if isNaNOrInf(t.Scale) || isNaNOrInf(t.Offset) {
		p = append(p, "Scale and Offset must be finite")
	}
	return p
}

// overlaps reports tags of one device whose registers overlap in a way that
// cannot be right: anything overlapping a string, or two values sharing some
// but not all of their registers. Identical ranges (a status word and its
// bits, or one register read with two scalings) are allowed.
func overlaps(dev string, tags []Tag) []error {
	type span struct {
		lo, hi int // [lo, hi)
		i      int
	}
	var errs []error
	for _, table := range []Table{HoldingRegister, InputRegister} {
		var spans []span
		for i := range tags {
			t := &tags[i]
			if t.Table != table || t.Address < 0 || t.width() <= 0 || t.Address+t.width() > 65536 {
				continue
			}
			spans = append(spans, span{t.Address, t.Address + t.width(), i})
		}
		slices.SortFunc(spans, func(a, b span) int { return a.lo - b.lo })
		for a := 0; a < len(spans); a++ {
			for b := a + 1; b < len(spans) && spans[b].lo < spans[a].hi; b++ {
				ta, tb := &tags[spans[a].i], &tags[spans[b].i]
				same := spans[a].lo == spans[b].lo && spans[a].hi == spans[b].hi
				if ta.typ() == String || tb.typ() == String || !same {
					errs = append(errs, fmt.Errorf("modbus: %s: tags %q (%s %d..%d) and %q (%s %d..%d) overlap",
						dev, ta.Name, ta.typ(), spans[a].lo, spans[a].hi-1, tb.Name, tb.typ(), spans[b].lo, spans[b].hi-1))
				}
			}
		}
	}
	return errs
}

// ParseReference converts a Modicon reference number, as printed in device
// manuals, to a table and a zero-based address. Five-digit references cover
// addresses 0..9998 (00001 coil 0, 10001 discrete input 0, 30001 input
// register 0, 40001 holding register 0); six-digit references cover the full
// range (400001..465536).
func ParseReference(ref string) (Table, int, error) {
	if len(ref) != 5 && len(ref) != 6 {
		return 0, 0, fmt.Errorf("modbus: reference %q: want 5 or 6 digits", ref)
	}
	n, err := strconv.Atoi(ref[1:])
	if err != nil || n < 1 || strings.ContainsAny(ref[1:], "+-") {
		return 0, 0, fmt.Errorf("modbus: reference %q: not a reference number", ref)
	}
	var t Table
	switch ref[0] {
	case '0':
		t = Coil
	case '1':
		t = DiscreteInput
	case '3':
		t = InputRegister
	case '4':
		t = HoldingRegister
	default:
		return 0, 0, fmt.Errorf("modbus: reference %q: first digit must be 0, 1, 3 or 4", ref)
	}
	if n-1 > 65535 {
		return 0, 0, fmt.Errorf("modbus: reference %q: past address 65535", ref)
	}
	return t, n - 1, nil
}
