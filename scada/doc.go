// Package scada holds what every SCADA connector shares: the [Point] and its
// [Quality], the [Source] and [Sink] interfaces, the [Collector] that runs many
// sources under supervision, and the store-and-forward [Buffer].
//
// Protocol implementations live in the subpackages scada/opcua, scada/modbus and
// scada/mqtt; this package imports no protocol library, so a caller who needs only
// Modbus links only Modbus. scada/scadatest holds in-process simulators.
// Every Source of this module passes one conformance suite,
// sourcetest.TestSource in scada/sourcetest, which a Source written elsewhere
// can run against its own simulator too.
//
// # Optional capabilities
//
// A Source may implement these; find them by type assertion:
//   - [Writer]: write a setpoint to a tag the configuration marks writable.
//   - [Browser]: discover the tags a server offers.
//
// # Store and forward
//
// A [Buffer] is the local queue between the plant and whatever consumes its
// data (a historian, the orchestrator, a cloud link): points go in with
// [Buffer.Append] (or Deliver: a Buffer is a [Sink], so a [Collector] feeds it
// directly) and get an [Offset]; each named consumer reads from its own cursor
// with [Buffer.Read] and moves it with [Buffer.Commit] once the points are
// delivered, so it resumes where it stopped after being offline or after a
// restart (delivery is at least once). [Buffer.Scan] replays from any offset
// and [Buffer.Recent] answers "the last 60 minutes".
//
// Retention drops the oldest points by age (24 h by default) and by a byte cap.
// Nothing is dropped silently: drops are counted in [BufferStats], reported to
// the OnDrop hook with the points each consumer had not committed, and a
// consumer that fell behind sees the gap in [Batch.Missed].
//
// [MemoryBuffer] keeps the log in memory. [DiskBuffer] keeps it in segmented
// append-only files with a CRC32-C checksum per record and a compact encoding
// (about 2 bytes a point for smoothly changing plant data); with the default
// [SyncGroupCommit], Append returns only once its points are fsynced, and
// concurrent appenders share each fsync. After a crash, reopening cuts a torn
// tail and keeps every point Append reported durable; a corrupt segment is
// quarantined with a [CorruptError] naming the file and byte offset, and the
// rest of the log stays readable.
package scada
