package mqtt

import (
	"bufio"
	"errors"
	"net"
	"testing"
	"time"
)

// tcpPair returns both ends of a loopback TCP connection.
func tcpPair(t *testing.T) (client, server *net.TCPConn) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := l.Accept()
		accepted <- c
	}()
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	s := <-accepted
	if s == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { _ = c.Close(); _ = s.Close() })
	return c.(*net.TCPConn), s.(*net.TCPConn)
}

func newCoalescing(c net.Conn) *coalescingConn {
	return &coalescingConn{Conn: c, r: bufio.NewReaderSize(c, readBufferSize)}
}

func (c *coalescingConn) writePacket(p []byte) (failed bool) {
	c.Lock()
	_, _ = c.Write(p)
	c.Unlock()
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err != nil
}

// A broker that refuses a TLS 1.3 client certificate (mosquitto) sends its
// alert and resets the connection while the client writes CONNECT. The
// failed write must not close the connection under the reader before it has
// read what the broker sent: that is the only account of why.
func TestCoalescingConnReadsWhatCameBeforeAFailedWrite(t *testing.T) {
	client, server := tcpPair(t)
	if _, err := server.Write([]byte("alert")); err != nil {
		t.Fatal(err)
	}
	_ = server.SetLinger(0) // close with a reset
	_ = server.Close()

	c := newCoalescing(client)
	deadline := time.Now().Add(30 * time.Second)
	for !c.writePacket([]byte("CONNECT")) { // writes succeed until the reset arrives
		if time.Now().After(deadline) {
			t.Fatal("writes to a reset connection kept succeeding")
		}
		time.Sleep(time.Millisecond)
	}
	var (
		got []byte
		err error
		buf = make([]byte, 16)
	)
	for err == nil {
		var n int
		n, err = c.Read(buf)
		got = append(got, buf[:n]...)
	}
	if string(got) != "alert" {
		t.Errorf("read %q before the error, want the peer's %q", got, "alert")
	}
	if errors.Is(err, net.ErrClosed) { // io.EOF or a reset is the connection's own account
		t.Errorf("read error %v, want the connection's own failure", err)
	}
}

type failingWrites struct {
	net.Conn
	err error
}

func (f failingWrites) Write([]byte) (int, error) { return 0, f.err }

// When a write fails and nothing more arrives, the reader stops after the
// grace period with the write's error, so paho shuts the client down.
func TestCoalescingConnReportsTheFailedWrite(t *testing.T) {
	client, _ := tcpPair(t)
	errWrite := errors.New("write refused")
	c := newCoalescing(failingWrites{client, errWrite})
	if !c.writePacket([]byte("PINGREQ")) {
		t.Fatal("the failed write was not recorded")
	}
	if _, err := c.Read(make([]byte, 16)); !errors.Is(err, errWrite) {
		t.Fatalf("Read = %v, want the write's error", err)
	}
}
