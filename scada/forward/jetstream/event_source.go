package jetstream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"

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
	Bad       uint64
	LastError string
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
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.st
}

// Run consumes the stream and delivers its events to sink until ctx ends
// (it returns ctx.Err()), the sink fails (the message comes again later),
// or the connection is lost (an error matching scada.ErrConnection).
func (s *EventSource) Run(ctx context.Context, sink scada.EventSink) error {
	nc := s.cfg.Conn
	cons, err := s.src.consumer(ctx)
	if err != nil {
		return err
	}
	if !nc.IsConnected() {
		return connErr("connect", errors.New("not connected"))
	}
	it, err := cons.Messages(jetstream.PullMaxMessagesWithBytesLimit(256, pullMaxBytes))
	if err != nil {
		return connErr("consume", err)
	}
	defer it.Stop()
	var d wire.DecodedEvents
	for {
		m, err := it.Next(jetstream.NextContext(ctx))
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return connErr("consume", err)
		}
		var seq uint64
		if md, err := m.Metadata(); err == nil {
			seq = md.Sequence.Stream
			if s.src.wasAcked(seq) {
				s.mu.Lock()
				s.st.Duplicates++
				s.mu.Unlock()
				_ = m.Ack()
				continue
			}
		}
		if err := s.check(m, &d); err != nil {
			s.bad(m, seq, err)
			continue
		}
		if err := sink.DeliverEvents(ctx, d.Events); err != nil {
			_ = m.Nak()
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("jetstream: event sink: %w", err)
		}
		if err := m.DoubleAck(ctx); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return connErr("ack", err)
		}
		s.src.noteAcked(seq)
		s.mu.Lock()
		s.st.Messages++
		s.st.Events += uint64(len(d.Events))
		s.mu.Unlock()
	}
}

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
