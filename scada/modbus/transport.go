package modbus

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/greenlang/gl001/scada"
)

// Function codes used by this package.
const (
	fcReadCoils              = 0x01
	fcReadDiscreteInputs     = 0x02
	fcReadHoldingRegisters   = 0x03
	fcReadInputRegisters     = 0x04
	fcWriteSingleCoil        = 0x05
	fcWriteSingleRegister    = 0x06
	fcWriteMultipleRegisters = 0x10
)

const (
	mbapLen     = 7   // transaction id, protocol id, length, unit id
	maxADU      = 260 // MBAP header and the largest PDU (253 bytes)
	maxFrameLen = 254 // MBAP length field: unit id + PDU
)

// transport is one Modbus/TCP connection. Requests may be in flight
// together, up to a limit (Config.MaxInFlight): each gets its own transaction
// id, and one reader goroutine hands each answer to the request with its id,
// so a late answer to a request that timed out is recognised and dropped
// rather than taken for another one.
//
// The Modbus/TCP framing is done here rather than with simonvetter/modbus's
// client because that client cannot be cancelled (its Close waits for the
// request in flight), offers no way to require TLS 1.3, sets the unit id for
// the whole client, sends one request at a time, and drops the code of
// exceptions it does not know.
type transport struct {
	nc           net.Conn
	r            *bufio.Reader
	timeout      time.Duration // a request's default timeout
	frameTimeout time.Duration // from an answer's first byte to its last

	slots chan struct{} // one token per request in flight
	excl  sync.RWMutex  // held for writing by a request that must be alone on the wire

	wmu  sync.Mutex // one writer at a time
	wbuf [maxADU]byte

	mu      sync.Mutex
	txn     uint16
	pending map[uint16]*call
	expired map[uint16]uint8 // transaction id -> unit of requests that timed out
	broken  error            // set once the byte stream can no longer be trusted
	inFrame atomic.Bool      // the reader has part of an answer
	blame   blame            // who broke the framing, when an answer did
	done    chan struct{}    // closed when broken
	readEnd chan struct{}    // closed when the reader goroutine has returned
}

// call is one request waiting for its answer.
type call struct {
	ri  reqInfo
	ans chan answer // buffered: the reader never waits for the caller
}

type answer struct {
	fn   byte
	unit byte
	data []byte // the PDU after the function code
}

// blame names the unit whose answer broke the framing. Units holds the one
// unit the fault is known to come from (Certain) or every unit that had a
// request in flight when it cannot be told apart.
type blame struct {
	Units   []uint8
	Certain bool
}

func newTransport(nc net.Conn, timeout time.Duration) *transport {
	return newPipelinedTransport(nc, timeout, 1)
}

// newPipelinedTransport returns a transport that keeps up to inFlight
// requests on the wire at once and starts its reader goroutine; close stops
// it.
func newPipelinedTransport(nc net.Conn, timeout time.Duration, inFlight int) *transport {
	t := &transport{
		nc:           nc,
		r:            bufio.NewReaderSize(nc, 2*maxADU),
		timeout:      timeout,
		frameTimeout: timeout,
		slots:        make(chan struct{}, max(inFlight, 1)),
		pending:      make(map[uint16]*call),
		expired:      make(map[uint16]uint8),
		done:         make(chan struct{}),
		readEnd:      make(chan struct{}),
	}
	go t.readLoop()
	return t
}

// request describes one request for error reporting.
type reqInfo struct {
	unit, fn byte
	addr     uint16
	qty      uint16
	timeout  time.Duration // zero means the transport's
	alone    bool          // no other request may be in flight meanwhile
}

func (ri reqInfo) fail(err error) error {
	return &RequestError{UnitID: ri.unit, Function: ri.fn, Address: ri.addr, Quantity: ri.qty, Err: err}
}

// do sends the PDU fn+data to unit and returns the answer's data (after the
// function code). An exception answer is returned as *ExceptionError; no
// answer in time as *RequestError matching ErrTimeout; a broken connection
// as *RequestError matching scada.ErrConnection, after which every call
// fails the same way.
func (t *transport) do(ctx context.Context, ri reqInfo, data []byte) ([]byte, error) {
	if ri.alone {
		t.excl.Lock()
		defer t.excl.Unlock()
	} else {
		t.excl.RLock()
		defer t.excl.RUnlock()
	}
	n := 1
	if ri.alone {
		n = cap(t.slots)
	}
	for i := 0; i < n; i++ {
		select {
		case t.slots <- struct{}{}:
		case <-ctx.Done():
			for ; i > 0; i-- {
				<-t.slots
			}
			return nil, ctx.Err()
		case <-t.done:
			for ; i > 0; i-- {
				<-t.slots
			}
			return nil, ri.fail(t.brokenErr())
		}
	}
	defer func() {
		for range n {
			<-t.slots
		}
	}()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	timeout := t.timeout
	if ri.timeout > 0 {
		timeout = ri.timeout
	}
	deadline := time.Now().Add(timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}

	cl := &call{ri: ri, ans: make(chan answer, 1)}
	t.mu.Lock()
	if t.broken != nil {
		err := t.broken
		t.mu.Unlock()
		return nil, ri.fail(err)
	}
	t.txn++
	for t.pending[t.txn] != nil { // wrapped around onto a request still waiting
		t.txn++
	}
	txn := t.txn
	t.pending[txn] = cl
	delete(t.expired, txn)
	t.mu.Unlock()

	t.wmu.Lock()
	w := t.wbuf[:0]
	w = binary.BigEndian.AppendUint16(w, txn)
	w = append(w, 0, 0) // protocol id
	w = binary.BigEndian.AppendUint16(w, uint16(2+len(data)))
	w = append(w, ri.unit, ri.fn)
	w = append(w, data...)
	err := t.nc.SetWriteDeadline(deadline)
	if err == nil {
		_, err = t.nc.Write(w)
	}
	t.wmu.Unlock()
	if err != nil {
		t.forget(txn, false)
		return nil, ri.fail(t.breakWith(err, blame{})) // a partial write leaves the stream unknown
	}

	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	select {
	case a := <-cl.ans:
		return ri.check(a)
	case <-t.done:
		select {
		case a := <-cl.ans: // answered just before the stream broke
			return ri.check(a)
		default:
		}
		return nil, ri.fail(t.brokenErr())
	case <-ctx.Done():
		t.forget(txn, true)
		return nil, ctx.Err()
	case <-timer.C:
		// An answer arriving now may be ours, or hold ours up behind it:
		// its frame deadline decides, not this request's timeout.
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for t.inFrame.Load() {
			select {
			case a := <-cl.ans:
				return ri.check(a)
			case <-t.done:
				select {
				case a := <-cl.ans:
					return ri.check(a)
				default:
				}
				return nil, ri.fail(t.brokenErr())
			case <-ctx.Done():
				t.forget(txn, true)
				return nil, ctx.Err()
			case <-tick.C:
			}
		}
		if !t.forget(txn, true) {
			return ri.check(<-cl.ans) // the answer won the race
		}
		// Nothing of the answer arrived: the stream is still in step,
		// and a late answer will be dropped by its transaction id.
		return nil, ri.fail(fmt.Errorf("%w after %v", ErrTimeout, timeout))
	}
}

// forget removes a pending request and reports whether it was still
// pending (false: the reader has already handed it its answer). A request
// that expired is remembered, so a broken late answer can be blamed.
func (t *transport) forget(txn uint16, expired bool) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	cl, ok := t.pending[txn]
	if !ok {
		return false
	}
	delete(t.pending, txn)
	if expired {
		if len(t.expired) >= 256 {
			clear(t.expired)
		}
		t.expired[txn] = cl.ri.unit
	}
	return true
}

// check turns an answer into the request's result.
func (ri reqInfo) check(a answer) ([]byte, error) {
	switch {
	case a.fn == ri.fn:
		if a.unit != ri.unit {
			return nil, ri.fail(fmt.Errorf("answer from unit %d: %w", a.unit, scada.ErrBadInput))
		}
		return a.data, nil
	case a.fn == ri.fn|0x80 && len(a.data) == 1 && (a.unit == ri.unit || a.unit == 0xFF):
		return nil, &ExceptionError{UnitID: ri.unit, Function: ri.fn, Address: ri.addr, Quantity: ri.qty, Code: Exception(a.data[0])}
	default:
		return nil, ri.fail(fmt.Errorf("unexpected answer: function 0x%02x, %d bytes: %w", a.fn, len(a.data), scada.ErrBadInput))
	}
}

// readLoop reads answers and hands each to its request until the stream
// breaks or the connection is closed. Once the first byte of an answer has
// arrived, the rest must follow within frameTimeout: a peer that sends part
// of a frame and stops, or drips it a byte at a time, holds up every answer
// behind it, so the connection is given up and the unit blamed.
func (t *transport) readLoop() {
	defer close(t.readEnd)
	var buf [maxADU]byte
	for {
		if err := t.nc.SetReadDeadline(time.Time{}); err != nil {
			t.breakWith(err, blame{})
			return
		}
		if _, err := t.r.Peek(1); err != nil {
			t.breakWith(err, blame{})
			return
		}
		t.inFrame.Store(true)
		if err := t.nc.SetReadDeadline(time.Now().Add(t.frameTimeout)); err != nil {
			t.breakWith(err, blame{})
			return
		}
		hdr := buf[:mbapLen]
		n, err := io.ReadFull(t.r, hdr)
		if err != nil {
			t.breakWith(fmt.Errorf("torn MBAP header after %d bytes: %w", n, err), t.blameFor(hdr[:n]))
			return
		}
		length := int(binary.BigEndian.Uint16(hdr[4:6]))
		if length < 2 || length > maxFrameLen {
			t.breakWith(fmt.Errorf("MBAP length %d: %w", length, scada.ErrBadInput), t.blameFor(hdr))
			return
		}
		body := buf[mbapLen : mbapLen+length-1]
		if n, err := io.ReadFull(t.r, body); err != nil {
			t.breakWith(fmt.Errorf("torn frame, %d of %d bytes: %w", mbapLen+n, mbapLen+len(body), err), t.blameFor(hdr)) // torn frame
			return
		}
		txn, proto, unit := binary.BigEndian.Uint16(hdr[0:2]), binary.BigEndian.Uint16(hdr[2:4]), hdr[6]
		if proto != 0 {
			t.inFrame.Store(false)
			continue // another protocol
		}
		t.mu.Lock()
		cl := t.pending[txn]
		delete(t.pending, txn)
		t.inFrame.Store(false)
		t.mu.Unlock()
		if cl == nil {
			continue // a late answer to a request that timed out
		}
		cl.ans <- answer{fn: body[0], unit: unit, data: bytes.Clone(body[1:])}
	}
}

// blameFor names the unit of the answer whose first bytes are hdr: by its
// transaction id when two bytes of it arrived, else the only request in
// flight, else every request in flight.
func (t *transport) blameFor(hdr []byte) blame {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(hdr) >= 2 {
		txn := binary.BigEndian.Uint16(hdr[0:2])
		if cl := t.pending[txn]; cl != nil {
			return blame{Units: []uint8{cl.ri.unit}, Certain: true}
		}
		if u, ok := t.expired[txn]; ok {
			return blame{Units: []uint8{u}, Certain: true}
		}
	}
	var b blame
	for _, cl := range t.pending {
		if !slices.Contains(b.Units, cl.ri.unit) {
			b.Units = append(b.Units, cl.ri.unit)
		}
	}
	b.Certain = len(b.Units) == 1
	return b
}

// breakWith marks the connection unusable, wakes every waiting request,
// closes the connection and returns the error to report. b names the unit
// whose answer broke the framing, if one did.
func (t *transport) breakWith(err error, b blame) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.broken == nil {
		if isTimeout(err) {
			err = fmt.Errorf("answer not complete within %v: %w: %w", t.frameTimeout, scada.ErrBadInput, err)
		}
		t.broken = fmt.Errorf("%w: %w", scada.ErrConnection, classify(err))
		t.blame = b
		close(t.done)
		_ = t.nc.Close()
	}
	return t.broken
}

func (t *transport) brokenErr() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.broken
}

// framingBlame returns who broke the framing, if an answer did.
func (t *transport) framingBlame() blame {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.blame
}

// close closes the connection and waits for the reader goroutine.
func (t *transport) close() error {
	err := t.nc.Close()
	<-t.readEnd
	return err
}

func isTimeout(err error) bool {
	return errors.Is(err, os.ErrDeadlineExceeded)
}

// read reads qty registers or bits of table from addr and returns the answer's
// values: two bytes a register, or the packed bits. The byte count is checked.
func (t *transport) read(ctx context.Context, ri reqInfo, table Table, addr, qty uint16) ([]byte, error) {
	var fn byte
	switch table {
	case HoldingRegister:
		fn = fcReadHoldingRegisters
	case InputRegister:
		fn = fcReadInputRegisters
	case Coil:
		fn = fcReadCoils
	default:
		fn = fcReadDiscreteInputs
	}
	ri.fn, ri.addr, ri.qty = fn, addr, qty
	var req [4]byte
	binary.BigEndian.PutUint16(req[0:2], addr)
	binary.BigEndian.PutUint16(req[2:4], qty)
	res, err := t.do(ctx, ri, req[:])
	if err != nil {
		return nil, err
	}
	want := 2 * int(qty)
	if table.isBits() {
		want = (int(qty) + 7) / 8
	}
	if len(res) < 1 || int(res[0]) != want || len(res) != want+1 {
		return nil, ri.fail(fmt.Errorf("answer of %d bytes for %d %s values: %w", len(res)-1, qty, table, scada.ErrBadInput))
	}
	return res[1:], nil
}

// writeCoil writes one coil (FC 5).
func (t *transport) writeCoil(ctx context.Context, ri reqInfo, addr uint16, on bool) error {
	v := uint16(0)
	if on {
		v = 0xFF00
	}
	var req [4]byte
	binary.BigEndian.PutUint16(req[0:2], addr)
	binary.BigEndian.PutUint16(req[2:4], v)
	ri.fn, ri.addr, ri.qty = fcWriteSingleCoil, addr, 1
	return t.expectEcho(ctx, ri, req[:], req[:])
}

// writeRegisters writes registers from addr: FC 6 for one, FC 16 for more.
func (t *transport) writeRegisters(ctx context.Context, ri reqInfo, addr uint16, regs []byte) error {
	qty := uint16(len(regs) / 2)
	if qty == 1 {
		req := binary.BigEndian.AppendUint16(nil, addr)
		req = append(req, regs...)
		ri.fn, ri.addr, ri.qty = fcWriteSingleRegister, addr, 1
		return t.expectEcho(ctx, ri, req, req)
	}
	req := binary.BigEndian.AppendUint16(nil, addr)
	req = binary.BigEndian.AppendUint16(req, qty)
	req = append(req, byte(len(regs)))
	req = append(req, regs...)
	ri.fn, ri.addr, ri.qty = fcWriteMultipleRegisters, addr, qty
	return t.expectEcho(ctx, ri, req, req[:4])
}

func (t *transport) expectEcho(ctx context.Context, ri reqInfo, req, echo []byte) error {
	res, err := t.do(ctx, ri, req)
	if err != nil {
		return err
	}
	if string(res) != string(echo) {
		return ri.fail(fmt.Errorf("write answer does not echo the request: %w", scada.ErrBadInput))
	}
	return nil
}
