package jetstream_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	fjs "github.com/greenlang/gl001/scada/forward/jetstream"
)

// dumpSite logs, on failure, where the stream stores a site's messages out
// of Buffer order.
func dumpSite(t *testing.T, nc *nats.Conn, edge string) {
	js, _ := jetstream.New(nc)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	st, err := js.Stream(ctx, streamName)
	if err != nil {
		t.Logf("dump: %v", err)
		return
	}
	filter := "gl001.points." + edge + ".>"
	last := map[string]uint64{}
	n := 0
	for seq := uint64(1); ; {
		m, err := st.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(filter))
		if err != nil {
			break
		}
		seq = m.Sequence + 1
		n++
		src := m.Header.Get(fjs.HeaderSource)
		first, _ := strconv.ParseUint(m.Header.Get(fjs.HeaderFirst), 10, 64)
		if p, ok := last[src]; ok && first <= p {
			t.Logf("dump: seq %d source %s first %d after %d (acked %s/%s, id %s)", m.Sequence, src, first, p,
				m.Header.Get(fjs.HeaderAcked), m.Header.Get(fjs.HeaderAckedSeq), m.Header.Get(jetstream.MsgIDHeader))
		}
		last[src] = max(last[src], first)
	}
	t.Logf("dump: %d messages of %s", n, edge)
}
