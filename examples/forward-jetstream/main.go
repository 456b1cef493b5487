// Command forward-jetstream carries points from an edge to a central node
// through NATS JetStream, and survives the link going away.
//
// It starts an embedded nats-server with JetStream (file storage in a
// temporary directory) and plays both sides:
//
//   - the edge: 100 tags of two PLCs sampled every 100ms into a disk
//     Buffer, drained by a forward.Forwarder into the stream through a
//     jetstream.Target, with backfill on;
//   - the central node: a jetstream.Source with a durable consumer,
//     delivering to a Sink that checks every tag's sequence (nothing
//     lost, nothing doubled, in order) and measures how old live points
//     are when they arrive.
//
// Two seconds in, the server goes away for three seconds: the edge keeps
// buffering, the Forwarder backs off, and when the server is back the
// backlog drains in a backfill lane while fresh points go first.
//
//	go run ./examples/forward-jetstream -duration 10s
//
// Against a real server, the edge and the central node are two processes
// with their own connections (nats.Connect with nats.UserCredentials or
// nats.ClientCert for TLS and credentials); the code of each side is the
// same as here.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/greenlang/gl001/resilience"
	"github.com/greenlang/gl001/scada"
	"github.com/greenlang/gl001/scada/buffer"
	"github.com/greenlang/gl001/scada/forward"
	fjs "github.com/greenlang/gl001/scada/forward/jetstream"
)

func main() {
	duration := flag.Duration("duration", 10*time.Second, "how long the edge produces points")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Stdout, options{duration: *duration, outageAt: 2 * time.Second, outage: 3 * time.Second}); err != nil {
		fmt.Fprintln(os.Stderr, "forward-jetstream:", err)
		os.Exit(1)
	}
}

type options struct {
	duration, outageAt, outage time.Duration
}

const (
	tags    = 100
	period  = 100 * time.Millisecond
	edgeID  = "boilerhouse-1"
	stream  = "POINTS"
	durable = "orchestrator"
)

// natsServer is the embedded server, which the program stops and starts
// again on the same port and store.
type natsServer struct {
	opts server.Options
	srv  *server.Server
}

func (s *natsServer) start() error {
	opts := s.opts
	srv, err := server.NewServer(&opts)
	if err != nil {
		return err
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		srv.Shutdown()
		return errors.New("nats-server did not start")
	}
	s.srv = srv
	s.opts.Port = srv.Addr().(*net.TCPAddr).Port // the same port next time
	return nil
}

func (s *natsServer) stop() {
	if s.srv != nil {
		s.srv.Shutdown()
		s.srv.WaitForShutdown()
		s.srv = nil
	}
}

func run(ctx context.Context, out io.Writer, o options) error {
	dir, err := os.MkdirTemp("", "forward-jetstream")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	ns := &natsServer{opts: server.Options{Host: "127.0.0.1", Port: server.RANDOM_PORT, JetStream: true,
		StoreDir: dir + "/jetstream", NoLog: true, NoSigs: true}}
	if err := ns.start(); err != nil {
		return err
	}
	defer ns.stop()
	url := ns.srv.ClientURL()

	// Each side has its own connection, as two processes would.
	connect := func(name string) (*nats.Conn, error) {
		return nats.Connect(url, nats.Name(name), nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
	}
	edgeConn, err := connect("edge")
	if err != nil {
		return err
	}
	defer edgeConn.Close()
	centralConn, err := connect("central")
	if err != nil {
		return err
	}
	defer centralConn.Close()

	js, err := jetstream.New(centralConn)
	if err != nil {
		return err
	}
	if _, err := fjs.EnsureStream(ctx, js, fjs.StreamConfig{Name: stream, MaxAge: 24 * time.Hour}); err != nil {
		return err
	}

	// The edge.
	buf, err := buffer.OpenDisk(buffer.DiskConfig{Dir: dir + "/buffer"})
	if err != nil {
		return err
	}
	defer buf.Close()
	target, err := fjs.New(fjs.Config{Conn: edgeConn, Stream: stream})
	if err != nil {
		return err
	}
	fwd, err := forward.New(forward.Config{
		Buffer: buf, Consumer: "central", Edge: edgeID, Target: target,
		SendTimeout: 2 * time.Second,
		Backoff:     resilience.Backoff{Initial: 100 * time.Millisecond, Max: time.Second},
		Breaker:     resilience.BreakerConfig{FailureThreshold: 5, Delay: time.Second},
		// A backlog of more than 10 cycles drains at 5,000 points/s
		// while live points go first.
		Backfill: forward.Backfill{After: 10 * tags, Rate: 5000},
	})
	if err != nil {
		return err
	}

	// The central node.
	chk := newChecker()
	// A short AckWait: deliveries lost when the server went away come
	// again after it, and the Source holds newer points until they do.
	src, err := fjs.NewSource(fjs.SourceConfig{Name: "edges", Conn: centralConn, Stream: stream, Durable: durable, AckWait: 2 * time.Second})
	if err != nil {
		return err
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	wg.Go(func() { fwd.Run(ctx) })
	wg.Go(func() {
		// Run again after a lost connection, as a scada.Collector would.
		for ctx.Err() == nil {
			if err := src.Run(ctx, chk); err != nil && ctx.Err() == nil {
				sleep(ctx, 100*time.Millisecond)
			}
		}
	})
	defer wg.Wait()
	defer cancel()

	// Produce for the duration, with an outage of the server.
	produced := 0
	start := time.Now()
	tick := time.NewTicker(period)
	defer tick.Stop()
	outage := false
	for cycle := 0; time.Since(start) < o.duration && ctx.Err() == nil; cycle++ {
		now := <-tick.C
		pts := make([]scada.Point, tags)
		for k := range pts {
			pts[k] = scada.Point{Tag: fmt.Sprintf("boiler%d.tag%02d", k/50+1, k%50), Value: float64(cycle),
				Unit: "degC", Quality: scada.Good, Score: 97, Scored: true, Time: now, Source: fmt.Sprintf("plc%d", k/50+1)}
		}
		if _, err := buf.Append(ctx, pts); err != nil {
			return err
		}
		produced += len(pts)
		switch el := time.Since(start); {
		case !outage && o.outage > 0 && el >= o.outageAt:
			fmt.Fprintf(out, "%5.1fs the server goes away for %v; the edge keeps buffering\n", el.Seconds(), o.outage)
			ns.stop()
			outage = true
		case outage && ns.srv == nil && el >= o.outageAt+o.outage:
			if err := ns.start(); err != nil {
				return err
			}
			st := fwd.Stats()
			fmt.Fprintf(out, "%5.1fs the server is back; %d points wait at the edge\n", el.Seconds(), st.LagPoints)
		}
	}
	fmt.Fprintf(out, "the edge produced %d points of %d tags\n", produced, tags)

	// Wait until the central node has them all.
	deadline := time.Now().Add(20 * time.Second)
	for chk.count() < produced {
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("the central node has %d of %d points; forwarder %+v; source %+v", chk.count(), produced, fwd.Stats(), src.Stats())
		}
		sleep(ctx, 20*time.Millisecond)
	}
	cancel()
	wg.Wait()
	if err := chk.err(); err != nil {
		return err
	}
	st := fwd.Stats()
	fmt.Fprintf(out, "the central node received %d points: every one once, in order per tag (%d tags)\n", chk.count(), chk.tags())
	p50, p99 := chk.latency()
	fmt.Fprintf(out, "live points arrived %v (median), %v (p99) after they were sampled\n", p50.Round(time.Millisecond), p99.Round(time.Millisecond))
	fmt.Fprintf(out, "forwarder: %d batches acknowledged, %d sent again after a failure, %d failed attempts\n", st.Batches, st.Redelivered, st.Failures)
	return nil
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-time.After(d):
	case <-ctx.Done():
	}
}

// checker is the central node's Sink: it checks that every tag's values
// count up by one (lanes aside: backfilled points may come after newer
// live ones, each lane in order) and records how old live points are.
type checker struct {
	mu       sync.Mutex
	backlog  map[string]float64 // the next value expected from the backlog lane
	live     map[string]float64 // the next value expected from the live lane
	n        int
	seen     map[string]map[float64]bool
	problems []string
	lat      []time.Duration
}

func newChecker() *checker {
	return &checker{backlog: map[string]float64{}, live: map[string]float64{}, seen: map[string]map[float64]bool{}}
}

func (c *checker) Deliver(_ context.Context, batch []scada.Point) error {
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, p := range batch {
		c.n++
		if c.seen[p.Tag] == nil {
			c.seen[p.Tag] = map[float64]bool{}
		}
		if c.seen[p.Tag][p.Value] && len(c.problems) < 5 {
			c.problems = append(c.problems, fmt.Sprintf("%s %v arrived twice", p.Tag, p.Value))
		}
		c.seen[p.Tag][p.Value] = true
		switch v, ok := c.live[p.Tag]; {
		case p.Value == c.backlog[p.Tag]:
			c.backlog[p.Tag]++
		case !ok || p.Value == v:
			c.live[p.Tag] = p.Value + 1
		default:
			if len(c.problems) < 5 {
				c.problems = append(c.problems, fmt.Sprintf("%s %v out of order", p.Tag, p.Value))
			}
		}
		if age := now.Sub(p.Time); age < 2*time.Second {
			c.lat = append(c.lat, age)
		}
	}
	return nil
}

func (c *checker) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

func (c *checker) tags() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.seen)
}

func (c *checker) err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for tag, vals := range c.seen {
		for v := range len(vals) {
			if !vals[float64(v)] {
				c.problems = append(c.problems, fmt.Sprintf("%s %d never arrived", tag, v))
				break
			}
		}
	}
	if len(c.problems) > 0 {
		return fmt.Errorf("the central node saw: %v", c.problems)
	}
	return nil
}

func (c *checker) latency() (p50, p99 time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.lat) == 0 {
		return 0, 0
	}
	l := slices.Clone(c.lat)
	slices.Sort(l)
	return l[len(l)/2], l[len(l)*99/100]
}
