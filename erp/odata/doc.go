// Package odata reads any OData V2 or V4 service as erp records: SAP CAP
// applications, SAP BTP extensions, custom gateways, and the services of
// SAP S/4HANA and Dynamics 365, whose packages (erp/sap, erp/dynamics) are
// configurations of this one.
//
// A Client needs the service root and, per record type, an entity set and a
// field mapping; nothing else is assumed of the service:
//
//	c, err := odata.New(odata.Config{
//		ConnConfig: erp.ConnConfig{System: "energy-cap", Auth: auth},
//		Options:    odata.Options{ServiceRoot: "https://cap.example.com/odata/v4/energy/"},
//		Energy:     odata.EntitySet{Name: "Readings", TimeProperty: "readAt", PlantProperty: "plant"},
//		EnergyFields: erp.EnergyFields{Key: []string{"ID"}, Plant: "plant", Meter: "meter",
//			End: erp.TimeFields{Date: "readAt"}, Quantity: "kwh", DefaultUnit: "kWh"},
//	})
//
// The service root is used as given (no path is added), per client
// (Options.ServiceRoot) or per entity set (EntitySet.ServiceRoot), so
// record types may come from different services of one system. A record
// type without an entity set answers with erp.ErrNotSupported.
//
// # Field mappings
//
// A mapping (erp.EnergyFields ...) is used as given: it is never merged
// with another, and one that lacks what its record type needs (a key, the
// time the range applies to, a quantity and a unit for energy, an amount and
// a currency for costs) is refused by New with an error naming every missing
// setting. Only the mapped properties are asked for ($select).
//
// # Queries
//
// Query.From and Query.To are written in the entity set's TimeLiteral:
// datetime'...' (V2 default), an Edm.DateTimeOffset (V4 default), or an
// Edm.Date. A bound is never rounded: where the service can compare only
// whole days (TimeLiteral Date, or a date property beside a separate
// time-of-day property in the mapping) the filter is widened to whole days
// and the client drops the records outside [From, To). Whatever the server
// sends, a record whose time lies outside the range never reaches the
// caller; it is counted in ConnStats.OutOfRange and logged at debug level.
// Query.Plant is compared with PlantProperty, and refused when none is
// configured. Query.Filters add conditions on the service's own properties.
//
// # Paging
//
// ClientPaging (the default) sends $top=PageSize (DefaultPageSize, 1000,
// unless configured) sorted by the key properties, follows the server's next
// links (relative, absolute, or naming another host, which is moved onto
// the configured host so credentials never go elsewhere), and asks for the
// next page with $skip when a full page comes without a next link. A server
// whose own page size is smaller than $top pages with next links as usual;
// set PageSize (or Query.PageSize) to erp.ServerPageSize to send no $top at
// all and follow the server's pages. ServerPaging sends Prefer:
// odata.maxpagesize instead and follows next links only.
//
// Query.OnTotal (or Options.InlineCount) asks for the collection count
// ($inlinecount=allpages, $count=true) and hands it to the caller.
//
// # Errors
//
// The HTTP machinery is package erp's Conn: retries, throttling, the
// circuit breaker and the typed errors (erp.StatusError with the service's
// OData error code and message, erp.ErrUnavailable, erp.ErrMalformed)
// behave as its documentation says. A record that cannot be decoded is
// yielded as an error matching erp.ErrMalformed and the stream goes on; a
// page that cannot be decoded ends the stream.
//
// # Building a system package
//
// A system with OData services and defaults of its own is a configuration
// of this package: NewConn for the shared machinery, then one Collection per
// record source (NewCollection), as erp/sap and erp/dynamics do. The OData
// decoder and the paging loop stay internal; this package is their API.
package odata
