// Package sap reads SAP S/4HANA (Cloud and on-premise) over OData V2 and V4
// and implements erp.Client.
//
// Default services, each overridable per Config (Service and the field
// mapping beside it, since every company customises):
//
//	Production   API_PRODUCTION_ORDER_2_SRV / A_ProductionOrder_2
//	Planned      API_PLANNED_ORDERS / A_PlannedOrder           (PlannedOrders)
//	Maintenance  API_MAINTENANCEORDER / MaintenanceOrder
//	Energy       API_MEASUREMENTDOCUMENT_SRV / MeasurementDocument
//	Costs        API_JOURNALENTRYITEMBASIC_SRV / A_JournalEntryItemBasic
//
// V2 services live under /sap/opu/odata/sap/<SERVICE>/ and answer
// {"d":{"results":[...],"__next":..,"__count":"42"}} with /Date(ms)/ dates,
// Edm.Time times of day (PT14H30M00S) and Edm.Decimal values as strings; V4
// services (set Service.Version and Service.Path) answer {"value":[...],
// "@odata.nextLink":..,"@odata.count":42}. A service's root is BaseURL +
// Service.Path, or Service.Root as given. The client asks for JSON, sends
// sap-client on every request, writes $filter with datetime'...' literals
// (V2) or Edm.DateTimeOffset literals (V4; set Service.TimeLiteral to Date
// for Edm.Date properties), encodes spaces as %20 (SAP Gateway rejects "+"),
// selects only the mapped properties, and pages with $top (1000 by
// default; erp.ServerPageSize sends none) and $skip, or through the server's
// next links, which it resolves against the service root: a relative link,
// or one naming the system's internal host name, is followed on the
// configured host so credentials never go elsewhere. A short or empty page
// ends the stream.
//
// A bound with a time of day is never rounded. Where the service can only
// compare days (an Edm.Date property, or a date property beside a separate
// time-of-day property such as MsmtRdngDate and MsmtRdngTime), the filter is
// widened to whole days and the client drops what lies outside [From, To);
// whatever the server sends, a record outside the range is dropped and
// counted (erp.ConnStats.OutOfRange). The client is a configuration of
// erp/odata: one Collection per service, sharing one Conn.
//
// A field mapping is used as given, never merged with the defaults: an
// empty one takes the default, and New names every setting a partial one
// lacks.
//
// Write sends modifying requests with SAP's CSRF protection: a token fetched
// with "X-CSRF-Token: Fetch", the session cookies kept, and a fresh token
// fetched once when the system answers 403 "X-CSRF-Token: Required".
//
// Authentication is the shared machinery of package erp: typically
// erp.ClientCredentials against the BTP/XSUAA token endpoint with
// erp.EnvSecret("SAP_CLIENT_SECRET"), or erp.APIKey{Header: "APIKey"} for
// the SAP API Business Hub sandbox.
package sap
