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
// place among the batch's messages, 1-based), and Nats-Msg-Id:
//
//	<edge>/<buffer id>/<first>-<last>/<part>
//
// # Exactly once, and why
//
// The central side sees each point once, in order per source, across
// failures of the link, of the stream's servers and of the edge process.
// Three mechanisms, each for one kind of failure:
//
//   - A send whose acknowledgement did not come is sent again by the
//     Forwarder with the same boundaries, hence the same Nats-Msg-Id, and
//     the stream's duplicate window drops it if it was stored after all.
//   - After any failed publish the Target reads, before its next publish
//     for that Stream, the stream's last message for the site
//     (GetLastMsgForSubject on <prefix>.points.<site>.>) and leaves out
//     what it holds: so a re-send is exact even after the duplicate window
//     has passed (a long outage).
//   - After a crash of the edge, [Target.Resume] (forward.Resumer) does the
//     same at start: the Forwarder starts after the last batch stored, or
//     at the first offset of a batch of which only some messages were
//     stored, whose remaining messages the Target then sends with their
//     original ids.
//
// Reading the last message is enough because the stream holds a prefix of
// what the Target sent: the Forwarder keeps at most Window batches in
// flight counted from the oldest unacknowledged one and sends nothing new
// while one has failed, the messages of one connection are stored in
// order, and a stream's replicas agree on a prefix of its log (R3 leader
// changes included). This is why one site is fed by one edge: [Resume]
// refuses with [ErrSiteConflict] a last message of another edge.
//
// While a Forwarder backfills (forward.Backfill), exactly once rests on
// the duplicate window instead, which must then outlast the edge's restart
// (see [StreamConfig.Duplicates]).
//
// # The central Source
//
// [Source] reads the stream through a durable pull consumer and hands the
// points to its Sink in batches of up to MaxBatch points; it acknowledges
// the messages of a batch only after the Sink accepted it, and a message
// delivered again after that (an acknowledgement lost) is acknowledged
// without being delivered twice. A Sink error ends Run (the batch comes
// again); a lost connection ends Run with an error matching
// scada.ErrConnection, for a scada.Collector to run it again. A new
// consumer may start at a time or a stream sequence, for replays.
//
// Bad input: a message with an unknown version, truncated or corrupt, or on
// a subject that is not <prefix>.points.<site>.<source> of the source it
// names, is terminated (Term, so never redelivered), counted in
// [SourceStats] and reported to OnBadInput as a *[BadMessageError]
// (matching scada.ErrBadInput); the messages around it are delivered.
//
// # The stream
//
// [EnsureStream] creates the stream (file storage, the replicas, max age
// and duplicate window asked for, limits retention) or checks an existing
// one and names every setting that conflicts ([ErrStreamConflict]); it
// never changes a stream.
package jetstream
