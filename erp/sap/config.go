package sap

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/greenlang/gl001/erp"
	"github.com/greenlang/gl001/erp/odata"
)

// TimeLiteral says how a service's time property is written in $filter
// (see erp/odata).
type TimeLiteral = odata.TimeLiteral

const (
	// DateTime writes OData V2 Edm.DateTime literals, datetime'2024-02-01T12:00:00'
	// (the default for V2: most S/4HANA V2 date properties are Edm.DateTime).
	DateTime = odata.DateTime
	// DateTimeOffset writes datetimeoffset'...Z' (V2) or 2024-02-01T12:00:00Z
	// (V4). The default for V4.
	DateTimeOffset = odata.DateTimeOffset
	// Date writes a V4 Edm.Date, 2024-02-01, for Edm.Date properties: the
	// bounds are widened to whole days and the client drops the records
	// outside [From, To), so a time of day in a bound is never lost.
	Date = odata.Date
)

// Service locates one entity set of one OData service and says how to query
// it. Zero-valued fields take the defaults of the record type it serves.
type Service struct {
	// Name is the service name, e.g. "API_PRODUCTION_ORDER_2_SRV".
	Name string
	// Root is the absolute URL of the service root, e.g.
	// "https://my123456-api.s4hana.cloud.sap/sap/opu/odata4/sap/api_maintenanceorder/srvd_a2x/sap/maintenanceorder/0001/".
	// It is used as given and takes precedence over Path.
	Root string
	// Path is the service root relative to Config.BaseURL, used when Root is
	// empty. Default for V2: "/sap/opu/odata/sap/<Name>/". V4 services have
	// longer roots ("/sap/opu/odata4/sap/<name>/srvd_a2x/sap/<entity>/0001/"):
	// set Root or Path.
	Path string
	// EntitySet is the collection, e.g. "A_ProductionOrder_2".
	EntitySet string
	// Version is the OData version, 2 or 4. Default 2.
	Version int
	// TimeProperty is compared with Query.From and Query.To.
	TimeProperty string
	// TimeLiteral is how TimeProperty is written in $filter; default DateTime
	// for V2 and DateTimeOffset for V4. Set Date for a V4 Edm.Date property.
	// A V2 date property paired with a time-of-day property in the mapping
	// (MsmtRdngDate and MsmtRdngTime) is compared in whole days and trimmed
	// by the client.
	TimeLiteral TimeLiteral
	// PlantProperty is compared with Query.Plant. If empty, a query with a
	// Plant is refused rather than answered unfiltered.
	PlantProperty string
	// OrderBy sorts the collection, so $skip paging is stable; default: the
	// key properties of the field mapping.
	OrderBy []string
	// ChangeTracking uses OData change tracking (Prefer: odata.track-changes
	// and delta links) for the ...Changes methods; otherwise they keep a
	// watermark on the mapping's Changed property.
	ChangeTracking bool
}

// Config configures a Client. Zero-valued fields take the documented defaults.
type Config struct {
	// ConnConfig is the shared HTTP machinery: System (default "sap"), Auth
	// (e.g. erp.ClientCredentials with Secret erp.EnvSecret("SAP_CLIENT_SECRET")),
	// rate limit (100/min), timeout (2 s), TLS, retries.
	erp.ConnConfig
	// BaseURL is the system's address, e.g. "https://my123456-api.s4hana.cloud.sap",
	// under which the services' Paths lie. Required unless every service
	// has a Root; https unless AllowHTTP.
	BaseURL string
	// SAPClient is the sap-client (Mandant) sent with every request, e.g.
	// "100". Empty sends none (the system's default client).
	SAPClient string
	// Location interprets Edm.DateTime values, which carry no zone. Nil means UTC.
	Location *time.Location
	// PageSize is $top when Query.PageSize is zero. Default 1000, so a
	// service whose own page size is smaller still pages with next links;
	// erp.ServerPageSize sends no $top and follows the server's pages.
	PageSize int
	// InlineCount asks for the total count on the first page
	// ($inlinecount=allpages in V2, $count=true in V4) of every query, for
	// Query.OnTotal (a query with OnTotal asks for it anyway). Off by
	// default: counting costs the server a second query.
	InlineCount bool

	Production        Service // default API_PRODUCTION_ORDER_2_SRV / A_ProductionOrder_2
	ProductionFields  erp.ProductionFields
	Planned           Service // default API_PLANNED_ORDERS / A_PlannedOrder
	PlannedFields     erp.ProductionFields
	Maintenance       Service // default API_MAINTENANCEORDER / MaintenanceOrder
	MaintenanceFields erp.MaintenanceFields
	Energy            Service // default API_MEASUREMENTDOCUMENT_SRV / MeasurementDocument
	EnergyFields      erp.EnergyFields
	Costs             Service // default API_JOURNALENTRYITEMBASIC_SRV / A_JournalEntryItemBasic
	CostFields        erp.CostFields
}

// Default services and field mappings, as delivered by SAP S/4HANA. Every
// company customises: override any of them in Config.
var (
	DefaultProduction = Service{Name: "API_PRODUCTION_ORDER_2_SRV", EntitySet: "A_ProductionOrder_2",
		TimeProperty: "MfgOrderPlannedStartDate", PlantProperty: "ProductionPlant"}
	DefaultProductionFields = erp.ProductionFields{
		Key: []string{"ManufacturingOrder"}, Order: "ManufacturingOrder", Plant: "ProductionPlant",
		Type: "ManufacturingOrderType", Material: "Material",
		PlannedStart: erp.TimeFields{Date: "MfgOrderPlannedStartDate", Time: "MfgOrderPlannedStartTime"},
		PlannedEnd:   erp.TimeFields{Date: "MfgOrderPlannedEndDate", Time: "MfgOrderPlannedEndTime"},
		ActualStart:  erp.TimeFields{Date: "MfgOrderActualStartDate"},
		ActualEnd:    erp.TimeFields{Date: "MfgOrderActualEndDate"},
		Quantity:     "TotalQuantity", Confirmed: "MfgOrderConfirmedYieldQty", Unit: "ProductionUnit",
		Changed: "LastChangeDateTime",
	}
	DefaultPlanned = Service{Name: "API_PLANNED_ORDERS", EntitySet: "A_PlannedOrder",
		TimeProperty: "PlndOrderPlannedStartDate", PlantProperty: "ProductionPlant"}
	DefaultPlannedFields = erp.ProductionFields{
		Key: []string{"PlannedOrder"}, Order: "PlannedOrder", Plant: "ProductionPlant",
		Type: "PlannedOrderType", Material: "Material",
		PlannedStart: erp.TimeFields{Date: "PlndOrderPlannedStartDate"},
		PlannedEnd:   erp.TimeFields{Date: "PlndOrderPlannedEndDate"},
		Quantity:     "TotalQuantity", Unit: "BaseUnit", Changed: "LastChangeDateTime",
	}
	DefaultMaintenance = Service{Name: "API_MAINTENANCEORDER", EntitySet: "MaintenanceOrder",
		TimeProperty: "MaintOrdBasicStartDate", PlantProperty: "MaintenancePlant"}
	DefaultMaintenanceFields = erp.MaintenanceFields{
		Key: []string{"MaintenanceOrder"}, Order: "MaintenanceOrder", Plant: "MaintenancePlant",
		Type: "MaintenanceOrderType", Description: "MaintenanceOrderDesc", Equipment: "Equipment",
		FunctionalLocation: "FunctionalLocation", Priority: "MaintPriority",
		PlannedStart: erp.TimeFields{Date: "MaintOrdBasicStartDate", Time: "MaintOrdBasicStartTime"},
		PlannedEnd:   erp.TimeFields{Date: "MaintOrdBasicEndDate", Time: "MaintOrdBasicEndTime"},
		Changed:      "LastChangeDateTime",
	}
	DefaultEnergy = Service{Name: "API_MEASUREMENTDOCUMENT_SRV", EntitySet: "MeasurementDocument",
		TimeProperty: "MsmtRdngDate"}
	// DefaultEnergyFields reads measurement documents of counters: the
	// consumption since the previous reading, at the reading's instant.
	DefaultEnergyFields = erp.EnergyFields{
		Key: []string{"MeasurementDocument"}, Meter: "MeasuringPoint",
		End:      erp.TimeFields{Date: "MsmtRdngDate", Time: "MsmtRdngTime"},
		Quantity: "MsmtCounterReadingDifference", Unit: "MeasurementReadingEntryUoM",
		Changed: "MsmtRdngDate",
	}
	DefaultCosts = Service{Name: "API_JOURNALENTRYITEMBASIC_SRV", EntitySet: "A_JournalEntryItemBasic",
		TimeProperty: "PostingDate", PlantProperty: "Plant"}
	DefaultCostFields = erp.CostFields{
		Key:   []string{"CompanyCode", "FiscalYear", "AccountingDocument", "LedgerGLLineItem"},
		Plant: "Plant", CostCenter: "CostCenter", Account: "GLAccount", Description: "DocumentItemText",
		Posting: erp.TimeFields{Date: "PostingDate"},
		Amount:  "AmountInCompanyCodeCurrency", Currency: "CompanyCodeCurrency",
		Quantity: "Quantity", Unit: "BaseUnit", Changed: "LastChangeDateTime",
	}
)

// Field mappings (ProductionFields ...) are used as given when any field
// is set, never merged with the defaults below; an empty one means the
// default. New names every setting a partial mapping lacks.

func (s Service) withDefaults(def Service, key []string) Service {
	if s.Name == "" {
		s.Name = def.Name
	}
	if s.EntitySet == "" {
		s.EntitySet = def.EntitySet
	}
	if s.Version == 0 {
		s.Version = 2
	}
	if s.TimeProperty == "" {
		s.TimeProperty = def.TimeProperty
	}
	if s.PlantProperty == "" {
		s.PlantProperty = def.PlantProperty
	}
	if s.TimeLiteral == 0 {
		s.TimeLiteral = DateTime
		if s.Version == 4 {
			s.TimeLiteral = DateTimeOffset
		}
	}
	if len(s.OrderBy) == 0 {
		s.OrderBy = key
	}
	if s.Path == "" {
		s.Path = "/sap/opu/odata/sap/" + s.Name + "/"
	}
	if !strings.HasSuffix(s.Path, "/") {
		s.Path += "/"
	}
	return s
}

func (s Service) validate(what string, cc erp.ConnConfig) error {
	var errs []error
	if s.Version != 0 && s.Version != 2 && s.Version != 4 {
		errs = append(errs, fmt.Errorf("%w: %s.Version must be 2 or 4", erp.ErrConfig, what))
	}
	if s.TimeLiteral < 0 || s.TimeLiteral > Date {
		errs = append(errs, fmt.Errorf("%w: %s.TimeLiteral is unknown", erp.ErrConfig, what))
	}
	if s.Path != "" {
		if u, err := url.Parse(s.Path); err != nil || u.IsAbs() || u.Host != "" || u.RawQuery != "" || u.Fragment != "" {
			errs = append(errs, fmt.Errorf("%w: %s.Path must be a path relative to BaseURL", erp.ErrConfig, what))
		}
	}
	if s.Root != "" {
		if err := cc.CheckURL(what+".Root", s.Root); err != nil {
			errs = append(errs, err)
		} else if u, _ := url.Parse(s.Root); u.RawQuery != "" || u.Fragment != "" {
			errs = append(errs, fmt.Errorf("%w: %s.Root must not have a query or fragment", erp.ErrConfig, what))
		}
	}
	return errors.Join(errs...)
}

// Validate reports every problem of c, joined with errors.Join.
func (c Config) Validate() error {
	cc := c.ConnConfig
	if cc.System == "" {
		cc.System = "sap"
	}
	errs := []error{cc.Validate()}
	if c.BaseURL == "" {
		if c.Production.Root == "" || c.Planned.Root == "" || c.Maintenance.Root == "" || c.Energy.Root == "" || c.Costs.Root == "" {
			errs = append(errs, fmt.Errorf("%w: BaseURL is required unless every service has a Root", erp.ErrConfig))
		}
	} else if err := cc.CheckURL("BaseURL", c.BaseURL); err != nil {
		errs = append(errs, err)
	} else if u, _ := url.Parse(c.BaseURL); u.RawQuery != "" || u.Fragment != "" {
		errs = append(errs, fmt.Errorf("%w: BaseURL must not have a query or fragment", erp.ErrConfig))
	}
	if c.PageSize < erp.ServerPageSize {
		errs = append(errs, fmt.Errorf("%w: PageSize must be positive, zero (1000) or erp.ServerPageSize", erp.ErrConfig))
	}
	errs = append(errs,
		c.Production.validate("Production", cc), c.Planned.validate("Planned", cc),
		c.Maintenance.validate("Maintenance", cc), c.Energy.validate("Energy", cc), c.Costs.validate("Costs", cc))
	for _, f := range []struct {
		name string
		zero bool
		err  error
	}{
		{"ProductionFields", c.ProductionFields.IsZero(), c.ProductionFields.Validate()},
		{"PlannedFields", c.PlannedFields.IsZero(), c.PlannedFields.Validate()},
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
