package scadatest

import (
	"context"
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
