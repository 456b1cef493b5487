package modbus

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
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

// transport is one Modbus/TCP connection. It sends one request at a time and
// matches the answer by transaction id, so a late answer to a request that
// timed out is recognised and dropped rather than taken for the next one.
//
// The Modbus/TCP framing is done here rather than with simonvetter/modbus's
// client because that client cannot be cancelled (its Close waits for the
// request in flight), offers no way to require TLS 1.3, sets the unit id for
// the whole client, and drops the code of exceptions it does not know.
type transport struct {
	nc      net.Conn
	r       *bufio.Reader
	timeout time.Duration
	sem     chan struct{} // one request in flight; a channel so waiting honours ctx
	txn     uint16
	wbuf    [maxADU]byte
	rbuf    [maxADU]byte
	broken  error // set once the byte stream can no longer be trusted
}

func newTransport(nc net.Conn, timeout time.Duration) *transport {
	return &transport{
		nc:      nc,
		r:       bufio.NewReaderSize(nc, 2*maxADU),
		timeout: timeout,
		sem:     make(chan struct{}, 1),
	}
}

// request describes one request for error reporting.
type reqInfo struct {
	unit, fn byte
	addr     uint16
	qty      uint16
	timeout  time.Duration // zero means the transport's
}

func (ri reqInfo) fail(err error) error {
	return &RequestError{UnitID: ri.unit, Function: ri.fn, Address: ri.addr, Quantity: ri.qty, Err: err}
}

// do sends the PDU fn+data to unit and returns the answer's data (after the
// function code), which is valid until the next call. An exception answer is
// returned as *ExceptionError; no answer in time as *RequestError matching
// ErrTimeout; a broken connection as *RequestError matching
// scada.ErrConnection, after which every call fails the same way.
func (t *transport) do(ctx context.Context, ri reqInfo, data []byte) ([]byte, error) {
	select {
	case t.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-t.sem }()
	if t.broken != nil {
		return nil, ri.fail(t.broken)
	}
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
	if err := t.nc.SetDeadline(deadline); err != nil {
		return nil, ri.fail(t.breakWith(err))
	}

	t.txn++
	w := t.wbuf[:0]
	w = binary.BigEndian.AppendUint16(w, t.txn)
	w = append(w, 0, 0) // protocol id
	w = binary.BigEndian.AppendUint16(w, uint16(2+len(data)))
	w = append(w, ri.unit, ri.fn)
	w = append(w, data...)
	if _, err := t.nc.Write(w); err != nil {
		return nil, ri.fail(t.breakWith(err)) // a partial write leaves the stream unknown
	}

	for {
		hdr := t.rbuf[:mbapLen]
		n, err := io.ReadFull(t.r, hdr)
		if err != nil {
			if n == 0 && isTimeout(err) {
				// Nothing of the answer arrived: the stream is still in step,
				// and a late answer will be dropped by its transaction id.
				return nil, ri.fail(fmt.Errorf("%w after %v", ErrTimeout, timeout))
			}
			return nil, ri.fail(t.breakWith(err))
		}
		length := int(binary.BigEndian.Uint16(hdr[4:6]))
		if length < 2 || length > maxFrameLen {
			return nil, ri.fail(t.breakWith(fmt.Errorf("MBAP length %d: %w", length, scada.ErrBadInput)))
		}
		body := t.rbuf[mbapLen : mbapLen+length-1]
		if _, err := io.ReadFull(t.r, body); err != nil {
			return nil, ri.fail(t.breakWith(err)) // torn frame
		}
		txn, proto, unit := binary.BigEndian.Uint16(hdr[0:2]), binary.BigEndian.Uint16(hdr[2:4]), hdr[6]
		if proto != 0 || txn != t.txn {
			continue // another protocol, or a late answer to a request that timed out
		}
		fn := body[0]
		switch {
		case fn == ri.fn:
			if unit != ri.unit {
				return nil, ri.fail(fmt.Errorf("answer from unit %d: %w", unit, scada.ErrBadInput))
			}
			return body[1:], nil
		case fn == ri.fn|0x80 && len(body) == 2 && (unit == ri.unit || unit == 0xFF):
			return nil, &ExceptionError{UnitID: ri.unit, Function: ri.fn, Address: ri.addr, Quantity: ri.qty, Code: Exception(body[1])}
		default:
			return nil, ri.fail(fmt.Errorf("unexpected answer: function 0x%02x, %d bytes: %w", fn, len(body)-1, scada.ErrBadInput))
		}
	}
}

// breakWith marks the connection unusable and returns the error to report.
func (t *transport) breakWith(err error) error {
	if t.broken == nil {
		t.broken = fmt.Errorf("%w: %w", scada.ErrConnection, err)
	}
	return t.broken
}

func (t *transport) close() error { return t.nc.Close() }

func isTimeout(err error) bool {
	return errors.Is(err, os.ErrDeadlineExceeded)
}

// read reads qty registers or bits of table from addr and returns the answer's
// values: two bytes a register, or the packed bits. The byte count is checked.
func (t *transport) read(ctx context.Context, timeout time.Duration, unit uint8, table Table, addr, qty uint16) ([]byte, error) {
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
	ri := reqInfo{unit: unit, fn: fn, addr: addr, qty: qty, timeout: timeout}
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
func (t *transport) writeCoil(ctx context.Context, timeout time.Duration, unit uint8, addr uint16, on bool) error {
	v := uint16(0)
	if on {
		v = 0xFF00
	}
	var req [4]byte
	binary.BigEndian.PutUint16(req[0:2], addr)
	binary.BigEndian.PutUint16(req[2:4], v)
	return t.expectEcho(ctx, reqInfo{unit: unit, fn: fcWriteSingleCoil, addr: addr, qty: 1, timeout: timeout}, req[:], req[:])
}

// writeRegisters writes registers from addr: FC 6 for one, FC 16 for more.
func (t *transport) writeRegisters(ctx context.Context, timeout time.Duration, unit uint8, addr uint16, regs []byte) error {
	qty := uint16(len(regs) / 2)
	if qty == 1 {
		req := binary.BigEndian.AppendUint16(nil, addr)
		req = append(req, regs...)
		return t.expectEcho(ctx, reqInfo{unit: unit, fn: fcWriteSingleRegister, addr: addr, qty: 1, timeout: timeout}, req, req)
	}
	req := binary.BigEndian.AppendUint16(nil, addr)
	req = binary.BigEndian.AppendUint16(req, qty)
	req = append(req, byte(len(regs)))
	req = append(req, regs...)
	return t.expectEcho(ctx, reqInfo{unit: unit, fn: fcWriteMultipleRegisters, addr: addr, qty: qty, timeout: timeout}, req, req[:4])
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
