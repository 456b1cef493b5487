// Package workday reads Workday Financial Management and implements
// erp.Client. Workday has no production or maintenance modules: Production
// and Maintenance answer erp.ErrNotSupported (not an empty stream). It
// supplies costs and spend, and energy bought (utility invoices).
//
// # Web Services (SOAP)
//
// Costs are read through Workday Web Services, SOAP 1.1 at
// /ccx/service/<tenant>/<Service>/<version>: Get_Supplier_Invoices
// (Resource_Management) by default, one record per invoice, or
// Get_Journals (Financial_Management) with Journals and JournalFields, one
// record per journal line. Requests carry a WS-Security UsernameToken
// (user@tenant, password text) when Config.Username is set, the time range
// as inclusive Request_Criteria dates, Query.Plant as a company reference,
// and a Response_Filter with Page, Count (Config.PageSize, at most 999) and
// As_Of_Entry_DateTime pinned to the first request, so every page belongs to
// the same snapshot even while invoices are entered. Paging follows
// Response_Results Total_Pages.
//
// Pages are decoded by Decoder in one streaming pass over the XML tokens.
// Field mappings name elements by path below the operation's document,
// selecting reference IDs by type, e.g.
// "Supplier_Invoice_Data/Currency_Reference/ID[@type='Currency_ID']".
//
// SOAP faults become *FaultError with the faultcode and faultstring:
// authentication faults match erp.ErrUnauthorized (the password is asked
// for again once, so a rotated one is picked up), validation faults
// erp.ErrBadRequest, Server faults erp.ErrServer. Faults are never retried
// (Workday sends them all as HTTP 500); throttling and server errors
// without a fault are, with Retry-After honoured. The password never
// appears in errors or logs.
//
// # Reports-as-a-Service
//
// Custom reports, the usual extract path for custom data, are read from
// /ccx/service/customreport2/<tenant>/<owner>/<report>?format=json
// ({"Report_Entry":[...]}), with the time range and plant sent as the
// report's prompts; the report's field aliases are mapped by config.
// EnergyReport feeds Energy (there is no standard energy operation, so
// Energy answers erp.ErrNotSupported until one is configured); CostsReport,
// if set, replaces the SOAP operation for Costs.
//
// # Authentication for REST and reports
//
// RefreshGrant is the OAuth 2.0 refresh-token grant of a Workday API client,
// against TokenURL(baseURL, tenant): access tokens are cached and renewed by
// the shared machinery, and when Workday rotates the refresh token the
// newest one is kept (and handed to OnRotate to persist). EnvAPIKey reads
// an API key from WORKDAY_API_KEY. erp.Basic is used only when configured
// explicitly.
//
// # Incremental retrieval
//
// CostChanges and EnergyChanges keep a watermark on the mapping's Changed
// field. Workday's criteria cannot select on it, so each round reads the
// Query's time range and delivers only records newer than the watermark.
package workday
