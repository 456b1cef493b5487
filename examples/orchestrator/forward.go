package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
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

// This file is the road of points between an edge and the central node:
// the edge's Forwarder drains its buffer into a JetStream stream, and the
// central node reads the stream with the JetStream Source under a
// scada.Collector, into its own buffer.

// Buffer consumers of the forwarders. Each has its own cursor, so the
// status page's consumer, the JetStream forwarder and the historian read
// the same buffer independently.
const (
	jetstreamConsumer = "gl001-jetstream"
)

// drainWait bounds how long a stopping forwarder or central Source waits
// for what is left, so that the final counts add up.
const drainWait = 10 * time.Second

// embeddedJetStream is the JetStream server the "all" role starts when no
// nats_url is configured: in-process, on 127.0.0.1 and a random port, with
// file storage in a temporary directory removed on close.
type embeddedJetStream struct {
	srv *server.Server
	dir string
}

func startEmbeddedJetStream() (*embeddedJetStream, error) {
	dir, err := os.MkdirTemp("", "gl001-jetstream-")
	if err != nil {
		return nil, fmt.Errorf("embedded jetstream: %w", err)
	}
	srv, err := server.NewServer(&server.Options{
		ServerName: "gl001-embedded", Host: "127.0.0.1", Port: server.RANDOM_PORT,
		JetStream: true, StoreDir: dir, NoLog: true, NoSigs: true,
	})
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("embedded jetstream: %w", err)
	}
	srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		srv.Shutdown()
		srv.WaitForShutdown()
		os.RemoveAll(dir)
		return nil, errors.New("embedded jetstream: not ready within 10s")
	}
	return &embeddedJetStream{srv: srv, dir: dir}, nil
}

func (e *embeddedJetStream) url() string { return e.srv.ClientURL() }

func (e *embeddedJetStream) close() {
	e.srv.Shutdown()
	e.srv.WaitForShutdown()
	os.RemoveAll(e.dir)
}

// connectJetStream opens a NATS connection with the [forward] section's
// credentials and TLS settings. It reconnects forever once connected; the
// first connection must succeed within 5 s.
func connectJetStream(f ForwardConfig, natsURL, name string) (*nats.Conn, error) {
	opts := []nats.Option{nats.Name(name), nats.Timeout(5 * time.Second), nats.MaxReconnects(-1)}
	if f.CredsFile != "" {
		opts = append(opts, nats.UserCredentials(f.CredsFile))
	}
	if f.CAFile != "" {
		opts = append(opts, nats.RootCAs(f.CAFile))
	}
	if f.CertFile != "" {
		opts = append(opts, nats.ClientCert(f.CertFile, f.KeyFile))
	}
	nc, err := nats.Connect(natsURL, opts...)
	if err != nil {
		return nil, fmt.Errorf("forward.nats_url %s: %w", redactURL(natsURL), err)
	}
	return nc, nil
}

// redactURL is u without any password, for logs and the status page.
func redactURL(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return "(unparsable URL)"
	}
	return p.Redacted()
}

// ensureStream creates the points stream or checks that the existing one
// matches the [forward] section.
func ensureStream(ctx context.Context, nc *nats.Conn, f ForwardConfig) error {
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("forward: %w", err)
	}
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := fjs.EnsureStream(sctx, js, fjs.StreamConfig{
		Name: f.Stream, Prefix: f.Prefix, Replicas: f.Replicas, MaxAge: f.MaxAge,
	}); err != nil {
		return fmt.Errorf("forward.stream %s: %w", f.Stream, err)
	}
	return nil
}

// forwarder is the part that runs one forward.Forwarder (the JetStream
// road, or the historian). Stopping it first forwards what its buffer
// still holds for it (the ingest, stopped before it, has appended
// everything it accepted), for at most drainWait, then stops the
// Forwarder; the buffer is closed after every part has stopped.
type forwarder struct {
	name   string // "jetstream" or "historian"
	target string // where it sends, for the status page (no secrets)
	fwd    *forward.Forwarder
	log    *slog.Logger
}

func newForwarder(name, target string, buf buffer.Buffer, consumer, edge string, t forward.Target, log *slog.Logger) (*forwarder, error) {
	fw := &forwarder{name: name, target: target, log: log}
	var err error
	fw.fwd, err = forward.New(forward.Config{
		Buffer: buf, Consumer: consumer, Edge: edge, Target: t,
		OnStateChange: func(st forward.Stats) {
			log.Info("forwarder state", "forwarder", name, "state", st.State.String(), "error", st.LastError)
		},
		Logger: log.With("forwarder", name),
	})
	if err != nil {
		return nil, fmt.Errorf("%s forwarder: %w", name, err)
	}
	return fw, nil
}

func (fw *forwarder) Run(ctx context.Context) error {
	fctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- fw.fwd.Run(fctx) }()
	select {
	case err := <-done:
		return err // the buffer closed, or the target is ahead of it
	case <-ctx.Done():
	}
	deadline := time.NewTimer(drainWait)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
drain:
	for fw.fwd.Stats().LagPoints > 0 {
		select {
		case <-deadline.C:
			fw.log.Warn("forwarder stopped with points left", "forwarder", fw.name, "lag", fw.fwd.Stats().LagPoints)
			break drain
		case err := <-done:
			return err
		case <-tick.C:
		}
	}
	cancel()
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

// ForwarderInfo is one forwarder as the status page shows it.
type ForwarderInfo struct {
	Name        string    `json:"name"`
	Target      string    `json:"target"`
	State       string    `json:"state"`
	Since       time.Time `json:"since,omitzero"`
	LagPoints   uint64    `json:"lag_points"`
	LagSeconds  float64   `json:"lag_s"`
	InFlight    int       `json:"in_flight"`
	Batches     uint64    `json:"batches"`
	Points      uint64    `json:"points"`
	Redelivered uint64    `json:"redelivered"`
	Failures    uint64    `json:"failures"`
	Rejected    uint64    `json:"rejected"`
	LastError   string    `json:"last_error,omitempty"`
}

// lagProblem is how far behind a forwarder may fall, by source time,
// before the orchestrator says it is degraded.
const lagProblem = time.Minute

func (fw *forwarder) info(problems *[]string) ForwarderInfo {
	st := fw.fwd.Stats()
	fi := ForwarderInfo{
		Name: fw.name, Target: fw.target, State: st.State.String(), Since: st.Since,
		LagPoints: st.LagPoints, LagSeconds: st.LagAge.Seconds(), InFlight: st.InFlight,
		Batches: st.Batches, Points: st.Points, Redelivered: st.Redelivered, Failures: st.Failures,
		Rejected: st.Rejected, LastError: st.LastError,
	}
	switch st.State {
	case forward.StateBackingOff, forward.StateBreakerOpen:
		*problems = append(*problems, fmt.Sprintf("forwarder %s is %s: %s", fw.name, fi.State, st.LastError))
	default:
		if st.LagAge > lagProblem {
			*problems = append(*problems, fmt.Sprintf("forwarder %s lags %d points (%s)", fw.name, st.LagPoints, st.LagAge.Round(time.Second)))
		}
	}
	return fi
}

// centralConnector is the central node's one SCADA source: the JetStream
// Source reading what the edges forwarded.
func centralConnector(f ForwardConfig, nc *nats.Conn, log *slog.Logger) (connector, *fjs.Source, error) {
	src, err := fjs.NewSource(fjs.SourceConfig{
		Name: "jetstream", Conn: nc, Stream: f.Stream, Durable: f.Durable, Prefix: f.Prefix,
		OnBadInput: func(err error) { log.Warn("bad message on the points stream", "err", err) },
		Logger:     log,
	})
	if err != nil {
		return connector{}, nil, fmt.Errorf("forward: %w", err)
	}
	cn := connector{
		name: "jetstream", protocol: "jetstream", src: src, relay: true,
		detail: func() string {
			st := src.Stats()
			return fmt.Sprintf("%d messages, %d duplicates, %d bad, %d gaps", st.Messages, st.Duplicates, st.Bad, st.Gaps)
		},
		errors: func() map[string]uint64 {
			st := src.Stats()
			return map[string]uint64{"bad_subject": st.BadSubject, "bad_version": st.BadVersion, "bad_decode": st.BadDecode}
		},
	}
	return cn, src, nil
}

// newCentralIngest is the central node's ingest: the JetStream Source
// under a Collector, appending to the central buffer. The edge has
// calibrated, converted, validated, scored and deadbanded the points; the
// central stages count them and their grades.
func newCentralIngest(cn connector, log *slog.Logger) *ingest {
	in := &ingest{log: log, conns: []connector{cn}}
	in.pipeline = in.counting()
	return in
}

var _ scada.Source = (*fjs.Source)(nil)

// eventRelay is the central node's event road: the JetStream EventSource
// reading the event batches the edges forwarded (the edge's forwarder
// sends its buffer's event log beside the points) into the central
// buffer's event log, where the alarm table reads them. Each message is
// acknowledged after the buffer stored its events, so an event is not
// lost between the stream and the buffer; a redelivered message is not
// stored twice. A lost connection is retried with backoff until ctx ends.
type eventRelay struct {
	src  *fjs.EventSource
	sink scada.EventSink
	log  *slog.Logger
}

func newEventRelay(f ForwardConfig, nc *nats.Conn, sink scada.EventSink, log *slog.Logger) (*eventRelay, error) {
	src, err := fjs.NewEventSource(fjs.SourceConfig{
		Name: "jetstream-events", Conn: nc, Stream: f.Stream, Durable: f.Durable + "-events", Prefix: f.Prefix,
		OnBadInput: func(err error) { log.Warn("bad message on the events stream", "err", err) },
		Logger:     log,
	})
	if err != nil {
		return nil, fmt.Errorf("forward: events: %w", err)
	}
	return &eventRelay{src: src, sink: sink, log: log}, nil
}

func (r *eventRelay) Run(ctx context.Context) error {
	backoff := resilience.Backoff{Max: 10 * time.Second}.WithDefaults()
	for attempt := 0; ; attempt++ {
		err := r.src.Run(ctx, r.sink)
		if ctx.Err() != nil {
			return nil
		}
		r.log.Warn("event relay", "err", err)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff.Delay(attempt)):
		}
	}
}
