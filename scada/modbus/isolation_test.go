package modbus

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/greenlang/gl001/scada"
	"github.com/greenlang/gl001/scada/scadatest"
)

// newGateway starts a simonvetter/modbus server with a gateway in front of
// it; units 1 to 3 hold their own id in register 0.
func newGateway(t testing.TB) (*scadatest.ModbusServer, *scadatest.ModbusGateway) {
	t.Helper()
	srv := newServer(t, scadatest.ModbusConfig{})
	for u := uint8(1); u <= 3; u++ {
		srv.SetRegisters(u, scadatest.ModbusHolding, 0, uint16(u))
	}
	gw, err := scadatest.NewModbusGateway(scadatest.ModbusGatewayConfig{Server: srv.Addr()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = gw.Close() })
	return srv, gw
}

func goodOf(points []scada.Point, tag string) int { return count(points, tag, true) }

// A unit that never answers (its requests dropped by the gateway, no
// exception) shares the connection with a live unit. The silent unit's
// request waits for an hour; the live unit goes on being polled meanwhile,
// through the first failure and through every probe. (Sent one at a time,
// the live unit would get no second poll within the hour.)
func TestSilentUnitDoesNotHoldUpOthers(t *testing.T) {
	_, gw := newGateway(t)
	gw.SetFault(2, scadatest.GatewaySilent)
	s := newSource(t, Config{Name: "gw", Address: gw.Addr(), Timeout: time.Hour, Devices: []Device{
		{UnitID: 1, PollInterval: 5 * time.Millisecond, Tags: []Tag{{Name: "live"}}},
		{UnitID: 2, PollInterval: 5 * time.Millisecond, Tags: []Tag{{Name: "silent"}}},
	}})
	sink := newCollector()
	run(t, s, sink)
	sink.waitFor(t, "20 live polls while the silent unit's first request waits", func(p []scada.Point) bool {
		return goodOf(p, "live") >= 20
	})
	if n := gw.UnitRequests(2); n != 1 {
		t.Errorf("the silent unit was asked %d times, want once (its request is still waiting)", n)
	}
	if n := count(sink.snapshot(), "silent", true) + count(sink.snapshot(), "silent", false); n != 0 {
		t.Errorf("%d points of the silent unit before its request ended", n)
	}
}

// Probes of a silent unit after its cooldown do not hold up the live unit
// either: over several probe cycles the live unit keeps its polls, and each
// probe shows as a Bad point of the silent unit.
func TestSilentUnitProbesDoNotHoldUpOthers(t *testing.T) {
	_, gw := newGateway(t)
	gw.SetFault(2, scadatest.GatewaySilent)
	s := newSource(t, Config{Name: "gw", Address: gw.Addr(), Timeout: time.Hour,
		UnitFailures: 1, UnitCooldown: 20 * time.Millisecond, Devices: []Device{
			{UnitID: 1, PollInterval: 5 * time.Millisecond, Tags: []Tag{{Name: "live"}}},
			{UnitID: 2, PollInterval: 5 * time.Millisecond, Timeout: 50 * time.Millisecond, Tags: []Tag{{Name: "silent"}}},
		}})
	sink := newCollector()
	run(t, s, sink)
	sink.waitFor(t, "five probe cycles", func([]scada.Point) bool { return s.Stats().Units[1].BreakerOpens >= 5 })
	// Every probe that timed out left the live unit polling: the live unit
	// has points from between the probes' starts and ends.
	before := goodOf(sink.snapshot(), "live")
	sink.waitFor(t, "live polls during the next probes", func(p []scada.Point) bool {
		return goodOf(p, "live") >= before+20 && s.Stats().Units[1].BreakerOpens >= 7
	})
	if st := s.Stats(); st.Units[0].BadPoints != 0 {
		t.Errorf("live unit: %+v", st.Units[0])
	}
}

// framingFaults are the answers that break a Modbus/TCP connection.
var framingFaults = []struct {
	name  string
	fault scadatest.GatewayFault
}{
	{"length 65535", scadatest.GatewayBadLength},
	{"slow loris", scadatest.GatewayPartial},
	{"drip", scadatest.GatewayDrip},
}

// One unit's answer breaks the framing. The other units get Bad points as
// soon as the connection goes (before Run returns); on the next connection
// they are polled first and get Good points while the faulty unit sits out
// its cooldown, Bad.
func TestFramingFaultIsolatesItsUnit(t *testing.T) {
	for _, tc := range framingFaults {
		t.Run(tc.name, func(t *testing.T) {
			_, gw := newGateway(t)
			gw.SetFault(2, tc.fault)
			cfg := Config{Name: "gw", Address: gw.Addr(), Timeout: 500 * time.Millisecond, UnitCooldown: time.Hour}
			for u := uint8(1); u <= 3; u++ {
				cfg.Devices = append(cfg.Devices, Device{UnitID: u, PollInterval: 50 * time.Millisecond,
					Tags: []Tag{{Name: fmt.Sprint("u", u)}}})
			}
			s := newSource(t, cfg)
			sink := newCollector()
			err := s.Run(context.Background(), sink)
			if !errors.Is(err, scada.ErrConnection) {
				t.Fatalf("Run = %v, want a connection error", err)
			}
			l := last(sink.snapshot())
			for _, tag := range []string{"u1", "u3"} {
				if p, ok := l[tag]; !ok || p.Quality != scada.BadNoCommunication {
					t.Errorf("%s when Run returned: %+v (delivered %v), want BadNoCommunication", tag, p, ok)
				}
			}
			st := s.Stats()
			if st.FramingFaults != 1 || !st.Units[1].Isolated || st.Units[0].Isolated || st.Units[2].Isolated {
				t.Fatalf("after the fault: framing faults %d, units %+v", st.FramingFaults, st.Units)
			}

			// The next connection, as the Collector makes it.
			sink.reset()
			stop, _ := run(t, s, sink)
			sink.waitFor(t, "Good points of units 1 and 3 on the new connection", func(p []scada.Point) bool {
				return goodOf(p, "u1") >= 3 && goodOf(p, "u3") >= 3
			})
			if err := stop(); err != nil {
				t.Fatalf("second Run: %v", err)
			}
			if first := gw.FirstUnits(); len(first) != 2 || first[1] == 2 {
				t.Errorf("first unit asked on each connection: %v; unit 2 must not go first after its fault", first)
			}
			if n := gw.UnitRequests(2); n != 1 {
				t.Errorf("unit 2 asked %d times, want once (skipped in its cooldown)", n)
			}
			if q := last(sink.snapshot())["u2"].Quality; q != scada.BadCommunicationError {
				t.Errorf("u2 in its cooldown: %v", q)
			}
		})
	}
}

// After its cooldown a unit that broke the framing is probed alone, after
// the others; once it answers in frames again it rejoins the poll.
func TestFramingFaultProbe(t *testing.T) {
	_, gw := newGateway(t)
	gw.SetFault(2, scadatest.GatewayBadLength)
	cfg := Config{Name: "gw", Address: gw.Addr(), Timeout: 500 * time.Millisecond, UnitCooldown: 50 * time.Millisecond}
	for u := uint8(1); u <= 3; u++ {
		cfg.Devices = append(cfg.Devices, Device{UnitID: u, PollInterval: 10 * time.Millisecond,
			Tags: []Tag{{Name: fmt.Sprint("u", u)}}})
	}
	s := newSource(t, cfg)
	sink := newCollector()
	if err := s.Run(context.Background(), sink); !errors.Is(err, scada.ErrConnection) {
		t.Fatalf("Run = %v", err)
	}
	// The probe after the cooldown breaks the connection again: alone on
	// the wire, it takes no other request with it.
	err := s.Run(context.Background(), sink)
	if !errors.Is(err, scada.ErrConnection) || s.Stats().FramingFaults != 2 {
		t.Fatalf("Run = %v, stats %+v", err, s.Stats())
	}
	first := gw.FirstUnits()
	if first[1] == 2 {
		t.Errorf("unit 2 was asked first on the second connection: %v", first)
	}
	gw.SetFault(2, scadatest.GatewayForward) // the device is repaired
	sink.reset()
	run(t, s, sink)
	sink.waitFor(t, "unit 2 back", func(p []scada.Point) bool { return goodOf(p, "u2") >= 3 && goodOf(p, "u1") >= 3 })
	if u := s.Stats().Units[1]; u.Isolated {
		t.Errorf("unit 2 still isolated after clean answers: %+v", u)
	}
}

// A text tag whose read fails is delivered as a Bad point, like any tag;
// its text, when read, goes to OnText.
func TestTextTagFailureIsABadPoint(t *testing.T) {
	srv := newServer(t, scadatest.ModbusConfig{})
	srv.SetRegisters(1, scadatest.ModbusHolding, 10, 0x4F4B) // "OK"
	var texts []string
	s := newSource(t, Config{Name: "plc", Address: srv.Addr(),
		OnText: func(tag, text string, _ time.Time) { texts = append(texts, tag+"="+text) },
		Devices: []Device{{UnitID: 1, Tags: []Tag{
			{Name: "v"},
			{Name: "status", Address: 10, Type: String, Length: 1},
		}}}})
	c := dial(t, s)
	sink := newCollector()
	if err := c.Poll(context.Background(), sink); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(texts, []string{"status=OK"}) {
		t.Errorf("texts %q", texts)
	}
	srv.AddFault(scadatest.ModbusFault{UnitID: 1, First: 10, Exception: 4})
	sink.reset()
	if err := c.Poll(context.Background(), sink); err != nil {
		t.Fatal(err)
	}
	if p, ok := last(sink.snapshot())["status"]; !ok || p.Quality != scada.BadDeviceFailure {
		t.Errorf("failed text tag: %+v (delivered %v), want a BadDeviceFailure point", p, ok)
	}
}

// Refusals that retrying cannot fix match scada.ErrPermanent: a server
// certificate from another CA, a client certificate the device refuses,
// and the exceptions that say the request does not fit the device.
func TestPermanentErrors(t *testing.T) {
	p, other := newPKI(t), newPKI(t)
	t.Run("server certificate of another CA", func(t *testing.T) {
		srv := newServer(t, scadatest.ModbusConfig{TLSCert: &other.server, TLSClientCAs: p.pool})
		s := newSource(t, Config{Name: "plc", Address: srv.Addr(), TLS: &tls.Config{RootCAs: p.pool, Certificates: []tls.Certificate{p.client}},
			Devices: []Device{{UnitID: 1, Tags: []Tag{{Name: "v"}}}}})
		err := s.Run(context.Background(), newCollector())
		if !errors.Is(err, scada.ErrPermanent) || !errors.Is(err, scada.ErrConnection) {
			t.Errorf("Run = %v, want a permanent connection error", err)
		}
	})
	t.Run("client certificate refused", func(t *testing.T) {
		srv := newServer(t, scadatest.ModbusConfig{TLSCert: &p.server, TLSClientCAs: other.pool})
		s := newSource(t, Config{Name: "plc", Address: srv.Addr(), TLS: &tls.Config{RootCAs: p.pool, Certificates: []tls.Certificate{p.client}},
			Devices: []Device{{UnitID: 1, Tags: []Tag{{Name: "v"}}}}})
		err := s.Run(context.Background(), newCollector())
		if !errors.Is(err, scada.ErrPermanent) || !errors.Is(err, scada.ErrConnection) {
			t.Errorf("Run = %v, want a permanent connection error", err)
		}
	})
	t.Run("refused connection is not permanent", func(t *testing.T) {
		srv := newServer(t, scadatest.ModbusConfig{})
		addr := srv.Addr()
		_ = srv.Close()
		s := newSource(t, Config{Name: "plc", Address: addr, Devices: []Device{{UnitID: 1, Tags: []Tag{{Name: "v"}}}}})
		if err := s.Run(context.Background(), newCollector()); !errors.Is(err, scada.ErrConnection) || errors.Is(err, scada.ErrPermanent) {
			t.Errorf("Run = %v, want a connection error that is not permanent", err)
		}
	})
	t.Run("exceptions", func(t *testing.T) {
		srv := newServer(t, scadatest.ModbusConfig{})
		var got []error
		s := newSource(t, Config{Name: "plc", Address: srv.Addr(), BusyRetries: -1, OnError: func(err error) { got = append(got, err) },
			Devices: []Device{{UnitID: 1, Tags: []Tag{{Name: "a"}, {Name: "b", Address: 10}, {Name: "c", Address: 20}}}}})
		srv.AddFault(scadatest.ModbusFault{UnitID: 1, First: 0, Exception: 1})
		srv.AddFault(scadatest.ModbusFault{UnitID: 1, First: 10, Exception: 6})
		srv.AddFault(scadatest.ModbusFault{UnitID: 1, First: 20, Exception: 0x0B})
		if err := dial(t, s).Poll(context.Background(), newCollector()); err != nil {
			t.Fatal(err)
		}
		want := map[Exception]bool{IllegalFunction: true, ServerDeviceBusy: false, GatewayTargetFailedToRespond: false}
		if len(got) != len(want) {
			t.Fatalf("errors %v", got)
		}
		for _, err := range got {
			var ex *ExceptionError
			if !errors.As(err, &ex) || errors.Is(err, scada.ErrPermanent) != want[ex.Code] {
				t.Errorf("%v: permanent %v, want %v", err, errors.Is(err, scada.ErrPermanent), want[ex.Code])
			}
		}
	})
}
