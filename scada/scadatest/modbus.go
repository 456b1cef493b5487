package scadatest

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/simonvetter/modbus"

	"github.com/greenlang/gl001/scada"
)

// ModbusTable selects one of the four Modbus data tables of a [ModbusServer].
type ModbusTable uint8

// The Modbus tables.
const (
	ModbusHolding  ModbusTable = iota // holding registers
	ModbusInput                       // input registers
	ModbusCoil                        // coils
	ModbusDiscrete                    // discrete inputs
)

// ModbusConfig configures a [ModbusServer]. The zero value is a plain
// Modbus/TCP server.
type ModbusConfig struct {
	// TLSCert, with TLSClientCAs, makes the server speak Modbus/TCP Security:
	// TLS with a client certificate verified against TLSClientCAs.
	TLSCert      *tls.Certificate
	TLSClientCAs *x509.CertPool
	// MaxClients caps concurrent connections. Zero means 1024 (the library's
	// own default of 10 silently drops the eleventh client).
	MaxClients uint
	// Logger receives the server library's messages. Nil discards them (the
	// library would otherwise print to stdout).
	Logger *slog.Logger
}

// ModbusFault makes the server misbehave for the requests it matches: a
// request matches when it is for UnitID (or any unit if AllUnits), for Table,
// and touches an address in [First, Last].
type ModbusFault struct {
	UnitID   uint8
	AllUnits bool
	Table    ModbusTable
	First    uint16
	Last     uint16 // inclusive; zero means First
	// Exception is the exception code answered (e.g. 2 illegal data address,
	// 6 server device busy, 0x0B gateway target failed to respond). Codes the
	// library does not know are answered as 4, server device failure.
	Exception uint8
	// Delay holds the answer this long: a slow unit. With Silent, the unit
	// never answers in time: the answer (exception 0x0B) comes after Delay,
	// once the client has given up, as from a gateway whose target is dead.
	Delay  time.Duration
	Silent bool
	// Count limits the fault to the next Count matching requests; zero means
	// every request until the fault is removed.
	Count int
}

// ModbusServer is an in-process Modbus/TCP server (simonvetter/modbus) on
// 127.0.0.1 with programmable registers for every unit id and fault
// injection. Its methods are safe for concurrent use.
type ModbusServer struct {
	srv  *modbus.ModbusServer
	addr string
	// build makes a library server on addr. Start after Stop builds a new
	// one: the library's accept goroutine reads its listener field without
	// the lock that Start writes it under, a data race when one server is
	// started again.
	build func(addr string) (*modbus.ModbusServer, error)

	mu      sync.Mutex
	units   map[uint8]*modbusUnit
	faults  []*modbusFault
	stopped chan struct{} // closed by Stop and Close: wakes delayed answers
	closed  bool

	requests atomic.Uint64
	perUnit  [256]atomic.Uint64

	ignoreWrites atomic.Bool // IgnoreWrites: answer writes, change nothing
}

type modbusUnit struct {
	regs [2][]uint16 // holding, input
	bits [2][]bool   // coils, discrete inputs
}

type modbusFault struct {
	ModbusFault
	left int // requests left when Count > 0
}

// NewModbusServer starts a server on 127.0.0.1 on a free port. The port is
// picked before the server starts because the library cannot report the
// port it bound for ":0".
func NewModbusServer(cfg ModbusConfig) (*ModbusServer, error) {
	if (cfg.TLSCert == nil) != (cfg.TLSClientCAs == nil) {
		return nil, errors.New("scadatest: Modbus TLS needs both TLSCert and TLSClientCAs")
	}
	s := &ModbusServer{units: make(map[uint8]*modbusUnit), stopped: make(chan struct{})}
	logger := log.New(io.Discard, "", 0)
	if cfg.Logger != nil {
		logger = slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelDebug)
	}
	maxClients := cfg.MaxClients
	if maxClients == 0 {
		maxClients = 1024
	}
	scheme := "tcp"
	if cfg.TLSCert != nil {
		scheme = "tcp+tls"
	}
	s.build = func(addr string) (*modbus.ModbusServer, error) {
		srv, err := modbus.NewServer(&modbus.ServerConfiguration{
			URL:           scheme + "://" + addr,
			MaxClients:    maxClients,
			TLSServerCert: cfg.TLSCert,
			TLSClientCAs:  cfg.TLSClientCAs,
			Logger:        logger,
		}, (*modbusHandler)(s))
		if err != nil {
			return nil, fmt.Errorf("scadatest: modbus server: %w", err)
		}
		return srv, nil
	}
	var lastErr error
	for range 20 {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		srv, err := s.build(addr)
		if err != nil {
			return nil, err
		}
		if err := srv.Start(); err != nil {
			lastErr = err // someone took the port in between: pick another
			continue
		}
		s.srv, s.addr = srv, addr
		return s, nil
	}
	return nil, fmt.Errorf("scadatest: modbus server: no free port: %w", lastErr)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("scadatest: free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Addr returns the server's "host:port".
func (s *ModbusServer) Addr() string { return s.addr }

// Stop closes the listener and every client connection, as a device that
// reboots; [ModbusServer.Start] listens again on the same address. Register
// values and faults are kept.
func (s *ModbusServer) Stop() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return scada.ErrClosed
	}
	select {
	case <-s.stopped:
	default:
		close(s.stopped)
	}
	return s.srv.Stop()
}

// Start listens again after [ModbusServer.Stop].
func (s *ModbusServer) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return scada.ErrClosed
	}
	select {
	case <-s.stopped:
	default:
		return nil // running
	}
	srv, err := s.build(s.addr)
	if err != nil {
		return err
	}
	if err := srv.Start(); err != nil {
		return err
	}
	s.srv = srv
	s.stopped = make(chan struct{})
	return nil
}

// Close stops the server for good. Later calls return [scada.ErrClosed].
func (s *ModbusServer) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return scada.ErrClosed
	}
	s.closed = true
	select {
	case <-s.stopped:
	default:
		close(s.stopped)
	}
	return s.srv.Stop()
}

func (s *ModbusServer) unit(id uint8) *modbusUnit {
	u := s.units[id]
	if u == nil {
		u = &modbusUnit{
			regs: [2][]uint16{make([]uint16, 1<<16), make([]uint16, 1<<16)},
			bits: [2][]bool{make([]bool, 1<<16), make([]bool, 1<<16)},
		}
		s.units[id] = u
	}
	return u
}

// SetRegisters sets holding or input registers (table ModbusHolding or
// ModbusInput) of a unit from addr on; values past address 65535 are dropped.
func (s *ModbusServer) SetRegisters(unit uint8, table ModbusTable, addr uint16, values ...uint16) {
	s.mu.Lock()
	defer s.mu.Unlock()
	copy(s.unit(unit).regs[table&1][addr:], values)
}

// Registers returns n holding or input registers (table ModbusHolding or
// ModbusInput) of a unit from addr on. It panics if addr+n passes 65536.
func (s *ModbusServer) Registers(unit uint8, table ModbusTable, addr uint16, n int) []uint16 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]uint16(nil), s.unit(unit).regs[table&1][int(addr):int(addr)+n]...)
}

// SetBits sets coils or discrete inputs (table ModbusCoil or ModbusDiscrete)
// of a unit from addr on; values past address 65535 are dropped.
func (s *ModbusServer) SetBits(unit uint8, table ModbusTable, addr uint16, values ...bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	copy(s.unit(unit).bits[table&1][addr:], values)
}

// Bits returns n coils or discrete inputs (table ModbusCoil or
// ModbusDiscrete) of a unit from addr on. It panics if addr+n passes 65536.
func (s *ModbusServer) Bits(unit uint8, table ModbusTable, addr uint16, n int) []bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]bool(nil), s.unit(unit).bits[table&1][int(addr):int(addr)+n]...)
}

// AddFault injects f and returns a function that removes it.
func (s *ModbusServer) AddFault(f ModbusFault) (remove func()) {
	if f.Last < f.First {
		f.Last = f.First
	}
	mf := &modbusFault{ModbusFault: f, left: f.Count}
	s.mu.Lock()
	s.faults = append(s.faults, mf)
	s.mu.Unlock()
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		for i, g := range s.faults {
			if g == mf {
				s.faults = append(s.faults[:i], s.faults[i+1:]...)
				return
			}
		}
	}
}

// ClearFaults removes every injected fault.
func (s *ModbusServer) ClearFaults() {
	s.mu.Lock()
	s.faults = nil
	s.mu.Unlock()
}

// Requests returns how many requests the server received, for every unit.
func (s *ModbusServer) Requests() uint64 { return s.requests.Load() }

// UnitRequests returns how many requests the server received for one unit.
func (s *ModbusServer) UnitRequests(unit uint8) uint64 { return s.perUnit[unit].Load() }

// exceptionErrors maps exception codes to the errors the library answers with.
var exceptionErrors = map[uint8]error{
	1: modbus.ErrIllegalFunction, 2: modbus.ErrIllegalDataAddress, 3: modbus.ErrIllegalDataValue,
	4: modbus.ErrServerDeviceFailure, 5: modbus.ErrAcknowledge, 6: modbus.ErrServerDeviceBusy,
	8: modbus.ErrMemoryParityError, 0x0A: modbus.ErrGWPathUnavailable, 0x0B: modbus.ErrGWTargetFailedToRespond,
}

// serve counts the request, applies the first matching fault, and otherwise
// calls do with the unit under the lock.
func (s *ModbusServer) serve(unit uint8, table ModbusTable, addr, qty uint16, do func(u *modbusUnit)) error {
	s.requests.Add(1)
	s.perUnit[unit].Add(1)
	s.mu.Lock()
	var hit *modbusFault
	last := uint32(addr) + uint32(qty) - 1
	for _, f := range s.faults {
		if (f.AllUnits || f.UnitID == unit) && f.Table == table &&
			uint32(f.First) <= last && uint32(f.Last) >= uint32(addr) {
			hit = f
			break
		}
	}
	var fault ModbusFault
	if hit != nil {
		fault = hit.ModbusFault
		if hit.Count > 0 {
			if hit.left--; hit.left <= 0 {
				for i, g := range s.faults {
					if g == hit {
						s.faults = append(s.faults[:i], s.faults[i+1:]...)
						break
					}
				}
			}
		}
	}
	stopped := s.stopped
	s.mu.Unlock()

	if fault.Delay > 0 {
		t := time.NewTimer(fault.Delay)
		select {
		case <-t.C:
		case <-stopped:
			t.Stop()
			return modbus.ErrServerDeviceFailure
		}
	}
	if fault.Silent {
		return modbus.ErrGWTargetFailedToRespond
	}
	if fault.Exception != 0 {
		if err, ok := exceptionErrors[fault.Exception]; ok {
			return err
		}
		return modbus.ErrServerDeviceFailure
	}
	s.mu.Lock()
	do(s.unit(unit))
	s.mu.Unlock()
	return nil
}

// modbusHandler is the library's request handler over the server's state.
type modbusHandler ModbusServer

func (h *modbusHandler) HandleCoils(req *modbus.CoilsRequest) (res []bool, err error) {
	err = (*ModbusServer)(h).serve(req.UnitId, ModbusCoil, req.Addr, req.Quantity, func(u *modbusUnit) {
		b := u.bits[0][int(req.Addr) : int(req.Addr)+int(req.Quantity)]
		if req.IsWrite {
			if !h.ignoreWrites.Load() {
				copy(b, req.Args)
			}
			return
		}
		res = append([]bool(nil), b...)
	})
	return res, err
}

func (h *modbusHandler) HandleDiscreteInputs(req *modbus.DiscreteInputsRequest) (res []bool, err error) {
	err = (*ModbusServer)(h).serve(req.UnitId, ModbusDiscrete, req.Addr, req.Quantity, func(u *modbusUnit) {
		res = append([]bool(nil), u.bits[1][int(req.Addr):int(req.Addr)+int(req.Quantity)]...)
	})
	return res, err
}

func (h *modbusHandler) HandleHoldingRegisters(req *modbus.HoldingRegistersRequest) (res []uint16, err error) {
	err = (*ModbusServer)(h).serve(req.UnitId, ModbusHolding, req.Addr, req.Quantity, func(u *modbusUnit) {
		r := u.regs[0][int(req.Addr) : int(req.Addr)+int(req.Quantity)]
		if req.IsWrite {
			if !h.ignoreWrites.Load() {
				copy(r, req.Args)
			}
			return
		}
		res = append([]uint16(nil), r...)
	})
	return res, err
}

func (h *modbusHandler) HandleInputRegisters(req *modbus.InputRegistersRequest) (res []uint16, err error) {
	err = (*ModbusServer)(h).serve(req.UnitId, ModbusInput, req.Addr, req.Quantity, func(u *modbusUnit) {
		res = append([]uint16(nil), u.regs[1][int(req.Addr):int(req.Addr)+int(req.Quantity)]...)
	})
	return res, err
}

// GatewayFault is how a [ModbusGateway] misbehaves for one unit id.
type GatewayFault uint8

// The gateway faults.
const (
	// GatewayForward forwards the unit's requests to the server: no fault.
	GatewayForward GatewayFault = iota
	// GatewaySilent drops the unit's requests: no answer, no exception,
	// while the other units' requests are answered as usual, as a gateway
	// does that handles several transactions and whose target unit is dead.
	GatewaySilent
	// GatewayBadLength answers the unit's requests with an MBAP header whose
	// length field is 65535, which no Modbus/TCP frame can have.
	GatewayBadLength
	// GatewayPartial answers with the first bytes of a frame (the header and
	// one byte) and then nothing more on the connection: a slow loris.
	GatewayPartial
	// GatewayDrip sends the unit's answers one byte every
	// ModbusGatewayConfig.DripInterval; nothing else is sent meanwhile.
	GatewayDrip
)

// ModbusGatewayConfig configures a [ModbusGateway].
type ModbusGatewayConfig struct {
	// Server is the address of the Modbus/TCP server behind the gateway
	// (a [ModbusServer.Addr]). Required.
	Server string
	// DripInterval is the pause between the bytes of a GatewayDrip answer.
	// Zero means 300 ms.
	DripInterval time.Duration
}

// ModbusGateway is a Modbus/TCP gateway on 127.0.0.1 in front of a
// [ModbusServer]: it reads the client's requests one after the other,
// forwards them over a connection of its own to the server and relays the
// answers, except for the units given a [GatewayFault]. The client may send
// several requests without waiting (Modbus/TCP transaction ids), and a
// silent unit's request does not hold up the others. Its methods are safe for
// concurrent use.
type ModbusGateway struct {
	cfg ModbusGatewayConfig
	l   net.Listener

	mu      sync.Mutex
	faults  map[uint8]GatewayFault
	conns   map[net.Conn]struct{}
	closed  bool
	done    chan struct{} // closed by Close
	wg      sync.WaitGroup
	accepts atomic.Uint64
	perUnit [256]atomic.Uint64
	order   []uint8 // unit ids of the first request of each connection
}

// NewModbusGateway starts a gateway on a free port of 127.0.0.1.
func NewModbusGateway(cfg ModbusGatewayConfig) (*ModbusGateway, error) {
	if cfg.Server == "" {
		return nil, errors.New("scadatest: ModbusGateway needs a Server address")
	}
	if cfg.DripInterval <= 0 {
		cfg.DripInterval = 300 * time.Millisecond
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("scadatest: modbus gateway: %w", err)
	}
	g := &ModbusGateway{cfg: cfg, l: l, faults: make(map[uint8]GatewayFault), conns: make(map[net.Conn]struct{}), done: make(chan struct{})}
	g.wg.Add(1)
	go g.accept()
	return g, nil
}

// Addr returns the gateway's "host:port".
func (g *ModbusGateway) Addr() string { return g.l.Addr().String() }

// SetFault gives unit the fault f (GatewayForward removes it). Connections
// already open see it from their next request on.
func (g *ModbusGateway) SetFault(unit uint8, f GatewayFault) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if f == GatewayForward {
		delete(g.faults, unit)
		return
	}
	g.faults[unit] = f
}

// UnitRequests returns how many requests for unit the gateway received.
func (g *ModbusGateway) UnitRequests(unit uint8) uint64 { return g.perUnit[unit].Load() }

// Connections returns how many client connections the gateway accepted.
func (g *ModbusGateway) Connections() uint64 { return g.accepts.Load() }

// FirstUnits returns, for each client connection in the order they were
// accepted, the unit id of its first request.
func (g *ModbusGateway) FirstUnits() []uint8 {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]uint8(nil), g.order...)
}

// Close stops the gateway, closes every connection and waits for its
// goroutines. Later calls return [scada.ErrClosed].
func (g *ModbusGateway) Close() error {
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		return scada.ErrClosed
	}
	g.closed = true
	close(g.done)
	for c := range g.conns {
		_ = c.Close()
	}
	g.mu.Unlock()
	err := g.l.Close()
	g.wg.Wait()
	return err
}

func (g *ModbusGateway) track(c net.Conn) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		_ = c.Close()
		return false
	}
	g.conns[c] = struct{}{}
	return true
}

func (g *ModbusGateway) untrack(c net.Conn) {
	g.mu.Lock()
	delete(g.conns, c)
	g.mu.Unlock()
	_ = c.Close()
}

func (g *ModbusGateway) accept() {
	defer g.wg.Done()
	for {
		c, err := g.l.Accept()
		if err != nil {
			return
		}
		if !g.track(c) {
			continue
		}
		g.accepts.Add(1)
		g.wg.Add(1)
		go func() {
			defer g.wg.Done()
			defer g.untrack(c)
			g.serve(c)
		}()
	}
}

// serve handles one client connection.
func (g *ModbusGateway) serve(c net.Conn) {
	up, err := net.DialTimeout("tcp", g.cfg.Server, 5*time.Second)
	if err != nil {
		return
	}
	if !g.track(up) {
		return
	}
	defer g.untrack(up)
	first := true
	hdr := make([]byte, 7)
	buf := make([]byte, 260)
	for {
		if _, err := io.ReadFull(c, hdr); err != nil {
			return
		}
		n := int(hdr[4])<<8 | int(hdr[5])
		if n < 2 || n > 254 {
			return
		}
		req := append(buf[:0], hdr...)
		req = req[:7+n-1]
		if _, err := io.ReadFull(c, req[7:]); err != nil {
			return
		}
		unit := hdr[6]
		g.perUnit[unit].Add(1)
		g.mu.Lock()
		f := g.faults[unit]
		if first {
			g.order = append(g.order, unit)
			first = false
		}
		g.mu.Unlock()
		switch f {
		case GatewaySilent:
			continue
		case GatewayBadLength:
			if _, err := c.Write([]byte{hdr[0], hdr[1], 0, 0, 0xFF, 0xFF, unit}); err != nil {
				return
			}
			continue
		}
		if _, err := up.Write(req); err != nil {
			return
		}
		ans, err := readFrame(up)
		if err != nil {
			return
		}
		switch f {
		case GatewayPartial:
			_, _ = c.Write(ans[:8])
			_, _ = io.Copy(io.Discard, c) // say nothing more until the client leaves
			return
		case GatewayDrip:
			for i := range ans {
				if _, err := c.Write(ans[i : i+1]); err != nil {
					return
				}
				t := time.NewTimer(g.cfg.DripInterval)
				select {
				case <-t.C:
				case <-g.done:
					t.Stop()
					return
				}
			}
			continue
		}
		if _, err := c.Write(ans); err != nil {
			return
		}
	}
}

// readFrame reads one MBAP frame.
func readFrame(r io.Reader) ([]byte, error) {
	hdr := make([]byte, 7, 260)
	if _, err := io.ReadFull(r, hdr); err != nil {
		return nil, err
	}
	n := int(hdr[4])<<8 | int(hdr[5])
	if n < 2 || n > 254 {
		return nil, fmt.Errorf("scadatest: MBAP length %d", n)
	}
	f := hdr[:7+n-1]
	_, err := io.ReadFull(r, f[7:])
	return f, err
}
