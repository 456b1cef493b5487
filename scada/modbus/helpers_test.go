package modbus

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/greenlang/gl001/scada"
	"github.com/greenlang/gl001/scada/scadatest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// wait is how long a test waits for a condition before failing; generous,
// because the machine is shared.
const wait = 20 * time.Second

func newServer(t testing.TB, cfg scadatest.ModbusConfig) *scadatest.ModbusServer {
	t.Helper()
	srv, err := scadatest.NewModbusServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return srv
}

func newSource(t testing.TB, cfg Config) *Source {
	t.Helper()
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// collector is a Sink that keeps every point and signals each delivery.
type collector struct {
	mu     sync.Mutex
	points []scada.Point
	notify chan struct{}
}

func newCollector() *collector { return &collector{notify: make(chan struct{}, 1)} }

func (c *collector) Deliver(_ context.Context, batch []scada.Point) error {
	c.mu.Lock()
	c.points = append(c.points, batch...)
	c.mu.Unlock()
	select {
	case c.notify <- struct{}{}:
	default:
	}
	return nil
}

func (c *collector) snapshot() []scada.Point {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]scada.Point(nil), c.points...)
}

func (c *collector) reset() {
	c.mu.Lock()
	c.points = nil
	c.mu.Unlock()
}

// waitFor waits until cond holds for the points delivered so far.
func (c *collector) waitFor(t testing.TB, what string, cond func([]scada.Point) bool) {
	t.Helper()
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	for !cond(c.snapshot()) {
		select {
		case <-c.notify:
		case <-deadline.C:
			t.Fatalf("timed out waiting for %s; have %d points", what, len(c.snapshot()))
		}
	}
}

// last returns the latest point of each tag.
func last(points []scada.Point) map[string]scada.Point {
	m := make(map[string]scada.Point)
	for _, p := range points {
		m[p.Tag] = p
	}
	return m
}

func count(points []scada.Point, tag string, good bool) int {
	n := 0
	for _, p := range points {
		if p.Tag == tag && p.Quality.IsGood() == good {
			n++
		}
	}
	return n
}

// run starts s.Run in a goroutine. stop cancels it and returns Run's
// result; done is closed when Run has returned (by itself or after stop).
func run(t testing.TB, s *Source, sink scada.Sink) (stop func() error, done <-chan struct{}) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	fin := make(chan struct{})
	var res error
	go func() {
		defer close(fin)
		res = s.Run(ctx, sink)
	}()
	stop = func() error {
		cancel()
		select {
		case <-fin:
			return res
		case <-time.After(wait):
			return errors.New("Run did not return after cancel")
		}
	}
	t.Cleanup(func() { _ = stop() })
	return stop, fin
}

func dial(t testing.TB, s *Source) *Conn {
	t.Helper()
	c, err := s.Dial(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}
