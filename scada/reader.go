package scada

import "context"

// Reader is an optional capability of a Source: read a tag's current value
// now, with its quality and source timestamp, outside the stream that Run
// delivers. The write guard (package scada/guard) reads the value a write
// would replace and reads it back afterwards through it.
//
// A tag the Source does not have fails with an error matching
// [ErrUnknownTag]; a connection that cannot be made or was lost with one
// matching [ErrConnection]. A value the device reports with a Bad status is
// a Point with that Quality, not an error.
type Reader interface {
	Read(ctx context.Context, tag string) (Point, error)
}
