// Package erp is what GL-001 asks of a business system: energy consumption,
// production and maintenance schedules and costs, as typed records streamed
// page by page. The systems themselves live in subpackages (erp/sap,
// erp/dynamics, erp/oracle, erp/workday), each a Client built with
// New(cfg Config); erp/odata reads any other OData V2 or V4 service from a
// service root and a field mapping; erp/erptest has in-process HTTPS fakes
// of them and the conformance suite every Client passes.
//
// # Reading
//
// Client has one method per record type, each returning an iter.Seq2:
//
//	for rec, err := range client.Energy(ctx, erp.Query{Plant: "1010", From: from, To: to}) {
//		if errors.Is(err, erp.ErrMalformed) {
//			continue // one bad record: counted, reported, the stream goes on
//		}
//		if err != nil {
//			return err // the stream has ended
//		}
//		use(rec)
//	}
//
// Pages are fetched as the loop asks for them, so a year of hourly records
// never sits in memory, and breaking out of the loop sends no further
// request. Query time ranges are half-open, [From, To), and every time in a
// record is UTC.
//
// The range is a promise of the client, not of the server: every client
// drops a record whose time (RangeTime: the reading instant, the planned
// start, the posting day) lies outside [From, To), whatever the server did
// with the filter, counts it in ConnStats.OutOfRange and logs it at debug
// level. A bound with a time of day is never rounded; where a system
// compares whole days, its filter is widened and the client trims.
//
// Query.PageSize zero takes the client's page size (1000 for the OData
// clients); ServerPageSize lets the server choose. Query.OnTotal receives
// the system's count of the matching records.
//
// # Records
//
// EnergyRecord, ProductionOrder, MaintenanceOrder and CostRecord carry a
// Source naming the system, the entity set and the system's own key, so any
// record can be traced back. Quantities keep the exact decimal the system
// sent with its unit code, resolved by package units where it is a physical
// unit. Money is a Decimal amount with an ISO 4217 currency: an int64
// coefficient and a scale, exact like the Edm.Decimal text it comes from,
// never a float (0.1 + 0.2 stays 0.3) and never silently rounded to a
// currency's minor unit (Money.MinorUnits does that on request, and fails
// rather than lose digits). Field mappings (EnergyFields, ProductionFields
// ...) say which of a system's properties fill which field, because every
// company customises its ERP. A mapping is used as given or, when empty,
// replaced by the system's default; never merged. One that lacks what its
// record type needs is refused, every missing setting named (Validate).
//
// # Incremental retrieval
//
// Besides time-range reads, each system package has ...Changes methods
// (erp.ChangeFunc): they return what changed since a Cursor, through OData
// change tracking (Prefer: odata.track-changes and delta links, deletions
// included) where the service supports it, else through a watermark on a
// last-changed property. A Poller turns a ChangeFunc into a stream of change
// events handed to a sink, and reports each new cursor for the caller to
// persist. Delivery is at least once: a failed round is read again.
//
// # The HTTP machinery
//
// Conn is shared by all system packages and configured once per system
// with ConnConfig:
//
//   - Authentication: OAuth 2.0 client credentials (ClientCredentials, with
//     golang.org/x/oauth2/clientcredentials), an API key (APIKey), HTTP Basic
//     (Basic, only when configured) or any token grant (TokenSource). Tokens
//     are cached, replaced before they expire, fetched by one caller at a
//     time however many wait; a 401 drops the token and the request is tried
//     once more with a fresh one. Secrets come from a SecretProvider (EnvSecret
//     reads SAP_CLIENT_SECRET, DYNAMICS_CLIENT_SECRET ...), asked again when
//     the system rejects what it gave, so a rotated secret is picked up
//     without a restart.
//   - A rate limit per system (golang.org/x/time/rate), 100 requests a
//     minute by default; callers wait their turn within their context.
//   - Retries of idempotent requests on 429 and 5xx with Retry-After
//     honoured, and a circuit breaker per system, from package
//     resilience/httpretry. Token requests get the same retry policy (a
//     client-credentials grant is safe to repeat) with a breaker of their own.
//     After a 429 or 503 with Retry-After, every request to that system
//     waits out the pause, not just the one refused.
//   - A per-attempt timeout (2 s by default) on top of the caller's context;
//     an idempotent request whose attempt hangs is retried like a 5xx while
//     the caller's context lasts (ConnStats.TimedOut counts them).
//   - A pooled transport (64 connections), HTTPS with TLS 1.2 at least;
//     plain HTTP only with AllowHTTP, for test servers.
//   - Typed errors: StatusError (matching ErrUnauthorized, ErrForbidden,
//     ErrNotFound, ErrThrottled with the wait asked for, ErrServer,
//     ErrBadRequest), UnavailableError (ErrUnavailable: no answer at all,
//     connections refused, reset or timed out on every attempt, with the
//     system and the attempt count), MalformedError (ErrMalformed, naming the
//     field), AuthError. While the circuit breaker is open, requests fail at
//     once with an UnavailableError matching ErrBreakerOpen (and
//     resilience.ErrBreakerOpen). Errors and logs name the request's path,
//     never its query (it can name plants and cost centres). Secrets and
//     tokens never appear in errors or logs: messages from systems are
//     scrubbed of every credential the Conn holds.
//
// Logs go to the *slog.Logger in the configuration (nil discards); counters
// are read with Stats.
//
// # Optional capabilities
//
// System packages offer more than Client; find them on the concrete type:
// the ...Changes methods for incremental retrieval, Stats, Close, and for
// SAP PlannedOrders and Write (CSRF-protected writes).
//
// # Writing a system package
//
// An OData service needs no package: configure erp/odata. A system with
// OData services and defaults of its own is a configuration of erp/odata
// (odata.NewConn, one odata.Collection per record source), as erp/sap and
// erp/dynamics are; the OData decoder and paging stay internal behind it.
// A system speaking another protocol builds on Conn: NewConn, the record
// mappings of EnergyFields.Mapping and friends, Conn.Do for its pages, and
// Mapping.Record for each row, wrapped in KeepInRange, as erp/oracle (REST)
// and erp/workday (SOAP) do. Every Client runs erptest.TestClient.
package erp
