package scada

import (
	"context"
	"time"
)

// Point is one sensor value: what a tag read at a moment, with its quality.
//
// Point is small and flat on purpose: it is copied millions of times a second.
// A Point with a Bad quality carries no meaningful Value (it is zero); consumers
// must look at Quality before Value.
type Point struct {
	Tag     string  // the tag name the configuration gave, e.g. "boiler1.steam_temp"
	Value   float64 // the value, converted to float64 (Booleans are 0 or 1)
	Unit    string  // the unit as the source reported or the config set it, e.g. "degC"; may be empty
	Quality Quality // OPC UA status-code semantics

	// Score is the 0-100 data-quality score computed where the point was
	// assessed (package transform's scoring stage, usually at the edge), and
	// Reasons the findings behind it; [GradeOf] gives the score's grade. Both are meaningful only when Scored is
	// true; a point that no stage assessed has Scored false. They travel with
	// the point through every Buffer and wire format unchanged.
	Score   uint8
	Scored  bool
	Reasons Reason

	Time   time.Time // the source timestamp (when the device sampled it)
	Source string    // the name of the Source that delivered it
}

// Sink receives batches of points from a Source.
//
// Deliver returns nil once it has accepted the batch: a Source that must
// acknowledge upstream (an MQTT QoS 1 message, say) does so only after that. The
// Sink may not retain the slice after Deliver returns; it copies what it keeps.
// Deliver must honour ctx: a Sink that cannot accept returns ctx.Err() or its own
// error, and the Source decides whether that ends its Run.
type Sink interface {
	Deliver(ctx context.Context, batch []Point) error
}

// Processor turns a batch of points into the batch a Sink receives: the
// point stages of package transform (a transform.Pipeline is a Processor).
//
// Process may modify the points of batch in place and return batch itself,
// shortened or not, or a new slice; the caller must not use batch afterwards.
// It returns an error only when it cannot run at all (ctx ended); bad data is
// marked, never an error. A [Collector] runs its Processor exactly once per
// batch, so stages that keep state (a deadband, rate-of-change history) see
// every point once however often the Sink fails.
type Processor interface {
	Process(ctx context.Context, batch []Point) ([]Point, error)
}

// SinkFunc adapts a function to a Sink.
type SinkFunc func(ctx context.Context, batch []Point) error

// Deliver calls f(ctx, batch).
func (f SinkFunc) Deliver(ctx context.Context, batch []Point) error { return f(ctx, batch) }

// Source is one connection to one device or server.
//
// Run connects, delivers points to sink until ctx ends or the connection fails,
// and returns the reason. It returns nil or ctx.Err() only when ctx ended.
// Reconnecting is not the Source's job: [Collector] supervises Run with backoff and
// a circuit breaker and calls Run again. A Source must stop every goroutine it
// started before Run returns.
type Source interface {
	Run(ctx context.Context, sink Sink) error
}

// Writer is an optional capability of a Source: write a setpoint to a tag that
// the configuration marks writable. Writes to other tags fail with an error that
// matches [ErrNotWritable].
type Writer interface {
	Write(ctx context.Context, tag string, value float64) error
}

// TagInfo describes a tag a [Browser] found.
type TagInfo struct {
	ID          string // the protocol's address of the tag (an OPC UA node id, a topic ...)
	Name        string // the display or browse name
	Unit        string // the engineering unit, when the server publishes one
	DataType    string // the protocol's type name
	Writable    bool
	Description string
}

// Browser is an optional capability of a Source: discover the tags a server offers
// below a root (a node id, a topic prefix; empty for the server's default root).
type Browser interface {
	Browse(ctx context.Context, root string) ([]TagInfo, error)
}
