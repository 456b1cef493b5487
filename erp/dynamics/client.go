package dynamics

import (
	"context"
	"fmt"
	"iter"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/greenlang/gl001/erp"
	"github.com/greenlang/gl001/erp/internal/odata"
)

// DefaultPageSize is the odata.maxpagesize preference when neither
// Query.PageSize nor Config.PageSize is set.
const DefaultPageSize = 1000

// Client reads a Dynamics 365 organisation over OData V4. It implements
// erp.Client and is safe for concurrent use.
type Client struct {
	cfg  Config
	conn *erp.Conn
	root *url.URL

	production  *odata.Collection[erp.ProductionOrder]
	maintenance *odata.Collection[erp.MaintenanceOrder]
	energy      *odata.Collection[erp.EnergyRecord]
	costs       *odata.Collection[erp.CostRecord]
}

var _ erp.Client = (*Client)(nil)

func pick[F any](e Entity, f F, hasKey bool, defE Entity, defF F) (Entity, F) {
	if e.EntitySet == "" {
		e = defE
	}
	if !hasKey {
		f = defF
	}
	return e, f
}

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
	if cc, ok := cfg.Auth.(erp.ClientCredentials); ok && len(cc.Scopes) == 0 {
		scope, err := Scope(cfg.BaseURL)
		if err != nil {
			return nil, err
		}
		cc.Scopes = []string{scope}
		cfg.Auth = cc
	}
	switch cfg.Flavour {
	case FinanceOperations:
		cfg.Production, cfg.ProductionFields = pick(cfg.Production, cfg.ProductionFields, len(cfg.ProductionFields.Key) > 0, DefaultFOProduction, DefaultFOProductionFields)
		cfg.Maintenance, cfg.MaintenanceFields = pick(cfg.Maintenance, cfg.MaintenanceFields, len(cfg.MaintenanceFields.Key) > 0, DefaultFOMaintenance, DefaultFOMaintenanceFields)
		cfg.Costs, cfg.CostFields = pick(cfg.Costs, cfg.CostFields, len(cfg.CostFields.Key) > 0, DefaultFOCosts, DefaultFOCostFields)
	default:
		cfg.Maintenance, cfg.MaintenanceFields = pick(cfg.Maintenance, cfg.MaintenanceFields, len(cfg.MaintenanceFields.Key) > 0, DefaultWebAPIMaintenance, DefaultWebAPIMaintenanceFields)
	}
	base, err := url.Parse(strings.TrimSuffix(cfg.BaseURL, "/") + "/")
	if err != nil {
		return nil, fmt.Errorf("%w: BaseURL: %v", erp.ErrConfig, err)
	}
	rootPath := "api/data/" + cfg.APIVersion + "/"
	if cfg.Flavour == FinanceOperations {
		rootPath = "data/"
	}
	conn, err := erp.NewConn(cfg.ConnConfig)
	if err != nil {
		return nil, err
	}
	conn.SetErrorParser(odata.ParseError)
	c := &Client{cfg: cfg, conn: conn, root: base.ResolveReference(&url.URL{Path: rootPath})}
	mo := erp.MappingOptions{Location: cfg.Location}
	if c.production, err = collection(c, cfg.Production, cfg.ProductionFields.Key, cfg.ProductionFields.Changed, cfg.ProductionFields.Mapping, mo); err != nil {
		return nil, err
	}
	if c.maintenance, err = collection(c, cfg.Maintenance, cfg.MaintenanceFields.Key, cfg.MaintenanceFields.Changed, cfg.MaintenanceFields.Mapping, mo); err != nil {
		return nil, err
	}
	if c.energy, err = collection(c, cfg.Energy, cfg.EnergyFields.Key, cfg.EnergyFields.Changed, cfg.EnergyFields.Mapping, mo); err != nil {
		return nil, err
	}
	if c.costs, err = collection(c, cfg.Costs, cfg.CostFields.Key, cfg.CostFields.Changed, cfg.CostFields.Mapping, mo); err != nil {
		return nil, err
	}
	return c, nil
}

// collection builds the reader of one entity; an entity without an entity
// set (or without a mapping) answers every query with erp.ErrNotSupported.
func collection[T erp.Record](c *Client, e Entity, key []string, changed string,
	mapping func(erp.MappingOptions) (erp.Mapping[T], error), mo erp.MappingOptions) (*odata.Collection[T], error) {
	col := &odata.Collection[T]{Conn: c.conn, Root: c.root, EntitySet: e.EntitySet, Keys: key,
		Changed: changed, Tracking: e.ChangeTracking}
	if e.EntitySet == "" || len(key) == 0 {
		col.Spec = func(erp.Query, bool) (odata.Spec, error) {
			return odata.Spec{}, fmt.Errorf("%w: no entity set configured for this record type on %s",
				erp.ErrNotSupported, c.cfg.System)
		}
		return col, nil
	}
	m, err := mapping(mo)
	if err != nil {
		return nil, err
	}
	col.Mapping = m
	col.Spec = func(q erp.Query, tracked bool) (odata.Spec, error) { return specFor(c, e, m.Properties(), q, tracked) }
	return col, nil
}

func specFor(c *Client, e Entity, props []string, q erp.Query, tracked bool) (odata.Spec, error) {
	if q.Plant != "" && e.PlantProperty == "" {
		return odata.Spec{}, fmt.Errorf("%w: %s has no plant property configured, so Query.Plant cannot be applied",
			erp.ErrBadRequest, e.EntitySet)
	}
	if q.PageSize < 0 {
		return odata.Spec{}, fmt.Errorf("%w: negative page size", erp.ErrBadRequest)
	}
	tk := odata.DateTimeOffset
	if e.DateOnly {
		tk = odata.Date
	}
	conds, err := odata.QueryConds(q, e.TimeProperty, e.PlantProperty, 4, tk)
	if err != nil {
		return odata.Spec{}, err
	}
	size := q.PageSize
	if size == 0 {
		size = c.cfg.PageSize
	}
	var p odata.Params
	if c.cfg.Flavour == FinanceOperations && !c.cfg.SingleCompany {
		p.Add("cross-company", "true")
	}
	p.Add("$select", strings.Join(props, ","))
	if len(conds) > 0 {
		p.Add("$filter", odata.Filter(conds))
	}
	prefer := "odata.maxpagesize=" + strconv.Itoa(size)
	if tracked {
		prefer = "odata.track-changes," + prefer
	}
	h := http.Header{
		"Accept":           {"application/json"},
		"Odata-Version":    {"4.0"},
		"Odata-Maxversion": {"4.0"},
		"Prefer":           {prefer},
	}
	// No $skip: Dynamics pages only through @odata.nextLink.
	return odata.Spec{Conn: c.conn, Entity: e.EntitySet, Root: c.root,
		First: c.root.String() + e.EntitySet + "?" + p.Encode(), Header: h, PageSize: size}, nil
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
