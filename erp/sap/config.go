package sap

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/greenlang/gl001/erp"
)

// TimeLiteral says how a service's time property is written in $filter.
type TimeLiteral int

const (
	// DateTime writes OData V2 Edm.DateTime literals, datetime'2024-01-01T00:00:00'
	// (the default for V2: most S/4HANA V2 date properties are Edm.DateTime).
	DateTime TimeLiteral = iota + 1
	// DateTimeOffset writes datetimeoffset'...Z' (V2) or ...Z (V4).
	DateTimeOffset
	// Date writes a V4 Edm.Date, 2024-01-01 (the default for V4).
	Date
)

// Service locates one entity set of one OData service and says how to query
// it. Zero-valued fields take the defaults of the record type it serves.
type Service struct {
	// Name is the service name, e.g. "API_PRODUCTION_ORDER_2_SRV".
	Name string
	// Path is the service root relative to Config.BaseURL. Default for V2:
	// "/sap/opu/odata/sap/<Name>/". V4 services have longer roots
	// ("/sap/opu/odata4/sap/<name>/srvd_a2x/sap/<entity>/0001/"): set Path.
	Path string
	// EntitySet is the collection, e.g. "A_ProductionOrder_2".
	EntitySet string
	// Version is the OData version, 2 or 4. Default 2.
	Version int
	// TimeProperty is compared with Query.From and Query.To.
	TimeProperty string
	// TimeLiteral is how TimeProperty is written in $filter; default DateTime
	// for V2 and Date for V4.
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
	// BaseURL is the system's address, e.g. "https://my123456-api.s4hana.cloud.sap".
	// Required; https unless AllowHTTP.
	BaseURL string
	// SAPClient is the sap-client (Mandant) sent with every request, e.g.
	// "100". Empty sends none (the system's default client).
	SAPClient string
	// Location interprets Edm.DateTime values, which carry no zone. Nil means UTC.
	Location *time.Location
	// PageSize is $top when Query.PageSize is zero. Default 1000.
	PageSize int
	// InlineCount asks for the total count on the first page
	// ($inlinecount=allpages in V2, $count=true in V4); it is logged at debug
	// level. Off by default: counting costs the server a second query.
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
			s.TimeLiteral = Date
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

func (s Service) validate(what string) error {
	var errs []error
	if s.Version != 0 && s.Version != 2 && s.Version != 4 {
		errs = append(errs, fmt.Errorf("%w: %s.Version must be 2 or 4", erp.ErrConfig, what))
	}
	if s.TimeLiteral < 0 || s.TimeLiteral > Date {
		errs = append(errs, fmt.Errorf("%w: %s.TimeLiteral is unknown", erp.ErrConfig, what))
	}
	if s.Path != "" {
		if u, err := url.Parse(s.Path); err != nil || u.IsAbs() || u.RawQuery != "" {
			errs = append(errs, fmt.Errorf("%w: %s.Path must be a path relative to BaseURL", erp.ErrConfig, what))
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
		errs = append(errs, fmt.Errorf("%w: BaseURL is required", erp.ErrConfig))
	} else if err := cc.CheckURL("BaseURL", c.BaseURL); err != nil {
		errs = append(errs, err)
	}
	if c.PageSize < 0 {
		errs = append(errs, fmt.Errorf("%w: PageSize must not be negative", erp.ErrConfig))
	}
	errs = append(errs,
		c.Production.validate("Production"), c.Planned.validate("Planned"),
		c.Maintenance.validate("Maintenance"), c.Energy.validate("Energy"), c.Costs.validate("Costs"))
	return errors.Join(errs...)
}
