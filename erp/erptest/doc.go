// Package erptest provides in-process ERP systems for tests and examples:
// HTTPS servers (httptest, 127.0.0.1, a fresh certificate each) that speak
// the wire formats of SAP S/4HANA OData V2 and V4 and of Dynamics 365 (Web
// API and Finance & Operations data entities).
//
// A Server has an OAuth 2.0 client-credentials token endpoint issuing tokens
// of a configurable lifetime, pages by next links (absolute, relative, or
// naming another host) and by $top/$skip, evaluates the $filter subset the
// clients send (eq ne gt ge lt le joined by and; strings, numbers,
// datetime'..' and V4 date literals), honours $select, $orderby,
// $inlinecount/$count, Prefer: odata.maxpagesize and odata.track-changes
// (delta links, deleted entities), refuses "+" for spaces and $skip on
// Dynamics, and hands out SAP CSRF tokens bound to a session cookie.
//
// Faults are injected per request: any status with Retry-After (429, 503,
// bursts of 5xx), on the data endpoints or the token endpoint, a token that
// expires mid-paging, truncated pages, a page that stalls half sent until
// the client goes away, and arbitrary malformed bodies. A Server can also
// ignore $filter (Config.IgnoreFilter), as a gateway that drops options it
// does not know does. Requests and counters are recorded for
// assertions. The generators (SAPMeasurementDocuments, SAPProductionOrders
// ...) produce rows in each system's own property names and formats.
//
// OracleServer speaks Oracle Fusion Cloud REST (items, hasMore, q, finder,
// fields, orderBy, a limit capped silently near 500, an identity-domain
// token endpoint) and WorkdayServer speaks Workday Web Services (SOAP 1.1
// with WS-Security UsernameToken, Response_Filter paging as of an entry
// time, SOAP faults), Reports-as-a-Service JSON (Report_Entry) and the OAuth
// refresh-token grant with rotation; both take the same Fault injection.
//
// # Conformance
//
// TestClient is the suite every erp.Client passes, whatever its system:
// paging, empty pages, range edges with times of day, malformed records,
// 401 in the middle of paging, 429 with Retry-After, and cancellation while
// a page is being received. Each of its tests is exported (TestPaging,
// TestRangeEdges ...) to run alone; a Harness stores Fixtures on the
// system's fake in the system's own format and Features gate what a system
// legitimately does its own way. erp/odata, erp/sap, erp/dynamics,
// erp/oracle and erp/workday run it.
package erptest
