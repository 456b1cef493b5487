package odata

import (
	"context"
	"errors"
	"iter"

	"github.com/greenlang/gl001/erp"
	core "github.com/greenlang/gl001/erp/internal/odata"
)

// Client reads any OData V2 or V4 service as erp records. It implements
// erp.Client and is safe for concurrent use.
type Client struct {
	conn        *erp.Conn
	energy      *Collection[erp.EnergyRecord]
	production  *Collection[erp.ProductionOrder]
	maintenance *Collection[erp.MaintenanceOrder]
	costs       *Collection[erp.CostRecord]
}

var _ erp.Client = (*Client)(nil)

// New validates cfg and returns a Client. It sends no request.
func New(cfg Config) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.System == "" {
		cfg.System = "odata"
	}
	conn, err := NewConn(cfg.ConnConfig)
	if err != nil {
		return nil, err
	}
	c := &Client{conn: conn}
	var errs [4]error
	c.energy, errs[0] = NewCollection(conn, cfg.Energy, cfg.EnergyFields, cfg.Options)
	c.production, errs[1] = NewCollection(conn, cfg.Production, cfg.ProductionFields, cfg.Options)
	c.maintenance, errs[2] = NewCollection(conn, cfg.Maintenance, cfg.MaintenanceFields, cfg.Options)
	c.costs, errs[3] = NewCollection(conn, cfg.Costs, cfg.CostFields, cfg.Options)
	if err := errors.Join(errs[:]...); err != nil {
		conn.Close()
		return nil, err
	}
	return c, nil
}

// NewConn builds the Conn of an OData system: erp.NewConn with the OData
// error body (error.code and error.message, V2 and V4) parsed into
// erp.StatusError.
func NewConn(cfg erp.ConnConfig) (*erp.Conn, error) {
	conn, err := erp.NewConn(cfg)
	if err != nil {
		return nil, err
	}
	conn.SetErrorParser(core.ParseError)
	return conn, nil
}

// Close releases the client's idle connections. Later calls fail with
// erp.ErrClosed; Close itself returns erp.ErrClosed after the first call.
func (c *Client) Close() error { return c.conn.Close() }

// Stats returns a snapshot of the client's HTTP counters.
func (c *Client) Stats() erp.ConnStats { return c.conn.Stats() }

// Energy streams the energy records of the Energy entity set whose time lies
// in [q.From, q.To).
func (c *Client) Energy(ctx context.Context, q erp.Query) iter.Seq2[erp.EnergyRecord, error] {
	return c.energy.List(ctx, q)
}

// Production streams the production orders of the Production entity set
// whose planned start lies in [q.From, q.To).
func (c *Client) Production(ctx context.Context, q erp.Query) iter.Seq2[erp.ProductionOrder, error] {
	return c.production.List(ctx, q)
}

// Maintenance streams the maintenance orders of the Maintenance entity set
// whose planned start lies in [q.From, q.To).
func (c *Client) Maintenance(ctx context.Context, q erp.Query) iter.Seq2[erp.MaintenanceOrder, error] {
	return c.maintenance.List(ctx, q)
}

// Costs streams the cost records of the Costs entity set posted in
// [q.From, q.To).
func (c *Client) Costs(ctx context.Context, q erp.Query) iter.Seq2[erp.CostRecord, error] {
	return c.costs.List(ctx, q)
}

// EnergyChanges reads the energy records changed since a cursor; an
// erp.ChangeFunc for erp.Poller.
func (c *Client) EnergyChanges(ctx context.Context, q erp.Query, since erp.Cursor, page func([]erp.Change[erp.EnergyRecord]) error) (erp.Cursor, error) {
	return c.energy.Changes(ctx, q, since, page)
}

// ProductionChanges reads the production orders changed since a cursor.
func (c *Client) ProductionChanges(ctx context.Context, q erp.Query, since erp.Cursor, page func([]erp.Change[erp.ProductionOrder]) error) (erp.Cursor, error) {
	return c.production.Changes(ctx, q, since, page)
}

// MaintenanceChanges reads the maintenance orders changed since a cursor.
func (c *Client) MaintenanceChanges(ctx context.Context, q erp.Query, since erp.Cursor, page func([]erp.Change[erp.MaintenanceOrder]) error) (erp.Cursor, error) {
	return c.maintenance.Changes(ctx, q, since, page)
}

// CostChanges reads the cost records changed since a cursor.
func (c *Client) CostChanges(ctx context.Context, q erp.Query, since erp.Cursor, page func([]erp.Change[erp.CostRecord]) error) (erp.Cursor, error) {
	return c.costs.Changes(ctx, q, since, page)
}
