package jetstream

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/greenlang/gl001/scada/buffer"
	"github.com/greenlang/gl001/scada/forward"
	"github.com/greenlang/gl001/scada/forward/wire"
)

var _ interface {
	forward.EventTarget
	forward.EventResumer
} = (*Target)(nil)

// EventSubject returns the subject of events of source from stream s:
// <prefix>.events.<site>.<source>.
func (t *Target) EventSubject(s forward.Stream, source string) string {
	return t.cfg.Prefix + ".events." + t.site(s) + "." + Token(source)
}

// EventMsgID returns the Nats-Msg-Id of the event message holding the
// events [first, last] of s: <edge>/<buffer id>/events/<first>-<last>.
func EventMsgID(s forward.Stream, first, last buffer.Offset) string {
	return s.Edge + "/" + s.Buffer + "/events/" + strconv.FormatUint(uint64(first), 10) + "-" + strconv.FormatUint(uint64(last), 10)
}

// SendEvents implements [forward.EventTarget]: it publishes b as one
// scada/forward/wire event message per run of events of one source (one
// message for a batch of the Forwarder's event lane, whose batches hold one
// source), in order, each once the previous one is acknowledged, and
// returns once the stream acknowledged them all. The headers are those of
// point messages (Content-Type wire.EventContentType, Gl-Version, Gl-Edge,
// Gl-Buffer, Gl-Source, Gl-First and Gl-Last in event offsets, Gl-Part and
// Gl-Parts both 1) and Nats-Msg-Id [EventMsgID].
//
// Exactly once: a batch sent again after a failure has the same boundaries,
// hence the same ids, which the duplicate window drops; after a restart,
// [Target.ResumeEvents] says where the stored events end. Messages go out
// one at a time, so nothing after the last stored one is stored.
func (t *Target) SendEvents(ctx context.Context, b forward.EventBatch) error {
	for i := 0; i < len(b.Events); {
		j := i + 1
		for j < len(b.Events) && b.Events[j].Source == b.Events[i].Source {
			j++
		}
		first, last := b.First+buffer.Offset(i), b.First+buffer.Offset(j-1)
		src := b.Events[i].Source
		data, err := wire.AppendEvents(nil, wire.Header{Edge: b.Stream.Edge, Buffer: b.Stream.Buffer, Source: src, First: first, Last: last}, b.Events[i:j], nil)
		if err != nil {
			return err
		}
		m := &nats.Msg{Subject: t.EventSubject(b.Stream, src), Data: data, Header: nats.Header{
			HeaderContentType: []string{wire.EventContentType},
			HeaderVersion:     []string{"1"},
			HeaderEdge:        []string{b.Stream.Edge},
			HeaderBuffer:      []string{b.Stream.Buffer},
			HeaderSource:      []string{src},
			HeaderFirst:       []string{strconv.FormatUint(uint64(first), 10)},
			HeaderLast:        []string{strconv.FormatUint(uint64(last), 10)},
			HeaderPart:        []string{"1"},
			HeaderParts:       []string{"1"},
			nats.MsgIdHdr:     []string{EventMsgID(b.Stream, first, last)},
		}}
		if _, err := t.js.PublishMsg(ctx, m); err != nil {
			return fmt.Errorf("jetstream: publish %s: %w", m.Subject, err)
		}
		i = j
	}
	return nil
}

// ResumeEvents implements [forward.EventResumer]: the last event message
// for the site (GetLastMsgForSubject on <prefix>.events.<site>.>) says where
// the Stream's stored events end. A last message of another edge fails with
// [ErrSiteConflict]; one of another Buffer of this edge means none are
// stored.
func (t *Target) ResumeEvents(ctx context.Context, s forward.Stream) (buffer.Offset, bool, error) {
	st, err := t.jsStream(ctx)
	if err != nil {
		return 0, false, err
	}
	filter := t.cfg.Prefix + ".events." + t.site(s) + ".>"
	m, err := st.GetLastMsgForSubject(ctx, filter)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("jetstream: last message of %s: %w", filter, err)
	}
	hi, err := parseHeaders(m.Header)
	if err != nil {
		return 0, false, fmt.Errorf("jetstream: last message of %s (sequence %d): %w", filter, m.Sequence, err)
	}
	if hi.edge != s.Edge {
		return 0, false, fmt.Errorf("%w: the last event message on %s is from edge %q, this is %q", ErrSiteConflict, filter, hi.edge, s.Edge)
	}
	if hi.buffer != s.Buffer {
		return 0, false, nil
	}
	return hi.last + 1, true, nil
}
