package dynamics

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"net/url"
	"strings"

	"github.com/greenlang/gl001/erp"
	"github.com/greenlang/gl001/erp/odata"
)

// DefaultPageSize is the odata.maxpagesize preference when neither
// Query.PageSize nor Config.PageSize is set.
const DefaultPageSize = odata.DefaultPageSize

// Client reads a Dynamics 365 organisation over OData V4. It implements
// erp.Client and is safe for concurrent use. It is a configuration of
// erp/odata: server paging, one Collection per entity set, one Conn.
type Client struct {
	cfg  Config
	conn *erp.Conn
	root string

	production  *odata.Collection[erp.ProductionOrder]
	maintenance *odata.Collection[erp.MaintenanceOrder]
	energy      *odata.Collection[erp.EnergyRecord]
	costs       *odata.Collection[erp.CostRecord]
}

var _ erp.Client = (*Client)(nil)

// pick replaces an unconfigured entity and an empty mapping by the
// flavour's defaults. A mapping with any field set is used as given.
func pick[F interface{ IsZero() bool }](e Entity, f F, defE Entity, defF F) (Entity, F) {
	if e.EntitySet == "" {
		e = defE
	}
	if f.IsZero() {
		f = defF
	}
	return e, f
}

// ServiceRoot returns the service root the client reads from.
func (c *Client) ServiceRoot() string { return c.root }

// New validates cfg and returns a Client. It sends no request.
func New(cfg Config) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.System == "" {
		cfg.System = "dynamics"
	}
	if cfg.APIVersion == "" {
		cfg.APIVersion = "v9.2"
	}
	if cfg.PageSize == 0 {
		cfg.PageSize = DefaultPageSize
	}
	root := cfg.ServiceRoot
	if root == "" {
		rootPath := "api/data/" + cfg.APIVersion + "/"
		if cfg.Flavour == FinanceOperations {
			rootPath = "data/"
		}
		base, err := url.Parse(strings.TrimSuffix(cfg.BaseURL, "/") + "/")
		if err != nil {
			return nil, fmt.Errorf("%w: BaseURL: %v", erp.ErrConfig, err)
		}
		root = base.ResolveReference(&url.URL{Path: rootPath}).String()
	}
	if cc, ok := cfg.Auth.(erp.ClientCredentials); ok && len(cc.Scopes) == 0 {
		from := cfg.BaseURL
		if from == "" {
			from = root
		}
		scope, err := Scope(from)
		if err != nil {
			return nil, err
		}
		cc.Scopes = []string{scope}
		cfg.Auth = cc
	}
	switch cfg.Flavour {
	case FinanceOperations:
		cfg.Production, cfg.ProductionFields = pick(cfg.Production, cfg.ProductionFields, DefaultFOProduction, DefaultFOProductionFields)
		cfg.Maintenance, cfg.MaintenanceFields = pick(cfg.Maintenance, cfg.MaintenanceFields, DefaultFOMaintenance, DefaultFOMaintenanceFields)
		cfg.Costs, cfg.CostFields = pick(cfg.Costs, cfg.CostFields, DefaultFOCosts, DefaultFOCostFields)
	default:
		cfg.Maintenance, cfg.MaintenanceFields = pick(cfg.Maintenance, cfg.MaintenanceFields, DefaultWebAPIMaintenance, DefaultWebAPIMaintenanceFields)
	}
	conn, err := odata.NewConn(cfg.ConnConfig)
	if err != nil {
		return nil, err
	}
	c := &Client{cfg: cfg, conn: conn, root: root}
	o := odata.Options{ServiceRoot: root, Version: 4, Location: cfg.Location, PageSize: cfg.PageSize,
		Paging: odata.ServerPaging}
	if cfg.Flavour == FinanceOperations && !cfg.SingleCompany {
		o.Params = []odata.Param{{Name: "cross-company", Value: "true"}}
	}
	var errs [4]error
	c.production, errs[0] = odata.NewCollection(conn, entitySet(cfg.Production), cfg.ProductionFields, o)
	c.maintenance, errs[1] = odata.NewCollection(conn, entitySet(cfg.Maintenance), cfg.MaintenanceFields, o)
	c.energy, errs[2] = odata.NewCollection(conn, entitySet(cfg.Energy), cfg.EnergyFields, o)
	c.costs, errs[3] = odata.NewCollection(conn, entitySet(cfg.Costs), cfg.CostFields, o)
	if err := errors.Join(errs[:]...); err != nil {
		conn.Close()
		return nil, err
	}
	return c, nil
}

// entitySet translates an Entity; one without an EntitySet is not read
// (erp.ErrNotSupported).
func entitySet(e Entity) odata.EntitySet {
	tl := odata.DateTimeOffset
	if e.DateOnly {
		tl = odata.Date
	}
	return odata.EntitySet{Name: e.EntitySet, TimeProperty: e.TimeProperty, TimeLiteral: tl,
		PlantProperty: e.PlantProperty, ChangeTracking: e.ChangeTracking}
}

// Close releases the client's idle connections. Later calls fail with
// erp.ErrClosed; Close itself returns erp.ErrClosed after the first call.
func (c *Client) Close() error { return c.conn.Close() }

// Stats returns a snapshot of the client's HTTP counters.
func (c *Client) Stats() erp.ConnStats { return c.conn.Stats() }

// Production streams production orders (F&O ProductionOrderHeaders by
// default) whose scheduled start lies in [q.From, q.To).
func (c *Client) Production(ctx context.Context, q erp.Query) iter.Seq2[erp.ProductionOrder, error] {
	return c.production.List(ctx, q)
}

// Maintenance streams maintenance work orders (Field Service
// msdyn_workorders on the Web API by default).
func (c *Client) Maintenance(ctx context.Context, q erp.Query) iter.Seq2[erp.MaintenanceOrder, error] {
	return c.maintenance.List(ctx, q)
}

// Energy streams energy records from the configured entity set; with none
// configured it yields erp.ErrNotSupported.
func (c *Client) Energy(ctx context.Context, q erp.Query) iter.Seq2[erp.EnergyRecord, error] {
	return c.energy.List(ctx, q)
}

// Costs streams cost records (F&O GeneralJournalAccountEntries by default).
func (c *Client) Costs(ctx context.Context, q erp.Query) iter.Seq2[erp.CostRecord, error] {
	return c.costs.List(ctx, q)
}

// ProductionChanges reads the production orders changed since a cursor; an
// erp.ChangeFunc for erp.Poller.
func (c *Client) ProductionChanges(ctx context.Context, q erp.Query, since erp.Cursor, page func([]erp.Change[erp.ProductionOrder]) error) (erp.Cursor, error) {
	return c.production.Changes(ctx, q, since, page)
}

// MaintenanceChanges reads the maintenance orders changed since a cursor.
func (c *Client) MaintenanceChanges(ctx context.Context, q erp.Query, since erp.Cursor, page func([]erp.Change[erp.MaintenanceOrder]) error) (erp.Cursor, error) {
	return c.maintenance.Changes(ctx, q, since, page)
}

// EnergyChanges reads the energy records changed since a cursor.
func (c *Client) EnergyChanges(ctx context.Context, q erp.Query, since erp.Cursor, page func([]erp.Change[erp.EnergyRecord]) error) (erp.Cursor, error) {
	return c.energy.Changes(ctx, q, since, page)
}

// CostChanges reads the cost records changed since a cursor.
func (c *Client) CostChanges(ctx context.Context, q erp.Query, since erp.Cursor, page func([]erp.Change[erp.CostRecord]) error) (erp.Cursor, error) {
	return c.costs.Changes(ctx, q, since, page)
}
