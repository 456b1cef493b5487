// Package dynamics reads Microsoft Dynamics 365 over OData V4 and
// implements erp.Client.
//
// Two flavours of endpoint are spoken. The Dataverse Web API (WebAPI, the
// default) at /api/data/v9.2/<entityset>: Field Service work orders
// (msdyn_workorders) are the default maintenance source, and custom tables
// or F&O virtual entities can be configured for the others. Finance &
// Operations data entities (FinanceOperations) at /data/<collection> with
// cross-company=true: ProductionOrderHeaders, MaintenanceWorkOrders and
// GeneralJournalAccountEntries by default. A record type with no entity set
// answers with erp.ErrNotSupported. Entity sets and field mappings are
// configurable, since every organisation customises; check them against
// your environment's $metadata.
//
// The service root is BaseURL + /api/data/<APIVersion>/ (WebAPI) or
// BaseURL + /data/ (FinanceOperations), or Config.ServiceRoot as given, which
// also points the client at any other OData V4 service that speaks like
// Dataverse. The client is a configuration of erp/odata (server paging, one
// Collection per entity set); for a service that is neither, use erp/odata
// directly.
//
// Requests carry OData-Version: 4.0 and Prefer: odata.maxpagesize=N;
// paging follows @odata.nextLink only (Dynamics has no $skip). Time bounds
// are Edm.DateTimeOffset literals, or whole days for DateOnly entities
// (widened on the server, trimmed by the client): every record outside the
// query's [From, To) is dropped and counted (erp.ConnStats.OutOfRange).
// Authentication is Azure AD client credentials (erp.ClientCredentials with
// AzureTokenURL(tenant) and erp.EnvSecret("DYNAMICS_CLIENT_SECRET")); when
// no scope is given, https://<organisation host>/.default is used.
//
// Dataverse service protection answers 429 with Retry-After: once that
// happens, every request to the organisation waits out the pause, not only
// the one refused. Change tracking (Prefer: odata.track-changes, delta links
// and deleted entities) backs the ...Changes methods for tables that have it
// enabled; others keep a watermark on modifiedon.
package dynamics
