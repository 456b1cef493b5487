// Package forward carries points out of a Buffer to a Target: another
// site's message stream, a historian. It is protocol-free; each Target
// lives in a subpackage (scada/forward/jetstream for NATS JetStream, whose
// package also holds the central side's Source), and the wire format of
// point batches in scada/forward/wire.
//
// # The Forwarder
//
// A [Forwarder] drains one named consumer of a buffer.Buffer into a
// [Target]. It reads ahead of the consumer's cursor, cuts batches by count
// (Config.MaxPoints), size (MaxBytes) and time (MaxDelay), keeps up to
// Window batches in flight, and commits the cursor to the end of the
// acknowledged prefix: batch n+1 acknowledged before batch n moves nothing
// until n is. Run(ctx) returns when ctx ends; every goroutine it started
// has stopped by then.
//
// A failed send (an error, or no acknowledgement within SendTimeout) stops
// new sends; once the batches in flight have settled, the unacknowledged
// ones are sent again one at a time, in order and with their old
// boundaries, with resilience.Backoff between attempts and a
// resilience.Breaker that stops attempts after repeated failures and
// probes after its delay. Pipelining resumes when they are through. A
// batch the target refuses as bad input (an error matching
// scada.ErrBadInput) cannot succeed later: it is skipped, committed and
// counted in Stats.Rejected.
//
// # Optional capabilities of a Target
//
//   - [Pipeliner]: batches started in order over one link (a message
//     stream). Without it, a Target gets up to Window concurrent Send calls
//     with no order of arrival guaranteed; use Window 1 for a target that
//     needs order.
//   - [Resumer]: the target says where its copy of the Stream ends. The
//     Forwarder asks at start and moves its cursor there, so what the target
//     committed is not sent again after a crash that lost the cursor.
//
// # Guarantees
//
// Buffer to target: at least once on the wire, in order per lane; each
// point is committed in the Buffer only after the target acknowledged it,
// so a crash loses nothing the Buffer made durable. Exactly once at a
// target that drops what it already holds: through Resumer after a crash,
// and through identical batch boundaries (hence identical ids) for every
// re-send within the process's life.
//
// # Backfill
//
// With Config.Backfill, a backlog (after an outage of the link or of the
// edge) drains at a set rate in a lane of its own while fresh points go
// out first in a live lane; see [Backfill] for the design and its cost.
//
// # Health
//
// [Forwarder.Stats] is a snapshot: state (starting, forwarding, backing
// off, breaker open, stopped), the committed cursor, the lag in points and
// in seconds of source time, batches in flight, acknowledged, redelivered,
// rejected, the points retention took before they were read, and the
// backfill's progress. Config.OnAck and Config.OnStateChange are hooks for
// exporters.
package forward
