package modbus

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/greenlang/gl001/resilience"
	"github.com/greenlang/gl001/scada"
)

// Source reads the devices of one Modbus/TCP connection. It implements
// [scada.Source], [scada.Writer] and [scada.Reader]. Create it with [New].
type Source struct {
	cfg     Config
	log     *slog.Logger
	devices []*device
	tags    map[string]tagRef
	running atomic.Bool

	mu  sync.Mutex
	cur *Conn // the connection of the running Run, for Write

	deliverMu sync.Mutex // one sink.Deliver at a time: devices poll concurrently

	st counters
}

// tagRef locates a tag by name.
type tagRef struct {
	dev *device
	tag *Tag
}

// device is one unit id with its planned reads and breaker.
type device struct {
	unit     uint8
	interval time.Duration
	timeout  time.Duration // zero: the connection's
	tags     []Tag
	dec      []decTag // tags, resolved for decoding
	brk      *resilience.Breaker
	// frameBrk opens when an answer of this unit broke the connection's
	// framing (a length no frame can have, a frame cut short or dripped):
	// the unit is skipped for Config.UnitCooldown, then probed alone, after
	// the other units' first poll of the connection.
	frameBrk *resilience.Breaker
	// suspect is set when the framing broke while this unit and others had
	// requests in flight, so the culprit is not known: the unit is polled
	// alone until it answers cleanly.
	suspect atomic.Bool

	mu   sync.Mutex
	reqs []request // replaced, never changed in place: a poll keeps the plan it started with
}

// isolated reports whether the unit's requests must be alone on the wire.
func (d *device) isolated() bool {
	return d.suspect.Load() || d.frameBrk.State() != resilience.BreakerClosed
}

// plan returns the device's current reads.
func (d *device) plan() []request {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.reqs
}

// split replaces request ri of reqs (a plan returned by d.plan) by one read
// per distinct register range of its tags, stores the new plan and returns
// it, or returns nil if the request cannot be split.
func (d *device) split(reqs []request, ri int) []request {
	r := reqs[ri]
	var pieces []request
	for _, ti := range r.tags { // sorted by address by the planner
		t := &d.dec[ti]
		if n := len(pieces); n > 0 && pieces[n-1].addr == t.addr && pieces[n-1].qty == t.width {
			pieces[n-1].tags = append(pieces[n-1].tags, ti)
			continue
		}
		pieces = append(pieces, request{table: r.table, addr: t.addr, qty: t.width, tags: []int{ti}})
	}
	if len(pieces) < 2 {
		return nil
	}
	next := make([]request, 0, len(reqs)+len(pieces)-1)
	next = append(append(append(next, reqs[:ri]...), pieces...), reqs[ri+1:]...)
	d.mu.Lock()
	d.reqs = next
	d.mu.Unlock()
	return next
}

// decTag is a Tag with its defaults resolved, as the decoding loop needs it.
type decTag struct {
	name, unit    string
	addr, width   int
	typ           Type
	order         Order
	bit           int
	scale, offset float64
}

var (
	_ scada.Source = (*Source)(nil)
	_ scada.Writer = (*Source)(nil)
)

// New checks cfg with [Config.Validate] and plans the reads of every device.
// It does not connect: [Source.Run] and [Source.Dial] do.
func New(cfg Config) (*Source, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Source{cfg: cfg, log: cfg.Logger, tags: make(map[string]tagRef)}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.log = s.log.With("source", cfg.Name, "address", cfg.Address)
	for _, dc := range cfg.Devices {
		brk, err := resilience.NewBreaker(resilience.BreakerConfig{
			FailureThreshold: cfg.unitFailures(), Delay: cfg.unitCooldown()})
		if err != nil {
			return nil, err
		}
		frameBrk, err := resilience.NewBreaker(resilience.BreakerConfig{FailureThreshold: 1, Delay: cfg.unitCooldown()})
		if err != nil {
			return nil, err
		}
		d := &device{
			unit:     dc.UnitID,
			interval: dc.pollInterval(),
			timeout:  dc.Timeout,
			tags:     append([]Tag(nil), dc.Tags...),
			brk:      brk,
			frameBrk: frameBrk,
		}
		d.reqs = plan(d.tags, cfg.MaxGap, cfg.maxRegisters(), cfg.maxBits())
		for i := range d.tags {
			t := &d.tags[i]
			d.dec = append(d.dec, decTag{name: t.Name, unit: t.Unit, addr: t.Address, width: t.width(),
				typ: t.typ(), order: t.Order, bit: t.Bit, scale: t.scale(), offset: t.Offset})
		}
		for i := range d.tags {
			s.tags[d.tags[i].Name] = tagRef{dev: d, tag: &d.tags[i]}
		}
		s.devices = append(s.devices, d)
	}
	s.st.units = make([]unitCounters, len(s.devices))
	return s, nil
}

// Name returns Config.Name.
func (s *Source) Name() string { return s.cfg.Name }

// Plan returns the reads one poll of every device makes, in the order they
// are sent. len(Plan()) is the number of requests a full poll takes.
func (s *Source) Plan() []Request {
	var out []Request
	for _, d := range s.devices {
		for _, r := range d.plan() {
			rq := Request{UnitID: d.unit, Table: r.table, Address: uint16(r.addr), Quantity: uint16(r.qty)}
			for _, ti := range r.tags {
				rq.Tags = append(rq.Tags, d.tags[ti].Name)
			}
			out = append(out, rq)
		}
	}
	return out
}

// Run connects, polls every device at its PollInterval and delivers one batch
// per device poll to sink, until ctx ends (Run returns nil) or the connection
// fails (the error matches [scada.ErrConnection], and [scada.ErrPermanent]
// when retrying cannot help). A sink error ends Run with that error. Only
// one Run may be active at a time; call Run again to reconnect, as
// [scada.Collector] does.
//
// Each device is polled by a goroutine of its own over the shared
// connection, with up to Config.MaxInFlight requests on the wire at once, so
// a unit that does not answer holds up only itself. When the connection
// fails, every device not delivered in the failing poll gets a batch of
// BadNoCommunication points at once, before Run returns. A unit whose answer
// broke the framing is skipped on the next connections (see
// Config.UnitCooldown) and, when probed again, polled alone and after the
// other units.
func (s *Source) Run(ctx context.Context, sink scada.Sink) error {
	if !s.running.CompareAndSwap(false, true) {
		return ErrRunning
	}
	defer s.running.Store(false)
	c, err := s.Dial(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	defer c.Close()
	// Requests take no context of the wire: closing the connection is what
	// interrupts them.
	stop := context.AfterFunc(ctx, func() { _ = c.t.nc.Close() })
	defer stop()
	s.mu.Lock()
	s.cur = c
	s.mu.Unlock()
	scada.NotifyConnected(sink)
	defer func() {
		s.mu.Lock()
		s.cur = nil
		s.mu.Unlock()
	}()

	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		failOnce sync.Once
		fatal    error
	)
	fail := func(err error) {
		failOnce.Do(func() {
			fatal = err
			cancel()
		})
	}
	// Isolated units wait until every other unit has been polled once on
	// this connection: a unit that broke the framing last time must not
	// keep the others from their first poll.
	var first sync.WaitGroup
	isolated := make([]bool, len(s.devices))
	for i, d := range s.devices {
		if isolated[i] = d.isolated(); !isolated[i] {
			first.Add(1)
		}
	}
	firstDone := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		first.Wait()
		close(firstDone)
	}()
	for i, d := range s.devices {
		wg.Add(1)
		go func() {
			defer wg.Done()
			polled := func() {}
			if !isolated[i] {
				polled = sync.OnceFunc(first.Done)
			}
			defer polled()
			if isolated[i] {
				select {
				case <-firstDone:
				case <-rctx.Done():
					return
				}
			}
			timer := time.NewTimer(0)
			defer timer.Stop()
			next := time.Now()
			for {
				timer.Reset(time.Until(next))
				select {
				case <-rctx.Done():
					return
				case <-timer.C:
				}
				err := c.pollDevice(rctx, i, d, sink)
				polled()
				if err != nil {
					fail(err)
					return
				}
				next = next.Add(d.interval)
				if t := time.Now(); next.Before(t) {
					s.st.overruns.Add(1) // the poll took longer than its interval: skip, do not pile up
					next = t.Add(d.interval)
				}
			}
		}()
	}
	wg.Wait()
	c.noteFraming()
	if fatal == nil || ctx.Err() != nil {
		return nil
	}
	if errors.Is(fatal, scada.ErrConnection) {
		c.lost(ctx, sink)
	}
	s.log.Warn("modbus run ended", "err", fatal)
	return fatal
}

// lost delivers BadNoCommunication points for every tag of the devices
// whose last poll did not already report the lost connection.
func (c *Conn) lost(ctx context.Context, sink scada.Sink) {
	now := time.Now()
	var batch []scada.Point
	for i, d := range c.s.devices {
		if c.dev[i].lostDelivered {
			continue
		}
		batch = batch[:0]
		for _, r := range d.plan() {
			batch = c.bad(batch, d, &r, scada.BadNoCommunication, now)
		}
		if len(batch) > 0 && c.s.deliver(ctx, i, sink, batch) != nil {
			return
		}
	}
}

// noteFraming records who broke the framing of a connection: a unit known to
// have done it opens its framing breaker; units that may have done it become
// suspects, polled alone until they answer cleanly.
func (s *Source) noteFraming(b blame) {
	for _, u := range b.Units {
		for _, d := range s.devices {
			if d.unit != u {
				continue
			}
			if b.Certain {
				s.st.framingFaults.Add(1)
				d.frameBrk.Failure()
				s.log.Warn("modbus unit broke the framing: skipped, then probed alone", "unit", u,
					"cooldown", s.cfg.unitCooldown())
			} else {
				d.suspect.Store(true)
			}
		}
	}
}

// Dial opens a connection to Config.Address (TLS when Config.TLS is set).
// Run does this itself; Dial is for callers who poll on demand with
// [Conn.Poll]. The error matches [scada.ErrConnection].
func (s *Source) Dial(ctx context.Context) (*Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.dialTimeout())
	defer cancel()
	var nc net.Conn
	var err error
	nd := &net.Dialer{}
	if s.cfg.TLS != nil {
		cfg := s.cfg.TLS.Clone()
		if cfg.MinVersion == 0 {
			cfg.MinVersion = tls.VersionTLS13
		}
		nc, err = (&tls.Dialer{NetDialer: nd, Config: cfg}).DialContext(ctx, "tcp", s.cfg.Address)
	} else {
		nc, err = nd.DialContext(ctx, "tcp", s.cfg.Address)
	}
	if err != nil {
		s.st.dialErrors.Add(1)
		return nil, fmt.Errorf("modbus: dial %s: %w: %w", s.cfg.Address, scada.ErrConnection, classify(err))
	}
	s.st.connects.Add(1)
	s.log.Info("modbus connected", "tls", s.cfg.TLS != nil)
	return s.newConn(newPipelinedTransport(nc, s.cfg.timeout(), s.cfg.maxInFlight(len(s.devices)))), nil
}

// Write writes value to a tag the configuration marks Writable: Scale and
// Offset are undone, integers are rounded, and a value that does not fit the
// type fails with [ErrOutOfRange]. Other tags are refused with a *[TagError]
// matching [scada.ErrNotWritable] or [scada.ErrUnknownTag].
//
// The write goes through the connection of the running Run, alongside the
// polls; without a running Run it opens a connection of its own for the
// write and closes it after, as the OPC UA Source does (a failure to connect
// matches [scada.ErrConnection]).
func (s *Source) Write(ctx context.Context, tag string, value float64) error {
	if _, err := s.writable(tag); err != nil {
		s.st.writeErrors.Add(1)
		return err
	}
	s.mu.Lock()
	c := s.cur
	s.mu.Unlock()
	if c == nil {
		own, err := s.Dial(ctx)
		if err != nil {
			s.st.writeErrors.Add(1)
			return &TagError{Tag: tag, Err: err}
		}
		defer own.Close()
		c = own
	}
	return c.Write(ctx, tag, value)
}

func (s *Source) writable(tag string) (tagRef, error) {
	ref, ok := s.tags[tag]
	if !ok {
		return ref, &TagError{Tag: tag, Err: scada.ErrUnknownTag}
	}
	if !ref.tag.Writable {
		return ref, &TagError{Tag: tag, Err: scada.ErrNotWritable}
	}
	return ref, nil
}

// Conn is one open connection of a [Source]. Its methods may be called from
// several goroutines; up to Config.MaxInFlight requests share the wire.
type Conn struct {
	s      *Source
	t      *transport
	dev    []connDev    // per device of the Source
	silent atomic.Int64 // requests in a row that timed out, with no answer in between
	closed atomic.Bool
	noted  sync.Once // the framing blame was passed to the Source
}

// connDev is a device's state on one connection.
type connDev struct {
	mu            sync.Mutex // one poll of the device at a time
	batch         []scada.Point
	lostDelivered bool // the last poll delivered the lost connection's Bad points
}

func (s *Source) newConn(t *transport) *Conn {
	return &Conn{s: s, t: t, dev: make([]connDev, len(s.devices))}
}

// Close closes the connection. Later calls return [scada.ErrClosed].
func (c *Conn) Close() error {
	if c.closed.Swap(true) {
		return scada.ErrClosed
	}
	return c.t.close()
}

// Poll reads every device once, one after the other, and delivers one batch
// per device to sink. It returns an error matching [scada.ErrConnection] when
// the connection failed, or the sink's error; exceptions and silent units
// only make Bad points.
func (c *Conn) Poll(ctx context.Context, sink scada.Sink) error {
	for i, d := range c.s.devices {
		if err := c.pollDevice(ctx, i, d, sink); err != nil {
			if errors.Is(err, scada.ErrConnection) {
				c.noteFraming()
			}
			return err
		}
	}
	return nil
}

// noteFraming passes, once per connection, who broke its framing to the
// Source, so the next connections isolate that unit.
func (c *Conn) noteFraming() {
	c.noted.Do(func() { c.s.noteFraming(c.t.framingBlame()) })
}

// Write is [Source.Write] on this connection.
func (c *Conn) Write(ctx context.Context, tag string, value float64) error {
	s := c.s
	ref, err := s.writable(tag)
	if err != nil {
		s.st.writeErrors.Add(1)
		return err
	}
	t := ref.tag
	err = c.write(ctx, ref.dev, t, value)
	if err != nil {
		s.st.writeErrors.Add(1)
		var te *TagError
		if !errors.As(err, &te) {
			err = &TagError{Tag: tag, Err: err}
		}
		s.log.Warn("modbus write failed", "tag", tag, "err", err)
		return err
	}
	s.st.writes.Add(1)
	return nil
}

func (c *Conn) write(ctx context.Context, d *device, t *Tag, value float64) error {
	if t.Table == Coil {
		if isNaNOrInf(value) {
			return &TagError{Tag: t.Name, Err: fmt.Errorf("%v: %w", value, ErrOutOfRange)}
		}
		return c.busyRetry(ctx, func() error {
			return c.t.writeCoil(ctx, reqInfo{unit: d.unit, timeout: d.timeout, alone: d.isolated()}, uint16(t.Address), value != 0)
		})
	}
	regs, err := encodeRegisters(t.typ(), t.Order, (value-t.Offset)/t.scale())
	if err != nil {
		return &TagError{Tag: t.Name, Err: err}
	}
	return c.busyRetry(ctx, func() error {
		return c.t.writeRegisters(ctx, reqInfo{unit: d.unit, timeout: d.timeout, alone: d.isolated()}, uint16(t.Address), regs)
	})
}

// busyRetry runs op again while the device answers busy (exception 6), up to
// Config.BusyRetries times, waiting Config.BusyBackoff, doubled each time,
// with ±25 % jitter. The first attempt is made directly, so a poll that is not
// answered busy pays nothing for the retry machinery.
func (c *Conn) busyRetry(ctx context.Context, op func() error) error {
	err := op()
	retries := c.s.cfg.busyRetries()
	if err == nil || retries == 0 || !errors.Is(err, ServerDeviceBusy) {
		return err
	}
	first := err
	err = resilience.Retry(ctx, resilience.RetryConfig{
		MaxAttempts: retries + 1, // the attempt already made is the first
		Backoff:     resilience.Backoff{Initial: c.s.cfg.busyBackoff(), Jitter: 0.25},
		Retryable:   func(err error) bool { return errors.Is(err, ServerDeviceBusy) },
		OnRetry:     func(int, error, time.Duration) { c.s.st.busyRetries.Add(1) },
	}, func(context.Context) error {
		if first != nil {
			e := first
			first = nil
			return e
		}
		return op()
	})
	var ex *resilience.ExceededError
	if errors.As(err, &ex) {
		return ex.Err // the device's last answer says more than "retries exceeded"
	}
	return err
}

// pollDevice reads the device's planned requests and delivers one batch.
func (c *Conn) pollDevice(ctx context.Context, di int, d *device, sink scada.Sink) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	cd := &c.dev[di]
	cd.mu.Lock()
	defer cd.mu.Unlock()
	cd.lostDelivered = false
	s := c.s
	uc := &s.st.units[di]
	batch := cd.batch[:0]
	var skip scada.Quality // set once the unit stopped answering: the rest of this poll is skipped
	var fatal error
	alone := d.isolated()
	probe := false // the framing breaker let this poll through as its probe
	if alone && d.frameBrk.State() != resilience.BreakerClosed {
		if d.frameBrk.Allow() {
			probe = true
		} else {
			s.st.skipped.Add(1)
			skip = scada.BadCommunicationError
		}
	}
	if err := c.t.brokenErr(); err != nil {
		if ctx.Err() != nil {
			return ctx.Err() // closed because Run is ending: nothing to report
		}
		fatal = fmt.Errorf("modbus: %s: %w", s.cfg.Address, err) // the connection is gone: report it whatever is skipped
	}
	clean := true // every request got a well-formed answer
	reqs := d.plan()
	for ri := 0; ri < len(reqs); ri++ {
		r := &reqs[ri]
		now := time.Now()
		if fatal != nil || skip != 0 {
			q := skip
			if fatal != nil {
				q = scada.BadNoCommunication
			}
			batch = c.bad(batch, d, r, q, now)
			continue
		}
		if !d.brk.Allow() {
			s.st.skipped.Add(1)
			skip = scada.BadNoCommunication
			batch = c.bad(batch, d, r, skip, now)
			continue
		}
		var data []byte
		err := c.busyRetry(ctx, func() error {
			var err error
			s.st.requests.Add(1)
			data, err = c.t.read(ctx, reqInfo{unit: d.unit, timeout: d.timeout, alone: alone}, r.table, uint16(r.addr), uint16(r.qty))
			return err
		})
		now = time.Now()
		if err == nil {
			c.silent.Store(0)
			d.brk.Success()
			batch = c.decode(batch, d, r, data, now)
			continue
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		uc.lastError.Store(&errBox{err})
		if s.cfg.OnError != nil {
			s.cfg.OnError(err)
		}
		var ex *ExceptionError
		switch {
		case errors.As(err, &ex):
			c.silent.Store(0) // something answered
			s.st.countException(ex.Code)
			if ex.Code.unitSilent() {
				d.brk.Failure()
				skip = ex.Code.Quality()
			} else {
				d.brk.Success()
			}
			if ex.Code == IllegalDataAddress {
				// The read may span an address the device does not have.
				// Read its tags apart from now on, starting with this poll,
				// so only the tag at the missing address stays Bad.
				if next := d.split(reqs, ri); next != nil {
					s.st.splits.Add(1)
					s.log.Info("modbus read split after an illegal data address", "unit", d.unit,
						"address", r.addr, "quantity", r.qty, "reads", len(next))
					reqs = next
					ri--
					continue
				}
			}
			s.log.Debug("modbus exception", "unit", d.unit, "err", err)
			batch = c.bad(batch, d, r, ex.Code.Quality(), now)
		case errors.Is(err, ErrTimeout):
			clean = false
			s.st.timeouts.Add(1)
			d.brk.Failure()
			skip = scada.BadTimeout
			batch = c.bad(batch, d, r, skip, now)
			s.log.Debug("modbus timeout", "unit", d.unit, "err", err)
			if n := c.silent.Add(1); n >= int64(len(s.devices)) {
				fatal = fmt.Errorf("modbus: %s: %d requests in a row unanswered: %w: %w", s.cfg.Address, n, scada.ErrConnection, err)
			}
		case errors.Is(err, scada.ErrConnection):
			clean = false
			fatal = fmt.Errorf("modbus: %s: %w", s.cfg.Address, err)
			batch = c.bad(batch, d, r, scada.BadNoCommunication, now)
		default: // a malformed answer
			clean = false
			c.silent.Store(0)
			d.brk.Success()
			s.st.badInput.Add(1)
			s.log.Warn("modbus bad answer", "unit", d.unit, "err", err)
			batch = c.bad(batch, d, r, scada.BadDecodingError, now)
		}
	}
	if alone && fatal == nil && skip == 0 && clean {
		// Polled alone and answered in frames: no longer suspected.
		d.suspect.Store(false)
		if probe {
			d.frameBrk.Success()
		}
	}
	cd.batch = batch
	s.st.polls.Add(1)
	if len(batch) > 0 {
		if err := s.deliver(ctx, di, sink, batch); err != nil {
			if fatal != nil {
				return fatal
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("modbus: %s: sink: %w", s.cfg.Name, err)
		}
		cd.lostDelivered = fatal != nil
	}
	return fatal
}

// deliver hands one device's batch to sink, one delivery at a time, and
// counts its points.
func (s *Source) deliver(ctx context.Context, di int, sink scada.Sink, batch []scada.Point) error {
	s.deliverMu.Lock()
	err := sink.Deliver(ctx, batch)
	s.deliverMu.Unlock()
	if err != nil {
		return err
	}
	var bad uint64
	for i := range batch {
		if batch[i].Quality.IsBad() {
			bad++
		}
	}
	uc := &s.st.units[di]
	s.st.points.Add(uint64(len(batch)))
	s.st.badPoints.Add(bad)
	uc.points.Add(uint64(len(batch)))
	uc.badPoints.Add(bad)
	return nil
}

// decode appends the points of request r from its answer data. It writes
// each point in place in the batch: this loop runs for every point of every
// poll.
func (c *Conn) decode(batch []scada.Point, d *device, r *request, data []byte, now time.Time) []scada.Point {
	s := c.s
	batch = slices.Grow(batch, len(r.tags))
	for _, ti := range r.tags {
		t := &d.dec[ti]
		off := t.addr - r.addr
		var v float64
		var err error
		switch {
		case r.table.isBits():
			v = bitAt(data, off)
		case t.typ == Uint16 && !t.order.byteSwap():
			v = float64(uint16(data[2*off])<<8 | uint16(data[2*off+1]))
		case t.typ == String:
			s.cfg.OnText(t.name, decodeText(t.order, data[2*off:2*(off+t.width)]), now)
			continue
		default:
			v, err = decodeRegisters(t.typ, t.order, t.bit, data[2*off:2*(off+t.width)])
		}
		batch = batch[:len(batch)+1]
		p := &batch[len(batch)-1]
		p.Tag, p.Unit, p.Time, p.Source = t.name, t.unit, now, s.cfg.Name
		switch {
		case err != nil:
			s.st.badInput.Add(1)
			p.Value, p.Quality = 0, scada.BadDecodingError
		case math.IsNaN(v) || math.IsInf(v, 0):
			// Devices send NaN or an infinity for a failed sensor (an open
			// thermocouple, say); a number downstream could not tell.
			p.Value, p.Quality = 0, scada.BadSensorFailure
		default:
			p.Value, p.Quality = v*t.scale+t.offset, scada.Good
		}
	}
	return batch
}

// bad appends a Bad point of quality q for every tag of r. Text tags get
// one too: their text goes to Config.OnText, but a failed read must show
// downstream like any other.
func (c *Conn) bad(batch []scada.Point, d *device, r *request, q scada.Quality, now time.Time) []scada.Point {
	for _, ti := range r.tags {
		t := &d.dec[ti]
		batch = append(batch, scada.Point{Tag: t.name, Unit: t.unit, Quality: q, Time: now, Source: c.s.cfg.Name})
	}
	return batch
}
