package jetstream_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/greenlang/gl001/resilience"
	"github.com/greenlang/gl001/scada"
	"github.com/greenlang/gl001/scada/buffer"
	"github.com/greenlang/gl001/scada/forward"
	fjs "github.com/greenlang/gl001/scada/forward/jetstream"
)

const streamName = "POINTS"

// ensureStream creates the test stream with the given replicas.
func ensureStream(t *testing.T, nc *nats.Conn, replicas int) {
	t.Helper()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	// Each attempt has a deadline of its own: on a loaded machine a
	// request to a cluster that has just formed can go unanswered, and
	// would otherwise take the whole wait.
	deadline := time.Now().Add(60 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err = fjs.EnsureStream(ctx, js, fjs.StreamConfig{Name: streamName, Replicas: replicas})
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("EnsureStream: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// genPoints returns n points numbered from `from` over tags tags and
// sources sources: point j has tag "t<j%tags>" of source "s<tag%sources>",
// and Value j/tags, its tag's sequence number.
func genPoints(from, n, tags, sources int) []scada.Point {
	pts := make([]scada.Point, n)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range pts {
		j := from + i
		k := j % tags
		pts[i] = scada.Point{
			Tag: fmt.Sprintf("t%d", k), Value: float64(j / tags), Unit: "degC", Quality: scada.Good,
			Score: uint8(j % 101), Scored: true, Reasons: scada.Reason(j % 3),
			Time: t0.Add(time.Duration(j) * time.Millisecond), Source: fmt.Sprintf("s%d", k%sources),
		}
	}
	return pts
}

func openDisk(t *testing.T, dir string) *buffer.Disk {
	t.Helper()
	b, err := buffer.OpenDisk(buffer.DiskConfig{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// collector records what a Source delivers and checks it as it comes: per
// tag, the sequence numbers count up by one from 0, so a point lost,
// doubled or reordered is seen at once.
type collector struct {
	mu     sync.Mutex
	next   map[string]float64
	points int
	errs   []string
	ch     chan struct{}
	want   func(p scada.Point) error
}

func newCollector() *collector {
	return &collector{next: map[string]float64{}, ch: make(chan struct{}, 1)}
}

func (c *collector) Deliver(ctx context.Context, batch []scada.Point) error {
	c.mu.Lock()
	for _, p := range batch {
		if p.Value != c.next[p.Tag] && len(c.errs) < 10 {
			c.errs = append(c.errs, fmt.Sprintf("tag %s: got %v, want %v", p.Tag, p.Value, c.next[p.Tag]))
		}
		c.next[p.Tag] = p.Value + 1
		if c.want != nil {
			if err := c.want(p); err != nil && len(c.errs) < 10 {
				c.errs = append(c.errs, err.Error())
			}
		}
	}
	c.points += len(batch)
	c.mu.Unlock()
	select {
	case c.ch <- struct{}{}:
	default:
	}
	return nil
}

// waitFor waits until n points arrived, failing on the first error.
func (c *collector) waitFor(t *testing.T, n int, within time.Duration) {
	t.Helper()
	deadline := time.After(within)
	for {
		c.mu.Lock()
		got, errs := c.points, slices.Clone(c.errs)
		c.mu.Unlock()
		if len(errs) > 0 {
			t.Fatalf("the central side saw points out of sequence: %v", errs)
		}
		if got >= n {
			return
		}
		select {
		case <-c.ch:
		case <-time.After(50 * time.Millisecond):
		case <-deadline:
			t.Fatalf("%d points arrived, want %d", got, n)
		}
	}
}

// check verifies that exactly the first n points of genPoints arrived: every
// tag's sequence is complete and nothing more came.
func (c *collector) check(t *testing.T, n, tags int) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.errs) > 0 {
		t.Fatalf("out of sequence: %v", c.errs)
	}
	if c.points != n {
		t.Fatalf("%d points arrived, want exactly %d", c.points, n)
	}
	for k := range tags {
		want := float64((n - k + tags - 1) / tags)
		if got := c.next[fmt.Sprintf("t%d", k)]; got != want {
			t.Fatalf("tag t%d: %v points, want %v", k, got, want)
		}
	}
}

// runSource runs a Source into col until the test ends.
func runSource(t *testing.T, nc *nats.Conn, durable string, col scada.Sink) *fjs.Source {
	t.Helper()
	src, err := fjs.NewSource(fjs.SourceConfig{Name: "central", Conn: nc, Stream: streamName, Durable: durable})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		// Run again after a lost connection, as a Collector would.
		for ctx.Err() == nil {
			if err := src.Run(ctx, col); err != nil && ctx.Err() == nil {
				select {
				case <-time.After(20 * time.Millisecond):
				case <-ctx.Done():
				}
			}
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
	return src
}

// newForwarder returns a Forwarder from b to a Target on nc.
func newForwarder(t *testing.T, b buffer.Buffer, nc *nats.Conn, mod func(*forward.Config)) (*forward.Forwarder, *fjs.Target) {
	t.Helper()
	tg, err := fjs.New(fjs.Config{Conn: nc, Stream: streamName})
	if err != nil {
		t.Fatal(err)
	}
	cfg := forward.Config{Buffer: b, Consumer: "central", Edge: "edge-1", Target: tg,
		MaxPoints: 1000, MaxDelay: 5 * time.Millisecond, SendTimeout: 2 * time.Second,
		Backoff: resilience.Backoff{Initial: 20 * time.Millisecond, Max: 200 * time.Millisecond},
		Breaker: resilience.BreakerConfig{FailureThreshold: 10, Delay: 200 * time.Millisecond}}
	if mod != nil {
		mod(&cfg)
	}
	f, err := forward.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return f, tg
}

// runForwarder runs f until stop is called or the test ends.
func runForwarder(t *testing.T, f *forward.Forwarder) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil && err != context.Canceled {
				t.Errorf("Forwarder.Run: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// waitCommitted waits until the Forwarder committed up to n.
func waitCommitted(t *testing.T, f *forward.Forwarder, n buffer.Offset, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for f.Stats().Committed < n {
		if time.Now().After(deadline) {
			t.Fatalf("committed %d of %d: %+v", f.Stats().Committed, n, f.Stats())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// exampleDir makes a temporary directory for an Example's server.
func exampleDir() (string, func()) {
	dir, err := os.MkdirTemp("", "gl001-forward-example")
	if err != nil {
		panic(err)
	}
	return dir, func() { os.RemoveAll(dir) }
}
