package opcua_test

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/greenlang/gl001/scada"
	"github.com/greenlang/gl001/scada/opcua"
	"github.com/greenlang/gl001/scada/scadatest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if shared != nil {
		shared.Close()
	}
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// The shared simulator serves every test that does not stop or change the
// server as a whole: building the library's address space takes seconds
// under the race detector.
var (
	sharedOnce sync.Once
	shared     *scadatest.OPCUAServer
	sharedErr  error
)

func sharedSim(t testing.TB) *scadatest.OPCUAServer {
	t.Helper()
	sharedOnce.Do(func() {
		tags := []scadatest.OPCUATag{
			{Name: "Boiler1.Temp", Initial: 100, Step: 0.5, Unit: "degC"},
			{Name: "Boiler1.Running", Type: scadatest.OPCUABoolean, Initial: 1},
			{Name: "Boiler1.Count", Type: scadatest.OPCUAInt32, Initial: 7, Step: 1},
			{Name: "A", Step: 1}, {Name: "B", Initial: 5, Step: 1},
			{Name: "Flow", Initial: 12.5},
			{Name: "Level", Initial: 3, NoSourceTimestamp: true},
			{Name: "Label", Type: scadatest.OPCUAString, Initial: 1},
			{Name: "Setpoint", Initial: 50, Unit: "degC", Writable: true},
			{Name: "Damper", Type: scadatest.OPCUAInt16, Initial: 10, Unit: "%", Writable: true},
			{Name: "Pump.On", Type: scadatest.OPCUABoolean, Writable: true},
		}
		for i := range 70 {
			tags = append(tags, scadatest.OPCUATag{Name: fmt.Sprintf("Line.T%02d", i), Initial: float64(i), Unit: "kPa"})
		}
		shared, sharedErr = scadatest.NewOPCUAServer(scadatest.OPCUAConfig{UpdateInterval: 20 * time.Millisecond, Tags: tags})
	})
	if sharedErr != nil {
		t.Fatal(sharedErr)
	}
	return shared
}

// recorder is a Sink that keeps every point and lets a test wait for a
// condition on what arrived.
type recorder struct {
	mu     sync.Mutex
	points []scada.Point
	cond   chan struct{}
}

func newRecorder() *recorder { return &recorder{cond: make(chan struct{}, 1)} }

func (r *recorder) Deliver(ctx context.Context, batch []scada.Point) error {
	r.mu.Lock()
	r.points = append(r.points, batch...)
	r.mu.Unlock()
	select {
	case r.cond <- struct{}{}:
	default:
	}
	return nil
}

func (r *recorder) snapshot() []scada.Point {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]scada.Point(nil), r.points...)
}

// waitFor waits until f holds for the points received so far.
func (r *recorder) waitFor(t *testing.T, what string, f func([]scada.Point) bool) []scada.Point {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		ps := r.snapshot()
		if f(ps) {
			return ps
		}
		select {
		case <-r.cond:
		case <-time.After(50 * time.Millisecond):
		case <-deadline:
			t.Fatalf("timed out waiting for %s; got %d points, last: %v", what, len(ps), last(ps, 5))
		}
	}
}

func last(ps []scada.Point, n int) []scada.Point {
	if len(ps) > n {
		return ps[len(ps)-n:]
	}
	return ps
}

// byTag returns the points of one tag.
func byTag(ps []scada.Point, tag string) []scada.Point {
	var out []scada.Point
	for _, p := range ps {
		if p.Tag == tag {
			out = append(out, p)
		}
	}
	return out
}

func newSim(t *testing.T, cfg scadatest.OPCUAConfig) *scadatest.OPCUAServer {
	t.Helper()
	sim, err := scadatest.NewOPCUAServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	return sim
}

// insecure is the base config for the simulator, which serves None only.
func insecure(sim *scadatest.OPCUAServer, tags ...opcua.Tag) opcua.Config {
	return opcua.Config{
		Name:               "sim",
		Endpoint:           sim.Endpoint(),
		SecurityPolicy:     opcua.PolicyNone,
		SecurityMode:       opcua.ModeNone,
		Tags:               tags,
		SamplingInterval:   50 * time.Millisecond,
		PublishingInterval: 50 * time.Millisecond,
	}
}

// run starts src.Run in the background. stop cancels it and returns Run's
// error; done is closed when Run has returned, and then result gives the error.
func run(t *testing.T, src scada.Source, sink scada.Sink) (stop func() error, done <-chan struct{}, result func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan struct{})
	var err error
	go func() {
		err = src.Run(ctx, sink)
		close(ch)
	}()
	result = func() error { <-ch; return err }
	stop = func() error {
		cancel()
		select {
		case <-ch:
			return err
		case <-time.After(30 * time.Second):
			t.Fatal("Run did not return after cancel")
			return nil
		}
	}
	t.Cleanup(func() { stop() })
	return stop, ch, result
}
