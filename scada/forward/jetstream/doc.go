// Package jetstream carries forwarded points over NATS JetStream: a
// [Target] for the edge's forward.Forwarder, a [Source] (a scada.Source)
// for the central side, and [EnsureStream] for the stream between them.
// The caller owns the *nats.Conn of each (TLS, credentials, NKeys,
// reconnect policy), as coord/natsbus does.
//
// # Subjects and messages
//
// A batch of a forward.Stream becomes one message per source of its
// points, published in order to
//
//	<prefix>.points.<site>.<source>
//
// where prefix defaults to "gl001", site to the edge id and source is the
// points' scada.Point.Source, each escaped into one subject token by
// [Token]. The payload is a scada/forward/wire message (content type
// application/vnd.gl001.points+protobuf; version=1); the headers repeat
// what a router needs without decoding: Content-Type, Gl-Version (1),
// Gl-Edge, Gl-Buffer, Gl-Source, Gl-First and Gl-Last (the batch's first
// and last Buffer offsets, decimal), Gl-Part and Gl-Parts (this message's
// place among the batch's messages, 1-based), Gl-Acked and Gl-Acked-Seq
// (below), Gl-Lane ("backfill" for a backlog's batch), and Nats-Msg-Id:
//
//	<edge>/<buffer id>/<first>-<last>/<part>
//
// # Exactly once, and why
//
// The central side sees each point once, in order per source, across
// failures of the link, of the stream's servers (an R3 leader change
// included) and of the edge process. Every message also carries Gl-Acked
// and Gl-Acked-Seq: how far the stream had acknowledged the edge's Stream
// when the message was sent (every point before offset Gl-Acked is stored,
// the last of them at stream sequence Gl-Acked-Seq).
//
//   - A send whose acknowledgement did not come is sent again by the
//     Forwarder with the same boundaries, hence the same Nats-Msg-Id, and
//     the stream's duplicate window drops it if it was stored after all.
//   - Before that re-send, and at the first publish of a Target, the
//     Target reads what the stream holds: the last message for the site
//     (GetLastMsgForSubject on <prefix>.points.<site>.>) gives the
//     acknowledged prefix, and the site's messages after Gl-Acked-Seq are
//     exactly the ones sent after it that were stored. Messages in flight
//     across a leader change can be stored with gaps (a later one stored,
//     an earlier one lost); reading them all, rather than trusting the
//     last one, finds the gaps. The Target then leaves out what is stored,
//     point by point (a message holds every point of its source in its
//     batch's range), so a re-send is exact even when the duplicate window
//     has passed.
//   - After a crash of the edge, [Target.Resume] (forward.Resumer) does the
//     same at start: the Forwarder starts at the acknowledged prefix,
//     extended over the complete batches stored after it, and the Target
//     leaves out the parts stored beyond it.
//
// Every message of the Stream sent after the acknowledged prefix has a
// higher stream sequence than the prefix's last message: a stream stores
// the messages of one connection in the order they arrive and its replicas
// agree on a prefix of its log. This is why one site is fed by one edge:
// Resume refuses with [ErrSiteConflict] a last message of another edge.
//
// Order: the Target encodes a batch while the previous one is in flight
// but publishes it only once that one is acknowledged (the messages of one
// batch, one per source, go out together). Otherwise a leader change with
// several batches in flight could store batch n+1 and lose batch n, whose
// re-send would reach the central side after n+1's points of the same
// source. Config.Unordered lifts this for throughput, keeping exactly once.
// Publishing batch n+1 while n is in flight on the condition that n was
// stored (Nats-Expected-Last-Subject-Sequence) would need n's stream
// sequence on each subject, which only n's acknowledgement tells: the
// very wait it would save; Nats-Expected-Last-Msg-Id applies to the whole
// stream, which other edges write to as well. The wait costs little:
// encoding and reading take the CPU, and the next batch is encoded while
// the previous one is in flight (BenchmarkForwardJetStream's
// forward-unordered sub-benchmark measures the difference).
// On the central side, a consumer leader change can lose deliveries in
// flight, which the stream sends again only after AckWait, after newer
// messages; the Source sees the gap in the delivery sequence (whether the
// delivery that shows it is a first one or one again) and holds every
// message after it until the consumer's leader reports no unacknowledged
// delivery but the held ones (SourceStats.Gaps; see
// TestSourceHoldsGapShownByRedelivery), across a lost connection and the
// next Run too (the delivery sequence goes on). A message delivered again
// before its first delivery reached the Sink is delivered once.

// While a Forwarder backfills (forward.Backfill), the backfill lane's
// batches (Gl-Lane: backfill) are outside the acknowledged prefix, which
// then follows the live lane; their re-sends after a restart rely on the
// duplicate window, which must outlast the edge's restart (see
// [StreamConfig.Duplicates]).
//
// # The central Source
//
// [Source] reads the stream through a durable pull consumer and hands the
// points to its Sink in batches of up to MaxBatch points; it acknowledges
// the messages of a batch only after the Sink accepted it, and a message
// delivered again after that (an acknowledgement lost) is acknowledged
// without being delivered twice. A Sink error ends Run (the batch comes
// again): the Source hands the batch and what it received after it back
// to the stream (Nak), unless it holds newer messages behind a gap; then
// it keeps the batch, the rest and the gap for its next Run, so that order
// per source holds across Sink errors as it does across lost connections
// (see TestSourceKeepsGapAcrossSinkError). A lost connection ends Run with an error matching
// scada.ErrConnection, for a scada.Collector to run it again. A new
// consumer may start at a time or a stream sequence, for replays.
//
// Bad input: a message with an unknown version, truncated or corrupt, or on
// a subject that is not <prefix>.points.<site>.<source> of the source it
// names, is terminated (Term, so never redelivered), counted in
// [SourceStats] and reported to OnBadInput as a *[BadMessageError]
// (matching scada.ErrBadInput); the messages around it are delivered.
//
// # Events
//
// The Target is also a forward.EventTarget and forward.EventResumer: a
// Forwarder whose Buffer keeps events (buffer.EventLog) sends its event
// batches, each of one source, and [Target.SendEvents] publishes each as
// one scada/forward/wire event message (content type
// application/vnd.gl001.events+protobuf; version=1) to
//
//	<prefix>.events.<site>.<source>
//
// with the headers of point messages (Gl-First and Gl-Last in event
// offsets, Gl-Part and Gl-Parts 1) and Nats-Msg-Id
// <edge>/<buffer id>/events/<first>-<last> ([EventMsgID]). Exactly once,
// like points but simpler, because the event lane sends one batch at a
// time: a re-send after a failure has the same id, which the duplicate
// window drops, and after a crash of the edge [Target.ResumeEvents] reads
// the last event message of the site, whose Gl-Last says where the stored
// events end (nothing after it is stored, since each message waits for the
// previous one's acknowledgement).
//
// On the central side, [EventSource] reads the event messages through its
// own durable consumer and hands each message's events to a
// scada.EventSink, acknowledging after the sink accepted them; bad
// messages are terminated and reported as for points. It shares the
// Source's consume loop, so it keeps stream order across a consumer
// leader change in the same way (EventSourceStats.Gaps): TestCluster's
// EventsLeaderKilled moves the consumer's leader to the stream leader and
// stops that server mid-forward, and every event arrives once, in order. [EnsureStream]
// captures <prefix>.events.> beside <prefix>.points.>.
//
// # The stream
//
// [EnsureStream] creates the stream (file storage, the replicas, max age
// and duplicate window asked for, limits retention) or checks an existing
// one and names every setting that conflicts ([ErrStreamConflict]); it
// never changes a stream.
package jetstream
