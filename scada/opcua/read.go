package opcua

import (
	"context"
	"fmt"
	"time"

	"github.com/gopcua/opcua/ua"

	"github.com/greenlang/gl001/scada"
)

var _ scada.Reader = (*Source)(nil)

// Read reads a configured tag's current value with its status and source
// timestamp, through the session of the running Run or, without one, a
// short-lived connection of its own (as Write does). A Bad status is a
// Point with that quality, not an error; a tag not in the configuration
// fails with scada.ErrUnknownTag, a connection that fails with an error
// matching scada.ErrConnection, a non-numeric value with scada.ErrBadInput.
func (s *Source) Read(ctx context.Context, tag string) (scada.Point, error) {
	i, ok := s.index[tag]
	if !ok {
		return scada.Point{}, fmt.Errorf("opcua: read %q: %w", tag, scada.ErrUnknownTag)
	}
	t := s.cfg.Tags[i]
	p := scada.Point{Tag: tag, Unit: t.Unit, Source: s.cfg.Name}
	err := s.withSession(ctx, func(ss *session) error {
		eid, err := ua.ParseExpandedNodeID(t.NodeID, ss.c.Namespaces())
		if err != nil {
			return &TagError{Tag: tag, NodeID: t.NodeID, Err: &StatusError{Op: "Read", Code: scada.BadNodeIDUnknown}}
		}
		res, err := call[*ua.ReadResponse](ctx, ss, "Read", &ua.ReadRequest{
			TimestampsToReturn: ua.TimestampsToReturnBoth,
			NodesToRead:        []*ua.ReadValueID{readValueID(eid.NodeID, ua.AttributeIDValue)},
		})
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return ss.fatal("read", err)
		}
		if len(res.Results) != 1 {
			return fmt.Errorf("opcua: read %q: %d results for 1 node: %w", tag, len(res.Results), scada.ErrBadInput)
		}
		v, q, ts, err := mapValue(res.Results[0], time.Now())
		p.Value, p.Quality, p.Time = v, q, ts
		if err != nil {
			return &TagError{Tag: tag, NodeID: t.NodeID, Err: err}
		}
		return nil
	})
	return p, err
}
