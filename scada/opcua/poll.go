package opcua

import (
	"context"
	"fmt"
	"time"

	"github.com/gopcua/opcua/ua"

	"github.com/greenlang/gl001/scada"
)

// poll reads every tag at PollInterval, in Read requests of at most the
// server's MaxNodesPerRead nodes, for servers whose subscriptions cannot be
// trusted.
func (ss *session) poll(ctx context.Context) error {
	var handles []int
	for i := range ss.tags {
		if ss.tags[i].node != nil {
			handles = append(handles, i)
		}
	}
	t := time.NewTicker(ss.cfg.PollInterval)
	defer t.Stop()
	for first := true; ; first = false {
		if err := ss.pollOnce(ctx, handles); err != nil {
			return err
		}
		if first {
			scada.NotifyConnected(ss.sink)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

func (ss *session) pollOnce(ctx context.Context, handles []int) error {
	err := chunks(handles, ss.readLimit, func(part []int) error {
		req := &ua.ReadRequest{TimestampsToReturn: ua.TimestampsToReturnBoth, NodesToRead: make([]*ua.ReadValueID, len(part))}
		for k, h := range part {
			req.NodesToRead[k] = readValueID(ss.tags[h].node, ua.AttributeIDValue)
		}
		res, err := call[*ua.ReadResponse](ctx, ss, "Read", req)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return ss.fatal("read", err)
		}
		if len(res.Results) != len(part) {
			return ss.fatal("read", fmt.Errorf("%d results for %d nodes", len(res.Results), len(part)))
		}
		now := time.Now()
		ss.lastLife = now
		ss.s.stats.lastData.Store(now.UnixNano())
		if err := ss.backfillScan(len(part), func(k int) (int, *ua.DataValue) { return part[k], res.Results[k] }, now); err != nil {
			return err
		}
		for k, dv := range res.Results {
			ss.emit(part[k], dv, now)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return ss.flush(ctx)
}
