package odata

import (
	"context"
	"fmt"
	"iter"
	"net/url"

	"github.com/greenlang/gl001/erp"
)

// Collection is one entity set read as records of type T: what a system
// package configures once per record type.
type Collection[T erp.Record] struct {
	Conn      *erp.Conn
	Root      *url.URL // service root, path ending in "/"
	EntitySet string
	Mapping   erp.Mapping[T]
	Keys      []string // key properties, for deletions without an id
	Changed   string   // last-changed property for watermarks; "" if none
	Tracking  bool     // the service supports OData change tracking
	// Spec builds the request for q; tracked asks for change tracking.
	Spec func(q erp.Query, tracked bool) (Spec, error)
	// Fixup adjusts links (next, delta) before they are followed.
	Fixup func(*url.URL)
}

// List streams the records matching q.
func (c *Collection[T]) List(ctx context.Context, q erp.Query) iter.Seq2[T, error] {
	spec, err := c.Spec(q, false)
	if err != nil {
		return func(yield func(T, error) bool) {
			var zero T
			yield(zero, err)
		}
	}
	return Records(ctx, spec, c.Mapping)
}

// Changes reads one round of changes since a cursor: through change
// tracking when the service supports it, else through a watermark on the
// Changed property.
func (c *Collection[T]) Changes(ctx context.Context, q erp.Query, since erp.Cursor, page func([]erp.Change[T]) error) (erp.Cursor, error) {
	if !c.Tracking {
		if c.Changed == "" {
			return since, fmt.Errorf("%w: %s has neither change tracking nor a Changed property mapped", erp.ErrNotSupported, c.EntitySet)
		}
		return erp.WatermarkChanges(c.List, c.Changed)(ctx, q, since, page)
	}
	spec, err := c.Spec(q, true)
	if err != nil {
		return since, err
	}
	if d := since.Delta(); d != "" {
		u, err := Resolve(c.Root, d)
		if err != nil {
			return since, fmt.Errorf("%w: cursor: %v", erp.ErrBadRequest, err)
		}
		if c.Fixup != nil {
			c.Fixup(u)
		}
		spec.First = u.String()
	} else if since != "" {
		return since, fmt.Errorf("%w: cursor is not a delta cursor", erp.ErrBadRequest)
	}
	link, err := Changes(ctx, spec, c.Mapping, c.Keys, page)
	if err != nil {
		return since, err
	}
	if link == "" {
		return since, fmt.Errorf("%w: %s sent no delta link; turn change tracking off for it",
			erp.ErrNotSupported, c.EntitySet)
	}
	return erp.DeltaCursor(link), nil
}
