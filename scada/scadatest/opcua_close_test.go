package scadatest

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gopcua/opcua/uacp"
)

// Close while clients keep connecting: the library's server registers each
// accepted connection on a goroutine of its own, and Close must not begin
// waiting for them while one is still on its way (a data race inside
// gopcua v0.8.0 that -race reports). Clients dial through the relay in a
// loop, holding some connections open so that Close has some to wait for,
// and Close comes in the middle. Without the guard in Close, -race reports
// the race within a few iterations.
func TestOPCUACloseWhileClientsConnect(t *testing.T) {
	for range 3 {
		s, err := NewOPCUAServer(OPCUAConfig{Tags: []OPCUATag{{Name: "x"}}})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		connected := make(chan struct{}, 64)
		for range 6 {
			wg.Go(func() {
				var held []*uacp.Conn
				defer func() {
					for _, c := range held {
						_ = c.Close()
					}
				}()
				for ctx.Err() == nil {
					dctx, dcancel := context.WithTimeout(ctx, time.Second)
					c, err := uacp.Dial(dctx, s.Endpoint())
					dcancel()
					if err != nil {
						continue
					}
					select {
					case connected <- struct{}{}:
					default:
					}
					if len(held) < 4 {
						held = append(held, c)
					} else {
						_ = c.Close()
					}
				}
			})
		}
		// Close once connections are coming in.
		for range 8 {
			<-connected
		}
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		cancel()
		wg.Wait()
	}
}

// acceptQuiet reads the goroutines' stacks: the acceptor must wait in
// Accept, and every goroutine it started must have returned, including one
// that has not started running yet (only the go statement's wrapper shows)
// and one registered and reading (its WaitGroup.Add is ordered before
// Close's Wait only once it has left through the broker's mutex).
func TestOPCUAAcceptQuiet(t *testing.T) {
	const acceptor = "server.(*Server).acceptAndRegister(0xc000100000"
	const waiting = `goroutine 19 [IO wait]:
net.(*TCPListener).AcceptTCP(0xc0001b2000)
	/usr/local/go/src/net/tcpsock.go:374 +0x30
github.com/gopcua/opcua/uacp.(*Listener).Accept(0xc0001b4000, {0x0?, 0x0?})
	/root/go/pkg/mod/github.com/gopcua/opcua@v0.8.0/uacp/conn.go:149 +0x1f
github.com/gopcua/opcua/server.(*Server).acceptAndRegister(0xc000100000, {0x7c2620, 0xc0000a0000}, 0xc0001b4000)
	/root/go/pkg/mod/github.com/gopcua/opcua@v0.8.0/server/server.go:304 +0x85
created by github.com/gopcua/opcua/server.(*Server).Start in goroutine 8
	/root/go/pkg/mod/github.com/gopcua/opcua@v0.8.0/server/server.go:268 +0x2a5`
	const handshaking = `goroutine 19 [IO wait]:
github.com/gopcua/opcua/uacp.(*Conn).srvhandshake(0xc0001c0000, {0xc0001d0000, 0x1a})
	/root/go/pkg/mod/github.com/gopcua/opcua@v0.8.0/uacp/conn.go:260 +0x5c
github.com/gopcua/opcua/uacp.(*Listener).Accept(0xc0001b4000, {0x0?, 0x0?})
	/root/go/pkg/mod/github.com/gopcua/opcua@v0.8.0/uacp/conn.go:154 +0x17c
github.com/gopcua/opcua/server.(*Server).acceptAndRegister(0xc000100000, {0x7c2620, 0xc0000a0000}, 0xc0001b4000)
	/root/go/pkg/mod/github.com/gopcua/opcua@v0.8.0/server/server.go:304 +0x85`
	const notStarted = `goroutine 2819 [runnable]:
github.com/gopcua/opcua/server.(*Server).acceptAndRegister.gowrap1()
	/root/go/pkg/mod/github.com/gopcua/opcua@v0.8.0/server/server.go:325
runtime.goexit({})
	/usr/local/go/src/runtime/asm_amd64.s:1771 +0x1
created by github.com/gopcua/opcua/server.(*Server).acceptAndRegister in goroutine 19
	/root/go/pkg/mod/github.com/gopcua/opcua@v0.8.0/server/server.go:325 +0x324`
	const registered = `goroutine 2820 [IO wait]:
github.com/gopcua/opcua/uasc.(*SecureChannel).Receive(0xc0002a0000, {0x7c2620, 0xc0000a0000})
	/root/go/pkg/mod/github.com/gopcua/opcua@v0.8.0/uasc/secure_channel.go:250 +0x45
github.com/gopcua/opcua/server.(*channelBroker).RegisterConn(0xc0001a0000, {0x7c2620, 0xc0000a0000}, 0xc0001c0000, {0x0, 0x0, 0x0}, 0x0)
	/root/go/pkg/mod/github.com/gopcua/opcua@v0.8.0/server/channel_broker.go:105 +0x2f1
created by github.com/gopcua/opcua/server.(*Server).acceptAndRegister in goroutine 19
	/root/go/pkg/mod/github.com/gopcua/opcua@v0.8.0/server/server.go:325 +0x324`
	const otherServer = `goroutine 3000 [runnable]:
github.com/gopcua/opcua/server.(*Server).acceptAndRegister.gowrap1()
	/root/go/pkg/mod/github.com/gopcua/opcua@v0.8.0/server/server.go:325
created by github.com/gopcua/opcua/server.(*Server).acceptAndRegister in goroutine 77
	/root/go/pkg/mod/github.com/gopcua/opcua@v0.8.0/server/server.go:325 +0x324`
	for _, c := range []struct {
		name   string
		blocks []string
		quiet  bool
	}{
		{"acceptor waiting, nothing handed on", []string{waiting}, true},
		{"a registered connection", []string{waiting, registered}, false},
		{"another server's connection", []string{waiting, otherServer}, true},
		{"acceptor in a handshake", []string{handshaking, registered}, false},
		{"a connection goroutine not started yet", []string{waiting, registered, notStarted}, false},
		{"acceptor gone", []string{registered}, true},
	} {
		if got := acceptQuiet(strings.Join(c.blocks, "\n\n"), acceptor); got != c.quiet {
			t.Errorf("%s: quiet = %v, want %v", c.name, got, c.quiet)
		}
	}
}
