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

	encPool sync.Pool

	mu     sync.Mutex
	stream jetstream.Stream
	// resync holds, per Stream, what the JetStream stream holds of it,
	// as learnt after a failure or at Resume; nil entries mean "look
	// before the next publish".
	resync map[forward.Stream]*stored
}

// stored is what the stream holds of one forward.Stream: every point
// before First, the points in [First, Last] of the sources in Sources,
// and (Complete) all of [First, Last].
type stored struct {
	first, last buffer.Offset
	complete    bool
	sources     map[string]bool
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
	t := &Target{cfg: cfg, js: js, prefix: cfg.Prefix + ".points.", log: log, resync: make(map[forward.Stream]*stored)}
	t.encPool.New = func() any { return new(wire.Encoder) }
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
	// past, when set, is the resync state this batch goes beyond: once it
	// is stored the state is no longer needed.
	past *stored
}

// Wait waits for every message's acknowledgement; a duplicate counts as
// stored. After a failure the Target looks at the stream before its next
// publish for this Stream.
func (p *pending) Wait(ctx context.Context) error {
	for _, f := range p.futures {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			p.t.markResync(p.stream)
			return fmt.Errorf("jetstream: publish %s: %w", f.Msg().Subject, err)
		case <-ctx.Done():
			p.t.markResync(p.stream)
			return ctx.Err()
		}
	}
	if p.past != nil {
		p.t.mu.Lock()
		if p.t.resync[p.stream] == p.past {
			delete(p.t.resync, p.stream)
		}
		p.t.mu.Unlock()
	}
	return nil
}

func (t *Target) markResync(s forward.Stream) {
	t.mu.Lock()
	t.resync[s] = nil
	t.mu.Unlock()
}

// Start publishes the messages of b asynchronously, in order: one per
// source, each holding that source's points. Points the stream already
// holds (after a failure, or as Resume found) are left out.
func (t *Target) Start(ctx context.Context, b forward.Batch) (forward.Pending, error) {
	p := &pending{t: t, stream: b.Stream}
	if len(b.Points) == 0 {
		return p, nil
	}
	have, err := t.holds(ctx, b.Stream)
	if err != nil {
		return nil, err
	}
	last := b.Next() - 1
	if have != nil && have.complete && last <= have.last {
		return p, nil // all of it is stored already
	}
	if have != nil && last > have.last {
		p.past = have
	}
	parts := split(b)
	enc := t.encPool.Get().(*wire.Encoder)
	defer t.encPool.Put(enc)
	for i, part := range parts {
		sel := part.sel
		if have != nil {
			sel = have.filter(b, part)
			if len(sel) == 0 {
				continue
			}
		}
		h := wire.Header{Edge: b.Stream.Edge, Buffer: b.Stream.Buffer, Source: part.source, First: b.First, Last: last}
		var data []byte
		if sel == nil {
			data = enc.Append(make([]byte, 0, 64+len(b.Points)*20), h, b.Points, nil)
		} else {
			data = enc.Append(make([]byte, 0, 64+len(sel)*24), h, b.Points, sel)
		}
		m := &nats.Msg{Subject: t.Subject(b.Stream, part.source), Data: data, Header: nats.Header{
			HeaderContentType:     {wire.ContentType},
			HeaderVersion:         {"1"},
			HeaderEdge:            {b.Stream.Edge},
			HeaderBuffer:          {b.Stream.Buffer},
			HeaderSource:          {part.source},
			HeaderFirst:           {strconv.FormatUint(uint64(b.First), 10)},
			HeaderLast:            {strconv.FormatUint(uint64(last), 10)},
			HeaderPart:            {strconv.Itoa(i + 1)},
			HeaderParts:           {strconv.Itoa(len(parts))},
			jetstream.MsgIDHeader: {MsgID(b.Stream, b.First, last, i+1)},
		}}
		f, err := t.js.PublishMsgAsync(m, jetstream.WithExpectStream(t.cfg.Stream))
		if err != nil {
			t.markResync(b.Stream)
			return nil, fmt.Errorf("jetstream: publish %s: %w", m.Subject, err)
		}
		p.futures = append(p.futures, f)
	}
	return p, nil
}

// part is the points of one source in a batch, in order; sel nil means
// every point of the batch.
type part struct {
	source string
	sel    []int32
}

// split groups the points of b by source, in order of first appearance.
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
	idx := make(map[string]int)
	var parts []part
	for i := range b.Points {
		s := b.Points[i].Source
		k, ok := idx[s]
		if !ok {
			k = len(parts)
			idx[s] = k
			parts = append(parts, part{source: s})
		}
		parts[k].sel = append(parts[k].sel, int32(i))
	}
	return parts
}

// filter returns the indexes of part's points the stream does not hold yet.
func (h *stored) filter(b forward.Batch, p part) []int32 {
	var out []int32
	n := len(b.Points)
	if p.sel != nil {
		n = len(p.sel)
	}
	for j := range n {
		i := int32(j)
		if p.sel != nil {
			i = p.sel[j]
		}
		off := b.First + buffer.Offset(i)
		if off < h.first || off <= h.last && (h.complete || h.sources[p.source]) {
			continue
		}
		out = append(out, i)
	}
	if len(out) == n && p.sel == nil {
		return nil
	}
	if out == nil {
		return []int32{}
	}
	return out
}

// holds returns what the stream holds of s when the Target needs to know
// (after a failure or a Resume), or nil when it may publish everything.
func (t *Target) holds(ctx context.Context, s forward.Stream) (*stored, error) {
	t.mu.Lock()
	h, ok := t.resync[s]
	t.mu.Unlock()
	if !ok {
		return nil, nil
	}
	if h != nil {
		return h, nil
	}
	h, err := t.lookup(ctx, s)
	if err != nil {
		return nil, err
	}
	t.mu.Lock()
	if h == nil {
		delete(t.resync, s)
	} else {
		t.resync[s] = h
	}
	t.mu.Unlock()
	return h, nil
}

// Resume implements [forward.Resumer]: it reads the stream's last message
// for the site and returns the offset after its batch, or the batch's first
// offset when only some of the batch's messages are stored (the Target
// then leaves out the stored ones when the batch comes again).
func (t *Target) Resume(ctx context.Context, s forward.Stream) (buffer.Offset, bool, error) {
	h, err := t.lookup(ctx, s)
	if err != nil {
		return 0, false, err
	}
	t.mu.Lock()
	if h == nil {
		delete(t.resync, s)
	} else {
		t.resync[s] = h
	}
	t.mu.Unlock()
	if h == nil {
		return 0, false, nil
	}
	if h.complete {
		return h.last + 1, true, nil
	}
	return h.first, true, nil
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

// lookup reads what the stream holds of s from its last message for the
// site: nil when it holds nothing of s.
func (t *Target) lookup(ctx context.Context, s forward.Stream) (*stored, error) {
	st, err := t.jsStream(ctx)
	if err != nil {
		return nil, err
	}
	filter := t.prefix + t.site(s) + ".>"
	m, err := st.GetLastMsgForSubject(ctx, filter)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil, nil
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
		return nil, nil // another log of this edge: nothing of this one is stored
	}
	h := &stored{first: hi.first, last: hi.last, complete: hi.part == hi.parts}
	if !h.complete {
		// The batch's earlier messages are the ones before this one:
		// walk back to collect their sources.
		h.sources = map[string]bool{hi.source: true}
		seq := m.Sequence
		for need := hi.part - 1; need > 0 && seq > 1; {
			seq--
			pm, err := st.GetMsg(ctx, seq)
			if errors.Is(err, jetstream.ErrMsgNotFound) {
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("jetstream: message %d: %w", seq, err)
			}
			ph, err := parseHeaders(pm.Header)
			if err != nil || ph.edge != s.Edge || ph.buffer != s.Buffer || ph.first != hi.first || ph.last != hi.last {
				continue
			}
			h.sources[ph.source] = true
			need--
		}
	}
	t.log.Info("stream position", "edge", s.Edge, "first", h.first, "last", h.last, "complete", h.complete)
	return h, nil
}

type headerInfo struct {
	edge, buffer, source string
	first, last          buffer.Offset
	part, parts          int
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
