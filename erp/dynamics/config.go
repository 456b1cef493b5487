package dynamics

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"time"

	"github.com/greenlang/gl001/erp"
)

// Flavour is the kind of Dynamics 365 endpoint.
type Flavour int

const (
	// WebAPI is the Dataverse Web API, /api/data/v9.2/<entityset> (Customer
	// Engagement apps, Field Service, custom tables). The default.
	WebAPI Flavour = iota
	// FinanceOperations is Finance & Operations data entities,
	// /data/<PublicCollectionName>?cross-company=true.
	FinanceOperations
)

// Entity locates one entity set and says how to query it.
type Entity struct {
	// EntitySet is the collection name, e.g. "msdyn_workorders" or
	// "ProductionOrderHeaders". Empty: the flavour's default, if it has one;
	// otherwise the record type is not supported until configured.
	EntitySet string
	// TimeProperty is compared with Query.From and Query.To.
	TimeProperty string
	// DateOnly writes the time bounds as Edm.Date (2024-01-01) rather than
	// Edm.DateTimeOffset.
	DateOnly bool
	// PlantProperty is compared with Query.Plant; if empty, a query with a
	// Plant is refused.
	PlantProperty string
	// ChangeTracking reads changes with Prefer: odata.track-changes and delta
	// links (the table must have change tracking enabled in Dataverse);
	// otherwise a watermark on the mapping's Changed property is kept.
	ChangeTracking bool
}

// Config configures a Client.
type Config struct {
	// ConnConfig is the shared HTTP machinery: System (default "dynamics"),
	// Auth, rate limit (100/min), timeout (2 s), TLS, retries. With
	// erp.ClientCredentials and no Scopes, the scope https://<host>/.default
	// of BaseURL is used (Azure AD v2 tokens).
	erp.ConnConfig
	// BaseURL is the organisation's address, e.g.
	// "https://contoso.crm4.dynamics.com" or
	// "https://contoso.operations.dynamics.com". Required unless ServiceRoot
	// is set. The default client-credentials scope is derived from it (or
	// from ServiceRoot's host).
	BaseURL string
	// ServiceRoot is the absolute URL of the OData service, used as given,
	// e.g. "https://contoso.crm4.dynamics.com/api/data/v9.2/", or any other
	// OData V4 service that speaks like Dataverse. Default: BaseURL +
	// "/api/data/<APIVersion>/" (WebAPI) or BaseURL + "/data/"
	// (FinanceOperations).
	ServiceRoot string
	// Flavour selects the Web API or F&O data entities. Default WebAPI.
	Flavour Flavour
	// APIVersion is the Web API version, "v" and dotted numbers. Default
	// "v9.2". To reach another path, set ServiceRoot.
	APIVersion string
	// SingleCompany leaves out cross-company=true on F&O requests, so only
	// the user's default legal entity is read.
	SingleCompany bool
	// Location interprets date-times without a zone. Nil means UTC.
	Location *time.Location
	// PageSize is the odata.maxpagesize preference when Query.PageSize is
	// zero. Default 1000 (the server may send fewer, up to 5000);
	// erp.ServerPageSize sends no preference (Dataverse then pages by 5000).
	PageSize int

	Production        Entity
	ProductionFields  erp.ProductionFields
	Maintenance       Entity
	MaintenanceFields erp.MaintenanceFields
	Energy            Entity
	EnergyFields      erp.EnergyFields
	Costs             Entity
	CostFields        erp.CostFields
}

// AzureTokenURL returns the Azure AD v2 token endpoint of a tenant (its ID or
// domain), for erp.ClientCredentials.TokenURL.
func AzureTokenURL(tenant string) string {
	return "https://login.microsoftonline.com/" + url.PathEscape(tenant) + "/oauth2/v2.0/token"
}

// Scope returns the client-credentials scope of an organisation URL,
// "https://<host>/.default".
func Scope(baseURL string) (string, error) {
	u, err := url.Parse(baseURL)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("%w: %q is not an absolute URL", erp.ErrConfig, baseURL)
	}
	return u.Scheme + "://" + u.Host + "/.default", nil
}

// The default entity sets and field mappings. Dataverse has no standard
// production, energy or cost tables: configure those entities (custom tables
// or F&O virtual entities) or use the FinanceOperations flavour.
var (
	// Field Service work orders.
	DefaultWebAPIMaintenance       = Entity{EntitySet: "msdyn_workorders", TimeProperty: "msdyn_timefrompromised", ChangeTracking: true}
	DefaultWebAPIMaintenanceFields = erp.MaintenanceFields{
		Key: []string{"msdyn_workorderid"}, Order: "msdyn_name", Description: "msdyn_workordersummary",
		Status: "msdyn_systemstatus", Priority: "_msdyn_priority_value", Type: "_msdyn_workordertype_value",
		PlannedStart: erp.TimeFields{Date: "msdyn_timefrompromised"},
		PlannedEnd:   erp.TimeFields{Date: "msdyn_timetopromised"},
		Changed:      "modifiedon",
	}

	DefaultFOProduction       = Entity{EntitySet: "ProductionOrderHeaders", TimeProperty: "ScheduledStartDate", PlantProperty: "ProductionSiteId"}
	DefaultFOProductionFields = erp.ProductionFields{
		Key: []string{"dataAreaId", "ProductionOrderNumber"}, Order: "ProductionOrderNumber",
		Plant: "ProductionSiteId", Material: "ItemNumber", Status: "ProductionOrderStatus",
		PlannedStart: erp.TimeFields{Date: "ScheduledStartDate"}, PlannedEnd: erp.TimeFields{Date: "ScheduledEndDate"},
		Quantity: "ScheduledQuantity",
	}
	DefaultFOMaintenance       = Entity{EntitySet: "MaintenanceWorkOrders", TimeProperty: "ScheduledStart"}
	DefaultFOMaintenanceFields = erp.MaintenanceFields{
		Key: []string{"dataAreaId", "WorkOrderId"}, Order: "WorkOrderId", Description: "Description",
		Type: "WorkOrderTypeId", Status: "WorkOrderLifecycleStateId",
		PlannedStart: erp.TimeFields{Date: "ScheduledStart"}, PlannedEnd: erp.TimeFields{Date: "ScheduledEnd"},
	}
	DefaultFOCosts      = Entity{EntitySet: "GeneralJournalAccountEntries", TimeProperty: "AccountingDate", DateOnly: true}
	DefaultFOCostFields = erp.CostFields{
		Key: []string{"dataAreaId", "JournalNumber", "GeneralJournalAccountEntryRecId"}, Account: "MainAccount",
		Description: "Text", Posting: erp.TimeFields{Date: "AccountingDate"},
		Amount: "AccountingCurrencyAmount", Currency: "AccountingCurrency",
	}
)

// apiVersion is what APIVersion may be: it goes into a path.
var apiVersion = regexp.MustCompile(`^v[0-9]+(\.[0-9]+)*$`)

// Validate reports every problem of c, joined with errors.Join.
func (c Config) Validate() error {
	cc := c.ConnConfig
	if cc.System == "" {
		cc.System = "dynamics"
	}
	errs := []error{cc.Validate()}
	switch {
	case c.BaseURL == "" && c.ServiceRoot == "":
		errs = append(errs, fmt.Errorf("%w: BaseURL or ServiceRoot is required", erp.ErrConfig))
	case c.BaseURL != "":
		if err := cc.CheckURL("BaseURL", c.BaseURL); err != nil {
			errs = append(errs, err)
		} else if u, _ := url.Parse(c.BaseURL); u.RawQuery != "" || u.Fragment != "" {
			errs = append(errs, fmt.Errorf("%w: BaseURL must not have a query or fragment", erp.ErrConfig))
		}
	}
	if c.ServiceRoot != "" {
		if err := cc.CheckURL("ServiceRoot", c.ServiceRoot); err != nil {
			errs = append(errs, err)
		} else if u, _ := url.Parse(c.ServiceRoot); u.RawQuery != "" || u.Fragment != "" {
			errs = append(errs, fmt.Errorf("%w: ServiceRoot must not have a query or fragment", erp.ErrConfig))
		}
	}
	if c.APIVersion != "" && !apiVersion.MatchString(c.APIVersion) {
		errs = append(errs, fmt.Errorf("%w: APIVersion %q is not a Web API version like v9.2; set ServiceRoot to reach another service", erp.ErrConfig, c.APIVersion))
	}
	if c.Flavour != WebAPI && c.Flavour != FinanceOperations {
		errs = append(errs, fmt.Errorf("%w: Flavour is unknown", erp.ErrConfig))
	}
	if c.PageSize < erp.ServerPageSize || c.PageSize > 5000 {
		errs = append(errs, fmt.Errorf("%w: PageSize must be between 1 and 5000, zero (1000) or erp.ServerPageSize", erp.ErrConfig))
	}
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
