package jetstream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/greenlang/gl001/scada/buffer"
	"github.com/greenlang/gl001/scada/forward"
	"github.com/greenlang/gl001/scada/forward/wire"
)

// Headers of every message the Target publishes.
const (
	HeaderContentType = "Content-Type" // wire.ContentType
	HeaderVersion     = "Gl-Version"   // "1"
	HeaderEdge        = "Gl-Edge"      // the edge id
	HeaderBuffer      = "Gl-Buffer"    // the Buffer's id
	HeaderSource      = "Gl-Source"    // the points' source name
	HeaderFirst       = "Gl-First"     // the batch's first Buffer offset, decimal
	HeaderLast        = "Gl-Last"      // the batch's last Buffer offset, decimal
	HeaderPart        = "Gl-Part"      // this message's place among the batch's messages, 1-based
	HeaderParts       = "Gl-Parts"     // how many messages the batch has
	HeaderLane        = "Gl-Lane"      // "backfill" for a batch of a backlog (forward.Batch.Backfill), absent otherwise
	// HeaderAcked and HeaderAckedSeq record, when the message was sent,
	// how far the stream had acknowledged the edge's Stream: every point
	// before offset Gl-Acked is stored, the last of them in the message
	// with stream sequence Gl-Acked-Seq (0: none yet).
	HeaderAcked    = "Gl-Acked"
	HeaderAckedSeq = "Gl-Acked-Seq"
)

// DefaultPrefix is the first subject token when Config.Prefix is empty.
const DefaultPrefix = "gl001"

// ErrSiteConflict is returned by Resume when the stream's last message for
// the site was published by another edge: two edges share a site token, so
// neither can tell from the stream where it stands. Not retryable: give
// each edge its own site.
var ErrSiteConflict = errors.New("jetstream: site is fed by another edge")

// Config configures a [Target].
type Config struct {
	// Conn is the connection to publish on. The caller owns it (TLS,
	// credentials, NKeys, reconnect policy) and closes it after the Target.
	// Required.
	Conn *nats.Conn
	// Stream is the JetStream stream that captures the subjects (see
	// [EnsureStream]); Resume reads it. Required.
	Stream string
	// Prefix is the first subject token (default "gl001"); subjects are
	// <Prefix>.points.<Site>.<source>.
	Prefix string
	// Site is the subject token of this edge (default: the edge id, escaped
	// as a token). One edge per site: Resume relies on it.
	Site string
	// MaxPending bounds the messages awaiting an acknowledgement on the
	// connection (default 4000).
	MaxPending int
	// Unordered lets a batch go out before the previous batch of its
	// Stream is acknowledged. By default (false) the Target encodes a
	// batch while the previous one is in flight but publishes it only once
	// that one is acknowledged: a stream whose leader changes while
	// several batches are in flight can store a later batch and lose an
	// earlier one, whose re-send would then reach the central side after
	// the later points. Unordered trades that order (not exactly once)
	// for throughput.
	Unordered bool
	// Logger receives resynchronisations; nil discards.
	Logger *slog.Logger
}

// Validate reports every problem of c, joined with errors.Join.
func (c Config) Validate() error {
	var errs []error
	if c.Conn == nil {
		errs = append(errs, errors.New("jetstream: Conn is required"))
	}
	if c.Stream == "" || strings.ContainsAny(c.Stream, ".*> \t\r\n") {
		errs = append(errs, fmt.Errorf("jetstream: Stream %q must be a non-empty stream name", c.Stream))
	}
	if c.Prefix != "" && !validSubjectPrefix(c.Prefix) {
		errs = append(errs, fmt.Errorf("jetstream: Prefix %q is not a subject without wildcards", c.Prefix))
	}
	if c.Site != "" && !validToken(c.Site) {
		errs = append(errs, fmt.Errorf("jetstream: Site %q is not one subject token", c.Site))
	}
	if c.MaxPending < 0 {
		errs = append(errs, errors.New("jetstream: MaxPending is negative"))
	}
	return errors.Join(errs...)
}

func validToken(s string) bool {
	return s != "" && !strings.ContainsAny(s, ".*> \t\r\n")
}

func validSubjectPrefix(s string) bool {
	for _, t := range strings.Split(s, ".") {
		if !validToken(t) {
			return false
		}
	}
	return true
}

// Token escapes s into one subject token: bytes other than ASCII letters,
// digits, '-' and '_' become %XX, and the empty string becomes "%". It is
// what the Target puts in subjects for source names and default sites.
func Token(s string) string {
	if s == "" {
		return "%"
	}
	ok := true
	for i := 0; i < len(s); i++ {
		if !tokenByte(s[i]) {
			ok = false
			break
		}
	}
	if ok {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if tokenByte(c) {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

func tokenByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_'
}

// Target publishes batches to a JetStream stream: a [forward.Target], with
// [forward.Pipeliner] and [forward.Resumer]. See the package documentation
// for what it guarantees. It is safe for concurrent use.
type Target struct {
	cfg    Config
	js     jetstream.JetStream
	prefix string
	log    *slog.Logger

	// encs are Encoders not in use. Not a sync.Pool: a collection would
	// empty it, and an Encoder's dictionaries are worth keeping.
	encMu sync.Mutex
	encs  []*wire.Encoder

	mu      sync.Mutex
	stream  jetstream.Stream
	streams map[forward.Stream]*streamState
}

// streamState is what the Target knows of one forward.Stream: how far the
// stream acknowledged it, the batches in flight, and, after a failure or
// at start, what the stream holds beyond the acknowledged prefix.
type streamState struct {
	acked    buffer.Offset // every point before it is stored
	ackedSeq uint64        // the stream sequence of the last message of that prefix
	inflight []*flightState
	last     *pending // the last batch started, for ordered publishing
	// known is false until the state was read from the stream (at the
	// first Start, at Resume, and again after a failure).
	known bool
	held  *held
	// found and lastSeq are set by lookup: the stream holds messages of
	// the Stream, the last at lastSeq.
	found   bool
	lastSeq uint64
}

type flightState struct {
	first, next buffer.Offset
	done        bool
	maxSeq      uint64
}

// held is what the stream holds of a Stream beyond its acknowledged prefix,
// read from the stream itself: whole source parts of batches, each holding
// every point of its source in [first, last].
type held struct {
	parts []heldPart
	upTo  buffer.Offset // no held part reaches beyond it
}

type heldPart struct {
	first, last buffer.Offset
	source      string
}

// New returns a Target publishing on cfg.Conn.
func New(cfg Config) (*Target, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Prefix == "" {
		cfg.Prefix = DefaultPrefix
	}
	if cfg.MaxPending == 0 {
		cfg.MaxPending = 4000
	}
	js, err := jetstream.New(cfg.Conn, jetstream.WithPublishAsyncMaxPending(cfg.MaxPending))
	if err != nil {
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	t := &Target{cfg: cfg, js: js, prefix: cfg.Prefix + ".points.", log: log, streams: make(map[forward.Stream]*streamState)}
	return t, nil
}

func (t *Target) site(s forward.Stream) string {
	if t.cfg.Site != "" {
		return t.cfg.Site
	}
	return Token(s.Edge)
}

// Subject returns the subject of points of source from stream s.
func (t *Target) Subject(s forward.Stream, source string) string {
	return t.prefix + t.site(s) + "." + Token(source)
}

// MsgID returns the Nats-Msg-Id of part (1-based) of the batch [first,
// last] of s: the same batch always gets the same ids, so the stream's
// duplicate window drops a batch sent twice.
func MsgID(s forward.Stream, first, last buffer.Offset, part int) string {
	return s.Edge + "/" + s.Buffer + "/" + strconv.FormatUint(uint64(first), 10) + "-" +
		strconv.FormatUint(uint64(last), 10) + "/" + strconv.Itoa(part)
}

// Send publishes b and waits for the stream's acknowledgement of every
// message of it.
func (t *Target) Send(ctx context.Context, b forward.Batch) error {
	p, err := t.Start(ctx, b)
	if err != nil {
		return err
	}
	return p.Wait(ctx)
}

type pending struct {
	t       *Target
	stream  forward.Stream
	futures []jetstream.PubAckFuture
	flight  *flightState // nil for a backfill batch

	first    buffer.Offset
	once     sync.Once
	resolved chan struct{} // closed when Wait has the outcome
	err      error
}

func (p *pending) resolveNil() error { return p.resolve(nil) }

func newPending(t *Target, s forward.Stream) *pending {
	return &pending{t: t, stream: s, resolved: make(chan struct{})}
}

func (p *pending) resolve(err error) error {
	p.once.Do(func() {
		p.err = err
		close(p.resolved)
	})
	return err
}

// Wait waits for every message's acknowledgement; a duplicate counts as
// stored. After a failure the Target reads what the stream holds before
// its next publish for this Stream.
func (p *pending) Wait(ctx context.Context) error {
	var maxSeq uint64
	for _, f := range p.futures {
		select {
		case ack := <-f.Ok():
			maxSeq = max(maxSeq, ack.Sequence)
		case err := <-f.Err():
			p.t.markResync(p.stream)
			return p.resolve(fmt.Errorf("jetstream: publish %s: %w", f.Msg().Subject, err))
		case <-ctx.Done():
			p.t.markResync(p.stream)
			return p.resolve(ctx.Err())
		}
	}
	if p.flight != nil {
		p.t.acked(p.stream, p.flight, maxSeq)
	}
	return p.resolve(nil)
}

// errPrevious fails a batch whose predecessor failed before it went out.
var errPrevious = errors.New("jetstream: the previous batch was not acknowledged; not published")

// acked records an acknowledged batch and moves the acknowledged prefix.
func (t *Target) acked(s forward.Stream, fl *flightState, maxSeq uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	st := t.streams[s]
	if st == nil {
		return
	}
	fl.done, fl.maxSeq = true, maxSeq
	for len(st.inflight) > 0 && st.inflight[0].done {
		h := st.inflight[0]
		st.inflight = st.inflight[1:]
		st.acked = max(st.acked, h.next)
		st.ackedSeq = max(st.ackedSeq, h.maxSeq)
	}
	// A gap before the next batch in flight is points the Forwarder does
	// not send (retention took them): nothing to wait for.
	if len(st.inflight) > 0 && st.inflight[0].first > st.acked {
		st.acked = st.inflight[0].first
	}
	if st.held != nil && st.acked > st.held.upTo {
		st.held = nil
	}
}

// markResync makes the next Start read what the stream holds. The chain
// of batches (last) stays, so that no batch overtakes a failed one.
func (t *Target) markResync(s forward.Stream) {
	t.mu.Lock()
	if st := t.streams[s]; st != nil {
		st.known = false
		st.inflight = nil
	}
	t.mu.Unlock()
}

// Start publishes the messages of b asynchronously, in order: one per
// source, each holding that source's points. Points the stream already
// holds (after a failure, or as Resume found) are left out. Unless
// Config.Unordered, the messages go out only once the previous batch of
// the Stream is acknowledged; if that one failed, b fails without being
// published (errPrevious), until the Forwarder sends the failed batch
// again.
func (t *Target) Start(ctx context.Context, b forward.Batch) (forward.Pending, error) {
	p := newPending(t, b.Stream)
	p.first = b.First
	if len(b.Points) == 0 {
		p.resolve(nil)
		return p, nil
	}
	last := b.Next() - 1

	// What the stream holds decides what to leave out. A backfill batch
	// goes out beside newer live ones: it is neither bounded by nor part
	// of the acknowledged prefix, and relies on its ids and the duplicate
	// window alone.
	var h *held
	var acked buffer.Offset
	var prev *pending
	if !b.Backfill {
		st, err := t.state(ctx, b.Stream)
		if err != nil {
			return nil, p.resolve(err)
		}
		t.mu.Lock()
		h, acked, prev = st.held, st.acked, st.last
		st.last = p
		t.mu.Unlock()
	}

	enc := t.getEncoder()
	var msgs []*nats.Msg
	message := func(source string, i, parts int, data []byte) {
		m := &nats.Msg{Subject: t.Subject(b.Stream, source), Data: data, Header: nats.Header{
			HeaderContentType:     {wire.ContentType},
			HeaderVersion:         {"1"},
			HeaderEdge:            {b.Stream.Edge},
			HeaderBuffer:          {b.Stream.Buffer},
			HeaderSource:          {source},
			HeaderFirst:           {strconv.FormatUint(uint64(b.First), 10)},
			HeaderLast:            {strconv.FormatUint(uint64(last), 10)},
			HeaderPart:            {strconv.Itoa(i + 1)},
			HeaderParts:           {strconv.Itoa(parts)},
			jetstream.MsgIDHeader: {MsgID(b.Stream, b.First, last, i+1)},
		}}
		if b.Backfill {
			m.Header[HeaderLane] = []string{"backfill"}
		}
		msgs = append(msgs, m)
	}
	hd := wire.Header{Edge: b.Stream.Edge, Buffer: b.Stream.Buffer, First: b.First, Last: last}
	if h == nil && acked <= b.First {
		// Every point goes: one pass over the batch writes the message of
		// every source.
		enc.AppendBySource(hd, b.Points, func(size int) []byte { return make([]byte, 0, size) }, message)
	} else {
		parts := split(b)
		for i, part := range parts {
			sel := filter(b, part, acked, h)
			if sel != nil && len(sel) == 0 {
				continue
			}
			hd.Source = part.source
			n := len(b.Points)
			if sel != nil {
				n = len(sel)
			}
			message(part.source, i, len(parts), enc.Append(make([]byte, 0, 64+n*24), hd, b.Points, sel))
		}
	}
	t.putEncoder(enc)

	if prev != nil && !t.cfg.Unordered {
		select {
		case <-prev.resolved:
		case <-ctx.Done():
			t.markResync(b.Stream)
			return nil, p.resolve(ctx.Err())
		}
		// After a failure the Forwarder sends the failed batch again
		// first: a batch that does not start before the failed one must
		// not overtake it.
		if prev.err != nil && b.First > prev.first {
			t.markResync(b.Stream)
			return nil, p.resolve(errPrevious)
		}
	}

	var ackedSeq uint64
	t.mu.Lock()
	if st := t.streams[b.Stream]; st != nil {
		if !b.Backfill {
			// Points before b that are neither acknowledged nor in flight
			// are not the Forwarder's to send (retention took them).
			if len(st.inflight) == 0 && b.First > st.acked {
				st.acked = b.First
			}
			if last < st.acked && len(st.inflight) == 0 && len(msgs) == 0 {
				t.mu.Unlock()
				return p, p.resolveNil() // all of it is stored already
			}
			p.flight = &flightState{first: b.First, next: b.Next()}
			st.inflight = append(st.inflight, p.flight)
		}
		acked, ackedSeq = st.acked, st.ackedSeq
	}
	t.mu.Unlock()
	for _, m := range msgs {
		m.Header[HeaderAcked] = []string{strconv.FormatUint(uint64(acked), 10)}
		m.Header[HeaderAckedSeq] = []string{strconv.FormatUint(ackedSeq, 10)}
		f, err := t.js.PublishMsgAsync(m, jetstream.WithExpectStream(t.cfg.Stream))
		if err != nil {
			t.markResync(b.Stream)
			return nil, p.resolve(fmt.Errorf("jetstream: publish %s: %w", m.Subject, err))
		}
		p.futures = append(p.futures, f)
	}
	return p, nil
}

// getEncoder returns an Encoder not in use; putEncoder keeps it for the
// next batch (a few of them, for Forwarders sharing the Target).
func (t *Target) getEncoder() *wire.Encoder {
	t.encMu.Lock()
	defer t.encMu.Unlock()
	if k := len(t.encs); k > 0 {
		e := t.encs[k-1]
		t.encs = t.encs[:k-1]
		return e
	}
	return new(wire.Encoder)
}

func (t *Target) putEncoder(e *wire.Encoder) {
	t.encMu.Lock()
	if len(t.encs) < 4 {
		t.encs = append(t.encs, e)
	}
	t.encMu.Unlock()
}

// part is the points of one source in a batch, in order; sel nil means
// every point of the batch.
type part struct {
	source string
	sel    []int32
}

// split groups the points of b by source, in order of first appearance.
// A batch has few sources, mostly in runs: the part of the previous point
// is tried first, then the others in turn, comparing the names (the same
// bytes, usually, so the comparison is short); a map by name takes over
// when there are many. The selections share one array.
func split(b forward.Batch) []part {
	src := b.Points[0].Source
	same := true
	for i := range b.Points {
		if b.Points[i].Source != src {
			same = false
			break
		}
	}
	if same {
		return []part{{source: src}}
	}
	// First the part of every point, then the selections.
	which := make([]int32, len(b.Points))
	var parts []part
	var counts []int
	var idx map[string]int
	k := -1
	for i := range b.Points {
		s := b.Points[i].Source
		if k < 0 || s != parts[k].source {
			k = -1
			if idx != nil {
				if j, ok := idx[s]; ok {
					k = j
				}
			} else {
				for j := range parts {
					if parts[j].source == s {
						k = j
						break
					}
				}
			}
			if k < 0 {
				k = len(parts)
				parts = append(parts, part{source: s})
				counts = append(counts, 0)
				if idx == nil && len(parts) > 16 {
					idx = make(map[string]int, 2*len(parts))
					for j := range parts {
						idx[parts[j].source] = j
					}
				} else if idx != nil {
					idx[s] = k
				}
			}
		}
		which[i] = int32(k)
		counts[k]++
	}
	all := make([]int32, len(b.Points))
	at := 0
	for j := range parts {
		parts[j].sel = all[at : at : at+counts[j]]
		at += counts[j]
	}
	for i, k := range which {
		parts[k].sel = append(parts[k].sel, int32(i))
	}
	return parts
}

// filter returns the indexes of part's points the stream does not hold:
// those before acked are held, and so are those inside a held part of
// their source.
func filter(b forward.Batch, p part, acked buffer.Offset, h *held) []int32 {
	n := len(b.Points)
	if p.sel != nil {
		n = len(p.sel)
	}
	out := make([]int32, 0, n)
	for j := range n {
		i := int32(j)
		if p.sel != nil {
			i = p.sel[j]
		}
		off := b.First + buffer.Offset(i)
		if off < acked || h.holds(off, p.source) {
			continue
		}
		out = append(out, i)
	}
	if len(out) == n && p.sel == nil {
		return nil
	}
	return out
}

func (h *held) holds(off buffer.Offset, source string) bool {
	if h == nil || off > h.upTo {
		return false
	}
	for _, hp := range h.parts {
		if hp.source == source && hp.first <= off && off <= hp.last {
			return true
		}
	}
	return false
}

// state returns the Target's state of s, reading it from the stream when
// it is not known: at the first publish and after a failure.
func (t *Target) state(ctx context.Context, s forward.Stream) (*streamState, error) {
	t.mu.Lock()
	st := t.streams[s]
	if st != nil && st.known {
		t.mu.Unlock()
		return st, nil
	}
	t.mu.Unlock()
	fresh, err := t.lookup(ctx, s)
	if err != nil {
		return nil, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if st == nil {
		st = &streamState{}
		t.streams[s] = st
	}
	st.acked, st.ackedSeq, st.held, st.known = fresh.acked, fresh.ackedSeq, fresh.held, true
	st.inflight = nil
	return st, nil
}

// Resume implements [forward.Resumer]: it reads from the stream how far
// the Stream is stored (the acknowledged prefix recorded in the last
// message, extended over the complete batches stored after it) and
// remembers which parts beyond that are stored, to leave them out when the
// Forwarder sends those points again.
func (t *Target) Resume(ctx context.Context, s forward.Stream) (buffer.Offset, bool, error) {
	fresh, err := t.lookup(ctx, s)
	if err != nil {
		return 0, false, err
	}
	t.mu.Lock()
	t.streams[s] = fresh
	t.mu.Unlock()
	return fresh.acked, fresh.found, nil
}

func (t *Target) jsStream(ctx context.Context) (jetstream.Stream, error) {
	t.mu.Lock()
	st := t.stream
	t.mu.Unlock()
	if st != nil {
		return st, nil
	}
	st, err := t.js.Stream(ctx, t.cfg.Stream)
	if err != nil {
		return nil, fmt.Errorf("jetstream: stream %s: %w", t.cfg.Stream, err)
	}
	t.mu.Lock()
	t.stream = st
	t.mu.Unlock()
	return st, nil
}

// lookup reads what the stream holds of s. The last message for the site
// says how far the stream had acknowledged s when it was sent (Gl-Acked,
// Gl-Acked-Seq); every message of s sent after that prefix has a higher
// stream sequence, so reading the site's messages after Gl-Acked-Seq finds
// exactly what else is stored, gaps included.
func (t *Target) lookup(ctx context.Context, s forward.Stream) (*streamState, error) {
	st, err := t.jsStream(ctx)
	if err != nil {
		return nil, err
	}
	filter := t.prefix + t.site(s) + ".>"
	res := &streamState{known: true}
	m, err := st.GetLastMsgForSubject(ctx, filter)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return res, nil
	}
	if err != nil {
		return nil, fmt.Errorf("jetstream: last message of %s: %w", filter, err)
	}
	hi, err := parseHeaders(m.Header)
	if err != nil {
		return nil, fmt.Errorf("jetstream: last message of %s (sequence %d): %w", filter, m.Sequence, err)
	}
	if hi.edge != s.Edge {
		return nil, fmt.Errorf("%w: the last message on %s is from edge %q, this is %q", ErrSiteConflict, filter, hi.edge, s.Edge)
	}
	if hi.buffer != s.Buffer {
		return res, nil // another log of this edge: nothing of this one is stored
	}
	res.found = true
	res.acked, res.ackedSeq = hi.acked, hi.ackedSeq
	// Every live message after the prefix, by batch.
	type batchParts struct {
		first, last buffer.Offset
		parts       int
		sources     []string
	}
	batches := map[buffer.Offset]*batchParts{}
	h := &held{}
	for seq := hi.ackedSeq + 1; ; {
		pm, err := st.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(filter))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("jetstream: messages of %s after %d: %w", filter, seq, err)
		}
		seq = pm.Sequence + 1
		ph, err := parseHeaders(pm.Header)
		if err != nil || ph.edge != s.Edge || ph.buffer != s.Buffer || ph.backfill {
			continue
		}
		h.parts = append(h.parts, heldPart{first: ph.first, last: ph.last, source: ph.source})
		h.upTo = max(h.upTo, ph.last)
		bp := batches[ph.first]
		if bp == nil || bp.last != ph.last {
			bp = &batchParts{first: ph.first, last: ph.last, parts: ph.parts}
			batches[ph.first] = bp
		}
		bp.sources = append(bp.sources, ph.source)
		res.lastSeq = pm.Sequence
	}
	// Complete batches right after the prefix extend it.
	for {
		bp := batches[res.acked]
		if bp == nil || len(bp.sources) < bp.parts {
			break
		}
		res.acked = bp.last + 1
	}
	if len(h.parts) > 0 && h.upTo >= res.acked {
		res.held = h
	}
	t.log.Info("stream position", "edge", s.Edge, "acked", res.acked, "held parts", len(h.parts))
	return res, nil
}

type headerInfo struct {
	edge, buffer, source string
	first, last          buffer.Offset
	part, parts          int
	acked                buffer.Offset
	ackedSeq             uint64
	backfill             bool
}

// ErrHeader marks a message whose Gl- headers are missing or malformed.
var ErrHeader = errors.New("jetstream: bad point batch headers")

func parseHeaders(h nats.Header) (headerInfo, error) {
	var hi headerInfo
	var errs []string
	num := func(k string) uint64 {
		v, err := strconv.ParseUint(h.Get(k), 10, 64)
		if err != nil {
			errs = append(errs, k)
		}
		return v
	}
	if v := h.Get(HeaderVersion); v != "1" {
		return hi, fmt.Errorf("%w: %s %q", ErrHeader, HeaderVersion, v)
	}
	hi.edge, hi.buffer, hi.source = h.Get(HeaderEdge), h.Get(HeaderBuffer), h.Get(HeaderSource)
	hi.first, hi.last = buffer.Offset(num(HeaderFirst)), buffer.Offset(num(HeaderLast))
	hi.part, hi.parts = int(num(HeaderPart)), int(num(HeaderParts))
	if h.Get(HeaderAcked) != "" {
		hi.acked, hi.ackedSeq = buffer.Offset(num(HeaderAcked)), num(HeaderAckedSeq)
	}
	hi.backfill = h.Get(HeaderLane) == "backfill"
	if hi.edge == "" {
		errs = append(errs, HeaderEdge)
	}
	if hi.part < 1 || hi.part > hi.parts || hi.last < hi.first {
		errs = append(errs, HeaderPart)
	}
	if len(errs) > 0 {
		return hi, fmt.Errorf("%w: %s", ErrHeader, strings.Join(errs, ", "))
	}
	return hi, nil
}

var _ interface {
	forward.Target
	forward.Pipeliner
	forward.Resumer
} = (*Target)(nil)
