package jetstream_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// node is one nats-server with JetStream that can be stopped and started
// again on the same ports and store.
type node struct {
	t    testing.TB
	opts server.Options
	mu   sync.Mutex
	srv  *server.Server
}

// freePorts returns n ports free on loopback at the time of the call.
func freePorts(t testing.TB, n int) []int {
	t.Helper()
	var ls []net.Listener
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	for _, l := range ls {
		l.Close()
	}
	return ports
}

// startNode starts a single JetStream server.
func startNode(t testing.TB) *node {
	t.Helper()
	n := &node{t: t, opts: server.Options{
		ServerName: "solo", Host: "127.0.0.1", Port: freePorts(t, 1)[0], JetStream: true,
		StoreDir: t.TempDir(), NoLog: true, NoSigs: true, MaxPayload: 8 << 20,
	}}
	n.start()
	t.Cleanup(n.stop)
	return n
}

// startCluster starts three JetStream servers routed to each other.
func startCluster(t testing.TB) []*node {
	t.Helper()
	ports := freePorts(t, 6)
	var routes []*url.URL
	for i := range 3 {
		u, _ := url.Parse(fmt.Sprintf("nats://127.0.0.1:%d", ports[3+i]))
		routes = append(routes, u)
	}
	var nodes []*node
	for i := range 3 {
		n := &node{t: t, opts: server.Options{
			ServerName: fmt.Sprintf("n%d", i), Host: "127.0.0.1", Port: ports[i], JetStream: true,
			StoreDir: t.TempDir(), NoLog: true, NoSigs: true, MaxPayload: 8 << 20,
			Cluster: server.ClusterOpts{Name: "gl", Host: "127.0.0.1", Port: ports[3+i]},
			Routes:  routes,
		}}
		nodes = append(nodes, n)
	}
	for _, n := range nodes {
		t.Cleanup(n.stop)
	}
	startAll(t, nodes)
	waitClusterReady(t, nodes)
	return nodes
}

func waitClusterReady(t testing.TB, nodes []*node) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		ready := 0
		for _, n := range nodes {
			if s := n.server(); s != nil && s.JetStreamIsCurrent() && s.JetStreamIsClustered() {
				ready++
			}
		}
		leader := false
		for _, n := range nodes {
			if s := n.server(); s != nil && s.JetStreamIsLeader() {
				leader = true
			}
		}
		if ready == len(nodes) && leader {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the JetStream cluster did not form: %d of %d current, leader %v", ready, len(nodes), leader)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// startAll starts the nodes at once (a cluster's servers wait for each
// other), failing the test if one does not start.
func startAll(t testing.TB, nodes []*node) {
	t.Helper()
	errs := make([]error, len(nodes))
	var wg sync.WaitGroup
	for i, n := range nodes {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = n.tryStart() }()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
}

// start starts the server, failing the test if it does not start. Call it
// from the test's goroutine; startAll starts several at once.
func (n *node) start() {
	n.t.Helper()
	if err := n.tryStart(); err != nil {
		n.t.Fatal(err)
	}
}

// tryStart starts the server on the node's ports and store. A server that
// does not become ready is shut down: nothing is left running on failure.
func (n *node) tryStart() error {
	opts := n.opts
	s, err := server.NewServer(&opts)
	if err != nil {
		return fmt.Errorf("nats-server %s: %w", opts.ServerName, err)
	}
	go s.Start()
	if !s.ReadyForConnections(30 * time.Second) {
		s.Shutdown()
		s.WaitForShutdown()
		return fmt.Errorf("nats-server %s did not start", opts.ServerName)
	}
	n.mu.Lock()
	n.srv = s
	n.mu.Unlock()
	return nil
}

func (n *node) server() *server.Server {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.srv
}

func (n *node) stop() {
	n.mu.Lock()
	s := n.srv
	n.srv = nil
	n.mu.Unlock()
	if s != nil {
		s.Shutdown()
		s.WaitForShutdown()
	}
}

func (n *node) url() string { return fmt.Sprintf("nats://127.0.0.1:%d", n.opts.Port) }

func clusterURL(nodes []*node) string {
	u := ""
	for i, n := range nodes {
		if i > 0 {
			u += ","
		}
		u += n.url()
	}
	return u
}

// connect opens a connection that reconnects for ever, closed at cleanup.
func connect(t *testing.T, url string) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(url, nats.MaxReconnects(-1), nats.ReconnectWait(20*time.Millisecond), nats.RetryOnFailedConnect(true),
		nats.ReconnectJitter(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// waitReplicasCurrent waits until every replica of the stream and of its
// consumers is current: a server that was restarted has caught up, and no
// server still creates the raft group of a stream or consumer. The cluster
// tests wait for this before they stop servers or go on to the next
// scenario, because nats-server (v2.15.3) leaves a store running when a
// raft group is created while its server shuts down: createRaftGroup
// (jetstream_cluster.go:4121) creates the group's log store, a fileStore
// whose flushStreamStateLoop runs and which holds a reference on the ats
// ticker (filestore.go:475, 662), and then startRaftNode fails in
// initRaftNode with ErrNoSysAccount once shutdownEventing has cleared s.sys
// (raft.go:501, events.go:1937), and neither stops that store. The same
// goes for a replica that resets its stream after a failed catch-up
// (stream.resetClusteredState creates it again in a goroutine of its own).
// Seen as goleak reporting flushStreamStateLoop and ats.Register.func1 after
// a passing TestCluster -count=10.
func waitReplicasCurrent(t testing.TB, nc *nats.Conn) {
	t.Helper()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	current := func(ci *jetstream.ClusterInfo, replicas int) error {
		if ci == nil || ci.Leader == "" {
			return errors.New("no leader")
		}
		if len(ci.Replicas) != replicas-1 {
			return fmt.Errorf("%d replicas besides the leader %s", len(ci.Replicas), ci.Leader)
		}
		for _, r := range ci.Replicas {
			if !r.Current || r.Offline || r.Lag != 0 {
				return fmt.Errorf("replica %s: current %v, offline %v, lag %d", r.Name, r.Current, r.Offline, r.Lag)
			}
		}
		return nil
	}
	check := func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		st, err := js.Stream(ctx, streamName)
		if err != nil {
			return err
		}
		replicas := st.CachedInfo().Config.Replicas
		if err := current(st.CachedInfo().Cluster, replicas); err != nil {
			return fmt.Errorf("stream: %w", err)
		}
		names := st.ConsumerNames(ctx)
		for name := range names.Name() {
			c, err := st.Consumer(ctx, name)
			if err != nil {
				return fmt.Errorf("consumer %s: %w", name, err)
			}
			if err := current(c.CachedInfo().Cluster, replicas); err != nil {
				return fmt.Errorf("consumer %s: %w", name, err)
			}
		}
		return names.Err()
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the stream's replicas did not catch up: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
