package forward

import (
	"context"

	"github.com/greenlang/gl001/scada"
	"github.com/greenlang/gl001/scada/buffer"
)

// Stream names one log of points a Forwarder reads: the edge that collected
// them and the identity of its Buffer ([buffer.Buffer.ID]). An offset names one
// point for good only together with its Stream.
type Stream struct {
	Edge   string // the edge's configured id, e.g. "boilerhouse-1"
	Buffer string // the Buffer's ID
}

// Batch is a run of consecutive points of one Stream that a Forwarder hands
// to a [Target]: Points[i] has the offset First+i.
type Batch struct {
	Stream Stream
	First  buffer.Offset
	Points []scada.Point
	// Backfill marks a batch of a backlog sent beside live points (see
	// [Backfill]): it reaches the target after points of later offsets,
	// so a target must not take it, or the batches around it, as the end
	// of what it holds.
	Backfill bool
}

// Next returns the offset just after the batch.
func (b Batch) Next() buffer.Offset { return b.First + buffer.Offset(len(b.Points)) }

// Target is where a Forwarder sends what it reads from a Buffer: a message
// stream, a historian, another site.
//
// Send returns nil only once the target has durably accepted every point of
// b; the Forwarder commits its Buffer cursor after that and never before.
// After a crash the Forwarder sends again what it had sent but not
// committed, so Send can see a batch that overlaps points it already
// accepted: a Target that promises exactly once drops the overlap (see
// [Resumer]). Send must honour ctx and may not keep b.Points after it
// returns.
type Target interface {
	Send(ctx context.Context, b Batch) error
}

// Resumer is an optional capability of a Target that records what it has
// stored: Resume returns the offset just after the last point of s it holds,
// or found false when it holds none. A Forwarder asks before its first read
// and starts there, so what the target committed is never sent twice.
type Resumer interface {
	Resume(ctx context.Context, s Stream) (next buffer.Offset, found bool, err error)
}
