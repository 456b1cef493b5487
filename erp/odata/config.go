package odata

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/greenlang/gl001/erp"
)

// TimeLiteral says how the bounds of Query.From and Query.To are written
// for an entity set's time property in $filter.
type TimeLiteral int

const (
	// DateTime writes OData V2 Edm.DateTime literals,
	// datetime'2024-02-01T12:00:00' (UTC clock time). The default for V2.
	DateTime TimeLiteral = iota + 1
	// DateTimeOffset writes Edm.DateTimeOffset literals:
	// datetimeoffset'2024-02-01T12:00:00Z' in V2, 2024-02-01T12:00:00Z in
	// V4. The default for V4.
	DateTimeOffset
	// Date writes V4 Edm.Date literals, 2024-02-01, for a property that
	// holds days. A date cannot carry a time of day, so the bounds are
	// widened to whole days on the server and the client drops what lies
	// outside [From, To) (counted in ConnStats.OutOfRange): the caller gets
	// exactly the records of the range, never a rounded one.
	Date
)

func (t TimeLiteral) valid() bool { return t >= 0 && t <= Date }

// Paging says how a collection is read page by page.
type Paging int

const (
	// ClientPaging asks for PageSize records with $top, sorted by OrderBy
	// so that $skip is stable, and follows the server's next links; when
	// the server sends a full page without a next link, the next page is
	// asked for with $skip. An empty or short page ends the stream. The
	// default (SAP Gateway, SAP CAP, most OData services).
	ClientPaging Paging = iota
	// ServerPaging sends Prefer: odata.maxpagesize=PageSize and follows the
	// server's next links only; no $top, $skip or $orderby (Dynamics 365 and
	// Dataverse refuse $skip).
	ServerPaging
)

// DefaultPageSize is the page size when neither Query.PageSize nor the
// configuration sets one: $top=1000 with ClientPaging, so a server whose own
// pages are smaller still answers with up to 1000 records per page, or
// splits them with next links. Set PageSize to erp.ServerPageSize to send no
// $top and let the server choose its page size.
const DefaultPageSize = 1000

// EntitySet locates one entity set of an OData service and says how to
// query it.
type EntitySet struct {
	// ServiceRoot is the absolute URL of the OData service the set belongs
	// to, e.g. "https://cap.example.com/odata/v4/energy/". Empty: the
	// client's ServiceRoot. No path is added to it: it is the root as the
	// service's own $metadata is found under it.
	ServiceRoot string
	// Version is the OData version of the service, 2 or 4. Zero: the
	// client's Version.
	Version int
	// Name is the entity set, e.g. "Readings". Empty: the record type is
	// not read from this service; its method yields erp.ErrNotSupported.
	Name string
	// TimeProperty is compared with Query.From and Query.To. If empty, a
	// query with a time range is still answered exactly, but filtered on
	// the client only (every record is read).
	TimeProperty string
	// TimeLiteral is how TimeProperty is written in $filter. Zero:
	// DateTime for V2, DateTimeOffset for V4.
	TimeLiteral TimeLiteral
	// WholeDays says that TimeProperty holds days (midnight values), as SAP
	// V2 date properties do beside a separate time-of-day property: the
	// bounds are widened to whole days and the client trims. Implied by
	// TimeLiteral Date, and by a field mapping whose range time has a Time
	// property.
	WholeDays bool
	// PlantProperty is compared with Query.Plant. If empty, a query with a
	// Plant is refused (erp.ErrBadRequest) rather than answered unfiltered.
	PlantProperty string
	// OrderBy sorts the collection for ClientPaging; default the key
	// properties of the field mapping.
	OrderBy []string
	// ChangeTracking reads the ...Changes methods with OData change tracking
	// (Prefer: odata.track-changes, delta links, deleted entities);
	// otherwise they keep a watermark on the mapping's Changed property.
	ChangeTracking bool
}

// Param is a query parameter sent with every request.
type Param struct {
	Name, Value string
}

// Options apply to every entity set of one client.
type Options struct {
	// ServiceRoot is the service of every EntitySet that names none.
	ServiceRoot string
	// Version is the OData version of every EntitySet that names none, 2
	// or 4. Zero means 4.
	Version int
	// Location interprets date-times that carry no zone (V2 Edm.DateTime
	// text, plain dates). Nil means UTC.
	Location *time.Location
	// PageSize is the page size when Query.PageSize is zero: $top with
	// ClientPaging, odata.maxpagesize with ServerPaging. Zero means
	// DefaultPageSize (1000); erp.ServerPageSize sends none.
	PageSize int
	// Paging chooses client ($top/$skip) or server paging.
	Paging Paging
	// Params are sent with every request, and added to next and delta links
	// that lack them (SAP's sap-client, F&O's cross-company).
	Params []Param
	// InlineCount asks for the total count on the first page of every query
	// ($inlinecount=allpages in V2, $count=true in V4), for
	// Query.OnTotal; a query with OnTotal set asks for it anyway. Counting
	// costs the server a second query.
	InlineCount bool
}

// Config configures a Client for any OData V2 or V4 service: the field
// mapping of each record type says which properties fill which field, and
// nothing else is assumed of the service.
type Config struct {
	// ConnConfig is the shared HTTP machinery: System (default "odata"),
	// Auth, rate limit (100/min), timeout (2 s), TLS, retries.
	erp.ConnConfig
	// Options: service root, version, page size and paging, parameters.
	Options

	Energy            EntitySet
	EnergyFields      erp.EnergyFields
	Production        EntitySet
	ProductionFields  erp.ProductionFields
	Maintenance       EntitySet
	MaintenanceFields erp.MaintenanceFields
	Costs             EntitySet
	CostFields        erp.CostFields
}

// Validate reports every problem of c, joined with errors.Join; each matches
// erp.ErrConfig.
func (c Config) Validate() error {
	cc := c.ConnConfig
	if cc.System == "" {
		cc.System = "odata"
	}
	errs := []error{cc.Validate(), c.Options.validate(cc)}
	configured := false
	check := func(what string, set EntitySet, fieldsZero bool, fieldsErr error) {
		if set.Name == "" {
			if !fieldsZero {
				errs = append(errs, fmt.Errorf("%w: %sFields are set but %s.Name is empty", erp.ErrConfig, what, what))
			}
			return
		}
		configured = true
		errs = append(errs, set.validate(what, c.Options, cc))
		if fieldsZero {
			errs = append(errs, fmt.Errorf("%w: %s.Name is set but %sFields are empty: map the service's properties", erp.ErrConfig, what, what))
		} else {
			errs = append(errs, fieldsErr)
		}
	}
	check("Energy", c.Energy, c.EnergyFields.IsZero(), c.EnergyFields.Validate())
	check("Production", c.Production, c.ProductionFields.IsZero(), c.ProductionFields.Validate())
	check("Maintenance", c.Maintenance, c.MaintenanceFields.IsZero(), c.MaintenanceFields.Validate())
	check("Costs", c.Costs, c.CostFields.IsZero(), c.CostFields.Validate())
	if !configured {
		errs = append(errs, fmt.Errorf("%w: no entity set configured (set Energy.Name, Production.Name ...)", erp.ErrConfig))
	}
	return errors.Join(errs...)
}

func (o Options) validate(cc erp.ConnConfig) error {
	var errs []error
	if o.ServiceRoot != "" {
		errs = append(errs, checkRoot("ServiceRoot", o.ServiceRoot, cc))
	}
	if o.Version != 0 && o.Version != 2 && o.Version != 4 {
		errs = append(errs, fmt.Errorf("%w: Version must be 2 or 4", erp.ErrConfig))
	}
	if o.PageSize < erp.ServerPageSize {
		errs = append(errs, fmt.Errorf("%w: PageSize must be positive, zero (%d) or erp.ServerPageSize", erp.ErrConfig, DefaultPageSize))
	}
	if o.Paging != ClientPaging && o.Paging != ServerPaging {
		errs = append(errs, fmt.Errorf("%w: Paging is unknown", erp.ErrConfig))
	}
	for _, p := range o.Params {
		if p.Name == "" || strings.HasPrefix(p.Name, "$") || strings.ContainsAny(p.Name, "&=#? ") {
			errs = append(errs, fmt.Errorf("%w: Params: %q is not a custom query parameter name", erp.ErrConfig, p.Name))
		}
	}
	return errors.Join(errs...)
}

func (s EntitySet) validate(what string, o Options, cc erp.ConnConfig) error {
	var errs []error
	root := s.ServiceRoot
	if root == "" {
		root = o.ServiceRoot
	}
	if root == "" {
		errs = append(errs, fmt.Errorf("%w: %s has no service root: set %s.ServiceRoot or ServiceRoot", erp.ErrConfig, what, what))
	} else if s.ServiceRoot != "" {
		errs = append(errs, checkRoot(what+".ServiceRoot", s.ServiceRoot, cc))
	}
	v := s.version(o)
	if v != 2 && v != 4 {
		errs = append(errs, fmt.Errorf("%w: %s.Version must be 2 or 4", erp.ErrConfig, what))
	}
	if !s.TimeLiteral.valid() {
		errs = append(errs, fmt.Errorf("%w: %s.TimeLiteral is unknown", erp.ErrConfig, what))
	}
	if s.TimeLiteral == Date && v == 2 {
		errs = append(errs, fmt.Errorf("%w: %s.TimeLiteral Date is an OData V4 literal; V2 date properties are Edm.DateTime (set WholeDays)", erp.ErrConfig, what))
	}
	if s.TimeLiteral == DateTime && v == 4 {
		errs = append(errs, fmt.Errorf("%w: %s.TimeLiteral DateTime is an OData V2 literal; use DateTimeOffset or Date", erp.ErrConfig, what))
	}
	if !validName(s.Name) {
		errs = append(errs, fmt.Errorf("%w: %s.Name %q is not an entity set name", erp.ErrConfig, what, s.Name))
	}
	for _, p := range append([]string{s.TimeProperty, s.PlantProperty}, s.OrderBy...) {
		if p != "" && !validName(strings.TrimSuffix(strings.TrimSuffix(p, " desc"), " asc")) {
			errs = append(errs, fmt.Errorf("%w: %s: %q is not a property name", erp.ErrConfig, what, p))
		}
	}
	return errors.Join(errs...)
}

func (s EntitySet) version(o Options) int {
	if s.Version != 0 {
		return s.Version
	}
	if o.Version != 0 {
		return o.Version
	}
	return 4
}

// checkRoot checks an absolute service root URL: https (or http with
// AllowHTTP), no query or fragment.
func checkRoot(field, raw string, cc erp.ConnConfig) error {
	if err := cc.CheckURL(field, raw); err != nil {
		return err
	}
	u, _ := url.Parse(raw)
	if u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("%w: %s must not have a query or fragment (use Params)", erp.ErrConfig, field)
	}
	return nil
}

// parseRoot parses a service root, its path ending in "/".
func parseRoot(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, err
	}
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
		if u.RawPath != "" {
			u.RawPath += "/"
		}
	}
	return u, nil
}

// validName accepts OData identifiers, qualified names and paths.
func validName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '_' || c == '/' || c == '.' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') {
			continue
		}
		return false
	}
	return true
}
