package sap

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"net/url"
	"strings"
	"sync"

	"github.com/greenlang/gl001/erp"
	"github.com/greenlang/gl001/erp/odata"
)

// DefaultPageSize is $top when neither Query.PageSize nor Config.PageSize is
// set.
const DefaultPageSize = odata.DefaultPageSize

// Client reads an SAP S/4HANA system over OData. It implements erp.Client
// and is safe for concurrent use. It is a configuration of erp/odata: one
// Collection per service, sharing one Conn.
type Client struct {
	cfg  Config
	conn *erp.Conn
	base *url.URL // nil when every service has a Root

	production  *odata.Collection[erp.ProductionOrder]
	planned     *odata.Collection[erp.ProductionOrder]
	maintenance *odata.Collection[erp.MaintenanceOrder]
	energy      *odata.Collection[erp.EnergyRecord]
	costs       *odata.Collection[erp.CostRecord]

	csrfMu sync.Mutex
	csrf   map[string]string // service root -> token
}

var _ erp.Client = (*Client)(nil)

// root returns the service root of svc: Root as given, else BaseURL + Path.
func (c *Client) root(svc Service) string {
	if svc.Root != "" {
		return svc.Root
	}
	return c.base.ResolveReference(&url.URL{Path: strings.TrimPrefix(svc.Path, "/")}).String()
}

func (c *Client) entitySet(svc Service) odata.EntitySet {
	return odata.EntitySet{ServiceRoot: c.root(svc), Version: svc.Version, Name: svc.EntitySet,
		TimeProperty: svc.TimeProperty, TimeLiteral: svc.TimeLiteral, PlantProperty: svc.PlantProperty,
		OrderBy: svc.OrderBy, ChangeTracking: svc.ChangeTracking}
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
	// A mapping is used as given, or entirely replaced by the default when
	// empty: never merged (Validate named what a partial one lacks).
	if cfg.ProductionFields.IsZero() {
		cfg.ProductionFields = DefaultProductionFields
	}
	if cfg.PlannedFields.IsZero() {
		cfg.PlannedFields = DefaultPlannedFields
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
	cfg.Planned = cfg.Planned.withDefaults(DefaultPlanned, cfg.PlannedFields.Key)
	cfg.Maintenance = cfg.Maintenance.withDefaults(DefaultMaintenance, cfg.MaintenanceFields.Key)
	cfg.Energy = cfg.Energy.withDefaults(DefaultEnergy, cfg.EnergyFields.Key)
	cfg.Costs = cfg.Costs.withDefaults(DefaultCosts, cfg.CostFields.Key)

	c := &Client{cfg: cfg, csrf: make(map[string]string)}
	if cfg.BaseURL != "" {
		base, err := url.Parse(strings.TrimSuffix(cfg.BaseURL, "/") + "/")
		if err != nil {
			return nil, fmt.Errorf("%w: BaseURL: %v", erp.ErrConfig, err)
		}
		c.base = base
	}
	conn, err := odata.NewConn(cfg.ConnConfig)
	if err != nil {
		return nil, err
	}
	c.conn = conn
	o := odata.Options{Location: cfg.Location, PageSize: cfg.PageSize, InlineCount: cfg.InlineCount}
	if cfg.SAPClient != "" {
		o.Params = []odata.Param{{Name: "sap-client", Value: cfg.SAPClient}}
	}
	var errs [5]error
	c.production, errs[0] = odata.NewCollection(conn, c.entitySet(cfg.Production), cfg.ProductionFields, o)
	c.planned, errs[1] = odata.NewCollection(conn, c.entitySet(cfg.Planned), cfg.PlannedFields, o)
	c.maintenance, errs[2] = odata.NewCollection(conn, c.entitySet(cfg.Maintenance), cfg.MaintenanceFields, o)
	c.energy, errs[3] = odata.NewCollection(conn, c.entitySet(cfg.Energy), cfg.EnergyFields, o)
	c.costs, errs[4] = odata.NewCollection(conn, c.entitySet(cfg.Costs), cfg.CostFields, o)
	if err := errors.Join(errs[:]...); err != nil {
		conn.Close()
		return nil, err
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
