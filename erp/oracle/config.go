package oracle

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/greenlang/gl001/erp"
)

// DefaultVersion is the REST resource version of Oracle Fusion Cloud
// Applications used when Config.Version is empty.
const DefaultVersion = "11.13.18.05"

// DefaultPageSize is the limit asked for per request when neither
// Query.PageSize nor Config.PageSize is set. Oracle caps a page near 500
// whatever is asked; the client pages on hasMore, never on the limit.
const DefaultPageSize = 500

// SecretEnv is the environment variable ClientCredentials reads the OAuth
// client secret from.
const SecretEnv = "ORACLE_CLIENT_SECRET"

// Resource locates one REST resource and says how to query it. Zero-valued
// fields take the defaults of the record type it serves.
type Resource struct {
	// Name is the resource collection, e.g. "maintenanceWorkOrders".
	Name string
	// TimeAttribute is compared with Query.From and Query.To in q.
	TimeAttribute string
	// DateOnly writes the time bounds as dates (2024-01-01) rather than
	// date-times, for attributes of type date.
	DateOnly bool
	// PlantAttribute is compared with Query.Plant (an organization code,
	// usually). If empty, a query with a Plant is refused rather than
	// answered unfiltered.
	PlantAttribute string
	// Finder, if set, is sent as the finder parameter, e.g.
	// "findByOrganization;OrganizationCode=M1" (a predefined, indexed search
	// of the resource). q conditions are applied on top of it.
	Finder string
	// OrderBy sorts the collection so offset paging is stable; default the
	// key attributes of the field mapping, ascending.
	OrderBy []string
}

// Config configures a Client. Zero-valued fields take the documented defaults.
type Config struct {
	// ConnConfig is the shared HTTP machinery: System (default "oracle"),
	// Auth (ClientCredentials below, or erp.Basic only when configured
	// explicitly), rate limit (100/min), timeout (2 s), TLS, retries.
	erp.ConnConfig
	// BaseURL is the Fusion pod's address, e.g.
	// "https://abcd.fa.us2.oraclecloud.com". Required; https unless AllowHTTP.
	BaseURL string
	// Version is the resource version in the path
	// /fscmRestApi/resources/<Version>/<resource>. Default 11.13.18.05.
	Version string
	// PageSize is the limit asked for when Query.PageSize is zero. Default 500.
	PageSize int
	// TotalResults asks for totalResults on the first page (logged at debug
	// level). Off by default: counting costs the server a second query.
	TotalResults bool
	// Location interprets date-times without an offset. Nil means UTC.
	Location *time.Location

	Production        Resource // default workOrders (manufacturing work orders)
	ProductionFields  erp.ProductionFields
	Maintenance       Resource // default maintenanceWorkOrders
	MaintenanceFields erp.MaintenanceFields
	Energy            Resource // default meterReadings
	EnergyFields      erp.EnergyFields
	Costs             Resource // default invoices (Payables invoices)
	CostFields        erp.CostFields
}

// ClientCredentials returns the OAuth 2.0 client-credentials grant against
// an Oracle identity domain (IAM or IDCS), e.g.
// "https://idcs-0123abcd.identity.oraclecloud.com": its token endpoint
// /oauth2/v1/token, the client secret read from ORACLE_CLIENT_SECRET (and
// read again when the identity domain refuses it, so a rotated secret is
// picked up), and the Fusion scope of baseURL (see Scope).
func ClientCredentials(identityDomain, clientID, baseURL string) erp.ClientCredentials {
	cc := erp.ClientCredentials{
		TokenURL: TokenURL(identityDomain),
		ClientID: clientID,
		Secret:   erp.EnvSecret(SecretEnv),
	}
	if s, err := Scope(baseURL); err == nil {
		cc.Scopes = []string{s}
	}
	return cc
}

// TokenURL returns the token endpoint of an identity domain:
// <identityDomain>/oauth2/v1/token.
func TokenURL(identityDomain string) string {
	return strings.TrimSuffix(identityDomain, "/") + "/oauth2/v1/token"
}

// Scope returns the client-credentials scope of the Fusion applications at
// baseURL: the audience (scheme, host and port) followed by
// "urn:opc:resource:consumer::all".
func Scope(baseURL string) (string, error) {
	u, err := url.Parse(baseURL)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("%w: %q is not an absolute URL", erp.ErrConfig, baseURL)
	}
	host := u.Host
	if u.Port() == "" {
		host += ":443"
	}
	return u.Scheme + "://" + host + "urn:opc:resource:consumer::all", nil
}

// Default resources and field mappings, as delivered by Oracle Fusion Cloud
// SCM (Maintenance, Manufacturing) and Financials (Payables). Every company
// customises and flexfields differ: override any of them in Config, and
// check attribute names against the resource's /describe.
var (
	DefaultProduction = Resource{Name: "workOrders", TimeAttribute: "PlannedStartDate", PlantAttribute: "OrganizationCode"}
	// DefaultProductionFields reads manufacturing work orders.
	DefaultProductionFields = erp.ProductionFields{
		Key: []string{"WorkOrderId"}, Order: "WorkOrderNumber", Plant: "OrganizationCode",
		Type: "WorkOrderType", Material: "ItemNumber", Status: "WorkOrderStatusCode",
		PlannedStart: erp.TimeFields{Date: "PlannedStartDate"}, PlannedEnd: erp.TimeFields{Date: "PlannedCompletionDate"},
		ActualStart: erp.TimeFields{Date: "ActualStartDate"}, ActualEnd: erp.TimeFields{Date: "ActualCompletionDate"},
		Quantity: "PlannedStartQuantity", Confirmed: "CompletedQuantity", Unit: "UOMCode",
		Changed: "LastUpdateDate",
	}
	DefaultMaintenance = Resource{Name: "maintenanceWorkOrders", TimeAttribute: "PlannedStartDate", PlantAttribute: "OrganizationCode"}
	// DefaultMaintenanceFields reads maintenance work orders.
	DefaultMaintenanceFields = erp.MaintenanceFields{
		Key: []string{"WorkOrderId"}, Order: "WorkOrderNumber", Plant: "OrganizationCode",
		Type: "WorkOrderTypeCode", Description: "WorkOrderDescription", Equipment: "AssetNumber",
		Priority: "WorkOrderPriority", Status: "WorkOrderStatusCode",
		PlannedStart: erp.TimeFields{Date: "PlannedStartDate"}, PlannedEnd: erp.TimeFields{Date: "PlannedCompletionDate"},
		Changed: "LastUpdateDate",
	}
	DefaultEnergy = Resource{Name: "meterReadings", TimeAttribute: "ReadingDate", PlantAttribute: "OrganizationCode"}
	// DefaultEnergyFields reads asset meter readings: the consumption
	// recorded at the reading's instant.
	DefaultEnergyFields = erp.EnergyFields{
		Key: []string{"MeterReadingId"}, Plant: "OrganizationCode", Meter: "MeterCode",
		End: erp.TimeFields{Date: "ReadingDate"}, Quantity: "ReadingValue", Unit: "UOMCode",
		Changed: "LastUpdateDate",
	}
	DefaultCosts = Resource{Name: "invoices", TimeAttribute: "InvoiceDate", DateOnly: true}
	// DefaultCostFields reads Payables invoices (energy and utility bills
	// are supplier invoices).
	DefaultCostFields = erp.CostFields{
		Key: []string{"InvoiceId"}, Account: "Supplier", Description: "Description",
		Posting: erp.TimeFields{Date: "InvoiceDate"}, Amount: "InvoiceAmount", Currency: "InvoiceCurrency",
		Changed: "LastUpdateDate",
	}
)

func (r Resource) withDefaults(def Resource, key []string) Resource {
	if r.Name == "" {
		r = def
	}
	if len(r.OrderBy) == 0 {
		r.OrderBy = key
	}
	return r
}

func (r Resource) validate(what string) error {
	var errs []error
	if strings.ContainsAny(r.Name, "/?#;& ") {
		errs = append(errs, fmt.Errorf("%w: %s.Name %q is not a resource name", erp.ErrConfig, what, r.Name))
	}
	for _, a := range append([]string{r.TimeAttribute, r.PlantAttribute}, r.OrderBy...) {
		if a != "" && !validName(a) {
			errs = append(errs, fmt.Errorf("%w: %s: %q is not an attribute name", erp.ErrConfig, what, a))
		}
	}
	return errors.Join(errs...)
}

// Validate reports every problem of c, joined with errors.Join.
func (c Config) Validate() error {
	cc := c.ConnConfig
	if cc.System == "" {
		cc.System = "oracle"
	}
	errs := []error{cc.Validate()}
	if c.BaseURL == "" {
		errs = append(errs, fmt.Errorf("%w: BaseURL is required", erp.ErrConfig))
	} else if err := cc.CheckURL("BaseURL", c.BaseURL); err != nil {
		errs = append(errs, err)
	}
	if strings.ContainsAny(c.Version, "/?#") {
		errs = append(errs, fmt.Errorf("%w: Version %q is not a resource version", erp.ErrConfig, c.Version))
	}
	if c.PageSize < erp.ServerPageSize {
		errs = append(errs, fmt.Errorf("%w: PageSize must be positive, zero (500) or erp.ServerPageSize", erp.ErrConfig))
	}
	errs = append(errs, c.Production.validate("Production"), c.Maintenance.validate("Maintenance"),
		c.Energy.validate("Energy"), c.Costs.validate("Costs"))
	// A mapping is used as given, or replaced by the default when empty:
	// never merged.
	for _, f := range []struct {
		name string
		zero bool
		err  error
	}{
		{"ProductionFields", c.ProductionFields.IsZero(), c.ProductionFields.Validate()},
		{"MaintenanceFields", c.MaintenanceFields.IsZero(), c.MaintenanceFields.Validate()},
		{"EnergyFields", c.EnergyFields.IsZero(), c.EnergyFields.Validate()},
		{"CostFields", c.CostFields.IsZero(), c.CostFields.Validate()},
	} {
		if !f.zero && f.err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", f.name, f.err))
		}
	}
	return errors.Join(errs...)
}

// validName accepts attribute names (letters, digits, underscore, and dots
// for child attributes), so a filter cannot smuggle in another expression.
func validName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '_' || c == '.' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') {
			continue
		}
		return false
	}
	return true
}
