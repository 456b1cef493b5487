// Package wire is the documented format of the point batches a Forwarder
// sends over a message stream: one message holds points of one source, read
// from one edge's Buffer, with their value, unit, quality, source timestamp,
// quality score and reasons. A consumer in any language can decode it from
// this page alone; the schema below is valid proto3, so protoc can generate
// a decoder too.
//
// # Schema (version 1)
//
// Content type: "application/vnd.gl001.points+protobuf; version=1".
//
//	syntax = "proto3";
//	package gl001.forward.v1;
//
//	message PointBatch {
//	  uint32 version = 1;           // always 1; a decoder refuses others
//	  string edge    = 2;           // the edge id
//	  string buffer  = 3;           // the id of the edge's Buffer
//	  string source  = 4;           // the Point.Source of every point
//	  uint64 first   = 5;           // Buffer offset of the batch's first point
//	  uint64 last    = 6;           // Buffer offset of the batch's last point (inclusive)
//	  uint32 count   = 17;          // number of points, n
//	  repeated string tags  = 7;    // tag dictionary
//	  repeated string units = 8;    // unit dictionary
//	  // Columns: n entries each, packed, point i at position i.
//	  repeated uint64 offsets = 9;  // Buffer offset deltas (see below)
//	  repeated uint32 tag     = 10; // index into tags
//	  repeated uint32 unit    = 11; // index into units
//	  repeated double value   = 12; // the value, IEEE 754 little-endian
//	  repeated uint32 quality = 13; // OPC UA status code (scada.Quality)
//	  repeated sint64 time    = 14; // source time deltas (see below)
//	  repeated uint32 score   = 15; // 0: not scored; else score+1 (1..101)
//	  repeated uint32 reasons = 16; // scada.Reason bit set
//	  fixed32 crc = 18;             // CRC-32C (Castagnoli) of every byte before this field
//	}
//
// Decoding rules:
//
//   - The fields are written in the order of the listing; crc comes last
//     and is required: it covers the bytes of the message before its own
//     key, so a truncated or damaged message is refused.
//   - Every column is a packed repeated field holding exactly n entries. A
//     column other than offsets may be absent: then every point has 0 there
//     (tag and unit: index 0; a point has no unit when units is empty too).
//     The offsets column is present whenever n > 0.
//   - offsets: point 0's Buffer offset is first + offsets[0]; point i's is
//     point i-1's + offsets[i], and offsets[i] >= 1 for i > 0, so offsets
//     strictly increase; every offset lies in [first, last]. A batch whose
//     points came from several sources travels as one message per source,
//     all with the batch's first and last: the offsets say which points each
//     holds.
//   - time: the absolute value of point i is the sum of time[0..i], in
//     64-bit two's-complement arithmetic (wrapping). It is Unix time in
//     nanoseconds (UTC); the value -2^63 means the point has no timestamp.
//   - value: a packed double column, 8 bytes per point.
//   - Fields with numbers this list does not name are skipped, by protobuf's
//     rules, so later versions may add fields without breaking decoders of
//     this one; a change that old decoders would misread gets a new version.
//
// Transports that carry headers repeat the header fields there (package
// scada/forward/jetstream: Content-Type, Gl-Version, Gl-Edge, Gl-Buffer,
// Gl-Source, Gl-First, Gl-Last), so a router can look without decoding.
//
// A message at most [MaxPoints] points long; testdata/batch-v1.bin is a
// golden message (its points are in wire_test.go), which the tests pin.
// [Encoder] writes messages: Append one, AppendBySource all the messages
// of a batch of several sources (one per source) in one pass over its
// points, with the same bytes Append writes for each source's points.
//
// # Event batches (version 1)
//
// Events and alarms ([scada.Event], read from a Buffer's event log, see
// buffer.EventLog) travel in their own message, [AppendEvents] and
// [DecodeEvents]. Offsets are those of the event log, which are not the
// points' offsets: the pair (buffer, offset) names one event for good.
//
// Content type: "application/vnd.gl001.events+protobuf; version=1".
//
//	message EventBatch {
//	  uint32 version = 1;           // always 1; a decoder refuses others
//	  string edge    = 2;           // the edge id
//	  string buffer  = 3;           // the id of the edge's Buffer
//	  string source  = 4;           // the Event.Source of every event
//	  uint64 first   = 5;           // event-log offset of the batch's first event
//	  uint64 last    = 6;           // event-log offset of its last event (inclusive)
//	  uint32 count   = 7;           // number of events, at most 65536; before the events
//	  repeated Event events = 8;    // in increasing offset order
//	  fixed32 crc = 15;             // CRC-32C of every byte before this field; last
//	}
//	message Event {
//	  uint64 offset = 1;            // event-log offset, in [first, last]
//	  optional sint64 time = 2;     // Unix ns (UTC); absent: no time
//	  optional sint64 receive_time = 3; // the same
//	  string event_type  = 4;       // e.g. "i=9341"
//	  string source_node = 5;
//	  string source_name = 6;
//	  uint32 severity    = 7;       // 1..1000
//	  string message     = 8;
//	  bytes  id          = 9;       // the event id needed to acknowledge
//	  Condition condition = 10;     // absent: not a condition
//	  repeated Field fields = 11;   // sorted by name, each name once
//	}
//	message Condition {
//	  string id = 1; string name = 2; string branch = 3;
//	  bool retain = 4; bool active = 5; bool acknowledged = 6; bool confirmed = 7;
//	  string state = 8;
//	}
//	message Field {
//	  string name = 1;
//	  oneof value {                 // exactly one
//	    double number = 2;          // Go float64
//	    bool   boolean = 3;         // Go bool
//	    string text = 4;            // Go string
//	    sint64 time = 5;            // Go time.Time: Unix ns (UTC)
//	    bytes  bytes = 6;           // Go []byte
//	    string json = 7;            // any other Go value, as its JSON text
//	    bool   null = 8;            // Go nil
//	    bool   zero_time = 9;       // the zero time.Time
//	  }
//	}
//
// A Fields value of another Go type than those listed travels as JSON and
// comes back as encoding/json decodes it (numbers float64, objects
// map[string]any, arrays []any). An empty ID or Fields comes back nil. Times
// outside the years 1678 to 2262 are clamped. testdata/events-v1.bin is a
// golden message (its events are in events_test.go), which the tests pin.
// Transports that carry headers send the same header fields as for points,
// with Content-Type [EventContentType]. [DecodeEvents] fails with an
// *[EventDecodeError], which matches [ErrDecode] and scada.ErrBadInput (and
// [ErrVersion]), never panics, and allocates no more than the message's
// size justifies.
//
// # Errors
//
// [Decode] returns a *[DecodeError] for anything that is not a version 1
// message: truncated or corrupt bytes, columns of the wrong length, indexes
// outside the dictionaries, offsets out of order. It matches [ErrDecode] and
// scada.ErrBadInput, and [ErrVersion] for an unknown version. It never
// panics, and allocates no more than the message's size justifies.
package wire
