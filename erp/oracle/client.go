package oracle

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/greenlang/gl001/erp"
	"github.com/greenlang/gl001/erp/internal/odata"
)

// Client reads Oracle Fusion Cloud Applications (ERP, SCM) over their REST
// API. It implements erp.Client and is safe for concurrent use.
type Client struct {
	cfg  Config
	conn *erp.Conn
	root string // .../fscmRestApi/resources/<version>/

	production  *collection[erp.ProductionOrder]
	maintenance *collection[erp.MaintenanceOrder]
	energy      *collection[erp.EnergyRecord]
	costs       *collection[erp.CostRecord]
}

var _ erp.Client = (*Client)(nil)

// New validates cfg and returns a Client. It sends no request.
func New(cfg Config) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.System == "" {
		cfg.System = "oracle"
	}
	if cfg.Version == "" {
		cfg.Version = DefaultVersion
	}
	if cfg.PageSize == 0 {
		cfg.PageSize = DefaultPageSize
	}
	if cfg.ProductionFields.IsZero() {
		cfg.ProductionFields = DefaultProductionFields
	}
	if cfg.MaintenanceFields.IsZero() {
		cfg.MaintenanceFields = DefaultMaintenanceFields
	}
	if cfg.EnergyFields.IsZero() {
		cfg.EnergyFields = DefaultEnergyFields
	}
	if cfg.CostFields.IsZero() {
		cfg.CostFields = DefaultCostFields
	}
	cfg.Production = cfg.Production.withDefaults(DefaultProduction, cfg.ProductionFields.Key)
	cfg.Maintenance = cfg.Maintenance.withDefaults(DefaultMaintenance, cfg.MaintenanceFields.Key)
	cfg.Energy = cfg.Energy.withDefaults(DefaultEnergy, cfg.EnergyFields.Key)
	cfg.Costs = cfg.Costs.withDefaults(DefaultCosts, cfg.CostFields.Key)

	conn, err := erp.NewConn(cfg.ConnConfig)
	if err != nil {
		return nil, err
	}
	conn.SetErrorParser(ParseError)
	c := &Client{cfg: cfg, conn: conn,
		root: strings.TrimSuffix(cfg.BaseURL, "/") + "/fscmRestApi/resources/" + url.PathEscape(cfg.Version) + "/"}
	mo := erp.MappingOptions{Location: cfg.Location}
	var errs []error
	pm, err := cfg.ProductionFields.Mapping(mo)
	errs = append(errs, err)
	mm, err := cfg.MaintenanceFields.Mapping(mo)
	errs = append(errs, err)
	em, err := cfg.EnergyFields.Mapping(mo)
	errs = append(errs, err)
	cm, err := cfg.CostFields.Mapping(mo)
	errs = append(errs, err)
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	c.production = &collection[erp.ProductionOrder]{c: c, res: cfg.Production, m: pm}
	c.maintenance = &collection[erp.MaintenanceOrder]{c: c, res: cfg.Maintenance, m: mm}
	c.energy = &collection[erp.EnergyRecord]{c: c, res: cfg.Energy, m: em}
	c.costs = &collection[erp.CostRecord]{c: c, res: cfg.Costs, m: cm}
	c.production.changed, c.maintenance.changed = cfg.ProductionFields.Changed, cfg.MaintenanceFields.Changed
	c.energy.changed, c.costs.changed = cfg.EnergyFields.Changed, cfg.CostFields.Changed
	for _, props := range [][]string{pm.Properties(), mm.Properties(), em.Properties(), cm.Properties()} {
		for _, p := range props {
			if !validName(p) {
				return nil, fmt.Errorf("%w: field mapping: %q is not an attribute name", erp.ErrConfig, p)
			}
		}
	}
	return c, nil
}

// Close releases the client's idle connections. Later calls fail with
// erp.ErrClosed; Close itself returns erp.ErrClosed after the first call.
func (c *Client) Close() error { return c.conn.Close() }

// Stats returns a snapshot of the client's HTTP counters.
func (c *Client) Stats() erp.ConnStats { return c.conn.Stats() }

// Production streams manufacturing work orders (workOrders by default)
// whose planned start lies in [q.From, q.To).
func (c *Client) Production(ctx context.Context, q erp.Query) iter.Seq2[erp.ProductionOrder, error] {
	return c.production.list(ctx, q)
}

// Maintenance streams maintenance work orders (maintenanceWorkOrders by
// default) whose planned start lies in [q.From, q.To).
func (c *Client) Maintenance(ctx context.Context, q erp.Query) iter.Seq2[erp.MaintenanceOrder, error] {
	return c.maintenance.list(ctx, q)
}

// Energy streams meter readings (meterReadings by default) taken in
// [q.From, q.To).
func (c *Client) Energy(ctx context.Context, q erp.Query) iter.Seq2[erp.EnergyRecord, error] {
	return c.energy.list(ctx, q)
}

// Costs streams Payables invoices (invoices by default) dated in
// [q.From, q.To).
func (c *Client) Costs(ctx context.Context, q erp.Query) iter.Seq2[erp.CostRecord, error] {
	return c.costs.list(ctx, q)
}

// ProductionChanges reads the work orders changed since a cursor, through a
// watermark on LastUpdateDate (the mapping's Changed attribute). It is an
// erp.ChangeFunc, for erp.Poller.
func (c *Client) ProductionChanges(ctx context.Context, q erp.Query, since erp.Cursor, page func([]erp.Change[erp.ProductionOrder]) error) (erp.Cursor, error) {
	return c.production.changes(ctx, q, since, page)
}

// MaintenanceChanges reads the maintenance work orders changed since a cursor.
func (c *Client) MaintenanceChanges(ctx context.Context, q erp.Query, since erp.Cursor, page func([]erp.Change[erp.MaintenanceOrder]) error) (erp.Cursor, error) {
	return c.maintenance.changes(ctx, q, since, page)
}

// EnergyChanges reads the meter readings added or changed since a cursor.
func (c *Client) EnergyChanges(ctx context.Context, q erp.Query, since erp.Cursor, page func([]erp.Change[erp.EnergyRecord]) error) (erp.Cursor, error) {
	return c.energy.changes(ctx, q, since, page)
}

// CostChanges reads the invoices added or changed since a cursor.
func (c *Client) CostChanges(ctx context.Context, q erp.Query, since erp.Cursor, page func([]erp.Change[erp.CostRecord]) error) (erp.Cursor, error) {
	return c.costs.changes(ctx, q, since, page)
}

// collection reads one resource as records of type T.
type collection[T erp.Record] struct {
	c       *Client
	res     Resource
	m       erp.Mapping[T]
	changed string
}

func (col *collection[T]) changes(ctx context.Context, q erp.Query, since erp.Cursor, page func([]erp.Change[T]) error) (erp.Cursor, error) {
	if col.changed == "" {
		return since, fmt.Errorf("%w: %s has no Changed attribute mapped", erp.ErrNotSupported, col.res.Name)
	}
	return erp.WatermarkChanges(col.list, col.changed)(ctx, q, since, page)
}

// list streams the records matching q, only those whose time lies in
// [q.From, q.To) whatever the server sent: the others are dropped and
// counted (erp.ConnStats.OutOfRange).
func (col *collection[T]) list(ctx context.Context, q erp.Query) iter.Seq2[T, error] {
	return erp.KeepInRange(q, col.read(ctx, q), func(rec T) {
		col.c.conn.CountOutOfRange(1)
		col.c.conn.Logger().Debug("dropped a record outside the query's range", "resource", col.res.Name,
			"time", erp.RangeTime(rec))
	})
}

func (col *collection[T]) read(ctx context.Context, q erp.Query) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		var zero T
		params, err := col.params(q)
		if err != nil {
			yield(zero, err)
			return
		}
		size := q.PageSize
		if size == 0 {
			size = col.c.cfg.PageSize
		}
		conn := col.c.conn
		src := erp.Source{System: conn.System(), Entity: col.res.Name}
		dec := odata.NewDecoder(odata.NewProps(col.m.Properties()))
		stopped := false
		fn := func(row erp.Row, _ odata.Entity) error {
			rec, err := col.m.Record(src, row)
			if err != nil {
				conn.CountMalformed(1)
				rec = zero
			}
			if !yield(rec, err) {
				stopped = true
				return odata.ErrStop
			}
			return nil
		}
		// q is written in the query-by-example syntax of framework version 1
		// (Attr='x';Attr>5), which later versions read differently.
		hdr := http.Header{"Accept": {"application/json"}, "Rest-Framework-Version": {"1"}}
		for offset := 0; ; {
			p := append(odata.Params(nil), params...)
			if size > 0 {
				p.Add("limit", strconv.Itoa(size))
			}
			p.Add("offset", strconv.Itoa(offset))
			if offset == 0 && (col.c.cfg.TotalResults || q.OnTotal != nil) {
				p.Add("totalResults", "true")
			}
			resp, err := conn.Do(ctx, erp.Request{URL: col.c.root + col.res.Name + "?" + p.Encode(), Header: hdr})
			if err != nil {
				yield(zero, err)
				return
			}
			n, env, err := decodePage(dec, resp.Body, fn)
			if stopped {
				return
			}
			if err != nil {
				conn.CountMalformed(1)
				yield(zero, malformed(conn.System(), col.res.Name, err))
				return
			}
			if env.total >= 0 && offset == 0 {
				conn.Logger().Debug("collection count", "resource", col.res.Name, "totalResults", env.total)
				if q.OnTotal != nil {
					q.OnTotal(env.total)
				}
			}
			if !env.hasMore {
				return
			}
			offset += n
		}
	}
}

// decodePage decodes one collection page, calling fn for each item, and
// checks its envelope.
func decodePage(dec *odata.Decoder, body []byte, fn func(erp.Row, odata.Entity) error) (int, envelope, error) {
	env := envelope{total: -1}
	n, err := dec.DecodeMember(body, "items", fn, env.member)
	if err == nil {
		err = env.check(n)
	}
	return n, env, err
}

// envelope is what an Oracle collection page says besides its items.
type envelope struct {
	hasMore, seenHasMore bool
	count, total         int64
	seenCount            bool
	bad                  string // the first member that could not be read
}

func (e *envelope) member(name string, v []byte) {
	switch name {
	case "hasMore":
		e.seenHasMore = true
		switch string(v) {
		case "true":
			e.hasMore = true
		case "false":
		default:
			e.fail(name)
		}
	case "count":
		n, err := strconv.ParseInt(string(v), 10, 64)
		if err != nil || n < 0 {
			e.fail(name)
		}
		e.count, e.seenCount = n, true
	case "totalResults":
		n, err := strconv.ParseInt(string(v), 10, 64)
		if err != nil || n < 0 {
			e.fail(name)
		}
		e.total = n
	}
}

func (e *envelope) fail(name string) {
	if e.bad == "" {
		e.bad = name
	}
}

var errEnvelope = errors.New("inconsistent collection envelope")

// check validates the envelope against the n items decoded.
func (e *envelope) check(n int) error {
	switch {
	case e.bad != "":
		return &odata.Error{Field: e.bad, Offset: -1, Err: errors.New("not a valid value")}
	case !e.seenHasMore:
		return &odata.Error{Field: "hasMore", Offset: -1, Err: errors.New("missing: the page cannot say whether more follow")}
	case e.seenCount && e.count != int64(n):
		return &odata.Error{Field: "count", Offset: -1, Err: fmt.Errorf("%w: count %d but %d items", errEnvelope, e.count, n)}
	case e.hasMore && n == 0:
		return &odata.Error{Field: "hasMore", Offset: -1, Err: fmt.Errorf("%w: hasMore with an empty page", errEnvelope)}
	}
	return nil
}

func malformed(system, entity string, err error) error {
	var oe *odata.Error
	if errors.As(err, &oe) {
		return &erp.MalformedError{System: system, Entity: entity, Field: oe.Field, Offset: oe.Offset, Err: oe.Err}
	}
	return &erp.MalformedError{System: system, Entity: entity, Offset: -1, Err: err}
}

// params builds the query parameters for q, without limit and offset.
func (col *collection[T]) params(q erp.Query) (odata.Params, error) {
	res := col.res
	if q.PageSize < erp.ServerPageSize {
		return nil, fmt.Errorf("%w: negative page size", erp.ErrBadRequest)
	}
	if q.Plant != "" && res.PlantAttribute == "" {
		return nil, fmt.Errorf("%w: %s has no plant attribute configured, so Query.Plant cannot be applied",
			erp.ErrBadRequest, res.Name)
	}
	bounds := q
	if res.DateOnly {
		bounds.From, bounds.To = wholeDays(q.From, q.To, col.c.cfg.Location)
	}
	conds, err := Conditions(bounds, res.TimeAttribute, res.PlantAttribute, res.DateOnly)
	if err != nil {
		return nil, err
	}
	var p odata.Params
	if len(conds) > 0 {
		p.Add("q", strings.Join(conds, ";"))
	}
	if res.Finder != "" {
		p.Add("finder", res.Finder)
	}
	p.Add("fields", strings.Join(col.m.Properties(), ","))
	p.Add("onlyData", "true")
	if len(res.OrderBy) > 0 {
		ob := make([]string, len(res.OrderBy))
		for i, a := range res.OrderBy {
			ob[i] = a + ":asc"
		}
		p.Add("orderBy", strings.Join(ob, ","))
	}
	return p, nil
}

// wholeDays widens [from, to) to whole UTC days, and by a day more on each
// side when dates are read in another zone: a date cannot carry a bound's
// time of day, so the server is asked for a superset and the client trims
// to [from, to) (erp.KeepInRange).
func wholeDays(from, to time.Time, loc *time.Location) (time.Time, time.Time) {
	slack := time.Duration(0)
	if loc != nil && loc != time.UTC {
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

// Conditions writes q's plant, time range [From, To) and filters as q
// parameter expressions (Attr='x', Attr>=..), to be joined with ";". Time
// bounds are written as RFC 3339 date-times in UTC, or as dates if dateOnly.
func Conditions(q erp.Query, timeAttr, plantAttr string, dateOnly bool) ([]string, error) {
	var out []string
	add := func(attr string, op erp.Op, v any) error {
		if !validName(attr) {
			return fmt.Errorf("%w: filter attribute %q is not an attribute name", erp.ErrBadRequest, attr)
		}
		sym, ok := ops[op]
		if !ok {
			return fmt.Errorf("%w: filter operator %q is not one of eq ne gt ge lt le", erp.ErrBadRequest, op)
		}
		l, err := Literal(v, dateOnly)
		if err != nil {
			return err
		}
		out = append(out, attr+sym+l)
		return nil
	}
	if q.Plant != "" && plantAttr != "" {
		if err := add(plantAttr, erp.Eq, q.Plant); err != nil {
			return nil, err
		}
	}
	if timeAttr != "" {
		if !q.From.IsZero() {
			if err := add(timeAttr, erp.Ge, q.From); err != nil {
				return nil, err
			}
		}
		if !q.To.IsZero() {
			if err := add(timeAttr, erp.Lt, q.To); err != nil {
				return nil, err
			}
		}
	}
	for _, f := range q.Filters {
		if err := add(f.Property, f.Op, f.Value); err != nil {
			return nil, err
		}
	}
	return out, nil
}

var ops = map[erp.Op]string{erp.Eq: "=", erp.Ne: "<>", erp.Gt: ">", erp.Ge: ">=", erp.Lt: "<", erp.Le: "<="}

// Literal writes v as a q parameter value: strings and times in single
// quotes, numbers and booleans bare. A string holding a quote or a
// semicolon is refused, since the q syntax has no escape for them.
func Literal(v any, dateOnly bool) (string, error) {
	if l, ok, err := odata.Scalar(v); ok {
		return l, err
	}
	switch x := v.(type) {
	case string:
		if strings.ContainsAny(x, "';") {
			return "", fmt.Errorf("%w: filter value %q holds a quote or semicolon", erp.ErrBadRequest, x)
		}
		return "'" + x + "'", nil
	case erp.Decimal:
		return x.String(), nil
	case time.Time:
		if dateOnly {
			return "'" + x.UTC().Format(time.DateOnly) + "'", nil
		}
		return "'" + x.UTC().Format("2006-01-02T15:04:05.999999999Z07:00") + "'", nil
	}
	return "", fmt.Errorf("%w: filter value of type %T is not supported", erp.ErrBadRequest, v)
}

// ParseError extracts a code and message from an Oracle REST error body:
// the JSON problem form ({"title":..,"detail":..,"o:errorCode":..,
// "o:errorDetails":[{"detail":..,"o:errorCode":..}]}) or plain text.
func ParseError(body []byte) (code, message string) {
	var e struct {
		Title   string `json:"title"`
		Detail  string `json:"detail"`
		Code    string `json:"o:errorCode"`
		Details []struct {
			Detail string `json:"detail"`
			Code   string `json:"o:errorCode"`
		} `json:"o:errorDetails"`
	}
	if err := json.Unmarshal(body, &e); err == nil {
		code, message = e.Code, e.Detail
		if len(e.Details) > 0 {
			if code == "" {
				code = e.Details[0].Code
			}
			if message == "" {
				message = e.Details[0].Detail
			}
		}
		if message == "" {
			message = e.Title
		}
		return code, message
	}
	s := strings.TrimSpace(string(body))
	if strings.HasPrefix(s, "<") { // an HTML error page from a gateway says nothing useful
		return "", ""
	}
	return "", s
}
