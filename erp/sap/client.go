package sap

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"github.com/greenlang/gl001/erp"
	"github.com/greenlang/gl001/erp/internal/odata"
)

// DefaultPageSize is $top when neither Query.PageSize nor Config.PageSize is set.
const DefaultPageSize = 1000

// Client reads an SAP S/4HANA system over OData. It implements erp.Client
// and is safe for concurrent use.
type Client struct {
	cfg  Config
	conn *erp.Conn
	base *url.URL

	production  *entity[erp.ProductionOrder]
	planned     *entity[erp.ProductionOrder]
	maintenance *entity[erp.MaintenanceOrder]
	energy      *entity[erp.EnergyRecord]
	costs       *entity[erp.CostRecord]

	csrfMu sync.Mutex
	csrf   map[string]string // service root -> token
}

var _ erp.Client = (*Client)(nil)

type entity[T erp.Record] = odata.Collection[T]

func newEntity[T erp.Record](c *Client, svc Service, keys []string, changed string, m erp.Mapping[T]) (*entity[T], error) {
	ref, err := url.Parse(strings.TrimPrefix(svc.Path, "/"))
	if err != nil {
		return nil, err
	}
	e := &entity[T]{Conn: c.conn, Root: c.base.ResolveReference(ref), EntitySet: svc.EntitySet,
		Mapping: m, Keys: keys, Changed: changed, Tracking: svc.ChangeTracking, Fixup: c.fixup}
	e.Spec = func(q erp.Query, tracked bool) (odata.Spec, error) { return specFor(c, svc, e, q, tracked) }
	return e, nil
}

// New validates cfg and returns a Client. It sends no request.
func New(cfg Config) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.System == "" {
		cfg.System = "sap"
	}
	if cfg.PageSize == 0 {
		cfg.PageSize = DefaultPageSize
	}
	if len(cfg.ProductionFields.Key) == 0 {
		cfg.ProductionFields = DefaultProductionFields
	}
	if len(cfg.PlannedFields.Key) == 0 {
		cfg.PlannedFields = DefaultPlannedFields
	}
	if len(cfg.MaintenanceFields.Key) == 0 {
		cfg.MaintenanceFields = DefaultMaintenanceFields
	}
	if len(cfg.EnergyFields.Key) == 0 {
		cfg.EnergyFields = DefaultEnergyFields
	}
	if len(cfg.CostFields.Key) == 0 {
		cfg.CostFields = DefaultCostFields
	}
	cfg.Production = cfg.Production.withDefaults(DefaultProduction, cfg.ProductionFields.Key)
	cfg.Planned = cfg.Planned.withDefaults(DefaultPlanned, cfg.PlannedFields.Key)
	cfg.Maintenance = cfg.Maintenance.withDefaults(DefaultMaintenance, cfg.MaintenanceFields.Key)
	cfg.Energy = cfg.Energy.withDefaults(DefaultEnergy, cfg.EnergyFields.Key)
	cfg.Costs = cfg.Costs.withDefaults(DefaultCosts, cfg.CostFields.Key)

	base, err := url.Parse(strings.TrimSuffix(cfg.BaseURL, "/") + "/")
	if err != nil {
		return nil, fmt.Errorf("%w: BaseURL: %v", erp.ErrConfig, err)
	}
	conn, err := erp.NewConn(cfg.ConnConfig)
	if err != nil {
		return nil, err
	}
	conn.SetErrorParser(odata.ParseError)
	c := &Client{cfg: cfg, conn: conn, base: base, csrf: make(map[string]string)}
	mo := erp.MappingOptions{Location: cfg.Location}
	var errs []error
	pm, err := cfg.ProductionFields.Mapping(mo)
	errs = append(errs, err)
	plm, err := cfg.PlannedFields.Mapping(mo)
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
	if c.production, err = newEntity(c, cfg.Production, cfg.ProductionFields.Key, cfg.ProductionFields.Changed, pm); err == nil {
		if c.planned, err = newEntity(c, cfg.Planned, cfg.PlannedFields.Key, cfg.PlannedFields.Changed, plm); err == nil {
			if c.maintenance, err = newEntity(c, cfg.Maintenance, cfg.MaintenanceFields.Key, cfg.MaintenanceFields.Changed, mm); err == nil {
				if c.energy, err = newEntity(c, cfg.Energy, cfg.EnergyFields.Key, cfg.EnergyFields.Changed, em); err == nil {
					c.costs, err = newEntity(c, cfg.Costs, cfg.CostFields.Key, cfg.CostFields.Changed, cm)
				}
			}
		}
	}
	if err != nil {
		return nil, fmt.Errorf("%w: service path: %v", erp.ErrConfig, err)
	}
	return c, nil
}

// Close releases the client's idle connections. Later calls fail with
// erp.ErrClosed; Close itself returns erp.ErrClosed after the first call.
func (c *Client) Close() error { return c.conn.Close() }

// Stats returns a snapshot of the client's HTTP counters.
func (c *Client) Stats() erp.ConnStats { return c.conn.Stats() }

// Production streams production orders (API_PRODUCTION_ORDER_2_SRV by
// default) whose planned start lies in [q.From, q.To).
func (c *Client) Production(ctx context.Context, q erp.Query) iter.Seq2[erp.ProductionOrder, error] {
	return c.production.List(ctx, q)
}

// PlannedOrders streams planned orders (API_PLANNED_ORDERS by default) as
// production orders, whose planned start lies in [q.From, q.To).
func (c *Client) PlannedOrders(ctx context.Context, q erp.Query) iter.Seq2[erp.ProductionOrder, error] {
	return c.planned.List(ctx, q)
}

// Maintenance streams maintenance orders (API_MAINTENANCEORDER by default)
// whose basic start lies in [q.From, q.To).
func (c *Client) Maintenance(ctx context.Context, q erp.Query) iter.Seq2[erp.MaintenanceOrder, error] {
	return c.maintenance.List(ctx, q)
}

// Energy streams energy readings (measurement documents of
// API_MEASUREMENTDOCUMENT_SRV by default) taken in [q.From, q.To).
func (c *Client) Energy(ctx context.Context, q erp.Query) iter.Seq2[erp.EnergyRecord, error] {
	return c.energy.List(ctx, q)
}

// Costs streams journal entry items (API_JOURNALENTRYITEMBASIC_SRV by
// default) posted in [q.From, q.To).
func (c *Client) Costs(ctx context.Context, q erp.Query) iter.Seq2[erp.CostRecord, error] {
	return c.costs.List(ctx, q)
}

// ProductionChanges reads the production orders changed since a cursor. It
// is an erp.ChangeFunc, for erp.Poller.
func (c *Client) ProductionChanges(ctx context.Context, q erp.Query, since erp.Cursor, page func([]erp.Change[erp.ProductionOrder]) error) (erp.Cursor, error) {
	return c.production.Changes(ctx, q, since, page)
}

// PlannedOrderChanges reads the planned orders changed since a cursor.
func (c *Client) PlannedOrderChanges(ctx context.Context, q erp.Query, since erp.Cursor, page func([]erp.Change[erp.ProductionOrder]) error) (erp.Cursor, error) {
	return c.planned.Changes(ctx, q, since, page)
}

// MaintenanceChanges reads the maintenance orders changed since a cursor.
func (c *Client) MaintenanceChanges(ctx context.Context, q erp.Query, since erp.Cursor, page func([]erp.Change[erp.MaintenanceOrder]) error) (erp.Cursor, error) {
	return c.maintenance.Changes(ctx, q, since, page)
}

// EnergyChanges reads the energy readings added or changed since a cursor.
func (c *Client) EnergyChanges(ctx context.Context, q erp.Query, since erp.Cursor, page func([]erp.Change[erp.EnergyRecord]) error) (erp.Cursor, error) {
	return c.energy.Changes(ctx, q, since, page)
}

// CostChanges reads the cost records added or changed since a cursor.
func (c *Client) CostChanges(ctx context.Context, q erp.Query, since erp.Cursor, page func([]erp.Change[erp.CostRecord]) error) (erp.Cursor, error) {
	return c.costs.Changes(ctx, q, since, page)
}

// fixup adds sap-client to a URL that lacks it.
func (c *Client) fixup(u *url.URL) {
	if c.cfg.SAPClient == "" || strings.Contains(u.RawQuery, "sap-client=") {
		return
	}
	if u.RawQuery != "" {
		u.RawQuery += "&"
	}
	u.RawQuery += "sap-client=" + url.QueryEscape(c.cfg.SAPClient)
}

// specFor builds the request for q against e. Tracked requests ask for
// change tracking and rely on server paging.
func specFor[T erp.Record](c *Client, svc Service, e *entity[T], q erp.Query, tracked bool) (odata.Spec, error) {
	if q.Plant != "" && svc.PlantProperty == "" {
		return odata.Spec{}, fmt.Errorf("%w: %s has no plant property configured, so Query.Plant cannot be applied",
			erp.ErrBadRequest, svc.EntitySet)
	}
	if q.PageSize < 0 {
		return odata.Spec{}, fmt.Errorf("%w: negative page size", erp.ErrBadRequest)
	}
	v := svc.Version
	tk := odata.DateTime
	switch svc.TimeLiteral {
	case DateTimeOffset:
		tk = odata.DateTimeOffset
	case Date:
		tk = odata.Date
	}
	conds, err := odata.QueryConds(q, svc.TimeProperty, svc.PlantProperty, v, tk)
	if err != nil {
		return odata.Spec{}, err
	}
	size := q.PageSize
	if size == 0 {
		size = c.cfg.PageSize
	}
	params := func(skip int, first bool) string {
		var p odata.Params
		if v == 2 {
			p.Add("$format", "json")
		}
		p.Add("$select", strings.Join(e.Mapping.Properties(), ","))
		if len(conds) > 0 {
			p.Add("$filter", odata.Filter(conds))
		}
		if !tracked {
			p.Add("$orderby", strings.Join(svc.OrderBy, ","))
			p.Add("$top", strconv.Itoa(size))
			if skip > 0 {
				p.Add("$skip", strconv.Itoa(skip))
			}
		}
		if first && c.cfg.InlineCount {
			if v == 2 {
				p.Add("$inlinecount", "allpages")
			} else {
				p.Add("$count", "true")
			}
		}
		if c.cfg.SAPClient != "" {
			p.Add("sap-client", c.cfg.SAPClient)
		}
		return e.Root.String() + svc.EntitySet + "?" + p.Encode()
	}
	h := http.Header{"Accept": {"application/json"}}
	if v == 4 {
		h.Set("OData-Version", "4.0")
		h.Set("OData-MaxVersion", "4.0")
	} else {
		h.Set("DataServiceVersion", "2.0")
		h.Set("MaxDataServiceVersion", "2.0")
	}
	if tracked {
		h.Set("Prefer", "odata.track-changes")
	}
	spec := odata.Spec{
		Conn: c.conn, Entity: svc.EntitySet, Root: e.Root, First: params(0, true),
		Header: h, PageSize: size, Fixup: c.fixup,
	}
	if !tracked {
		spec.Skip = func(skip int) string { return params(skip, false) }
	}
	return spec, nil
}
