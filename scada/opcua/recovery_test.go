package opcua_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/greenlang/gl001/resilience"
	"github.com/greenlang/gl001/scada"
	"github.com/greenlang/gl001/scada/opcua"
	"github.com/greenlang/gl001/scada/scadatest"
)

// arrival is a point and when it reached the sink.
type arrival struct {
	p  scada.Point
	at time.Time
}

// arrivals is a Sink that keeps every point with its arrival time.
type arrivals struct {
	mu   sync.Mutex
	all  []arrival
	cond chan struct{}
}

func newArrivals() *arrivals { return &arrivals{cond: make(chan struct{}, 1)} }

func (a *arrivals) Deliver(_ context.Context, batch []scada.Point) error {
	now := time.Now()
	a.mu.Lock()
	for _, p := range batch {
		a.all = append(a.all, arrival{p, now})
	}
	a.mu.Unlock()
	select {
	case a.cond <- struct{}{}:
	default:
	}
	return nil
}

// waitFor waits until f, given every arrival so far, returns an index >= 0,
// and returns that arrival.
func (a *arrivals) waitFor(t *testing.T, what string, timeout time.Duration, f func([]arrival) int) arrival {
	t.Helper()
	deadline := time.After(timeout)
	for {
		a.mu.Lock()
		all := a.all
		a.mu.Unlock()
		if i := f(all); i >= 0 {
			return all[i]
		}
		select {
		case <-a.cond:
		case <-deadline:
			t.Fatalf("timed out after %v waiting for %s (%d points)", timeout, what, len(all))
		}
	}
}

// lostMark waits for the BadNoCommunication points a lost connection ends
// with (after every Good point of that connection) and returns how many
// points had arrived then: a Good point after the mark is a fresh one.
func (a *arrivals) lostMark(t *testing.T, after int) int {
	t.Helper()
	a.waitFor(t, "BadNoCommunication after the stop", 30*time.Second, func(all []arrival) int {
		for i := after; i < len(all); i++ {
			if all[i].p.Quality.Code() == scada.BadNoCommunication {
				return i
			}
		}
		return -1
	})
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.all)
}

// fresh waits for the first Good point from index mark on.
func (a *arrivals) fresh(t *testing.T, mark int, timeout time.Duration) arrival {
	t.Helper()
	return a.waitFor(t, "a fresh point", timeout, func(all []arrival) int {
		for i := mark; i < len(all); i++ {
			if all[i].p.Quality.IsGood() {
				return i
			}
		}
		return -1
	})
}

// goodSince counts the Good points from index mark on.
func (a *arrivals) goodSince(mark int) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	n := 0
	for _, x := range a.all[mark:] {
		if x.p.Quality.IsGood() {
			n++
		}
	}
	return n
}

func (a *arrivals) len() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.all)
}

// recovery runs one OPC UA source under a Collector with the given
// supervision settings against a simulator it can stop and start.
type recovery struct {
	t       *testing.T
	sim     *scadatest.OPCUAServer
	col     *scada.Collector
	sink    *arrivals
	maxWait time.Duration // the longest wait between two attempts the settings allow
	figures []time.Duration
}

func newRecovery(t *testing.T, cfg scada.CollectorConfig, maxWait time.Duration) *recovery {
	t.Helper()
	sim := newSim(t, scadatest.OPCUAConfig{
		UpdateInterval: 20 * time.Millisecond,
		Tags:           []scadatest.OPCUATag{{Name: "Steam.Flow", Initial: 10, Step: 1}},
	})
	ocfg := insecure(sim, opcua.Tag{Name: "flow", NodeID: sim.NodeID("Steam.Flow")})
	ocfg.DialTimeout = 5 * time.Second
	src, err := opcua.New(ocfg)
	if err != nil {
		t.Fatal(err)
	}
	r := &recovery{t: t, sim: sim, sink: newArrivals(), maxWait: maxWait}
	cfg.Sink = r.sink
	if r.col, err = scada.NewCollector(cfg); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.col.Close() })
	if err := r.col.Add("boiler", src); err != nil {
		t.Fatal(err)
	}
	r.sink.fresh(t, 0, 30*time.Second)
	return r
}

func (r *recovery) health() scada.SourceHealth {
	h, ok := r.col.HealthOf("boiler")
	if !ok {
		r.t.Fatal("the source is gone from the Collector")
	}
	return h
}

// stop stops the server and returns the mark after the lost connection's
// BadNoCommunication points.
func (r *recovery) stop() int {
	r.t.Helper()
	n := r.sink.len()
	if err := r.sim.Stop(); err != nil {
		r.t.Fatal(err)
	}
	return r.sink.lostMark(r.t, n)
}

// waitAttempts waits until the source made n more attempts while the server
// was down, and is waiting for the next.
func (r *recovery) waitAttempts(n int64) {
	r.t.Helper()
	base := r.health().Attempts
	deadline := time.Now().Add(2 * time.Minute)
	for {
		h := r.health()
		if h.Attempts >= base+n && h.State != resilience.StateConnecting {
			return
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("waiting for %d refused attempts: %+v", n, h)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// start starts the server again and waits for a fresh point. It checks the
// supervision state machine: at the moment the server listens, the next
// attempt is due within maxWait; once the fresh point is there, health says
// connected, breaker closed, no consecutive failures.
func (r *recovery) start(what string, mark int) time.Duration {
	r.t.Helper()
	if err := r.sim.Start(); err != nil {
		r.t.Fatal(err)
	}
	back := time.Now()
	if h := r.health(); !h.NextAttempt.IsZero() && h.NextAttempt.Sub(back) > r.maxWait {
		r.t.Errorf("%s: the server is back but the next attempt is due in %v (state %s, breaker %s), more than the %v the settings allow",
			what, h.NextAttempt.Sub(back), h.State, h.Breaker, r.maxWait)
	}
	p := r.sink.fresh(r.t, mark, 2*time.Minute)
	h := r.health()
	if h.State != resilience.StateConnected || h.Breaker != resilience.BreakerClosed || h.ConsecutiveFailures != 0 || h.Permanent {
		r.t.Errorf("%s: health with data flowing again: state %s, breaker %s, %d consecutive failures; want connected, closed, 0",
			what, h.State, h.Breaker, h.ConsecutiveFailures)
	}
	d := p.at.Sub(back)
	r.figures = append(r.figures, d)
	r.t.Logf("%s: server listening -> fresh point in %v (attempts %d, reconnects %d)", what, d.Round(time.Millisecond), h.Attempts, h.Reconnects)
	return d
}

// report writes the figures where `go test -v` shows them and, when
// GL001_RECOVERY_REPORT names a file, appends them there.
func (r *recovery) report(scenario string) {
	var b strings.Builder
	fmt.Fprintf(&b, "%s:", scenario)
	for _, d := range r.figures {
		fmt.Fprintf(&b, " %v", d.Round(time.Millisecond))
	}
	r.t.Log(b.String())
	if path := os.Getenv("GL001_RECOVERY_REPORT"); path != "" {
		f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err == nil {
			fmt.Fprintln(f, b.String())
			f.Close()
		}
	}
}

// scaled are the supervision settings of the scaled-down scenarios: the
// defaults' shape (breaker delay above the backoff cap) at a tenth of the
// time, with every connection shorter than HealthyAfter as in the field case
// (restarts 20 s apart with HealthyAfter 30 s).
var scaled = scada.CollectorConfig{
	Backoff:      resilience.Backoff{Initial: 50 * time.Millisecond, Max: 500 * time.Millisecond},
	Breaker:      resilience.BreakerConfig{FailureThreshold: 3, Delay: 500 * time.Millisecond},
	HealthyAfter: time.Hour,
}

const scaledMaxWait = 600 * time.Millisecond // the breaker's 500 ms + 20% jitter

// TestRecoveryRepeatedRestarts restarts the server again and again, with
// data flowing between restarts and a few refused attempts during each: the
// field case where the third restart took 33 s because every short
// connection counted as a failure and the breaker had opened.
func TestRecoveryRepeatedRestarts(t *testing.T) {
	r := newRecovery(t, scaled, scaledMaxWait)
	for i := range 5 {
		mark := r.stop()
		r.waitAttempts(2) // refused while down
		r.start(fmt.Sprintf("restart %d", i+1), mark)
		r.sink.waitFor(t, "data flowing", 30*time.Second, func([]arrival) int {
			if r.sink.goodSince(mark) >= 5 {
				return 0
			}
			return -1
		})
	}
	if h := r.health(); h.Reconnects != 5 || h.ShortConnections != 5 {
		t.Errorf("after 5 restarts: %+v, want 5 reconnects and 5 short connections", h)
	}
	r.report("repeated restarts (scaled: backoff 50ms-500ms, breaker 3/500ms)")
}

// TestRecoveryAfterLongOutage keeps the server down until the breaker has
// opened and a probe after its delay was refused too, then starts it.
func TestRecoveryAfterLongOutage(t *testing.T) {
	r := newRecovery(t, scaled, scaledMaxWait)
	for i := range 3 {
		mark := r.stop()
		r.waitBreakerProbeRefused()
		r.start(fmt.Sprintf("outage %d", i+1), mark)
	}
	r.report("outage past the breaker delay (scaled: backoff 50ms-500ms, breaker 3/500ms)")
}

// waitBreakerProbeRefused waits until the breaker opened and, after its
// delay, a probe was refused and opened it again: an outage longer than the
// breaker's delay.
func (r *recovery) waitBreakerProbeRefused() {
	r.t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	var opened int64
	for {
		h := r.health()
		if h.State == resilience.StateBreakerOpen {
			if opened == 0 {
				opened = h.Attempts
			} else if h.Attempts > opened {
				return
			}
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("waiting for the breaker to open and refuse a probe: %+v", h)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestRecoveryWithTheDefaults is the long outage with the Collector's own
// defaults (backoff 500ms-5s, breaker 5 failures, 5s): the documented worst
// case between two attempts is 6 s. The outage lasts about 15 s, the time the
// default breaker needs to open and refuse a probe.
func TestRecoveryWithTheDefaults(t *testing.T) {
	r := newRecovery(t, scada.CollectorConfig{}, time.Duration(float64(scada.DefaultSourceBreakerDelay)*1.2))
	mark := r.stop()
	r.waitBreakerProbeRefused()
	d := r.start("outage past the default breaker delay", mark)
	// The state machine was checked in start; this bound only catches a
	// gross regression (a breaker delay of 30 s again) on a loaded machine.
	if limit := r.maxWait + 20*time.Second; d > limit {
		t.Errorf("server back -> fresh point took %v, want well under %v", d, limit)
	}
	r.report("outage past the breaker delay (defaults: backoff 500ms-5s, breaker 5/5s)")
}

// TestPermanentRefusalUnderCollector: a configuration the server cannot
// serve (a user name where it offers only anonymous) is a permanent refusal:
// health shows it as such, with the cause, and it is not retried at the
// backoff's rate.
func TestPermanentRefusalUnderCollector(t *testing.T) {
	sim := sharedSim(t)
	cfg := insecure(sim, opcua.Tag{Name: "flow", NodeID: sim.NodeID("Flow")})
	cfg.Auth, cfg.Username, cfg.Password = opcua.AuthUsername, "operator", "Pa55-word!"
	src, err := opcua.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = src.Run(ctx, newRecorder())
	if !errors.Is(err, scada.ErrPermanent) || !errors.Is(err, opcua.ErrNoEndpoint) {
		t.Fatalf("Run = %v, want a permanent ErrNoEndpoint", err)
	}
	states := make(chan resilience.State, 16)
	col, err := scada.NewCollector(scada.CollectorConfig{Sink: newRecorder(), Backoff: resilience.Backoff{Initial: time.Millisecond},
		PermanentDelay: time.Hour, Secrets: []string{"Pa55-word!"},
		OnHealthChange: func(h scada.SourceHealth) {
			select {
			case states <- h.State:
			default:
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	defer col.Close()
	if err := col.Add("boiler", src); err != nil {
		t.Fatal(err)
	}
	timeout := time.After(30 * time.Second)
	for refused := false; !refused; {
		select {
		case st := <-states:
			refused = st == resilience.StateRefused
		case <-timeout:
			t.Fatalf("no refused state: %+v", func() scada.SourceHealth { h, _ := col.HealthOf("boiler"); return h }())
		}
	}
	h, _ := col.HealthOf("boiler")
	if h.State != resilience.StateRefused || !h.Permanent || h.Attempts != 1 || h.Breaker != resilience.BreakerClosed ||
		!strings.Contains(h.LastError, "no matching endpoint") || h.NextAttempt.Sub(h.Since) < 45*time.Minute {
		t.Errorf("health %+v, want refused with the cause, the next attempt about an hour away", h)
	}
	if strings.Contains(h.LastError, "Pa55-word!") {
		t.Errorf("health shows the password: %q", h.LastError)
	}
}
