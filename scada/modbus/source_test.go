package modbus

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/greenlang/gl001/scada"
	"github.com/greenlang/gl001/scada/scadatest"
)

// TestEveryTypeOverTheWire puts every golden encoding in a real server's
// registers and checks the values a poll delivers.
func TestEveryTypeOverTheWire(t *testing.T) {
	srv := newServer(t, scadatest.ModbusConfig{})
	var tags []Tag
	want := make(map[string]float64)
	for i, g := range golden {
		addr := i * 4
		srv.SetRegisters(7, scadatest.ModbusHolding, uint16(addr), g.regs...)
		name := fmt.Sprintf("%s_%s_%d", g.typ, g.order, i)
		tags = append(tags, Tag{Name: name, Address: addr, Type: g.typ, Order: g.order, Bit: g.bit})
		want[name] = g.want
	}
	srv.SetRegisters(7, scadatest.ModbusInput, 10, 250)
	srv.SetBits(7, scadatest.ModbusCoil, 3, true)
	srv.SetBits(7, scadatest.ModbusDiscrete, 9, false, true)
	srv.SetRegisters(7, scadatest.ModbusInput, 20, 0x4142, 0x4300)
	tags = append(tags,
		Tag{Name: "scaled", Table: InputRegister, Address: 10, Scale: 0.1, Offset: -5, Unit: "degC"},
		Tag{Name: "coil", Table: Coil, Address: 3},
		Tag{Name: "di9", Table: DiscreteInput, Address: 9},
		Tag{Name: "di10", Table: DiscreteInput, Address: 10},
		Tag{Name: "model", Table: InputRegister, Address: 20, Type: String, Length: 2},
	)
	want["scaled"], want["coil"], want["di9"], want["di10"] = 20, 1, 0, 1
	var text string
	s := newSource(t, Config{Name: "plc", Address: srv.Addr(), Devices: []Device{{UnitID: 7, Tags: tags}},
		OnText: func(tag, s string, _ time.Time) { text = tag + "=" + s }})
	sink := newCollector()
	if err := dial(t, s).Poll(context.Background(), sink); err != nil {
		t.Fatal(err)
	}
	got := last(sink.snapshot())
	if len(got) != len(want) {
		t.Errorf("got %d points, want %d", len(got), len(want))
	}
	for name, v := range want {
		p := got[name]
		if !p.Quality.IsGood() || p.Value != v || p.Source != "plc" || p.Time.IsZero() {
			t.Errorf("%s: got %+v, want Good %v", name, p, v)
		}
	}
	if got["scaled"].Unit != "degC" {
		t.Errorf("unit %q", got["scaled"].Unit)
	}
	if text != "model=ABC" {
		t.Errorf("OnText got %q", text)
	}
	if st := s.Stats(); st.Requests != uint64(len(s.Plan())) || st.Polls != 1 {
		t.Errorf("one poll: %d requests, plan has %d; polls %d", st.Requests, len(s.Plan()), st.Polls)
	}
}

// TestPlanIsWhatTheServerSees checks that a poll sends exactly the planned
// requests.
func TestPlanIsWhatTheServerSees(t *testing.T) {
	srv := newServer(t, scadatest.ModbusConfig{})
	var tags []Tag
	for i := range 100 {
		tags = append(tags, Tag{Name: fmt.Sprint("r", i), Address: i})
	}
	tags = append(tags, Tag{Name: "far", Address: 1000, Type: Float32}, Tag{Name: "c1", Table: Coil, Address: 1}, Tag{Name: "c2", Table: Coil, Address: 2})
	s := newSource(t, Config{Name: "plc", Address: srv.Addr(), Devices: []Device{{UnitID: 1, Tags: tags}}})
	plan := s.Plan()
	if len(plan) != 3 || plan[0].Quantity != 100 || plan[1].Address != 1000 || plan[2].Table != Coil || len(plan[2].Tags) != 2 {
		t.Fatalf("plan %+v", plan)
	}
	c := dial(t, s)
	for range 3 {
		if err := c.Poll(context.Background(), newCollector()); err != nil {
			t.Fatal(err)
		}
	}
	if n := srv.Requests(); n != 9 {
		t.Errorf("server saw %d requests for 3 polls, want 9", n)
	}
}

func TestExceptionIsolatesItsRequest(t *testing.T) {
	srv := newServer(t, scadatest.ModbusConfig{})
	srv.SetRegisters(1, scadatest.ModbusHolding, 0, 11)
	srv.SetRegisters(1, scadatest.ModbusHolding, 20, 33)
	srv.AddFault(scadatest.ModbusFault{UnitID: 1, Table: scadatest.ModbusHolding, First: 10, Last: 12, Exception: 2})
	var mu sync.Mutex
	var errs []error
	s := newSource(t, Config{Name: "plc", Address: srv.Addr(),
		OnError: func(err error) { mu.Lock(); errs = append(errs, err); mu.Unlock() },
		Devices: []Device{{UnitID: 1, Tags: []Tag{
			{Name: "a", Address: 0}, {Name: "b", Address: 10}, {Name: "b2", Address: 11}, {Name: "c", Address: 20},
		}}}})
	sink := newCollector()
	if err := dial(t, s).Poll(context.Background(), sink); err != nil {
		t.Fatal(err)
	}
	got := last(sink.snapshot())
	if a, c := got["a"], got["c"]; !a.Quality.IsGood() || a.Value != 11 || !c.Quality.IsGood() || c.Value != 33 {
		t.Errorf("tags around the exception: %+v %+v", a, c)
	}
	for _, tag := range []string{"b", "b2"} {
		if p := got[tag]; p.Quality != scada.BadNodeIDUnknown || p.Value != 0 {
			t.Errorf("%s: %+v, want BadNodeIdUnknown", tag, p)
		}
	}
	st := s.Stats()
	// b and b2 were one read; it is split and both are tried alone.
	if st.Exceptions != 3 || st.ByException[IllegalDataAddress] != 3 || st.Splits != 1 || st.BadPoints != 2 || st.Points != 4 {
		t.Errorf("stats %+v", st)
	}
	mu.Lock()
	defer mu.Unlock()
	var ex *ExceptionError
	if len(errs) != 3 || !errors.As(errs[0], &ex) || ex.Code != IllegalDataAddress || ex.Address != 10 || ex.Quantity != 2 ||
		!errors.Is(errs[0], IllegalDataAddress) {
		t.Errorf("OnError got %v", errs)
	}
}

// TestIllegalAddressSplitsMergedRead: a read merged across a gap fails
// whole when the device lacks one address it covers. The read is split, so
// only the tag at the missing address stays Bad, in this poll and the next.
func TestIllegalAddressSplitsMergedRead(t *testing.T) {
	srv := newServer(t, scadatest.ModbusConfig{})
	srv.SetRegisters(1, scadatest.ModbusHolding, 0, 1, 2)
	srv.SetRegisters(1, scadatest.ModbusHolding, 20, 0x4120, 0)
	srv.AddFault(scadatest.ModbusFault{UnitID: 1, Table: scadatest.ModbusHolding, First: 10, Exception: 2})
	s := newSource(t, Config{Name: "plc", Address: srv.Addr(), MaxGap: 20, Devices: []Device{{UnitID: 1, Tags: []Tag{
		{Name: "a", Address: 0}, {Name: "a.bit1", Address: 1, Type: Bool, Bit: 1}, {Name: "a2", Address: 1},
		{Name: "gone", Address: 10}, {Name: "c", Address: 20, Type: Float32},
	}}}})
	if n := len(s.Plan()); n != 1 {
		t.Fatalf("planned %d reads, want 1", n)
	}
	sink := newCollector()
	c := dial(t, s)
	for poll := range 2 {
		sink.reset()
		if err := c.Poll(context.Background(), sink); err != nil {
			t.Fatal(err)
		}
		got := last(sink.snapshot())
		if len(got) != 5 || got["a"].Value != 1 || got["a.bit1"].Value != 1 || got["a2"].Value != 2 || got["c"].Value != 10 ||
			got["gone"].Quality != scada.BadNodeIDUnknown {
			t.Errorf("poll %d: %+v", poll, got)
		}
		for tag, p := range got {
			if tag != "gone" && !p.Quality.IsGood() {
				t.Errorf("poll %d: %s is %v", poll, tag, p.Quality)
			}
		}
	}
	// a, the register shared by a.bit1 and a2, gone, c.
	if plan := s.Plan(); len(plan) != 4 || len(plan[1].Tags) != 2 {
		t.Errorf("plan after the split: %+v", plan)
	}
	// 1 merged read and 4 single reads, then 4 single reads.
	if n := srv.Requests(); n != 9 {
		t.Errorf("server saw %d requests, want 9", n)
	}
	if st := s.Stats(); st.Splits != 1 {
		t.Errorf("%d splits", st.Splits)
	}
}

func TestExceptionQualities(t *testing.T) {
	srv := newServer(t, scadatest.ModbusConfig{})
	codes := []Exception{IllegalFunction, IllegalDataAddress, IllegalDataValue, ServerDeviceFailure, Acknowledge, MemoryParityError, GatewayPathUnavailable, GatewayTargetFailedToRespond}
	var devs []Device
	for i, code := range codes {
		// One unit per code: a gateway code makes the rest of its unit's poll skipped.
		unit := uint8(i + 1)
		srv.AddFault(scadatest.ModbusFault{UnitID: unit, Table: scadatest.ModbusInput, First: 10, Exception: uint8(code)})
		devs = append(devs, Device{UnitID: unit, Tags: []Tag{{Name: fmt.Sprint(i), Table: InputRegister, Address: 10}}})
	}
	s := newSource(t, Config{Name: "plc", Address: srv.Addr(), Devices: devs})
	sink := newCollector()
	c := dial(t, s)
	if err := c.Poll(context.Background(), sink); err != nil {
		t.Fatal(err)
	}
	got := last(sink.snapshot())
	for i, code := range codes {
		q := got[fmt.Sprint(i)].Quality
		if !q.IsBad() || q != code.Quality() {
			t.Errorf("exception %d: quality %v, want %v", code, q, code.Quality())
		}
	}
	if st := s.Stats(); st.Exceptions != uint64(len(codes)) {
		t.Errorf("%d exceptions counted", st.Exceptions)
	}
}

func TestBusyIsRetried(t *testing.T) {
	srv := newServer(t, scadatest.ModbusConfig{})
	srv.SetRegisters(1, scadatest.ModbusHolding, 5, 42)
	srv.AddFault(scadatest.ModbusFault{UnitID: 1, First: 5, Exception: 6, Count: 2})
	s := newSource(t, Config{Name: "plc", Address: srv.Addr(), BusyBackoff: time.Millisecond,
		Devices: []Device{{UnitID: 1, Tags: []Tag{{Name: "v", Address: 5}}}}})
	sink := newCollector()
	if err := dial(t, s).Poll(context.Background(), sink); err != nil {
		t.Fatal(err)
	}
	if p := last(sink.snapshot())["v"]; !p.Quality.IsGood() || p.Value != 42 {
		t.Errorf("after two busy answers: %+v", p)
	}
	if st := s.Stats(); st.BusyRetries != 2 || st.Exceptions != 0 || srv.Requests() != 3 {
		t.Errorf("busy retries %d, exceptions %d, server requests %d", st.BusyRetries, st.Exceptions, srv.Requests())
	}
}

func TestBusyGivesUp(t *testing.T) {
	srv := newServer(t, scadatest.ModbusConfig{})
	srv.AddFault(scadatest.ModbusFault{UnitID: 1, First: 5, Exception: 6})
	s := newSource(t, Config{Name: "plc", Address: srv.Addr(), BusyBackoff: time.Millisecond, BusyRetries: 2,
		Devices: []Device{{UnitID: 1, Tags: []Tag{{Name: "v", Address: 5}}}}})
	sink := newCollector()
	if err := dial(t, s).Poll(context.Background(), sink); err != nil {
		t.Fatal(err)
	}
	if p := last(sink.snapshot())["v"]; p.Quality != ServerDeviceBusy.Quality() {
		t.Errorf("busy to the end: %+v", p)
	}
	if st := s.Stats(); st.BusyRetries != 2 || st.ByException[ServerDeviceBusy] != 1 || srv.Requests() != 3 {
		t.Errorf("stats %+v, server requests %d", st, srv.Requests())
	}
}

func gatewayConfig(addr string) Config {
	var devs []Device
	for u := uint8(1); u <= 3; u++ {
		devs = append(devs, Device{UnitID: u, Tags: []Tag{
			{Name: fmt.Sprint("u", u, "a"), Address: 0},
			{Name: fmt.Sprint("u", u, "b"), Address: 50}, // a second request per unit
		}})
	}
	return Config{Name: "gw", Address: addr, Devices: devs, UnitFailures: 2, UnitCooldown: time.Hour}
}

// TestGatewayTargetFailing: the gateway answers exception 0x0B for unit 2.
// Its breaker opens after two polls and it is no longer asked; units 1 and 3
// are delivered Good every poll.
func TestGatewayTargetFailing(t *testing.T) {
	srv := newServer(t, scadatest.ModbusConfig{})
	for u := uint8(1); u <= 3; u++ {
		srv.SetRegisters(u, scadatest.ModbusHolding, 0, uint16(u))
	}
	srv.AddFault(scadatest.ModbusFault{UnitID: 2, Table: scadatest.ModbusHolding, First: 0, Last: 65535, Exception: 0x0B})
	s := newSource(t, gatewayConfig(srv.Addr()))
	sink := newCollector()
	c := dial(t, s)
	for range 6 {
		if err := c.Poll(context.Background(), sink); err != nil {
			t.Fatal(err)
		}
	}
	pts := sink.snapshot()
	for _, tag := range []string{"u1a", "u1b", "u3a", "u3b"} {
		if n := count(pts, tag, true); n != 6 {
			t.Errorf("%s: %d Good points in 6 polls", tag, n)
		}
	}
	if n := count(pts, "u2a", false); n != 6 {
		t.Errorf("u2a: %d Bad points in 6 polls", n)
	}
	if q := last(pts)["u2a"].Quality; q != scada.BadNoCommunication {
		t.Errorf("skipped unit quality %v", q)
	}
	// Each failing poll sends one request (the second is skipped once the
	// unit failed); after two the breaker is open.
	if n := srv.UnitRequests(2); n != 2 {
		t.Errorf("unit 2 was asked %d times, want 2", n)
	}
	st := s.Stats()
	if u := st.Units[1]; !u.BreakerOpen || u.BreakerOpens != 1 || u.LastError == "" {
		t.Errorf("unit 2 health %+v", u)
	}
	if u := st.Units[0]; u.BreakerOpen || u.BadPoints != 0 || u.Points != 12 {
		t.Errorf("unit 1 health %+v", u)
	}
	if st.Skipped != 4 {
		t.Errorf("skipped %d requests, want 4", st.Skipped)
	}
}

// TestGatewaySilentUnit: unit 2 does not answer at all. Its requests time
// out, which does not end the connection because units 1 and 3 still answer;
// after two timeouts its breaker skips it.
func TestGatewaySilentUnit(t *testing.T) {
	srv := newServer(t, scadatest.ModbusConfig{})
	for u := uint8(1); u <= 3; u++ {
		srv.SetRegisters(u, scadatest.ModbusHolding, 0, uint16(u))
	}
	// The gateway holds unit 2's request past the client's timeout; the
	// late answer must be recognised and dropped.
	srv.AddFault(scadatest.ModbusFault{UnitID: 2, Table: scadatest.ModbusHolding, First: 0, Last: 65535, Silent: true, Delay: 1300 * time.Millisecond})
	cfg := gatewayConfig(srv.Addr())
	cfg.Timeout = time.Second
	s := newSource(t, cfg)
	sink := newCollector()
	c := dial(t, s)
	for range 5 {
		if err := c.Poll(context.Background(), sink); err != nil {
			t.Fatal(err)
		}
	}
	pts := sink.snapshot()
	for _, tag := range []string{"u1a", "u1b", "u3a", "u3b"} {
		if n := count(pts, tag, true); n != 5 {
			t.Errorf("%s: %d Good points in 5 polls", tag, n)
		}
	}
	for _, p := range pts {
		if p.Tag == "u1a" && p.Value != 1 || p.Tag == "u3a" && p.Value != 3 {
			t.Errorf("a late answer was taken for another request: %+v", p)
		}
	}
	if n := srv.UnitRequests(2); n != 2 {
		t.Errorf("unit 2 was asked %d times, want 2", n)
	}
	st := s.Stats()
	// On a loaded machine the client may see its deadline only after the
	// gateway's late "target failed to respond" arrived; both count.
	if n := st.Timeouts + st.ByException[GatewayTargetFailedToRespond]; n != 2 || !st.Units[1].BreakerOpen {
		t.Errorf("timeouts %d, exceptions %v, unit 2 %+v", st.Timeouts, st.ByException, st.Units[1])
	}
	if q := last(pts)["u2b"].Quality; q != scada.BadNoCommunication {
		t.Errorf("u2b quality %v", q)
	}
}

func TestRunEndsWhenNothingAnswers(t *testing.T) {
	srv := newServer(t, scadatest.ModbusConfig{})
	srv.AddFault(scadatest.ModbusFault{AllUnits: true, First: 0, Last: 65535, Silent: true, Delay: time.Hour})
	s := newSource(t, Config{Name: "plc", Address: srv.Addr(), Timeout: 50 * time.Millisecond,
		Devices: []Device{{UnitID: 1, Tags: []Tag{{Name: "v"}}}}})
	sink := newCollector()
	stop, done := run(t, s, sink)
	select {
	case <-done:
		if err := stop(); !errors.Is(err, scada.ErrConnection) || !errors.Is(err, ErrTimeout) {
			t.Fatalf("Run returned %v, want a connection error from a timeout", err)
		}
	case <-time.After(wait):
		t.Fatal("Run did not end")
	}
	if p := last(sink.snapshot())["v"]; p.Quality != scada.BadTimeout {
		t.Errorf("point before the end: %+v", p)
	}
}

// TestSlowUnitWithinTimeout: a unit that answers slowly but in time is
// delivered as usual and does not count against its breaker.
func TestSlowUnitWithinTimeout(t *testing.T) {
	srv := newServer(t, scadatest.ModbusConfig{})
	srv.SetRegisters(3, scadatest.ModbusHolding, 0, 5)
	srv.AddFault(scadatest.ModbusFault{UnitID: 3, First: 0, Last: 65535, Delay: 100 * time.Millisecond})
	s := newSource(t, Config{Name: "gw", Address: srv.Addr(), Timeout: 10 * time.Second, UnitFailures: 1,
		Devices: []Device{{UnitID: 3, Tags: []Tag{{Name: "v"}}}}})
	sink := newCollector()
	c := dial(t, s)
	for range 2 {
		if err := c.Poll(context.Background(), sink); err != nil {
			t.Fatal(err)
		}
	}
	if n := count(sink.snapshot(), "v", true); n != 2 {
		t.Errorf("%d Good points from a slow unit in 2 polls", n)
	}
	if u := s.Stats().Units[0]; u.BreakerOpen || u.Failures != 0 {
		t.Errorf("slow unit health %+v", u)
	}
}

// TestDeviceTimeout: a unit's own Timeout overrides the connection's.
func TestDeviceTimeout(t *testing.T) {
	srv := newServer(t, scadatest.ModbusConfig{})
	srv.AddFault(scadatest.ModbusFault{UnitID: 2, First: 0, Last: 65535, Silent: true, Delay: time.Hour})
	s := newSource(t, Config{Name: "gw", Address: srv.Addr(), Timeout: time.Hour,
		Devices: []Device{{UnitID: 2, Timeout: 20 * time.Millisecond, Tags: []Tag{{Name: "v"}}}}})
	err := dial(t, s).Poll(context.Background(), newCollector())
	if !errors.Is(err, ErrTimeout) || !strings.Contains(err.Error(), "after 20ms") {
		t.Fatalf("Poll of a silent unit with a 20ms timeout: %v", err)
	}
}

// TestReconnect: the device restarts. Run ends with a connection error; the
// next Run (as the Collector makes) connects again and resumes.
func TestReconnect(t *testing.T) {
	srv := newServer(t, scadatest.ModbusConfig{})
	srv.SetRegisters(1, scadatest.ModbusHolding, 0, 7)
	s := newSource(t, Config{Name: "plc", Address: srv.Addr(), Timeout: 2 * time.Second,
		Devices: []Device{{UnitID: 1, PollInterval: 5 * time.Millisecond, Tags: []Tag{{Name: "v"}}}}})
	sink := newCollector()
	stop, done := run(t, s, sink)
	sink.waitFor(t, "first points", func(p []scada.Point) bool { return count(p, "v", true) >= 3 })

	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
		if err := stop(); !errors.Is(err, scada.ErrConnection) {
			t.Fatalf("Run returned %v, want a connection error", err)
		}
	case <-time.After(wait):
		t.Fatal("Run did not end when the device went away")
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	srv.SetRegisters(1, scadatest.ModbusHolding, 0, 8)
	sink.reset()
	stop, _ = run(t, s, sink)
	sink.waitFor(t, "points after the restart", func(p []scada.Point) bool {
		for _, pt := range p {
			if pt.Quality.IsGood() && pt.Value == 8 {
				return true
			}
		}
		return false
	})
	if err := stop(); err != nil {
		t.Fatalf("Run after cancel: %v", err)
	}
	if st := s.Stats(); st.Connects != 2 {
		t.Errorf("%d connects, want 2", st.Connects)
	}
}

func TestRunCancelAndRunning(t *testing.T) {
	srv := newServer(t, scadatest.ModbusConfig{})
	s := newSource(t, Config{Name: "plc", Address: srv.Addr(),
		Devices: []Device{{UnitID: 1, PollInterval: time.Hour, Tags: []Tag{{Name: "v"}}}}})
	sink := newCollector()
	stop, _ := run(t, s, sink)
	sink.waitFor(t, "first poll", func(p []scada.Point) bool { return len(p) == 1 })
	if err := s.Run(context.Background(), sink); !errors.Is(err, ErrRunning) {
		t.Errorf("second Run: %v", err)
	}
	if !s.Stats().Connected {
		t.Error("not Connected while Run polls")
	}
	if err := stop(); err != nil {
		t.Errorf("Run after cancel returned %v", err)
	}
	if s.Stats().Connected {
		t.Error("Connected after Run returned")
	}
}

// TestCancelInterruptsRequest: cancelling Run interrupts a request in
// flight at once, however long the timeout.
func TestCancelInterruptsRequest(t *testing.T) {
	srv := newServer(t, scadatest.ModbusConfig{})
	s := newSource(t, Config{Name: "plc", Address: srv.Addr(), Timeout: time.Hour,
		Devices: []Device{{UnitID: 1, Tags: []Tag{{Name: "v"}}}}})
	held := make(chan struct{})
	srv.AddFault(scadatest.ModbusFault{UnitID: 1, First: 0, Last: 65535, Delay: time.Hour})
	stop, done := run(t, s, newCollector())
	go func() {
		// The request is in flight once the server has counted it.
		for srv.Requests() == 0 {
			select {
			case <-done:
				return
			case <-time.After(time.Millisecond):
			}
		}
		close(held)
	}()
	select {
	case <-held:
	case <-time.After(wait):
		t.Fatal("no request reached the server")
	}
	if err := stop(); err != nil {
		t.Fatalf("Run after cancel during a request: %v", err)
	}
}

func TestDialRefused(t *testing.T) {
	srv := newServer(t, scadatest.ModbusConfig{})
	addr := srv.Addr()
	_ = srv.Close()
	s := newSource(t, Config{Name: "plc", Address: addr, Devices: []Device{{UnitID: 1, Tags: []Tag{{Name: "v"}}}}})
	err := s.Run(context.Background(), newCollector())
	if !errors.Is(err, scada.ErrConnection) {
		t.Fatalf("Run to a closed port: %v", err)
	}
	if st := s.Stats(); st.DialErrors != 1 {
		t.Errorf("dial errors %d", st.DialErrors)
	}
}

func TestSinkErrorEndsRun(t *testing.T) {
	srv := newServer(t, scadatest.ModbusConfig{})
	s := newSource(t, Config{Name: "plc", Address: srv.Addr(), Devices: []Device{{UnitID: 1, Tags: []Tag{{Name: "v"}}}}})
	refused := errors.New("buffer full")
	err := s.Run(context.Background(), scada.SinkFunc(func(context.Context, []scada.Point) error { return refused }))
	if !errors.Is(err, refused) {
		t.Fatalf("Run returned %v", err)
	}
}

func TestWrite(t *testing.T) {
	srv := newServer(t, scadatest.ModbusConfig{})
	s := newSource(t, Config{Name: "plc", Address: srv.Addr(), Devices: []Device{{UnitID: 4, PollInterval: 10 * time.Millisecond, Tags: []Tag{
		{Name: "setpoint", Address: 100, Type: Float32, Order: CDAB, Scale: 0.5, Writable: true},
		{Name: "speed", Address: 110, Type: Int16, Writable: true},
		{Name: "total", Address: 120, Type: Uint64, Order: DCBA, Writable: true},
		{Name: "pump", Table: Coil, Address: 5, Writable: true},
		{Name: "reading", Address: 130},
	}}}})
	ctx := context.Background()
	// Without a running Run, Write opens a connection of its own, as the
	// OPC UA Source does.
	if err := s.Write(ctx, "speed", 1); err != nil {
		t.Errorf("write without Run: %v", err)
	}
	if got := srv.Registers(4, scadatest.ModbusHolding, 110, 1); got[0] != 1 {
		t.Errorf("speed register after a write without Run: %04X", got)
	}
	if st := s.Stats(); st.Connects != 1 || st.Connected {
		t.Errorf("after a write without Run: connects %d, connected %v", st.Connects, st.Connected)
	}
	sink := newCollector()
	run(t, s, sink)
	sink.waitFor(t, "connection", func(p []scada.Point) bool { return len(p) > 0 })

	for _, w := range []struct {
		tag string
		v   float64
	}{{"setpoint", 61.5}, {"speed", -300.4}, {"total", 1e12}, {"pump", 1}} {
		if err := s.Write(ctx, w.tag, w.v); err != nil {
			t.Fatalf("write %s: %v", w.tag, err)
		}
	}
	// 61.5 / 0.5 = 123 = 0x42F60000 as float32, low word first.
	if got := srv.Registers(4, scadatest.ModbusHolding, 100, 2); got[0] != 0x0000 || got[1] != 0x42F6 {
		t.Errorf("setpoint registers %04X", got)
	}
	if got := srv.Registers(4, scadatest.ModbusHolding, 110, 1); got[0] != 0xFED4 { // -300
		t.Errorf("speed register %04X", got)
	}
	// 1e12 = 0x000000E8D4A51000, little-endian.
	if got := srv.Registers(4, scadatest.ModbusHolding, 120, 4); fmt.Sprintf("%04X", got) != "[0010 A5D4 E800 0000]" {
		t.Errorf("total registers %04X", got)
	}
	if !srv.Bits(4, scadatest.ModbusCoil, 5, 1)[0] {
		t.Error("pump coil not set")
	}
	sink.waitFor(t, "the written setpoint read back", func(p []scada.Point) bool {
		l := last(p)
		return l["setpoint"].Value == 61.5 && l["speed"].Value == -300 && l["pump"].Value == 1
	})

	var te *TagError
	if err := s.Write(ctx, "reading", 1); !errors.Is(err, scada.ErrNotWritable) || !errors.As(err, &te) || te.Tag != "reading" {
		t.Errorf("write to a read-only tag: %v", err)
	}
	if err := s.Write(ctx, "nope", 1); !errors.Is(err, scada.ErrUnknownTag) {
		t.Errorf("write to an unknown tag: %v", err)
	}
	if err := s.Write(ctx, "speed", 40000); !errors.Is(err, ErrOutOfRange) {
		t.Errorf("write out of range: %v", err)
	}
	if err := s.Write(ctx, "pump", math.NaN()); !errors.Is(err, ErrOutOfRange) {
		t.Errorf("write NaN: %v", err)
	}
	srv.AddFault(scadatest.ModbusFault{UnitID: 4, First: 110, Exception: 3})
	if err := s.Write(ctx, "speed", 5); !errors.Is(err, IllegalDataValue) || !errors.As(err, &te) || !errors.Is(err, scada.ErrPermanent) {
		t.Errorf("write refused by the device: %v", err)
	}
	if st := s.Stats(); st.Writes != 5 || st.WriteErrors != 5 {
		t.Errorf("writes %d, errors %d", st.Writes, st.WriteErrors)
	}
}

func TestNaNIsBad(t *testing.T) {
	srv := newServer(t, scadatest.ModbusConfig{})
	srv.SetRegisters(1, scadatest.ModbusHolding, 0, 0x7FC0, 0x0000, 0x7F80, 0x0000, 0x4120, 0x0000)
	s := newSource(t, Config{Name: "plc", Address: srv.Addr(), Devices: []Device{{UnitID: 1, Tags: []Tag{
		{Name: "nan", Type: Float32}, {Name: "inf", Address: 2, Type: Float32}, {Name: "ten", Address: 4, Type: Float32},
	}}}})
	sink := newCollector()
	if err := dial(t, s).Poll(context.Background(), sink); err != nil {
		t.Fatal(err)
	}
	got := last(sink.snapshot())
	if got["nan"].Quality != scada.BadSensorFailure || got["inf"].Quality != scada.BadSensorFailure || got["ten"].Value != 10 {
		t.Errorf("points %+v", got)
	}
}
