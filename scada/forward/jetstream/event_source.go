package jetstream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"sync"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/greenlang/gl001/scada"
	"github.com/greenlang/gl001/scada/forward/wire"
)

// EventSourceStats is a snapshot of an EventSource's counters, since
// NewEventSource.
type EventSourceStats struct {
	Messages uint64 // messages delivered to the EventSink and acknowledged
	Events   uint64 // events delivered
	// Duplicates counts messages the stream delivered again after the
	// EventSource had acknowledged them: acknowledged again, not delivered
	// twice.
	Duplicates uint64
	// Bad counts terminated messages (foreign subject, unknown version,
	// undecodable), each reported to OnBadInput.
	Bad uint64
	// Gaps and GapsGivenUp count lost deliveries, as in [SourceStats].
	Gaps, GapsGivenUp uint64
	LastError         string
}

// EventSource reads the event batches that edges forwarded to a JetStream
// stream (subjects <prefix>.events.<site>.<source>, scada/forward/wire
// event messages) and hands them to a scada.EventSink, one message (one
// batch of one source) at a time, in stream order: each message is
// acknowledged only after the sink accepted its events, and one delivered
// again after that (an acknowledgement lost) is acknowledged without being
// delivered twice. Bad input is terminated, counted and reported as a
// *[BadMessageError], and the messages around it are delivered.
//
// It takes the [SourceConfig] of a [Source]: Filter defaults to
// <Prefix>.events.>, MaxBatch is not used. The Durable must differ from
// the points Source's.
type EventSource struct {
	cfg    SourceConfig
	prefix string
	log    *slog.Logger
	src    *Source // for its consumer and acknowledgement bookkeeping

	mu sync.Mutex
	st EventSourceStats
}

// NewEventSource returns an EventSource, not yet running.
func NewEventSource(cfg SourceConfig) (*EventSource, error) {
	if cfg.Filter == "" {
		p := cfg.Prefix
		if p == "" {
			p = DefaultPrefix
		}
		cfg.Filter = p + ".events.>"
	}
	src, err := NewSource(cfg)
	if err != nil {
		return nil, err
	}
	return &EventSource{cfg: src.cfg, prefix: src.cfg.Prefix + ".events.", log: src.log, src: src}, nil
}

// Stats returns a snapshot of the counters.
func (s *EventSource) Stats() EventSourceStats {
	inner := s.src.Stats()
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.st
	st.Gaps, st.GapsGivenUp = inner.Gaps, inner.GapsGivenUp
	return st
}

// Run consumes the stream and delivers its events to sink until ctx ends
// (it returns ctx.Err()), the sink fails (the message comes again later),
// or the connection is lost (an error matching scada.ErrConnection). It
// keeps stream order across a lost delivery as a [Source] does: messages
// after the gap are held until the lost ones come again, across a sink
// error and the next Run too.
func (s *EventSource) Run(ctx context.Context, sink scada.EventSink) error {
	nc := s.cfg.Conn
	cons, err := s.src.consumer(ctx)
	if err != nil {
		return err
	}
	status := nc.StatusChanged(nats.RECONNECTING, nats.DISCONNECTED, nats.CLOSED)
	defer nc.RemoveStatusListener(status)
	if !nc.IsConnected() {
		return connErr("connect", errors.New("not connected"))
	}
	return s.src.consume(ctx, cons, status, &eventDelivery{s: s, sink: sink})
}

// eventDelivery hands the events of one message at a time to a
// scada.EventSink, acknowledging it with a confirmation (DoubleAck).
type eventDelivery struct {
	s    *EventSource
	sink scada.EventSink
	d    wire.DecodedEvents
	evs  []scada.Event
}

func (e *eventDelivery) connected()         {}
func (e *eventDelivery) limits() (int, int) { return math.MaxInt, 1 }
func (e *eventDelivery) reset()             { e.evs = e.evs[:0] }
func (e *eventDelivery) name() string       { return "event sink" }

func (e *eventDelivery) deliver(ctx context.Context) error { return e.sink.DeliverEvents(ctx, e.evs) }

func (e *eventDelivery) ack(ctx context.Context, m jetstream.Msg) error {
	if err := m.DoubleAck(ctx); err != nil && ctx.Err() == nil {
		return err
	}
	return nil
}

func (e *eventDelivery) add(m jetstream.Msg) (int, error) {
	if err := e.s.check(m, &e.d); err != nil {
		return 0, err
	}
	e.evs = append(e.evs, e.d.Events...)
	return len(e.d.Events), nil
}

func (e *eventDelivery) delivered(msgs, items int) {
	e.s.mu.Lock()
	e.s.st.Messages += uint64(msgs)
	e.s.st.Events += uint64(items)
	e.s.mu.Unlock()
}

func (e *eventDelivery) duplicate() {
	e.s.mu.Lock()
	e.s.st.Duplicates++
	e.s.mu.Unlock()
}

func (e *eventDelivery) bad(m jetstream.Msg, seq uint64, reason error) { e.s.bad(m, seq, reason) }

// check decodes m into d and checks that its subject is the one its
// events belong on.
func (s *EventSource) check(m jetstream.Msg, d *wire.DecodedEvents) error {
	rest, ok := strings.CutPrefix(m.Subject(), s.prefix)
	site, tok, ok2 := strings.Cut(rest, ".")
	if !ok || !ok2 || site == "" || strings.Contains(tok, ".") {
		return ErrForeignSubject
	}
	if v := m.Headers().Get(HeaderVersion); v != "" && v != "1" {
		return &wire.EventDecodeError{Reason: fmt.Sprintf("header %s %q", HeaderVersion, v), Version: versionOf(v)}
	}
	if err := wire.DecodeEvents(m.Data(), d); err != nil {
		return err
	}
	if Token(d.Source) != tok {
		return fmt.Errorf("%w: the batch names source %q", ErrForeignSubject, d.Source)
	}
	return nil
}

func (s *EventSource) bad(m jetstream.Msg, seq uint64, reason error) {
	err := &BadMessageError{Subject: m.Subject(), Sequence: seq, Err: reason}
	_ = m.Term()
	s.mu.Lock()
	s.st.Bad++
	s.st.LastError = err.Error()
	s.mu.Unlock()
	s.log.Warn("bad event message terminated", "error", err)
	if s.cfg.OnBadInput != nil {
		s.cfg.OnBadInput(err)
	}
}
