package modbus

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/greenlang/gl001/scada"
)

// scriptedPeer answers each request read from the far end of a pipe with the
// next of answers, given the request's bytes. It is a device that breaks the
// protocol in ways a well-behaved server never does.
func scriptedPeer(t testing.TB, answers ...func(req []byte) []byte) net.Conn {
	client, dev := net.Pipe()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer dev.Close()
		for _, answer := range answers {
			req := make([]byte, 12)
			if _, err := io.ReadFull(dev, req); err != nil {
				return
			}
			if _, err := dev.Write(answer(req)); err != nil {
				return
			}
		}
		_, _ = io.Copy(io.Discard, dev)
	}()
	t.Cleanup(func() { client.Close(); wg.Wait() })
	return client
}

// frame builds an MBAP frame with the transaction id of req.
func frame(req []byte, txnDelta int, unit byte, pdu ...byte) []byte {
	b := binary.BigEndian.AppendUint16(nil, binary.BigEndian.Uint16(req[0:2])+uint16(txnDelta))
	b = append(b, 0, 0)
	b = binary.BigEndian.AppendUint16(b, uint16(len(pdu)+1))
	b = append(b, unit)
	return append(b, pdu...)
}

func TestMalformedAnswers(t *testing.T) {
	nc := scriptedPeer(t,
		// a byte count that does not match the request: only this poll's point is Bad
		func(req []byte) []byte { return frame(req, 0, 1, 3, 4, 0, 5, 0, 6) },
		// a late answer to an earlier request, then the right one
		func(req []byte) []byte {
			return append(frame(req, -1, 1, 3, 2, 0, 1), frame(req, 0, 1, 3, 2, 0, 42)...)
		},
		// an answer from another unit
		func(req []byte) []byte { return frame(req, 0, 9, 3, 2, 0, 7) },
		// an exception from the gateway itself (unit 255)
		func(req []byte) []byte { return frame(req, 0, 0xFF, 0x83, 4) },
		// another function code
		func(req []byte) []byte { return frame(req, 0, 1, 4, 2, 0, 7) },
		// an MBAP length of zero: the stream cannot be trusted any more
		func(req []byte) []byte { return []byte{req[0], req[1], 0, 0, 0, 0, 1} },
	)
	s := newSource(t, Config{Name: "plc", Address: "127.0.0.1:502", Devices: []Device{{UnitID: 1, Tags: []Tag{{Name: "v"}}}}})
	c := s.newConn(newTransport(nc, 5*time.Second))
	sink := newCollector()
	want := []scada.Quality{scada.BadDecodingError, scada.Good, scada.BadDecodingError, scada.BadDeviceFailure, scada.BadDecodingError}
	for i, q := range want {
		if err := c.Poll(context.Background(), sink); err != nil {
			t.Fatalf("poll %d: %v", i, err)
		}
		if p := last(sink.snapshot())["v"]; p.Quality != q || (q == scada.Good && p.Value != 42) {
			t.Errorf("poll %d: %+v, want %v", i, p, q)
		}
	}
	err := c.Poll(context.Background(), sink)
	if !errors.Is(err, scada.ErrConnection) || !errors.Is(err, scada.ErrBadInput) {
		t.Fatalf("a broken frame: %v", err)
	}
	if err := c.Poll(context.Background(), sink); !errors.Is(err, scada.ErrConnection) {
		t.Fatalf("poll after the stream broke: %v", err)
	}
	if st := s.Stats(); st.BadInput != 3 || st.ByException[ServerDeviceFailure] != 1 {
		t.Errorf("stats %+v", st)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); !errors.Is(err, scada.ErrClosed) {
		t.Errorf("second Close: %v", err)
	}
}

// FuzzTransportAnswer feeds arbitrary bytes as the answer to a read of two
// holding registers: the transport must never panic, must return exactly the
// registers asked for, or an error of a documented kind.
func FuzzTransportAnswer(f *testing.F) {
	f.Add([]byte{0, 1, 0, 0, 0, 7, 1, 3, 4, 0, 10, 0, 11})
	f.Add([]byte{0, 1, 0, 0, 0, 3, 1, 0x83, 2})
	f.Add([]byte{0, 0, 0, 0, 0, 7, 1, 3, 4, 0, 10, 0, 11, 0, 1, 0, 0, 0, 7, 1, 3, 4, 0, 10, 0, 11})
	f.Add([]byte{0, 1, 0, 0, 0xFF, 0xFF, 1})
	f.Add([]byte{0, 1, 0, 0, 0, 7, 1, 3, 3, 0, 10, 0})
	f.Fuzz(func(t *testing.T, answer []byte) {
		client, dev := net.Pipe()
		done := make(chan struct{})
		go func() {
			defer close(done)
			defer dev.Close()
			req := make([]byte, 12)
			if _, err := io.ReadFull(dev, req); err != nil {
				return
			}
			_, _ = dev.Write(answer)
		}()
		tr := newTransport(client, time.Second)
		data, err := tr.read(context.Background(), reqInfo{unit: 1}, HoldingRegister, 0, 2)
		_ = tr.close()
		<-done
		if err == nil {
			if len(data) != 4 {
				t.Fatalf("%d bytes of data for 2 registers", len(data))
			}
			return
		}
		var ex *ExceptionError
		if !errors.As(err, &ex) && !errors.Is(err, scada.ErrBadInput) && !errors.Is(err, scada.ErrConnection) && !errors.Is(err, ErrTimeout) {
			t.Fatalf("undocumented error %v", err)
		}
	})
}

// When the framing breaks before an answer's transaction id has arrived,
// with requests of two units in flight, neither unit can be blamed for
// sure: both become suspects, polled alone until they answer cleanly.
func TestFramingBlameAmbiguous(t *testing.T) {
	client, dev := net.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer dev.Close()
		req := make([]byte, 24)
		if _, err := io.ReadFull(dev, req); err != nil {
			return
		}
		_, _ = dev.Write([]byte{0}) // one byte of an answer, then nothing
		_, _ = io.Copy(io.Discard, dev)
	}()
	tr := newPipelinedTransport(client, 200*time.Millisecond, 2)
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range 2 {
		wg.Go(func() {
			_, errs[i] = tr.read(context.Background(), reqInfo{unit: uint8(i + 1), timeout: time.Hour}, HoldingRegister, 0, 1)
		})
	}
	wg.Wait()
	for i, err := range errs {
		if !errors.Is(err, scada.ErrConnection) || !errors.Is(err, scada.ErrBadInput) {
			t.Errorf("request %d: %v, want a broken frame", i, err)
		}
	}
	b := tr.framingBlame()
	if b.Certain || len(b.Units) != 2 {
		t.Errorf("blame %+v, want both units, uncertain", b)
	}
	_ = tr.close()
	<-done

	s := newSource(t, Config{Name: "gw", Address: "127.0.0.1:502", Devices: []Device{
		{UnitID: 1, Tags: []Tag{{Name: "a"}}}, {UnitID: 2, Tags: []Tag{{Name: "b"}}}, {UnitID: 3, Tags: []Tag{{Name: "c"}}}}})
	s.noteFraming(b)
	if st := s.Stats(); !st.Units[0].Isolated || !st.Units[1].Isolated || st.Units[2].Isolated || st.FramingFaults != 0 {
		t.Errorf("after an uncertain blame: %+v", st)
	}
}
