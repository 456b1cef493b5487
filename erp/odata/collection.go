package odata

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/greenlang/gl001/erp"
	core "github.com/greenlang/gl001/erp/internal/odata"
)

// Fields is the field mapping of record type T: erp.EnergyFields,
// erp.ProductionFields, erp.MaintenanceFields or erp.CostFields.
type Fields[T erp.Record] interface {
	Mapping(erp.MappingOptions) (erp.Mapping[T], error)
	IsZero() bool
	Validate() error
}

// Collection reads one entity set as records of type T, through a Conn
// shared with the other collections of the same system. Client is four of
// them; a system package with more record sources (SAP's planned orders)
// builds more. It is safe for concurrent use.
type Collection[T erp.Record] struct {
	conn      *erp.Conn
	set       EntitySet
	o         Options
	version   int
	root      *url.URL
	mapping   erp.Mapping[T]
	wholeDays bool
	col       *core.Collection[T]
	// unsupported, if set, answers every query: no entity set configured.
	unsupported error
}

// NewCollection builds the reader of set through conn with the given field
// mapping. A set without a Name gives a Collection that answers every query
// with erp.ErrNotSupported (fields are then ignored). It sends no request.
func NewCollection[T erp.Record](conn *erp.Conn, set EntitySet, fields Fields[T], o Options) (*Collection[T], error) {
	c := &Collection[T]{conn: conn, set: set, o: o}
	if set.Name == "" {
		c.unsupported = fmt.Errorf("%w: no entity set configured for %s on %s", erp.ErrNotSupported, recordName[T](), conn.System())
		return c, nil
	}
	cc := erp.ConnConfig{System: conn.System(), AllowHTTP: true} // URLs are checked by the Conn on use
	if err := errors.Join(o.validate(cc), set.validate(recordName[T](), o, cc)); err != nil {
		return nil, err
	}
	m, err := fields.Mapping(erp.MappingOptions{Location: o.Location})
	if err != nil {
		return nil, err
	}
	rawRoot := set.ServiceRoot
	if rawRoot == "" {
		rawRoot = o.ServiceRoot
	}
	root, err := parseRoot(rawRoot)
	if err != nil {
		return nil, fmt.Errorf("%w: service root: %v", erp.ErrConfig, err)
	}
	keys, changed, rng := fieldInfo(fields)
	if len(c.set.OrderBy) == 0 {
		c.set.OrderBy = keys
	}
	c.version = set.version(o)
	if c.set.TimeLiteral == 0 {
		c.set.TimeLiteral = DateTimeOffset
		if c.version == 2 {
			c.set.TimeLiteral = DateTime
		}
	}
	if c.o.PageSize == 0 {
		c.o.PageSize = DefaultPageSize
	}
	c.root, c.mapping = root, m
	c.wholeDays = set.WholeDays || c.set.TimeLiteral == Date || rng.Time != ""
	c.col = &core.Collection[T]{Conn: conn, Root: root, EntitySet: set.Name, Mapping: m, Keys: keys,
		Changed: changed, Tracking: set.ChangeTracking, Fixup: c.fixup}
	c.col.Spec = c.spec
	return c, nil
}

// recordName names T for messages.
func recordName[T erp.Record]() string {
	var zero T
	switch any(zero).(type) {
	case erp.EnergyRecord:
		return "Energy"
	case erp.ProductionOrder:
		return "Production"
	case erp.MaintenanceOrder:
		return "Maintenance"
	}
	return "Costs"
}

// fieldInfo returns the key properties, the last-changed property and the
// time the range applies to of a field mapping.
func fieldInfo(f any) (keys []string, changed string, rng erp.TimeFields) {
	switch f := f.(type) {
	case erp.EnergyFields:
		rng = f.Start
		if rng.Date == "" {
			rng = f.End
		}
		return f.Key, f.Changed, rng
	case erp.ProductionFields:
		return f.Key, f.Changed, f.PlannedStart
	case erp.MaintenanceFields:
		return f.Key, f.Changed, f.PlannedStart
	case erp.CostFields:
		return f.Key, f.Changed, f.Posting
	}
	return nil, "", erp.TimeFields{}
}

// EntitySet returns the set as configured, defaults applied.
func (c *Collection[T]) EntitySet() EntitySet { return c.set }

// ServiceRoot returns the service root the collection reads from, "" when
// it has no entity set.
func (c *Collection[T]) ServiceRoot() string {
	if c.root == nil {
		return ""
	}
	return c.root.String()
}

// List streams the records matching q: only those whose time lies in
// [q.From, q.To), whatever the server sent (see erp.KeepInRange); a record
// that cannot be decoded is yielded as an error matching erp.ErrMalformed
// and the stream goes on.
func (c *Collection[T]) List(ctx context.Context, q erp.Query) iter.Seq2[T, error] {
	if c.unsupported != nil {
		return fail[T](c.unsupported)
	}
	return erp.KeepInRange(q, c.col.List(ctx, q), c.dropped)
}

// Changes reads one round of changes since a cursor: through change
// tracking when the set has it, else through a watermark on the mapping's
// Changed property. Records outside q's range are dropped and counted as
// List does; deletions are always handed over.
func (c *Collection[T]) Changes(ctx context.Context, q erp.Query, since erp.Cursor, page func([]erp.Change[T]) error) (erp.Cursor, error) {
	if c.unsupported != nil {
		return since, c.unsupported
	}
	if !c.set.ChangeTracking {
		if c.col.Changed == "" {
			return since, fmt.Errorf("%w: %s has neither change tracking nor a Changed property mapped", erp.ErrNotSupported, c.set.Name)
		}
		return erp.WatermarkChanges(c.List, c.col.Changed)(ctx, q, since, page)
	}
	return c.col.Changes(ctx, q, since, func(batch []erp.Change[T]) error {
		if q.Bounded() {
			kept := batch[:0]
			for _, ch := range batch {
				if ch.Err == nil && !ch.Deleted {
					if t := erp.RangeTime(ch.Record); t.IsZero() || !q.Contains(t) {
						c.dropped(ch.Record)
						continue
					}
				}
				kept = append(kept, ch)
			}
			batch = kept
		}
		if len(batch) == 0 {
			return nil
		}
		return page(batch)
	})
}

func (c *Collection[T]) dropped(rec T) {
	c.conn.CountOutOfRange(1)
	c.conn.Logger().Debug("dropped a record outside the query's range", "entity", c.set.Name,
		"key", sourceKey(rec), "time", erp.RangeTime(rec))
}

func sourceKey(rec any) string {
	switch r := rec.(type) {
	case erp.EnergyRecord:
		return r.Source.Key
	case erp.ProductionOrder:
		return r.Source.Key
	case erp.MaintenanceOrder:
		return r.Source.Key
	case erp.CostRecord:
		return r.Source.Key
	}
	return ""
}

func fail[T any](err error) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		var zero T
		yield(zero, err)
	}
}

// fixup adds the configured parameters to a next or delta link that lacks
// them.
func (c *Collection[T]) fixup(u *url.URL) {
	for _, p := range c.o.Params {
		if strings.Contains("&"+u.RawQuery, "&"+url.QueryEscape(p.Name)+"=") {
			continue
		}
		if u.RawQuery != "" {
			u.RawQuery += "&"
		}
		u.RawQuery += url.QueryEscape(p.Name) + "=" + url.QueryEscape(p.Value)
	}
}

// wholeDay widens [from, to) to whole UTC days, and by a day more on each
// side when dates are read in another zone: a superset the client trims.
func (c *Collection[T]) wholeDay(from, to time.Time) (time.Time, time.Time) {
	slack := time.Duration(0)
	if c.o.Location != nil && c.o.Location != time.UTC {
		slack = 24 * time.Hour
	}
	if !from.IsZero() {
		from = from.UTC().Truncate(24 * time.Hour).Add(-slack)
	}
	if !to.IsZero() {
		d := to.UTC().Truncate(24 * time.Hour)
		if d.Before(to) {
			d = d.Add(24 * time.Hour)
		}
		to = d.Add(slack)
	}
	return from, to
}

func (c *Collection[T]) coreKind() core.TimeKind {
	switch c.set.TimeLiteral {
	case DateTimeOffset:
		return core.DateTimeOffset
	case Date:
		return core.Date
	}
	return core.DateTime
}

// spec builds the request for q; tracked asks for change tracking.
func (c *Collection[T]) spec(q erp.Query, tracked bool) (core.Spec, error) {
	set := c.set
	if q.Plant != "" && set.PlantProperty == "" {
		return core.Spec{}, fmt.Errorf("%w: %s has no plant property configured, so Query.Plant cannot be applied",
			erp.ErrBadRequest, set.Name)
	}
	if q.PageSize < erp.ServerPageSize {
		return core.Spec{}, fmt.Errorf("%w: negative page size", erp.ErrBadRequest)
	}
	v, tk := c.version, c.coreKind()
	bounds := q
	bounds.Filters = nil
	if c.wholeDays {
		bounds.From, bounds.To = c.wholeDay(q.From, q.To)
	}
	conds, err := core.QueryConds(bounds, set.TimeProperty, set.PlantProperty, v, tk)
	if err != nil {
		return core.Spec{}, err
	}
	more, err := core.QueryConds(erp.Query{Filters: q.Filters}, "", "", v, tk)
	if err != nil {
		return core.Spec{}, err
	}
	conds = append(conds, more...)
	size := q.PageSize
	if size == 0 {
		size = c.o.PageSize
	}
	client := c.o.Paging == ClientPaging && !tracked
	count := c.o.InlineCount || q.OnTotal != nil
	params := func(skip int, first bool) string {
		var p core.Params
		if v == 2 {
			p.Add("$format", "json")
		}
		p.Add("$select", strings.Join(c.mapping.Properties(), ","))
		if len(conds) > 0 {
			p.Add("$filter", core.Filter(conds))
		}
		if client {
			if len(set.OrderBy) > 0 {
				p.Add("$orderby", strings.Join(set.OrderBy, ","))
			}
			if size > 0 {
				p.Add("$top", strconv.Itoa(size))
			}
			if skip > 0 {
				p.Add("$skip", strconv.Itoa(skip))
			}
		}
		if first && count {
			if v == 2 {
				p.Add("$inlinecount", "allpages")
			} else {
				p.Add("$count", "true")
			}
		}
		for _, kv := range c.o.Params {
			p.Add(kv.Name, kv.Value)
		}
		return c.root.String() + set.Name + "?" + p.Encode()
	}
	h := http.Header{"Accept": {"application/json"}}
	if v == 4 {
		h.Set("OData-Version", "4.0")
		h.Set("OData-MaxVersion", "4.0")
	} else {
		h.Set("DataServiceVersion", "2.0")
		h.Set("MaxDataServiceVersion", "2.0")
	}
	var prefer []string
	if tracked {
		prefer = append(prefer, "odata.track-changes")
	}
	if c.o.Paging == ServerPaging && size > 0 {
		prefer = append(prefer, "odata.maxpagesize="+strconv.Itoa(size))
	}
	if len(prefer) > 0 {
		h.Set("Prefer", strings.Join(prefer, ","))
	}
	spec := core.Spec{Conn: c.conn, Entity: set.Name, Root: c.root, First: params(0, true),
		Header: h, PageSize: size, Fixup: c.fixup, OnCount: q.OnTotal}
	if client && size > 0 {
		spec.Skip = func(skip int) string { return params(skip, false) }
	}
	return spec, nil
}
