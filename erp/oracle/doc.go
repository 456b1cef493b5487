// Package oracle reads Oracle Fusion Cloud Applications (ERP Cloud, SCM
// Cloud) over their REST API and implements erp.Client.
//
// Default resources, each overridable per Config (Resource and the field
// mapping beside it, since every company customises):
//
//	Production   workOrders             manufacturing work orders
//	Maintenance  maintenanceWorkOrders  maintenance work orders
//	Energy       meterReadings          asset meter readings
//	Costs        invoices               Payables invoices (energy bills are supplier invoices)
//
// Resources live at /fscmRestApi/resources/<version>/<resource> (version
// 11.13.18.05 by default) and answer
//
//	{"items":[...],"count":25,"hasMore":true,"limit":25,"offset":0,"links":[...]}
//
// with totalResults only when asked for (Config.TotalResults). Requests
// carry REST-Framework-Version: 1, whose query-by-example q syntax the
// client writes. The client asks for onlyData=true and the mapped attributes only (fields=), filters
// with q (Attr='x';Attr>=..., the plant and the half-open time range of the
// Query plus its Filters, conditions joined by ";"), sorts with orderBy
// (the key attributes by default) so offset paging is stable, and sends a
// Resource's Finder as finder=. It pages on hasMore alone, moving the offset
// by the items actually received: Oracle caps limit near 500 without saying
// so, so the limit asked for is never trusted. A page without hasMore, with
// a count that disagrees with its items, or claiming more after an empty
// page is reported as erp.ErrMalformed rather than followed.
//
// Authentication is the shared machinery of package erp. ClientCredentials
// builds the OAuth 2.0 client-credentials grant against the identity
// domain's /oauth2/v1/token, with the secret read from ORACLE_CLIENT_SECRET
// and the Fusion scope of the pod (see Scope). HTTP Basic (erp.Basic) is
// used only when configured explicitly.
//
// The ...Changes methods keep a watermark on LastUpdateDate (the mapping's
// Changed attribute); Oracle REST has no change tracking, so deletions are
// not seen.
package oracle
