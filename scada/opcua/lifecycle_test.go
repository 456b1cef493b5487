package opcua_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/greenlang/gl001/scada"
	"github.com/greenlang/gl001/scada/opcua"
)

// TestWatchdog checks that keep-alives count as life and that silence does
// not: a frozen connection (no error, no bytes) ends Run with ErrNoData.
func TestWatchdog(t *testing.T) {
	sim := sharedSim(t)
	cfg := insecure(sim, opcua.Tag{Name: "constant", NodeID: sim.NodeID("Line.T00")})
	cfg.KeepAliveCount = 2              // a keep-alive every 100-150 ms without data
	cfg.NoDataTimeout = 3 * time.Second // generous: a loaded machine stalls goroutines
	cfg.RequestTimeout = time.Second
	src, err := opcua.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	rec := newRecorder()
	stop, done, result := run(t, src, rec)
	defer stop()
	rec.waitFor(t, "the initial value", func(ps []scada.Point) bool { return len(ps) > 0 })
	// Thirty keep-alives span more than one watchdog timeout without any data.
	deadline := time.After(60 * time.Second)
	for src.Stats().KeepAlives < 30 {
		select {
		case <-done:
			err := result()
			t.Fatalf("Run returned while keep-alives arrived: %v; stats %+v", err, src.Stats())
		case <-deadline:
			t.Fatalf("no keep-alives: %+v", src.Stats())
		case <-time.After(20 * time.Millisecond):
		}
	}

	sim.Freeze(true)
	defer sim.Freeze(false)
	select {
	case <-done:
		err := result()
		if !errors.Is(err, opcua.ErrNoData) || !errors.Is(err, scada.ErrConnection) {
			t.Fatalf("Run = %v, want ErrNoData matching scada.ErrConnection", err)
		}
		var ce *opcua.ConnError
		if !errors.As(err, &ce) || ce.Op != "watchdog" {
			t.Fatalf("Run = %#v, want a *ConnError from the watchdog", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the watchdog did not end Run on a frozen connection")
	}
	ps := rec.snapshot()
	if p := ps[len(ps)-1]; p.Quality.Code() != scada.BadNoCommunication {
		t.Fatalf("last point = %+v, want BadNoCommunication", p)
	}
}

func TestCloseAndConcurrentRun(t *testing.T) {
	sim := sharedSim(t)
	src, err := opcua.New(insecure(sim, opcua.Tag{Name: "a", NodeID: sim.NodeID("A")}))
	if err != nil {
		t.Fatal(err)
	}
	rec := newRecorder()
	_, done, result := run(t, src, rec)
	rec.waitFor(t, "a value", func(ps []scada.Point) bool { return len(ps) > 0 })
	if err := src.Run(context.Background(), rec); !errors.Is(err, opcua.ErrRunning) {
		t.Fatalf("second Run = %v, want ErrRunning", err)
	}
	if err := src.Close(); err != nil {
		t.Fatalf("Close = %v", err)
	}
	select {
	case <-done:
		err := result()
		if !errors.Is(err, scada.ErrClosed) {
			t.Fatalf("Run after Close = %v, want scada.ErrClosed", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Close did not stop Run")
	}
	if err := src.Close(); !errors.Is(err, scada.ErrClosed) {
		t.Fatalf("second Close = %v, want scada.ErrClosed", err)
	}
	if err := src.Run(context.Background(), rec); !errors.Is(err, scada.ErrClosed) {
		t.Fatalf("Run after Close = %v, want scada.ErrClosed", err)
	}
	if _, err := src.Browse(context.Background(), ""); !errors.Is(err, scada.ErrClosed) {
		t.Fatalf("Browse after Close = %v, want scada.ErrClosed", err)
	}
}

func TestConnectFailures(t *testing.T) {
	sim := sharedSim(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	// The simulator offers anonymous access only: a username finds no endpoint,
	// and the password appears nowhere.
	cfg := insecure(sim, opcua.Tag{Name: "a", NodeID: sim.NodeID("A")})
	cfg.Auth, cfg.Username, cfg.Password = opcua.AuthUsername, "operator", "s3cret-Pa55"
	src, err := opcua.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	err = src.Run(ctx, newRecorder())
	if !errors.Is(err, opcua.ErrNoEndpoint) || !errors.Is(err, scada.ErrConnection) {
		t.Fatalf("Run = %v, want ErrNoEndpoint matching scada.ErrConnection", err)
	}
	if strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("error leaks the password: %v", err)
	}

	// Nothing listens: a connection error, quickly.
	cfg = insecure(sim, opcua.Tag{Name: "a", NodeID: sim.NodeID("A")})
	cfg.Endpoint = "opc.tcp://127.0.0.1:1"
	src, err = opcua.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := src.Run(ctx, newRecorder()); !errors.Is(err, scada.ErrConnection) {
		t.Fatalf("Run against a closed port = %v, want scada.ErrConnection", err)
	}
	if st := src.Stats(); st.Connects != 0 {
		t.Fatalf("stats = %+v", st)
	}
}
