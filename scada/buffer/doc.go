// Package buffer is the store-and-forward log between the plant and whatever
// consumes its data.
//
// A [Buffer] is the local queue between the plant and whatever consumes its
// data (a historian, the orchestrator, a cloud link): points go in with
// [Buffer.Append] (or Deliver: a Buffer is a [scada.Sink], so a [scada.Collector] feeds it
// directly) and get an [Offset]; each named consumer reads from its own cursor
// with [Buffer.Read] and moves it with [Buffer.Commit] once the points are
// delivered, so it resumes where it stopped after being offline or after a
// restart (delivery is at least once). [Buffer.Scan] replays from any offset
// and [Buffer.Recent] answers "the last 60 minutes".
//
// Retention drops the oldest points by age (24 h by default) and by a byte cap.
// Nothing is dropped silently: drops are counted in [Stats], reported to
// the OnDrop hook with the points each consumer had not committed, and a
// consumer that fell behind sees the gap in [Batch.Missed].
//
// [Memory] keeps the log in memory (and, as a [StableScanner], lets a
// reader keep the points Scan yields instead of copying them). [Disk] keeps it in segmented
// append-only files with a CRC32-C checksum per record and a compact encoding
// (about 2 bytes a point for smoothly changing plant data); with the default
// [SyncGroupCommit], Append returns only once its points are fsynced, and
// concurrent appenders share each fsync. After a crash, reopening cuts a torn
// tail and keeps every point Append reported durable; a corrupt segment is
// quarantined with a [CorruptError] naming the file and byte offset, and the
// rest of the log stays readable. Points lost to damage (a flipped byte, a
// deleted or renamed segment file) are reported once, with their offsets, and
// an offset a reader saw is never given to another point.
//
// Points keep every field through both buffers, the quality score
// ([scada.Point].Score, Scored and Reasons) included; a point no stage scored
// costs the disk buffer nothing extra.
//
// # Events
//
// Both buffers also keep a second log, of [scada.Event] values (alarms and
// events), beside the points: see [EventLog]. A buffer is a [scada.EventSink],
// so a Source that reports alarms delivers them into it; the event log has
// its own offsets and its own per-consumer cursors (ReadEvents and
// CommitEvents), and the same promises as the points: an event
// DeliverEvents accepted is durable (on disk: fsynced, surviving SIGKILL and
// power loss), retention by age and bytes counts and reports what it drops
// ([DropEvent].Events is set), and damage found on disk is quarantined and
// reported once. Every field of an Event is kept; see [EventLog] for how
// Fields values of other types than the documented ones are stored.
//
// # Conformance
//
// Every Buffer of this module passes the suite in package buffertest; a
// Buffer written elsewhere runs the same suite and is held to the same
// promises.
package buffer
