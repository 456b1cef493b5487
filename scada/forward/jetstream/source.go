package jetstream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/greenlang/gl001/scada"
	"github.com/greenlang/gl001/scada/forward/wire"
)

// Defaults of SourceConfig for zero-valued fields.
const (
	DefaultMaxBatch = 16384
	DefaultAckWait  = 30 * time.Second
)

// Errors of a Source's bad input. Every one is wrapped in a
// *BadMessageError, matches scada.ErrBadInput, and is final for the message:
// the Source terminates it (Term), so it is not redelivered.
var (
	// ErrForeignSubject: the message's subject is not <prefix>.points.<site>.<source>
	// or does not match the source the batch names.
	ErrForeignSubject = fmt.Errorf("jetstream: message on a foreign subject: %w", scada.ErrBadInput)
)

// BadMessageError describes a message a Source could not use. It unwraps to
// the reason: [ErrForeignSubject] or a *wire.DecodeError (matching
// wire.ErrDecode, and wire.ErrVersion for an unknown version).
type BadMessageError struct {
	Subject  string
	Sequence uint64 // the stream sequence
	Err      error
}

// Error names the message and the reason, never its content.
func (e *BadMessageError) Error() string {
	return fmt.Sprintf("jetstream: bad message %d on %s: %v", e.Sequence, e.Subject, e.Err)
}

// Unwrap returns the reason.
func (e *BadMessageError) Unwrap() error { return e.Err }

// SourceConfig configures a [Source].
type SourceConfig struct {
	// Name is the Source's name, for logs; the points keep the source
	// names the edges gave them.
	Name string
	// Conn is the connection to consume on; the caller owns it. Required.
	Conn *nats.Conn
	// Stream is the stream the edges' Targets publish to. Required.
	Stream string
	// Durable names the consumer: it remembers what was acknowledged, so
	// a restarted Source goes on where it stopped. Required.
	Durable string
	// Prefix is the subject prefix (default "gl001") and Filter the
	// subjects to consume (default <Prefix>.points.>; e.g.
	// "gl001.points.boilerhouse-1.>" for one site).
	Prefix string
	Filter string
	// StartTime or StartSequence make a new consumer begin at that time or
	// stream sequence (a replay) instead of the beginning of the stream.
	// They apply when the consumer is created; an existing consumer keeps
	// its position (use a new Durable for a new replay).
	StartTime     time.Time
	StartSequence uint64
	// MaxBatch is the most points handed to the Sink at once (default
	// 16384); the messages they came in are acknowledged together after
	// the Sink accepted them.
	MaxBatch int
	// AckWait is how long the stream waits for an acknowledgement before
	// it delivers a message again (default 30s). It is also how long a
	// delivery lost with a server can hold back newer points (see the
	// package documentation on order).
	AckWait time.Duration
	// ConnectWait is how long Run waits for the connection and the stream
	// to be available before it fails with scada.ErrConnection (default 2s).
	ConnectWait time.Duration
	// OnBadInput, if not nil, is called with every *BadMessageError.
	OnBadInput func(error)
	// Logger receives bad messages and connection losses; nil discards.
	Logger *slog.Logger
}

// Validate reports every problem of c, joined with errors.Join.
func (c SourceConfig) Validate() error {
	var errs []error
	if c.Conn == nil {
		errs = append(errs, errors.New("jetstream: source Conn is required"))
	}
	if c.Stream == "" {
		errs = append(errs, errors.New("jetstream: source Stream is required"))
	}
	if c.Durable == "" || strings.ContainsAny(c.Durable, ".*> \t\r\n") {
		errs = append(errs, fmt.Errorf("jetstream: source Durable %q is not a consumer name", c.Durable))
	}
	if c.Prefix != "" && !validSubjectPrefix(c.Prefix) {
		errs = append(errs, fmt.Errorf("jetstream: Prefix %q is not a subject without wildcards", c.Prefix))
	}
	if !c.StartTime.IsZero() && c.StartSequence != 0 {
		errs = append(errs, errors.New("jetstream: StartTime and StartSequence are exclusive"))
	}
	if c.MaxBatch < 0 || c.AckWait < 0 || c.ConnectWait < 0 {
		errs = append(errs, errors.New("jetstream: MaxBatch, AckWait and ConnectWait must not be negative"))
	}
	return errors.Join(errs...)
}

// SourceStats is a snapshot of a Source's counters, since NewSource.
type SourceStats struct {
	Messages uint64 // messages delivered to the Sink and acknowledged
	Points   uint64 // points delivered
	// Duplicates counts messages the stream delivered again after the
	// Source had acknowledged them (an acknowledgement lost on the way):
	// acknowledged again, not delivered twice.
	Duplicates uint64
	// Bad counts terminated messages: BadSubject foreign subjects,
	// BadVersion unknown versions, BadDecode the rest.
	Bad, BadSubject, BadVersion, BadDecode uint64
	// Gaps counts deliveries the consumer lost in flight (a consumer
	// leader change): the newer messages were held until the lost ones came
	// again, so the Sink saw stream order. GapsGivenUp counts holds that
	// ended without them (after three AckWaits), releasing what had come.
	Gaps, GapsGivenUp uint64
	LastError         string // the last bad message or failure
}

// Source is a scada.Source reading the point batches that edges forwarded
// to a JetStream stream; see the package documentation.
type Source struct {
	cfg    SourceConfig
	prefix string
	log    *slog.Logger

	mu    sync.Mutex
	st    SourceStats
	acked uint64 // the highest stream sequence acknowledged
	// recent holds the stream sequences acknowledged lately, to tell a
	// message delivered again after its acknowledgement was lost from one
	// delivered again for the first time out of order.
	recent     map[uint64]struct{}
	recentRing []uint64
	recentPos  int
	// carry holds the messages a Run had in order but not delivered when
	// its connection was lost, for the next Run to deliver first; unseen
	// holds those it received but had not passed through the sequencer,
	// for the next Run to pass through it first. Messages the sequencer
	// holds behind a gap stay held across Runs.
	carry  []jetstream.Msg
	unseen []jetstream.Msg
	seq    *sequencer // used by one Run at a time
}

const recentAcks = 1 << 16

// NewSource returns a Source, not yet running.
func NewSource(cfg SourceConfig) (*Source, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Prefix == "" {
		cfg.Prefix = DefaultPrefix
	}
	if cfg.Filter == "" {
		cfg.Filter = cfg.Prefix + ".points.>"
	}
	if cfg.MaxBatch == 0 {
		cfg.MaxBatch = DefaultMaxBatch
	}
	if cfg.AckWait == 0 {
		cfg.AckWait = DefaultAckWait
	}
	if cfg.ConnectWait == 0 {
		cfg.ConnectWait = 2 * time.Second
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Source{cfg: cfg, prefix: cfg.Prefix + ".points.", log: log.With("source", cfg.Name)}, nil
}

// Stats returns a snapshot of the counters.
func (s *Source) Stats() SourceStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.st
}

func connErr(what string, err error) error {
	return fmt.Errorf("jetstream: %s: %w: %w", what, scada.ErrConnection, err)
}

// Run consumes the stream and delivers its points to sink until ctx ends
// or the connection is lost (an error matching scada.ErrConnection; the
// caller's Conn reconnects by itself, and a Collector runs Run again). The
// messages of a batch are acknowledged after sink.Deliver returned nil; a
// sink error ends Run and the batch's messages are delivered again later.
func (s *Source) Run(ctx context.Context, sink scada.Sink) error {
	nc := s.cfg.Conn
	cons, err := s.consumer(ctx)
	if err != nil {
		return err
	}
	status := nc.StatusChanged(nats.RECONNECTING, nats.DISCONNECTED, nats.CLOSED)
	defer nc.RemoveStatusListener(status)
	if !nc.IsConnected() {
		return connErr("connect", errors.New("not connected"))
	}
	return s.consume(ctx, cons, status, &pointDelivery{s: s, sink: sink})
}

// consumer finds or creates the durable consumer, waiting up to
// ConnectWait for the connection and the stream.
func (s *Source) consumer(ctx context.Context) (jetstream.Consumer, error) {
	nc := s.cfg.Conn
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	cfg := jetstream.ConsumerConfig{
		Durable:       s.cfg.Durable,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       s.cfg.AckWait,
		FilterSubject: s.cfg.Filter,
		MaxAckPending: 1 << 16,
		DeliverPolicy: jetstream.DeliverAllPolicy,
	}
	switch {
	case !s.cfg.StartTime.IsZero():
		t := s.cfg.StartTime
		cfg.DeliverPolicy, cfg.OptStartTime = jetstream.DeliverByStartTimePolicy, &t
	case s.cfg.StartSequence != 0:
		cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, s.cfg.StartSequence
	}
	deadline := time.Now().Add(s.cfg.ConnectWait)
	for {
		if nc.IsConnected() {
			cctx, cancel := context.WithTimeout(ctx, max(100*time.Millisecond, time.Until(deadline)))
			cons, err := js.Consumer(cctx, s.cfg.Stream, s.cfg.Durable)
			if errors.Is(err, jetstream.ErrConsumerNotFound) {
				cons, err = js.CreateConsumer(cctx, s.cfg.Stream, cfg)
			}
			cancel()
			if err == nil {
				return cons, nil
			}
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			transient := !nc.IsConnected() || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout) ||
				errors.Is(err, nats.ErrNoResponders) || errors.Is(err, jetstream.ErrJetStreamNotEnabled) ||
				errors.Is(err, nats.ErrConnectionClosed) || errors.Is(err, nats.ErrConnectionReconnecting)
			var apiErr *jetstream.APIError
			if errors.As(err, &apiErr) && apiErr.Code == 503 {
				transient = true
			}
			if !transient {
				return nil, fmt.Errorf("jetstream: consumer %s on %s: %w", s.cfg.Durable, s.cfg.Stream, err)
			}
			if time.Now().After(deadline) {
				return nil, connErr("consumer "+s.cfg.Durable, err)
			}
		} else if time.Now().After(deadline) {
			return nil, connErr("connect", errors.New("not connected"))
		}
		select {
		case <-time.After(20 * time.Millisecond):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// consume delivers what cons brings until ctx ends or the connection fails.
func (s *Source) consume(ctx context.Context, cons jetstream.Consumer, status chan nats.Status, dl delivery) error {

	msgs := make(chan jetstream.Msg, 1024)
	stop := make(chan struct{})
	consumeErr := make(chan error, 1)
	// keep says, at the end, that the connection was lost: the messages
	// received and not yet delivered are kept for the next Run, which
	// delivers them first. Handing them back (Nak) over a connection
	// that is going away can be lost, and the stream would then deliver
	// them only after AckWait, after newer ones.
	var keep atomic.Bool
	var lateMu sync.Mutex
	var late []jetstream.Msg
	cc, err := cons.Consume(func(m jetstream.Msg) {
		select {
		case msgs <- m:
		case <-stop:
			if keep.Load() {
				lateMu.Lock()
				late = append(late, m)
				lateMu.Unlock()
			} else {
				_ = m.Nak()
			}
		}
	}, jetstream.PullMaxMessagesWithBytesLimit(2048, pullMaxBytes), jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
		if errors.Is(err, jetstream.ErrConsumerDeleted) || errors.Is(err, jetstream.ErrNoHeartbeat) || errors.Is(err, jetstream.ErrConsumerNotFound) {
			select {
			case consumeErr <- err:
			default:
			}
		}
	}))
	if err != nil {
		return connErr("consume", err)
	}
	dl.connected()

	var (
		batch []jetstream.Msg
		seqs  []uint64
	)
	maxItems, maxMsgs := dl.limits()
	// The sequencer outlives a Run: the consumer's delivery sequence goes
	// on, and a gap across a reconnect is a gap all the same.
	if s.seq == nil {
		s.seq = &sequencer{ackWait: s.cfg.AckWait, stats: &s.st, mu: &s.mu}
	}
	seq := s.seq
	tick := time.NewTicker(max(s.cfg.AckWait/6, 10*time.Millisecond))
	defer tick.Stop()
	ready, unseen := s.takeCarry()
	// known tells the sequencer that a message is no lost one: it was
	// acknowledged, or it waits for delivery (a delivery again of a
	// message kept across a lost connection).
	known := func(sseq uint64) bool { return s.wasAcked(sseq) || containsSeq(ready, sseq) }
	for _, m := range unseen {
		ready = seq.push(m, ready, known)
	}
	defer func() {
		if seq.holding {
			keep.Store(true) // see below
		}
		cc.Stop()
		close(stop)
		<-cc.Closed()
		var rest []jetstream.Msg
		for more := true; more; {
			select {
			case m := <-msgs:
				rest = append(rest, m)
			default:
				more = false
			}
		}
		lateMu.Lock()
		rest = append(rest, late...)
		lateMu.Unlock()
		if keep.Load() {
			// The sequencer keeps what it holds behind a gap: releasing
			// it here would let the next Run deliver those newer
			// messages before the lost ones come back. So do the
			// messages before the gap (after a Sink error or the end of
			// ctx): handed back, they would come again with newer
			// messages around them.
			s.mu.Lock()
			s.carry, s.unseen = ready, rest
			s.mu.Unlock()
			return
		}
		for _, m := range seq.release(ready) {
			_ = m.Nak()
		}
		for _, m := range rest {
			_ = m.Nak()
		}
	}()
	// ask says that the server is to be asked whether the gap the
	// sequencer holds behind is closed; it is asked when every message
	// before the held ones was delivered and acknowledged (see
	// sequencer.settled).
	ask := seq.holding
	for {
		if len(ready) == 0 && ask {
			ask = false
			if seq.holding {
				ictx, cancel := context.WithTimeout(ctx, time.Second)
				info, err := cons.Info(ictx)
				cancel()
				if err == nil {
					ready = seq.settled(info.NumAckPending, ready)
				}
			}
		}
		if len(ready) == 0 {
			select {
			case m := <-msgs:
				ready = seq.push(m, ready, known)
			case <-tick.C:
				ready = seq.tick(ready)
				// Also a jump in the delivery sequence without a lost
				// delivery (a consumer whose server restarted) ends
				// when the server has nothing outstanding but the held
				// messages.
				ask = ask || seq.holding
			case st := <-status:
				keep.Store(true)
				return connErr("connection", fmt.Errorf("connection %v", st))
			case err := <-consumeErr:
				keep.Store(true)
				return connErr("consume", err)
			case <-ctx.Done():
				return ctx.Err()
			}
			// More that are in already.
			for more := true; more && len(ready) < 4096; {
				select {
				case m := <-msgs:
					ready = seq.push(m, ready, known)
				default:
					more = false
				}
			}
			ask = seq.mayBeClosed() || ask
			if len(ready) == 0 {
				continue
			}
		}
		batch, seqs = batch[:0], seqs[:0]
		dl.reset()
		n, items := 0, 0
		for n < len(ready) && items < maxItems && (maxMsgs == 0 || len(batch) < maxMsgs) {
			var k int
			batch, seqs, k = s.take(ready[n], dl, batch, seqs)
			items += k
			n++
		}
		ready = ready[:copy(ready, ready[n:])]
		if len(batch) == 0 {
			continue
		}
		if items > 0 {
			if err := dl.deliver(ctx); err != nil {
				if seq.holding {
					// A gap is open: the batch and what follows it are
					// kept, in order, for the next Run, and the
					// sequencer goes on holding the newer messages.
					// Handed back (Nak), they would come again at once,
					// before the lost ones, and the delivery sequence
					// would no longer show the gap.
					ready = append(slices.Clone(batch), ready...)
				} else {
					for _, m := range batch {
						_ = m.Nak()
					}
					for _, m := range ready {
						_ = m.Nak()
					}
					ready = nil
				}
				if ctx.Err() != nil {
					return ctx.Err()
				}
				return fmt.Errorf("jetstream: %s: %w", dl.name(), err)
			}
		}
		// The Sink has them: a delivery again, whether or not the
		// acknowledgement gets through, is a duplicate.
		delivered := 0
		for i := range batch {
			if i == 0 || !slices.Contains(seqs[:i], seqs[i]) {
				delivered++
			}
			s.noteAcked(seqs[i])
		}
		dl.delivered(delivered, items)
		for _, m := range batch {
			if err := dl.ack(ctx, m); err != nil {
				keep.Store(true)
				return connErr("ack", err)
			}
		}
	}
}

// delivery is what the consume loop does with the messages it has in
// order: points to a scada.Sink, events to a scada.EventSink.
type delivery interface {
	connected()
	// limits bound a batch: the items (points, events) and the messages
	// (0: no bound) taken before it is delivered.
	limits() (maxItems, maxMsgs int)
	reset() // a new batch
	// add decodes m and adds its items to the batch, returning how many;
	// an error means m is bad input.
	add(m jetstream.Msg) (int, error)
	deliver(ctx context.Context) error
	ack(ctx context.Context, m jetstream.Msg) error
	delivered(msgs, items int) // counts a delivered batch
	duplicate()                // counts a message delivered again
	bad(m jetstream.Msg, seq uint64, reason error)
	name() string // of the sink, for errors
}

// pointDelivery hands point batches to a scada.Sink.
type pointDelivery struct {
	s    *Source
	sink scada.Sink
	d    wire.Decoded
	pts  []scada.Point
}

func (p *pointDelivery) connected()                                   { scada.NotifyConnected(p.sink) }
func (p *pointDelivery) limits() (int, int)                           { return p.s.cfg.MaxBatch, 0 }
func (p *pointDelivery) reset()                                       { p.pts = p.pts[:0] }
func (p *pointDelivery) deliver(ctx context.Context) error            { return p.sink.Deliver(ctx, p.pts) }
func (p *pointDelivery) ack(_ context.Context, m jetstream.Msg) error { return m.Ack() }
func (p *pointDelivery) name() string                                 { return "sink" }

func (p *pointDelivery) add(m jetstream.Msg) (int, error) {
	if err := p.s.check(m, &p.d); err != nil {
		return 0, err
	}
	p.pts = append(p.pts, p.d.Points...)
	return len(p.d.Points), nil
}

func (p *pointDelivery) delivered(msgs, items int) {
	p.s.mu.Lock()
	p.s.st.Messages += uint64(msgs)
	p.s.st.Points += uint64(items)
	p.s.mu.Unlock()
}

func (p *pointDelivery) duplicate() {
	p.s.mu.Lock()
	p.s.st.Duplicates++
	p.s.mu.Unlock()
}

func (p *pointDelivery) bad(m jetstream.Msg, seq uint64, reason error) { p.s.bad(m, seq, reason) }

func (s *Source) noteAcked(seq uint64) {
	s.mu.Lock()
	if _, ok := s.recent[seq]; ok {
		s.mu.Unlock()
		return
	}
	if seq > s.acked {
		s.acked = seq
	}
	if s.recent == nil {
		s.recent = make(map[uint64]struct{}, recentAcks)
		s.recentRing = make([]uint64, recentAcks)
	}
	if old := s.recentRing[s.recentPos]; old != 0 {
		delete(s.recent, old)
	}
	s.recentRing[s.recentPos] = seq
	s.recentPos = (s.recentPos + 1) % recentAcks
	s.recent[seq] = struct{}{}
	s.mu.Unlock()
}

// takeCarry returns the messages a Run that lost its connection kept: in
// order and ready, and not yet sequenced.
func (s *Source) takeCarry() (ready, unseen []jetstream.Msg) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ready, unseen = s.carry, s.unseen
	s.carry, s.unseen = nil, nil
	return ready, unseen
}

func (s *Source) wasAcked(seq uint64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.recent[seq]
	return ok
}

// take decodes m, adding its items to the delivery's batch and m to
// batch, or settles m: a bad message is terminated and counted, a message
// delivered again after it was acknowledged is acknowledged again. It
// returns how many items m added.
func (s *Source) take(m jetstream.Msg, dl delivery, batch []jetstream.Msg, seqs []uint64) ([]jetstream.Msg, []uint64, int) {
	var seq uint64
	if md, err := m.Metadata(); err == nil {
		seq = md.Sequence.Stream
		if s.wasAcked(seq) {
			dl.duplicate()
			_ = m.Ack()
			return batch, seqs, 0
		}
		if slices.Contains(seqs, seq) {
			// Delivered again while the first delivery waits in this
			// batch (kept across a lost connection): acknowledged with
			// the batch, delivered once.
			dl.duplicate()
			return append(batch, m), append(seqs, seq), 0
		}
	}
	k, err := dl.add(m)
	if err != nil {
		dl.bad(m, seq, err)
		return batch, seqs, 0
	}
	return append(batch, m), append(seqs, seq), k
}

// check decodes m into d and checks that its subject is the one its
// points belong on.
func (s *Source) check(m jetstream.Msg, d *wire.Decoded) error {
	subj := m.Subject()
	rest, ok := strings.CutPrefix(subj, s.prefix)
	site, tok, ok2 := strings.Cut(rest, ".")
	if !ok || !ok2 || site == "" || strings.Contains(tok, ".") {
		return ErrForeignSubject
	}
	if v := m.Headers().Get(HeaderVersion); v != "" && v != "1" {
		return &wire.DecodeError{Reason: fmt.Sprintf("header %s %q", HeaderVersion, v), Version: versionOf(v)}
	}
	if err := wire.Decode(m.Data(), d); err != nil {
		return err
	}
	if Token(d.Source) != tok {
		return fmt.Errorf("%w: the batch names source %q", ErrForeignSubject, d.Source)
	}
	return nil
}

func versionOf(v string) uint32 {
	var n uint32
	if _, err := fmt.Sscan(v, &n); err != nil || n == 0 || n == wire.Version {
		return 1 << 31
	}
	return n
}

func (s *Source) bad(m jetstream.Msg, seq uint64, reason error) {
	err := &BadMessageError{Subject: m.Subject(), Sequence: seq, Err: reason}
	_ = m.Term()
	s.mu.Lock()
	s.st.Bad++
	switch {
	case errors.Is(reason, ErrForeignSubject):
		s.st.BadSubject++
	case errors.Is(reason, wire.ErrVersion):
		s.st.BadVersion++
	default:
		s.st.BadDecode++
	}
	s.st.LastError = err.Error()
	s.mu.Unlock()
	s.log.Warn("bad message terminated", "error", err)
	if s.cfg.OnBadInput != nil {
		s.cfg.OnBadInput(err)
	}
}

var _ scada.Source = (*Source)(nil)

// pullMaxBytes bounds the bytes a pull asks for. Without it, a pull of
// 2048 large messages is tens of megabytes the server writes at once; a
// client that reads them more slowly than that is cut off by the server
// as a slow consumer, and the deliveries in flight come again only after
// AckWait.
const pullMaxBytes = 8 << 20
