package workday

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/greenlang/gl001/erp"
	"github.com/greenlang/gl001/erp/internal/odata"
	"github.com/greenlang/gl001/resilience/httpretry"
)

// Client reads Workday Financial Management: costs and spend through Web
// Services (SOAP) and custom reports (RaaS). It implements erp.Client;
// Production and Maintenance answer erp.ErrNotSupported, since Workday has
// neither. It is safe for concurrent use.
type Client struct {
	cfg  Config
	conn *erp.Conn
	base string

	password *secretCache // nil without Username
	user     string

	costs  *reader[erp.CostRecord]
	energy *reader[erp.EnergyRecord]

	now func() time.Time
}

var _ erp.Client = (*Client)(nil)

// New validates cfg and returns a Client. It sends no request.
func New(cfg Config) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.System == "" {
		cfg.System = "workday"
	}
	if cfg.Version == "" {
		cfg.Version = DefaultVersion
	}
	if cfg.PageSize == 0 {
		cfg.PageSize = DefaultPageSize
	}
	if cfg.Costs.Name == "" {
		cfg.Costs = SupplierInvoices
	}
	if cfg.CostFields.IsZero() && !cfg.CostsReport.configured() {
		switch cfg.Costs.Name {
		case SupplierInvoices.Name:
			cfg.CostFields = SupplierInvoiceFields
		case Journals.Name:
			cfg.CostFields = JournalFields
		}
	}
	if cfg.EnergyFields.IsZero() {
		cfg.EnergyFields = DefaultEnergyFields
	}
	if ts, ok := cfg.Auth.(erp.TokenSource); ok && ts.Fetch != nil {
		fetch, system := ts.Fetch, cfg.System
		ts.Fetch = func(ctx context.Context, hc *http.Client) (erp.Token, error) {
			tok, err := fetch(ctx, hc)
			var ae *erp.AuthError
			if errors.As(err, &ae) && ae.System == "workday" {
				ae.System = system
			}
			return tok, err
		}
		cfg.Auth = ts
	}
	conn, err := erp.NewConn(cfg.ConnConfig)
	if err != nil {
		return nil, err
	}
	c := &Client{cfg: cfg, conn: conn, base: strings.TrimSuffix(cfg.BaseURL, "/"), now: time.Now}
	if cfg.Username != "" {
		c.user = cfg.Username
		if !strings.Contains(c.user, "@") {
			c.user += "@" + cfg.Tenant
		}
		c.password = &secretCache{p: cfg.Password}
	}
	conn.SetErrorParser(c.parseError)
	mo := erp.MappingOptions{Location: cfg.Location}
	cm, err := cfg.CostFields.Mapping(mo)
	if err != nil {
		return nil, err
	}
	em, err := cfg.EnergyFields.Mapping(mo)
	if err != nil {
		return nil, err
	}
	c.costs = &reader[erp.CostRecord]{c: c, op: cfg.Costs, report: cfg.CostsReport, m: cm, changed: cfg.CostFields.Changed}
	c.energy = &reader[erp.EnergyRecord]{c: c, report: cfg.EnergyReport, m: em, changed: cfg.EnergyFields.Changed}
	return c, nil
}

// parseError reads a SOAP fault or a REST error body, and removes the
// password from what it found.
func (c *Client) parseError(body []byte) (code, msg string) {
	if code, msg, ok := ParseFault(body); ok {
		return c.scrub(code), c.scrub(msg)
	}
	code, msg = odata.ParseError(body) // RaaS and REST answer {"error": ...}
	if code == "" && msg == "" {
		var e struct {
			Error   string `json:"error"`
			Message string `json:"message"`
		}
		if jsonUnmarshal(body, &e) == nil {
			code, msg = e.Error, e.Message
		}
	}
	return c.scrub(code), c.scrub(msg)
}

func (c *Client) scrub(s string) string {
	if c.password == nil {
		return s
	}
	return redact(s, c.password.current())
}

// Close releases the client's idle connections. Later calls fail with
// erp.ErrClosed; Close itself returns erp.ErrClosed after the first call.
func (c *Client) Close() error { return c.conn.Close() }

// Stats returns a snapshot of the client's HTTP counters.
func (c *Client) Stats() erp.ConnStats { return c.conn.Stats() }

// Production answers erp.ErrNotSupported: Workday has no production module.
func (c *Client) Production(context.Context, erp.Query) iter.Seq2[erp.ProductionOrder, error] {
	return notSupported[erp.ProductionOrder](c.cfg.System, "production orders")
}

// Maintenance answers erp.ErrNotSupported: Workday has no maintenance module.
func (c *Client) Maintenance(context.Context, erp.Query) iter.Seq2[erp.MaintenanceOrder, error] {
	return notSupported[erp.MaintenanceOrder](c.cfg.System, "maintenance orders")
}

func notSupported[T any](system, what string) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		var zero T
		yield(zero, fmt.Errorf("%w: %s has no %s", erp.ErrNotSupported, system, what))
	}
}

// Costs streams cost records dated in [q.From, q.To): supplier invoices
// through Get_Supplier_Invoices by default, the configured operation
// (Journals, say) or CostsReport.
func (c *Client) Costs(ctx context.Context, q erp.Query) iter.Seq2[erp.CostRecord, error] {
	return c.costs.list(ctx, q)
}

// Energy streams energy bought, from EnergyReport (utility invoice lines
// with quantities); without one configured it answers erp.ErrNotSupported.
func (c *Client) Energy(ctx context.Context, q erp.Query) iter.Seq2[erp.EnergyRecord, error] {
	if !c.energy.report.configured() {
		return notSupported[erp.EnergyRecord](c.cfg.System, "energy source configured (set EnergyReport)")
	}
	return c.energy.list(ctx, q)
}

// CostChanges reads the cost records added or changed since a cursor,
// through a watermark on the mapping's Changed field. Workday's criteria
// cannot select by it, so each round reads the Query's range and delivers
// only what is newer than the watermark. An erp.ChangeFunc, for erp.Poller.
func (c *Client) CostChanges(ctx context.Context, q erp.Query, since erp.Cursor, page func([]erp.Change[erp.CostRecord]) error) (erp.Cursor, error) {
	return c.costs.changes(ctx, q, since, page)
}

// EnergyChanges reads the energy records added or changed since a cursor.
func (c *Client) EnergyChanges(ctx context.Context, q erp.Query, since erp.Cursor, page func([]erp.Change[erp.EnergyRecord]) error) (erp.Cursor, error) {
	if !c.energy.report.configured() {
		return since, fmt.Errorf("%w: %s has no energy source configured (set EnergyReport)", erp.ErrNotSupported, c.cfg.System)
	}
	return c.energy.changes(ctx, q, since, page)
}

// reader reads one record type from a SOAP operation or a report.
type reader[T erp.Record] struct {
	c       *Client
	op      Operation
	report  Report
	m       erp.Mapping[T]
	changed string
}

func (r *reader[T]) changes(ctx context.Context, q erp.Query, since erp.Cursor, page func([]erp.Change[T]) error) (erp.Cursor, error) {
	if r.changed == "" {
		return since, fmt.Errorf("%w: no Changed field mapped", erp.ErrNotSupported)
	}
	return erp.WatermarkChanges(r.list, r.changed)(ctx, q, since, page)
}

// filter is the part of a Query checked on decoded records: the time range
// and watermark filters on the Changed field.
type filter struct {
	from, to time.Time
	after    time.Time // Changed >= after (or > if strict)
	strict   bool
}

func (r *reader[T]) filter(q erp.Query) (filter, error) {
	f := filter{from: q.From, to: q.To}
	for _, fl := range q.Filters {
		t, ok := fl.Value.(time.Time)
		if fl.Property != r.changed || r.changed == "" || !ok || (fl.Op != erp.Ge && fl.Op != erp.Gt) {
			return f, fmt.Errorf("%w: Workday criteria cannot express the filter on %q; use a report with a prompt for it",
				erp.ErrBadRequest, fl.Property)
		}
		if t.After(f.after) || t.Equal(f.after) {
			f.after, f.strict = t, fl.Op == erp.Gt
		}
	}
	return f, nil
}

// keep reports whether rec passes the filter; outOfRange is set when it
// does not because its time lies outside [from, to) (or it has none while
// the query is bounded), which the caller counts.
func (f filter) keep(rec any) (ok, outOfRange bool) {
	var start, changed time.Time
	switch x := rec.(type) {
	case erp.CostRecord:
		start, changed = x.Period.Start, x.Changed
	case erp.EnergyRecord:
		start, changed = x.Period.Start, x.Changed
	}
	q := erp.Query{From: f.from, To: f.to}
	if q.Bounded() && (start.IsZero() || !q.Contains(start)) {
		return false, true
	}
	if !f.after.IsZero() && (changed.Before(f.after) || (f.strict && changed.Equal(f.after))) {
		return false, false
	}
	return true, false
}

func (r *reader[T]) list(ctx context.Context, q erp.Query) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		var zero T
		f, err := r.filter(q)
		if err == nil && q.PageSize < erp.ServerPageSize {
			err = fmt.Errorf("%w: negative page size", erp.ErrBadRequest)
		}
		if err != nil {
			yield(zero, err)
			return
		}
		emit := func(rec T, err error) bool {
			if err != nil {
				r.c.conn.CountMalformed(1)
				return yield(zero, err)
			}
			if ok, out := f.keep(rec); !ok {
				if out {
					r.c.conn.CountOutOfRange(1)
					r.c.conn.Logger().Debug("dropped a record outside the query's range", "time", erp.RangeTime(rec))
				}
				return true
			}
			return yield(rec, nil)
		}
		if r.report.configured() {
			err = r.readReport(ctx, q, emit)
		} else {
			err = r.readSOAP(ctx, q, emit)
		}
		if err != nil && err != errStop {
			yield(zero, err)
		}
	}
}

var errStop = errors.New("workday: stop")

// readSOAP pages through the operation: Page 1..Total_Pages with Count
// records a page and As_Of_Entry_DateTime pinned to the first request, so
// the pages are one consistent snapshot.
func (r *reader[T]) readSOAP(ctx context.Context, q erp.Query, emit func(T, error) bool) error {
	c := r.c
	op := r.op
	if q.Plant != "" && op.PlantElement == "" {
		return fmt.Errorf("%w: %s has no plant criteria configured, so Query.Plant cannot be applied", erp.ErrBadRequest, op.Name)
	}
	size := q.PageSize
	if size <= 0 {
		// Response_Filter needs a Count: ServerPageSize takes the configured one.
		size = c.cfg.PageSize
	}
	size = min(size, MaxPageSize)
	u := c.base + "/ccx/service/" + url.PathEscape(c.cfg.Tenant) + "/" + url.PathEscape(op.Service) + "/" + url.PathEscape(c.cfg.Version)
	src := erp.Source{System: c.cfg.System, Entity: op.Name}
	dec := NewDecoder(r.m.Properties(), op.Line)
	// As_Of_Entry_DateTime has millisecond precision: round up, so what was
	// entered before the first request is in the snapshot.
	req := request{op: op, version: c.cfg.Version, user: c.user, from: q.From, to: q.To, plant: q.Plant,
		asOf: c.now().UTC().Truncate(time.Millisecond).Add(time.Millisecond), count: size}
	stopped := false
	for page := 1; ; page++ {
		req.page = page
		res, err := c.soap(ctx, u, &req, dec, func(row erp.Row) error {
			rec, err := r.m.Record(src, row)
			if !emit(rec, err) {
				stopped = true
				return errStop
			}
			return nil
		})
		if stopped {
			return errStop
		}
		if err != nil {
			return err
		}
		if res.TotalPages == 0 && res.Documents > 0 {
			c.conn.CountMalformed(1)
			return &erp.MalformedError{System: c.cfg.System, Entity: op.Name, Field: "Response_Results/Total_Pages",
				Offset: -1, Err: errors.New("missing, with documents in the page")}
		}
		if page == 1 && q.OnTotal != nil {
			q.OnTotal(int64(res.TotalResults)) // the documents Workday counts, after the first page
		}
		if page >= res.TotalPages {
			return nil
		}
	}
}

// soap sends one request and decodes the answer. SOAP faults arrive as HTTP
// 500 whether the request was wrong or the server failed, so SOAP requests
// are not left to the shared retries (which would repeat a validation fault
// and count it against the circuit breaker): throttling and server errors
// without a fault are retried here, with Retry-After honoured by the shared
// pause and the configured backoff otherwise, and a fault is returned at
// once, except that an authentication fault asks for the password again,
// once.
func (c *Client) soap(ctx context.Context, u string, req *request, dec *Decoder, fn func(erp.Row) error) (Results, error) {
	maxRetries := c.cfg.Retry.MaxRetries
	if maxRetries == 0 {
		maxRetries = httpretry.DefaultMaxRetries
	}
	reasked := false
	for retries := 0; ; {
		if c.password != nil {
			pw, err := c.password.get(ctx)
			if err != nil {
				return Results{}, &erp.AuthError{System: c.cfg.System, Err: err}
			}
			req.password = pw
		}
		h := http.Header{
			"Content-Type": {"text/xml; charset=utf-8"},
			"Accept":       {"text/xml"},
			"Soapaction":   {`""`},
		}
		resp, err := c.conn.Do(ctx, erp.Request{Method: http.MethodPost, URL: u, Header: h, Body: req.bytes()})
		req.password = ""
		if err != nil {
			var se *erp.StatusError
			if !errors.As(err, &se) {
				return Results{}, err
			}
			if strings.Contains(se.Code, ":") { // a SOAP fault: faultcode is a QName
				fe := &FaultError{System: c.cfg.System, Code: se.Code, String: se.Message, Err: err}
				if errors.Is(fe, erp.ErrUnauthorized) && c.password != nil && !reasked && c.password.reject() {
					reasked = true
					c.conn.Logger().Info("SOAP credentials refused; asking for the password again")
					continue
				}
				return Results{}, fe
			}
			if !se.Temporary() || retries >= maxRetries || maxRetries < 0 {
				return Results{}, err
			}
			if se.RetryAfter == 0 {
				// With Retry-After, the shared pause makes the next attempt wait.
				t := time.NewTimer(c.cfg.Retry.Backoff.Delay(retries))
				select {
				case <-ctx.Done():
					t.Stop()
					return Results{}, ctx.Err()
				case <-t.C:
				}
			}
			retries++
			c.conn.Logger().Info("retrying SOAP request", "operation", req.op.Name, "status", se.StatusCode, "retry", retries)
			continue
		}
		res, err := dec.Decode(resp.Body, fn)
		if err == errStop {
			return res, err
		}
		if err != nil {
			c.conn.CountMalformed(1)
			var se *SyntaxError
			if errors.As(err, &se) {
				return res, &erp.MalformedError{System: c.cfg.System, Entity: req.op.Name, Field: se.Field, Offset: se.Offset, Err: se.Err}
			}
			return res, err
		}
		if res.Fault != nil {
			res.Fault.System = c.cfg.System
			res.Fault.Code, res.Fault.String = c.scrub(res.Fault.Code), c.scrub(res.Fault.String)
			return res, res.Fault
		}
		return res, nil
	}
}

// readReport reads a custom report: one request, answered with every entry
// as {"Report_Entry":[...]}.
func (r *reader[T]) readReport(ctx context.Context, q erp.Query, emit func(T, error) bool) error {
	c := r.c
	rep := r.report
	if q.Plant != "" && rep.PlantParam == "" {
		return fmt.Errorf("%w: report %s has no plant prompt configured, so Query.Plant cannot be applied", erp.ErrBadRequest, rep.Name)
	}
	v := url.Values{}
	for k, vs := range rep.Params {
		v[k] = append([]string(nil), vs...)
	}
	if rep.FromParam != "" && !q.From.IsZero() {
		v.Set(rep.FromParam, q.From.UTC().Format(time.DateOnly))
	}
	if rep.ToParam != "" && !q.To.IsZero() {
		v.Set(rep.ToParam, q.To.UTC().Add(-time.Nanosecond).Format(time.DateOnly))
	}
	if q.Plant != "" {
		v.Set(rep.PlantParam, q.Plant)
	}
	v.Set("format", "json")
	u := c.base + "/ccx/service/customreport2/" + url.PathEscape(c.cfg.Tenant) + "/" + url.PathEscape(rep.Owner) + "/" +
		url.PathEscape(rep.Name) + "?" + strings.ReplaceAll(v.Encode(), "+", "%20")
	resp, err := c.conn.Do(ctx, erp.Request{URL: u, Header: http.Header{"Accept": {"application/json"}}})
	if err != nil {
		return err
	}
	src := erp.Source{System: c.cfg.System, Entity: rep.Name}
	dec := odata.NewDecoder(odata.NewProps(r.m.Properties()))
	_, err = dec.DecodeMember(resp.Body, "Report_Entry", func(row erp.Row, _ odata.Entity) error {
		rec, err := r.m.Record(src, row)
		if !emit(rec, err) {
			return odata.ErrStop
		}
		return nil
	}, nil)
	if err == odata.ErrStop {
		return errStop
	}
	if err != nil {
		c.conn.CountMalformed(1)
		var oe *odata.Error
		if errors.As(err, &oe) {
			return &erp.MalformedError{System: c.cfg.System, Entity: rep.Name, Field: oe.Field, Offset: oe.Offset, Err: oe.Err}
		}
		return err
	}
	return nil
}

// secretCache asks a provider once, and again after a rejection.
type secretCache struct {
	p     erp.SecretProvider
	mu    sync.Mutex
	val   string
	valid bool
}

func (s *secretCache) get(ctx context.Context) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.valid {
		return s.val, nil
	}
	v, err := s.p.Secret(ctx)
	if err != nil {
		return "", err
	}
	if v == "" {
		return "", errors.New("erp: password provider returned an empty password")
	}
	s.val, s.valid = v, true
	return v, nil
}

// reject forgets the cached password; it reports whether there was one.
func (s *secretCache) reject() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	was := s.valid
	s.valid = false
	return was
}

func (s *secretCache) current() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.val
}
