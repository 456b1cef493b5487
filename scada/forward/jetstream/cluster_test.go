package jetstream_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/greenlang/gl001/resilience"
	"github.com/greenlang/gl001/scada/buffer"
	"github.com/greenlang/gl001/scada/forward"
	fjs "github.com/greenlang/gl001/scada/forward/jetstream"
)

// The cluster tests share one three-server cluster and one R3 stream; each
// scenario forwards as an edge of its own (its own site) and reads it back
// with a consumer filtered to that site.

const clusterTags, clusterSources = 40, 4

func TestCluster(t *testing.T) {
	nodes := startCluster(t)
	nc := connect(t, clusterURL(nodes))
	ensureStream(t, nc, 3)
	// Cleanups run last first: this one before the connection is closed
	// and the servers are stopped.
	t.Cleanup(func() { waitReplicasCurrent(t, nc) })
	t.Run("LeaderKilled", func(t *testing.T) { testLeaderKilled(t, nodes, nc) })
	t.Run("AllServersRestarted", func(t *testing.T) { testAllRestarted(t, nodes, nc) })
	t.Run("ForwarderSIGKILL", func(t *testing.T) { testForwarderKilled(t, nodes, nc) })
	t.Run("EventsLeaderKilled", func(t *testing.T) { testEventsLeaderKilled(t, nodes, nc) })
}

// siteSource reads one edge's points back.
func siteSource(t *testing.T, nc *nats.Conn, edge string, col *collector) *fjs.Source {
	t.Helper()
	src, err := fjs.NewSource(fjs.SourceConfig{Name: "central", Conn: nc, Stream: streamName, Durable: "c-" + edge,
		Filter: "gl001.points." + edge + ".>", AckWait: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			if err := src.Run(ctx, col); err != nil && ctx.Err() == nil {
				select {
				case <-time.After(50 * time.Millisecond):
				case <-ctx.Done():
				}
			}
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
	return src
}

func streamLeader(t *testing.T, nc *nats.Conn) string {
	t.Helper()
	js, _ := jetstream.New(nc)
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		st, err := js.Stream(ctx, streamName)
		cancel()
		if err == nil && st.CachedInfo().Cluster != nil && st.CachedInfo().Cluster.Leader != "" {
			return st.CachedInfo().Cluster.Leader
		}
		if time.Now().After(deadline) {
			t.Fatalf("no stream leader: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// appendSlowly appends total points in batches of 500 while the scenario
// runs, and returns when done.
func appendSlowly(t *testing.T, b buffer.Buffer, total int, every time.Duration) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < total; i += 500 {
			if _, err := b.Append(context.Background(), genPoints(i, 500, clusterTags, clusterSources)); err != nil {
				t.Errorf("Append: %v", err)
				return
			}
			time.Sleep(every)
		}
	}()
	return done
}

func testLeaderKilled(t *testing.T, nodes []*node, nc *nats.Conn) {
	const edge, total = "leader-killed", 30000
	col := newCollector()
	src := siteSource(t, nc, edge, col)
	b := openDisk(t, t.TempDir())
	defer b.Close()
	f, _ := newForwarder(t, b, nc, func(c *forward.Config) { c.Edge = edge; c.MaxPoints = 500; c.Window = 8 })
	stop := runForwarder(t, f)
	appended := appendSlowly(t, b, total, 5*time.Millisecond)
	waitCommitted(t, f, total/3, time.Minute)
	leader := streamLeader(t, nc)
	var killed *node
	for _, n := range nodes {
		if n.opts.ServerName == leader {
			killed = n
		}
	}
	t.Logf("stopping stream leader %s at %d committed", leader, f.Stats().Committed)
	killed.stop()
	<-appended
	waitCommitted(t, f, total, 2*time.Minute)
	killed.start()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("forwarder %+v; source %+v", f.Stats(), src.Stats())
			js, _ := jetstream.New(nc)
			if st, err := js.Stream(context.Background(), streamName); err == nil {
				info, err := st.Info(context.Background(), jetstream.WithSubjectFilter("gl001.points."+edge+".>"))
				if err == nil {
					n := uint64(0)
					for _, c := range info.State.Subjects {
						n += c
					}
					t.Logf("the stream holds %d messages of the site", n)
				}
			}
		}
	})
	col.waitFor(t, total, 2*time.Minute)
	stop()
	col.check(t, total, clusterTags)
	st := f.Stats()
	t.Logf("forwarder: %d batches, %d redelivered, %d failures; source: %+v", st.Batches, st.Redelivered, st.Failures, src.Stats())
	waitClusterReady(t, nodes)
	waitReplicasCurrent(t, nc)
}

func testAllRestarted(t *testing.T, nodes []*node, nc *nats.Conn) {
	const edge, total = "all-restarted", 20000
	col := newCollector()
	src := siteSource(t, nc, edge, col)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("source %+v", src.Stats())
			dumpSite(t, nc, edge)
		}
	})
	b := openDisk(t, t.TempDir())
	defer b.Close()
	f, _ := newForwarder(t, b, nc, func(c *forward.Config) { c.Edge = edge; c.MaxPoints = 500; c.Window = 8 })
	stop := runForwarder(t, f)
	appended := appendSlowly(t, b, total, 5*time.Millisecond)
	waitCommitted(t, f, total/4, time.Minute)
	for _, n := range nodes {
		n.stop()
	}
	// Down for longer than the Forwarder's backoff (at most 200ms): wait
	// until it has failed and backed off several times.
	deadline := time.Now().Add(time.Minute)
	for f.Stats().Failures < 5 {
		if time.Now().After(deadline) {
			t.Fatalf("the Forwarder did not notice the servers were gone: %+v", f.Stats())
		}
		time.Sleep(20 * time.Millisecond)
	}
	<-appended
	t.Logf("restarting all servers; forwarder %v after %d failures", f.Stats().State, f.Stats().Failures)
	startAll(t, nodes)
	waitClusterReady(t, nodes)
	waitCommitted(t, f, total, 2*time.Minute)
	col.waitFor(t, total, 2*time.Minute)
	stop()
	col.check(t, total, clusterTags)
	t.Logf("forwarder %+v; source %+v", f.Stats(), src.Stats())
}

// childEnv carries, to a child process, the buffer directory, the server
// URLs and the edge id, separated by '|'.
const childEnv = "GL001_FORWARD_CHILD"

// childMain forwards the buffer to the cluster and prints "acked N" after
// each acknowledged batch, until it is killed.
func childMain() int {
	parts := strings.Split(os.Getenv(childEnv), "|")
	dir, url, edge := parts[0], parts[1], parts[2]
	b, err := buffer.OpenDisk(buffer.DiskConfig{Dir: dir})
	if err != nil {
		fmt.Println("error", err)
		return 1
	}
	nc, err := nats.Connect(url, nats.MaxReconnects(-1), nats.ReconnectWait(20*time.Millisecond))
	if err != nil {
		fmt.Println("error", err)
		return 1
	}
	tg, err := fjs.New(fjs.Config{Conn: nc, Stream: streamName})
	if err != nil {
		fmt.Println("error", err)
		return 1
	}
	out := bufio.NewWriter(os.Stdout)
	f, err := forward.New(forward.Config{Buffer: b, Consumer: "central", Edge: edge, Target: tg,
		MaxPoints: 300, Window: 8, MaxDelay: time.Millisecond,
		Backoff: resilience.Backoff{Initial: 20 * time.Millisecond, Max: 200 * time.Millisecond},
		OnAck: func(a forward.Ack) {
			fmt.Fprintln(out, "acked", a.Next)
			out.Flush()
		}})
	if err != nil {
		fmt.Println("error", err)
		return 1
	}
	fmt.Fprintln(out, "started", f.Stats().Committed)
	out.Flush()
	err = f.Run(context.Background())
	fmt.Println("error", err)
	return 1
}

func testForwarderKilled(t *testing.T, nodes []*node, nc *nats.Conn) {
	const edge, round = "sigkill", 15000
	col := newCollector()
	siteSource(t, nc, edge, col)
	dir := t.TempDir()
	url := clusterURL(nodes)
	total := 0
	for r := range 3 {
		b := openDisk(t, dir)
		if _, err := b.Append(context.Background(), genPoints(total, round, clusterTags, clusterSources)); err != nil {
			t.Fatal(err)
		}
		b.Close()
		total += round
		// Kill once the child has had a part of this round acknowledged.
		killAt := buffer.Offset(total - round + round*(r+1)/4)
		acked := runChildUntil(t, dir, url, edge, killAt)
		t.Logf("round %d: killed the forwarder at %d acknowledged", r, acked)
	}
	b := openDisk(t, dir)
	defer b.Close()
	f, _ := newForwarder(t, b, nc, func(c *forward.Config) { c.Edge = edge })
	stop := runForwarder(t, f)
	waitCommitted(t, f, buffer.Offset(total), 2*time.Minute)
	col.waitFor(t, total, 2*time.Minute)
	stop()
	col.check(t, total, clusterTags)
	if st := f.Stats(); !st.ResumeFound {
		t.Fatalf("the last forwarder did not resume from the stream: %+v", st)
	}
}

// runChildUntil runs the forwarding child and SIGKILLs it as soon as it
// reports an acknowledgement at or past at, mid-stream; it returns the
// last acknowledged offset the child printed.
func runChildUntil(t *testing.T, dir, url, edge string, at buffer.Offset) buffer.Offset {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+dir+"|"+url+"|"+edge)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var last buffer.Offset
	sc := bufio.NewScanner(out)
	killed := false
	for sc.Scan() {
		line := sc.Text()
		var n uint64
		if _, err := fmt.Sscanf(line, "acked %d", &n); err == nil {
			last = buffer.Offset(n)
			if last >= at && !killed {
				cmd.Process.Signal(syscall.SIGKILL)
				killed = true
			}
			continue
		}
		if strings.HasPrefix(line, "error") {
			t.Errorf("child: %s", line)
		}
	}
	if !killed {
		cmd.Process.Signal(syscall.SIGKILL)
	}
	cmd.Wait()
	if !killed {
		t.Fatalf("the child ended before acknowledging %d (last %d)", at, last)
	}
	return last
}
