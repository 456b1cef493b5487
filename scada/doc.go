// Package scada holds what every SCADA connector shares: the [Point] and its
// [Quality], the [Source] and [Sink] interfaces, the [Collector] that runs many
// sources under supervision. The store-and-forward log that a Collector
// usually feeds is in scada/buffer.
//
// Protocol implementations live in the subpackages scada/opcua, scada/modbus and
// scada/mqtt; this package imports no protocol library, so a caller who needs only
// Modbus links only Modbus. scada/scadatest holds in-process simulators.
// Every Source of this module passes one conformance suite,
// sourcetest.TestSource in scada/sourcetest, which a Source written elsewhere
// can run against its own simulator too.
//
// # Supervision
//
// A [Collector] runs each Source under a resilience.Supervisor with
// defaults chosen for plant devices (the DefaultSource... constants): after
// an outage of any length, data flows again at most about 6 s after the
// device listens, plus one connection set-up; see "Recovery" in the
// Collector's doc. Sources classify what they return: errors matching
// [ErrConnection] are retried with backoff, errors matching [ErrPermanent]
// (a refusal that retrying cannot fix) show as state refused in the source's
// health and are retried only every PermanentDelay. Every point a Collector
// passes on names the source it was added under.
//
// # Optional capabilities
//
// A Source may implement these; find them by type assertion:
//   - [Writer]: write a setpoint to a tag the configuration marks writable.
//   - [Browser]: discover the tags a server offers.
//   - [Reader]: read a tag's current value on demand.
//
// Writes that a person or an agent asks for should go through the write
// guard of package scada/guard: limits, permission, an audit record and a
// read-back for every attempt.
//
// # Processing once
//
// A [Collector] may run a [Processor] (the point stages of package
// transform) on every batch before its Sink: once per batch, so that a Sink
// that fails and is retried gets the processed points again without the
// stages that keep state seeing them twice.
//
// # Quality scores
//
// Beside its OPC UA [Quality] code, a Point carries the data-quality
// assessment of the stage that scored it (package transform's Validator):
// Score (0-100), Reasons (every finding, a [Reason] set) and Scored. The
// vocabulary, the finding names and the grades ([GradeOf]: Excellent from
// 95, Good from 80, Fair from 60, Poor from 40, Invalid below) are defined
// here so that every consumer reads them the same way; the fields travel with
// the point through every Buffer and wire format. A quality code names only
// the most severe finding; the Reasons keep them all.
//
// # Store and forward
//
// Package scada/buffer holds the Buffer: a local, crash-safe log of points
// with per-consumer cursors, kept in memory or on disk. A Buffer is a [Sink],
// so a [Collector] feeds it directly.
package scada
