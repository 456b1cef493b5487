package mqtt_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/greenlang/gl001/scada"
	"github.com/greenlang/gl001/scada/mqtt"
	"github.com/greenlang/gl001/scada/scadatest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// waitTimeout bounds every wait in these tests; it is generous because the
// machine is shared and -race slows everything.
const waitTimeout = 30 * time.Second

func newBroker(t testing.TB, cfg scadatest.MQTTBrokerConfig) *scadatest.MQTTBroker {
	t.Helper()
	b, err := scadatest.NewMQTTBroker(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}

// collector is a sink that records points and lets tests wait for them.
type collector struct {
	mu     sync.Mutex
	points []scada.Point
	wake   chan struct{}
	fail   func(batch []scada.Point) error // optional
}

func newCollector() *collector { return &collector{wake: make(chan struct{})} }

func (c *collector) Deliver(ctx context.Context, batch []scada.Point) error {
	if c.fail != nil {
		if err := c.fail(batch); err != nil {
			return err
		}
	}
	c.mu.Lock()
	c.points = append(c.points, batch...)
	close(c.wake)
	c.wake = make(chan struct{})
	c.mu.Unlock()
	return nil
}

// wait blocks until the sink holds n points and returns them.
func (c *collector) wait(t testing.TB, n int) []scada.Point {
	t.Helper()
	deadline := time.NewTimer(waitTimeout)
	defer deadline.Stop()
	for {
		c.mu.Lock()
		got, wake := slices.Clone(c.points), c.wake
		c.mu.Unlock()
		if len(got) >= n {
			return got
		}
		select {
		case <-wake:
		case <-deadline.C:
			t.Fatalf("got %d points, want %d: %v", len(got), n, got)
		}
	}
}

func (c *collector) snapshot() []scada.Point {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.points)
}

// running runs src.Run in the background until the test ends (or stop is
// called) and returns a function that stops it and returns Run's error.
func running(t testing.TB, src *mqtt.Source, sink scada.Sink) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx, sink) }()
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() {
			cancel()
			err = <-done
		})
		return err
	}
	t.Cleanup(func() { _ = stop() })
	return stop
}

// supervised runs src.Run again after each failure, as scada.Collector does,
// until the test ends. errs receives each Run's error.
func supervised(t testing.TB, src *mqtt.Source, sink scada.Sink) (errs <-chan error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan error, 100)
	done := make(chan struct{})
	go func() {
		defer close(done)
		delay := 10 * time.Millisecond
		for ctx.Err() == nil {
			err := src.Run(ctx, sink)
			select {
			case ch <- err:
			default:
			}
			select {
			case <-time.After(delay):
			case <-ctx.Done():
			}
			delay = min(2*delay, 200*time.Millisecond)
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
	return ch
}

func waitSubscribed(t testing.TB, b *scadatest.MQTTBroker, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := b.WaitSubscribed(ctx, n); err != nil {
		t.Fatal(err)
	}
}

func publish(t testing.TB, b *scadatest.MQTTBroker, topic, payload string, qos byte) {
	t.Helper()
	if err := b.Publish(topic, []byte(payload), qos, false); err != nil {
		t.Fatal(err)
	}
}

func newSource(t testing.TB, cfg mqtt.Config) *mqtt.Source {
	t.Helper()
	src, err := mqtt.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return src
}

func byTag(points []scada.Point) map[string]scada.Point {
	m := map[string]scada.Point{}
	for _, p := range points {
		m[p.Tag] = p
	}
	return m
}

func mustJSON(t testing.TB, cfg mqtt.JSONConfig) *mqtt.JSONDecoder {
	t.Helper()
	d, err := mqtt.NewJSONDecoder(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

var errRejected = errors.New("sink rejects")

// eventually waits until cond holds, checking every few milliseconds, and
// fails the test after waitTimeout.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		<-tick.C
	}
}

func errorsAs(err error, target any) bool { return errors.As(err, target) }

// waitTags blocks until the sink has points for all the tags (duplicates,
// which at-least-once delivery allows, do not count twice) and returns the
// last point of each tag.
func (c *collector) waitTags(t testing.TB, tags ...string) map[string]scada.Point {
	t.Helper()
	deadline := time.NewTimer(waitTimeout)
	defer deadline.Stop()
	for {
		c.mu.Lock()
		got, wake := byTag(c.points), c.wake
		c.mu.Unlock()
		missing := 0
		for _, tag := range tags {
			if _, ok := got[tag]; !ok {
				missing++
			}
		}
		if missing == 0 {
			return got
		}
		select {
		case <-wake:
		case <-deadline.C:
			t.Fatalf("%d of tags %v missing after %v: %v", missing, tags, waitTimeout, c.snapshot())
		}
	}
}
