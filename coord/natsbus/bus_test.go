package natsbus_test

import (
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"go.uber.org/goleak"

	"github.com/greenlang/gl001/coord"
	"github.com/greenlang/gl001/coord/bustest"
	"github.com/greenlang/gl001/coord/natsbus"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// startServer runs an embedded nats-server on 127.0.0.1 and a random port
// until the test ends.
func startServer(tb testing.TB) *server.Server {
	tb.Helper()
	s, err := server.NewServer(&server.Options{
		Host:   "127.0.0.1",
		Port:   server.RANDOM_PORT,
		NoLog:  true,
		NoSigs: true,
	})
	if err != nil {
		tb.Fatal(err)
	}
	s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		s.Shutdown()
		tb.Fatal("nats-server not ready")
	}
	tb.Cleanup(func() {
		s.Shutdown()
		s.WaitForShutdown()
	})
	return s
}

func connect(tb testing.TB, s *server.Server) *nats.Conn {
	tb.Helper()
	nc, err := nats.Connect(s.ClientURL(), nats.MaxReconnects(0))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(nc.Close)
	return nc
}

func newBus(tb testing.TB, nc *nats.Conn, cfg natsbus.Config) *natsbus.Bus {
	tb.Helper()
	b, err := natsbus.New(nc, cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = b.Close() })
	return b
}

func TestConformance(t *testing.T) {
	srv := startServer(t)
	bustest.TestBus(t, func(t *testing.T) coord.Bus {
		return newBus(t, connect(t, srv), natsbus.Config{})
	})
}
