package modbus

import (
	"sync/atomic"

	"github.com/greenlang/gl001/resilience"
)

// Stats is a snapshot of a Source's counters since New. Counters only grow.
type Stats struct {
	Connected  bool   // a Run holds a connection now
	Connects   uint64 // connections opened
	DialErrors uint64 // connection attempts that failed
	Polls      uint64 // device polls completed (one per device per interval)
	Requests   uint64 // read requests sent, busy retries included
	Overruns   uint64 // polls that took longer than their interval

	Points    uint64 // points delivered, Bad ones included
	BadPoints uint64 // points delivered with a Bad quality

	Exceptions  uint64               // requests answered with an exception
	ByException map[Exception]uint64 // Exceptions by code
	BusyRetries uint64               // requests repeated after exception 6
	Timeouts    uint64               // requests not answered in Config.Timeout
	BadInput    uint64               // malformed answers and undecodable registers
	Skipped     uint64               // requests skipped while a unit's breaker was open
	Splits      uint64               // merged reads split after an illegal data address
	// FramingFaults counts connections lost because a unit's answer broke
	// the framing (the unit then sits out Config.UnitCooldown).
	FramingFaults uint64
	Writes        uint64 // successful writes
	WriteErrors   uint64 // refused or failed writes

	Units []UnitStats // one per Device, in configuration order
}

// UnitStats is the health of one unit id.
type UnitStats struct {
	UnitID      uint8
	BreakerOpen bool // the unit is being skipped
	// Isolated: the unit's answers broke the framing (or may have), so it is
	// skipped until its cooldown ends and then polled alone on the wire.
	Isolated     bool
	Failures     int    // failed requests in a row (timeouts, gateway target silent)
	BreakerOpens uint64 // times the breaker opened
	Points       uint64
	BadPoints    uint64
	LastError    string // the last request error, empty if none
}

type counters struct {
	connects, dialErrors, polls, requests, overruns atomic.Uint64
	points, badPoints                               atomic.Uint64
	exceptions, busyRetries, timeouts, badInput     atomic.Uint64
	skipped, writes, writeErrors, splits            atomic.Uint64
	framingFaults                                   atomic.Uint64
	byException                                     [256]atomic.Uint64
	units                                           []unitCounters
}

type unitCounters struct {
	points, badPoints atomic.Uint64
	lastError         atomic.Pointer[errBox]
}

type errBox struct{ err error }

func (c *counters) countException(e Exception) {
	c.exceptions.Add(1)
	c.byException[e].Add(1)
}

// Stats returns a snapshot of the counters and the health of every unit.
func (s *Source) Stats() Stats {
	st := &s.st
	out := Stats{
		Connects: st.connects.Load(), DialErrors: st.dialErrors.Load(), Polls: st.polls.Load(),
		Requests: st.requests.Load(), Overruns: st.overruns.Load(),
		Points: st.points.Load(), BadPoints: st.badPoints.Load(),
		Exceptions: st.exceptions.Load(), BusyRetries: st.busyRetries.Load(),
		Timeouts: st.timeouts.Load(), BadInput: st.badInput.Load(), Skipped: st.skipped.Load(), Splits: st.splits.Load(),
		FramingFaults: st.framingFaults.Load(),
		Writes:        st.writes.Load(), WriteErrors: st.writeErrors.Load(),
		ByException: make(map[Exception]uint64),
	}
	for i := range st.byException {
		if n := st.byException[i].Load(); n > 0 {
			out.ByException[Exception(i)] = n
		}
	}
	s.mu.Lock()
	out.Connected = s.cur != nil
	s.mu.Unlock()
	for i, d := range s.devices {
		u := &st.units[i]
		us := UnitStats{UnitID: d.unit, BreakerOpen: d.brk.State() == resilience.BreakerOpen, Isolated: d.isolated(),
			Failures: d.brk.ConsecutiveFailures(), BreakerOpens: d.brk.Opens(),
			Points: u.points.Load(), BadPoints: u.badPoints.Load()}
		if e := u.lastError.Load(); e != nil {
			us.LastError = e.err.Error()
		}
		out.Units = append(out.Units, us)
	}
	return out
}
