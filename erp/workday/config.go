package workday

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/greenlang/gl001/erp"
)

// Defaults of Config.
const (
	DefaultVersion  = "v45.0"
	DefaultPageSize = 100
	MaxPageSize     = 999 // the largest Response_Filter Count Workday accepts
)

// Environment variables read by the helpers of this package.
const (
	PasswordEnv = "WORKDAY_PASSWORD" // the integration system user's password (SOAP)
	APIKeyEnv   = "WORKDAY_API_KEY"  // an API key, where a gateway issues one
)

// Operation is a Workday Web Services "Get" operation read page by page.
type Operation struct {
	// Service is the web service, e.g. "Resource_Management".
	Service string
	// Name is the operation, e.g. "Get_Supplier_Invoices"; the request
	// element is <Name>_Request.
	Name string
	// Document is the element under Response_Data, e.g. "Supplier_Invoice".
	Document string
	// Line, if set, is the path below the document of the elements that are
	// records of their own, e.g. "Journal_Entry_Data/Journal_Entry_Line_Data";
	// every other mapped value is taken from the document. Empty: each
	// document is one record.
	Line string
	// FromElement and ToElement are the Request_Criteria dates bounding the
	// time range, inclusive (e.g. Invoice_Date_On_or_After and
	// Invoice_Date_On_or_Before). Records are also checked against the
	// half-open [From, To) of the Query after decoding.
	FromElement, ToElement string
	// PlantElement and PlantIDType put Query.Plant into Request_Criteria as
	// a reference, e.g. Company_Reference with ID type Company_Reference_ID.
	// Empty: a query with a Plant is refused.
	PlantElement, PlantIDType string
}

// Report is a custom report exposed as a web service (Reports-as-a-Service).
type Report struct {
	// Owner is the account that owns the report, e.g. "ISU_GL001".
	Owner string
	// Name is the report's web service name, e.g. "GL001_Utility_Invoices".
	Name string
	// FromParam and ToParam are the report's date prompts bounding the time
	// range (inclusive dates, as Workday prompts are); empty sends none.
	// Records are also checked against the half-open [From, To) of the Query.
	FromParam, ToParam string
	// PlantParam is the prompt Query.Plant is sent in; empty: a query with a
	// Plant is refused.
	PlantParam string
	// Params are further prompts sent with every request.
	Params url.Values
}

func (r Report) configured() bool { return r.Name != "" }

// Config configures a Client. Zero-valued fields take the documented defaults.
type Config struct {
	// ConnConfig is the shared HTTP machinery: System (default "workday"),
	// Auth for REST and reports (RefreshGrant.Auth, EnvAPIKey, or erp.Basic
	// when configured explicitly), rate limit (100/min), timeout (2 s), TLS,
	// retries. SOAP requests carry the same Auth, and a WS-Security
	// UsernameToken when Username is set.
	erp.ConnConfig
	// BaseURL is the tenant's services host, e.g.
	// "https://wd2-impl-services1.workday.com". Required.
	BaseURL string
	// Tenant is the tenant name, e.g. "acme". Required.
	Tenant string
	// Version is the Web Services version. Default v45.0.
	Version string
	// Username is the integration system user for the WS-Security
	// UsernameToken; "@<Tenant>" is added when it holds no "@". Empty sends
	// no UsernameToken (SOAP then relies on Auth's bearer token).
	Username string
	// Password is the user's password, e.g. erp.EnvSecret(PasswordEnv);
	// required with Username. Asked again once when Workday refuses it.
	Password erp.SecretProvider
	// PageSize is the Response_Filter Count. Default 100, at most 999.
	PageSize int
	// Location interprets dates without an offset. Nil means UTC.
	Location *time.Location

	// Costs is the operation read by Costs. Default SupplierInvoices.
	Costs Operation
	// CostFields maps the operation's documents (or CostsReport's entries)
	// to cost records. Default SupplierInvoiceFields, or JournalFields for
	// the Journals operation; a report's fields must be mapped.
	CostFields  erp.CostFields
	CostsReport Report // if set, Costs reads this report instead
	// EnergyReport is the report read by Energy (utility invoice lines with
	// quantities, typically); Workday has no standard energy operation, so
	// Energy answers erp.ErrNotSupported until one is configured.
	EnergyReport Report
	EnergyFields erp.EnergyFields
}

// The standard operations. Paths in the field mappings are relative to the
// operation's Document (see Decoder).
var (
	SupplierInvoices = Operation{Service: "Resource_Management", Name: "Get_Supplier_Invoices", Document: "Supplier_Invoice",
		FromElement: "Invoice_Date_On_or_After", ToElement: "Invoice_Date_On_or_Before",
		PlantElement: "Company_Reference", PlantIDType: "Company_Reference_ID"}
	// SupplierInvoiceFields maps each supplier invoice to one cost record
	// (its control total, in the invoice currency).
	SupplierInvoiceFields = erp.CostFields{
		Key:         []string{"Supplier_Invoice_Data/Supplier_Invoice_ID"},
		Plant:       "Supplier_Invoice_Data/Company_Reference/ID[@type='Company_Reference_ID']",
		Account:     "Supplier_Invoice_Data/Supplier_Reference/ID[@type='Supplier_ID']",
		CostCenter:  "Supplier_Invoice_Data/Invoice_Line_Replacement_Data/Worktags_Reference/ID[@type='Cost_Center_Reference_ID']",
		Description: "Supplier_Invoice_Data/Memo",
		Posting:     erp.TimeFields{Date: "Supplier_Invoice_Data/Invoice_Date"},
		Amount:      "Supplier_Invoice_Data/Control_Amount_Total",
		Currency:    "Supplier_Invoice_Data/Currency_Reference/ID[@type='Currency_ID']",
	}

	Journals = Operation{Service: "Financial_Management", Name: "Get_Journals", Document: "Journal_Entry",
		Line:        "Journal_Entry_Data/Journal_Entry_Line_Data",
		FromElement: "Accounting_From_Date", ToElement: "Accounting_To_Date",
		PlantElement: "Organization_Reference", PlantIDType: "Company_Reference_ID"}
	// JournalFields maps each journal line to one cost record: its debit in
	// the line's currency.
	JournalFields = erp.CostFields{
		Key:         []string{"Journal_Entry_Data/Journal_Number", "Journal_Entry_Data/Journal_Entry_Line_Data/Line_Order"},
		Plant:       "Journal_Entry_Data/Company_Reference/ID[@type='Company_Reference_ID']",
		Account:     "Journal_Entry_Data/Journal_Entry_Line_Data/Ledger_Account_Reference/ID[@type='Ledger_Account_ID']",
		CostCenter:  "Journal_Entry_Data/Journal_Entry_Line_Data/Worktags_Reference/ID[@type='Cost_Center_Reference_ID']",
		Description: "Journal_Entry_Data/Journal_Entry_Line_Data/Memo",
		Posting:     erp.TimeFields{Date: "Journal_Entry_Data/Accounting_Date"},
		Amount:      "Journal_Entry_Data/Journal_Entry_Line_Data/Debit_Amount",
		Currency:    "Journal_Entry_Data/Journal_Entry_Line_Data/Currency_Reference/ID[@type='Currency_ID']",
	}

	// DefaultEnergyFields names the fields (report aliases) an energy report
	// is expected to have: one entry per utility invoice line.
	DefaultEnergyFields = erp.EnergyFields{
		Key: []string{"Invoice_Line_ID"}, Plant: "Company", Meter: "Meter_ID", CostCenter: "Cost_Center",
		Start: erp.TimeFields{Date: "Service_Period_Start"}, End: erp.TimeFields{Date: "Service_Period_End"},
		Quantity: "Quantity", Unit: "Unit_of_Measure", Amount: "Extended_Amount", Currency: "Currency",
		Changed: "Last_Updated",
	}
)

// Validate reports every problem of c, joined with errors.Join.
func (c Config) Validate() error {
	cc := c.ConnConfig
	if cc.System == "" {
		cc.System = "workday"
	}
	errs := []error{cc.Validate()}
	add := func(format string, a ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{erp.ErrConfig}, a...)...))
	}
	if c.BaseURL == "" {
		add("BaseURL is required")
	} else if err := cc.CheckURL("BaseURL", c.BaseURL); err != nil {
		errs = append(errs, err)
	}
	if c.Tenant == "" {
		add("Tenant is required")
	} else if strings.ContainsAny(c.Tenant, "/?#@ ") {
		add("Tenant %q is not a tenant name", c.Tenant)
	}
	if strings.ContainsAny(c.Version, "/?#<>\"& ") {
		add("Version %q is not a Web Services version", c.Version)
	}
	if c.Username != "" && c.Password == nil {
		add("Password is required with Username")
	}
	if c.PageSize < 0 || c.PageSize > MaxPageSize {
		add("PageSize must be between 0 and %d", MaxPageSize)
	}
	for _, n := range []struct{ what, v string }{{"Costs.Service", c.Costs.Service}, {"Costs.Name", c.Costs.Name},
		{"Costs.Document", c.Costs.Document}, {"Costs.FromElement", c.Costs.FromElement}, {"Costs.ToElement", c.Costs.ToElement},
		{"Costs.PlantElement", c.Costs.PlantElement}} {
		if n.v != "" && !xmlName(n.v) {
			add("%s %q is not an element name", n.what, n.v)
		}
	}
	if c.Costs.Name != "" && (c.Costs.Service == "" || c.Costs.Document == "") {
		add("Costs needs a Service and a Document with its Name")
	}
	for _, r := range []struct {
		what string
		r    Report
	}{{"CostsReport", c.CostsReport}, {"EnergyReport", c.EnergyReport}} {
		if r.r.configured() && (r.r.Owner == "" || strings.ContainsAny(r.r.Owner+r.r.Name, "/?#")) {
			add("%s needs an Owner and a Name without / ? #", r.what)
		}
	}
	// A mapping is used as given, or replaced by the default when empty:
	// never merged.
	if !c.CostFields.IsZero() {
		if err := c.CostFields.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("CostFields: %w", err))
		}
	}
	if !c.EnergyFields.IsZero() {
		if err := c.EnergyFields.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("EnergyFields: %w", err))
		}
	}
	return errors.Join(errs...)
}

func xmlName(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '_' || c == '-' || (c >= '0' && c <= '9' && i > 0) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') {
			continue
		}
		return false
	}
	return s != ""
}
