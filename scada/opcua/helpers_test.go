package opcua_test

import (
	"context"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/greenlang/gl001/scada"
	"github.com/greenlang/gl001/scada/opcua"
	"github.com/greenlang/gl001/scada/scadatest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var testLogger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))

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
		Logger:             testLogger,
	}
}

// run starts src.Run in the background and returns a function that stops it
// and returns Run's error.
func run(t *testing.T, src scada.Source, sink scada.Sink) (stop func() error, done <-chan error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan error, 1)
	go func() { ch <- src.Run(ctx, sink) }()
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case err = <-ch:
			case <-time.After(30 * time.Second):
				t.Fatal("Run did not return after cancel")
			}
		})
		return err
	}
	t.Cleanup(func() { stop() })
	return stop, ch
}
