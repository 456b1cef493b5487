package mqtt

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// paho reads each packet's fixed header a byte at a time from the
// connection, so every connection gets a buffered reader. Writes differ:
//
//   - Plain TCP keeps *net.TCPConn embedded, so net.Buffers.WriteTo still finds
//     its writev and each packet leaves in one atomic system call, whichever
//     goroutine (acks, pings, subscribes) writes it.
//   - TLS and websocket connections have no writev: paho would write a
//     packet's header and body as separate TLS records or websocket frames and
//     could interleave them between goroutines. coalescingConn implements
//     sync.Locker, which paho takes around each packet, gathers the packet's
//     pieces and writes them once on Unlock.

const readBufferSize = 32 << 10

type tcpConn struct {
	*net.TCPConn
	r *bufio.Reader
}

func (c *tcpConn) Read(p []byte) (int, error) { return c.r.Read(p) }

type coalescingConn struct {
	net.Conn
	r  io.Reader
	mu sync.Mutex
	// Guarded by mu.
	buf []byte
	err error

	writeErr atomic.Pointer[error] // the failed write, for Read to report
}

// writeFailGrace is how long the reader may still take what the broker sent
// before a write failed (a TLS alert, a DISCONNECT with its reason) before
// the connection counts as gone.
const writeFailGrace = time.Second

// Read reads from the connection. After a failed write it reads what is
// left until writeFailGrace ends, then reports the write's error.
func (c *coalescingConn) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if err != nil && errors.Is(err, os.ErrDeadlineExceeded) {
		if werr := c.writeErr.Load(); werr != nil {
			err = *werr
		}
	}
	return n, err
}

// Lock starts a packet.
func (c *coalescingConn) Lock() { c.mu.Lock() }

// Write adds to the packet being written; it must be called between Lock and
// Unlock (paho writes every packet that way).
func (c *coalescingConn) Write(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	c.buf = append(c.buf, p...)
	return len(p), nil
}

// Unlock sends the packet.
func (c *coalescingConn) Unlock() {
	if len(c.buf) > 0 && c.err == nil {
		if _, err := c.Conn.Write(c.buf); err != nil {
			c.err = err
			c.writeErr.Store(&err)
			// The reader sees the failure and paho shuts down, but only
			// after it has read what the broker said before (a broker that
			// refuses a client certificate in TLS 1.3 sends its alert after
			// the client's handshake is done, then resets the connection:
			// closing at once here would report "use of closed network
			// connection" instead of the alert).
			if c.Conn.SetReadDeadline(time.Now().Add(writeFailGrace)) != nil {
				_ = c.Conn.Close()
			}
		}
	}
	if cap(c.buf) > 64<<10 {
		c.buf = nil
	} else {
		c.buf = c.buf[:0]
	}
	c.mu.Unlock()
}

// wsStream presents a websocket as a byte stream: reads run across binary
// messages, and each write is one binary message.
type wsStream struct {
	*websocket.Conn
	r io.Reader
}

func (w *wsStream) Read(p []byte) (int, error) {
	for {
		if w.r == nil {
			op, r, err := w.NextReader()
			if err != nil {
				return 0, err
			}
			if op != websocket.BinaryMessage {
				return 0, errors.New("mqtt: websocket message is not binary")
			}
			w.r = r
		}
		n, err := w.r.Read(p)
		if errors.Is(err, io.EOF) {
			w.r = nil
			if n > 0 {
				return n, nil
			}
			continue
		}
		return n, err
	}
}

func (w *wsStream) Write(p []byte) (int, error) {
	if err := w.WriteMessage(websocket.BinaryMessage, p); err != nil {
		return 0, err
	}
	return len(p), nil
}

// dial connects to the broker at u and returns a connection ready for paho.
func (s *Source) dial(ctx context.Context, u *url.URL) (net.Conn, error) {
	host := u.Host
	if u.Port() == "" {
		host = net.JoinHostPort(u.Hostname(), defaultPort(strings.ToLower(u.Scheme)))
	}
	switch strings.ToLower(u.Scheme) {
	case "mqtt", "tcp":
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", host)
		if err != nil {
			return nil, err
		}
		tc, ok := c.(*net.TCPConn)
		if !ok {
			return &coalescingConn{Conn: c, r: bufio.NewReaderSize(c, readBufferSize)}, nil
		}
		return &tcpConn{TCPConn: tc, r: bufio.NewReaderSize(tc, readBufferSize)}, nil
	case "mqtts", "ssl", "tls":
		d := tls.Dialer{Config: s.tls}
		c, err := d.DialContext(ctx, "tcp", host)
		if err != nil {
			return nil, err
		}
		return &coalescingConn{Conn: c, r: bufio.NewReaderSize(c, readBufferSize)}, nil
	case "ws", "wss":
		d := websocket.Dialer{
			Subprotocols:    []string{"mqtt"},
			TLSClientConfig: s.tls,
			Proxy:           nil,
		}
		wu := *u
		wu.Host = host
		ws, resp, err := d.DialContext(ctx, wu.String(), nil)
		if resp != nil && resp.Body != nil {
			_ = resp.Body.Close()
		}
		if err != nil {
			return nil, fmt.Errorf("websocket: %w", err)
		}
		st := &wsStream{Conn: ws}
		return &coalescingConn{Conn: st, r: bufio.NewReaderSize(st, readBufferSize)}, nil
	}
	return nil, fmt.Errorf("unsupported scheme %q", u.Scheme)
}

// SetDeadline sets the read and write deadlines.
func (w *wsStream) SetDeadline(t time.Time) error {
	return errors.Join(w.SetReadDeadline(t), w.SetWriteDeadline(t))
}
