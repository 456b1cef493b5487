// Package opcua reads tags from OPC UA servers: a [scada.Source] over
// github.com/gopcua/opcua.
//
// A [Source] holds one connection to one server. [Source.Run] connects,
// creates subscriptions (or polls), delivers points to a [scada.Sink] and
// returns when its context ends or the connection fails; it does not
// reconnect by itself. Run it under a scada.Collector, which calls Run again
// with backoff and a circuit breaker. Every Run builds a fresh session and
// fresh subscriptions.
//
//	src, err := opcua.New(opcua.Config{
//		Endpoint:       "opc.tcp://plc1:4840",
//		SecurityPolicy: opcua.PolicyBasic256Sha256,
//		SecurityMode:   opcua.ModeSignAndEncrypt,
//		Auth:           opcua.AuthUsername,
//		Username:       "gl001",
//		Tags: []opcua.Tag{
//			{Name: "boiler1.steam_temp", NodeID: "ns=2;s=Boiler1.SteamTemp"},
//			{Name: "boiler1.o2", NodeID: "nsu=urn:vendor:plant;s=Boiler1.O2", Unit: "%"},
//		},
//	}.FromEnv()) // certificates and password from SCADA_CERT_PATH, SCADA_KEY_PATH, SCADA_CA_PATH, SCADA_PASSWORD
//
// # Security
//
// SecurityPolicy and SecurityMode have no default: an insecure connection
// (PolicyNone, ModeNone) is always written out by the caller. With security,
// the client certificate and key (CertFile, KeyFile) and the trusted server
// certificates or CAs (CAFile) are required, and the server's certificate
// must verify against CAFile before anything is sent. Config.FromEnv fills
// the paths and the password from the environment, but only when called.
// The password is a [Secret]: it never appears in logs, errors or %v output.
//
// The recommended configuration, and the one to start from, is
// PolicyBasic256Sha256 (or a newer policy) with ModeSignAndEncrypt and
// CAFile holding the server's own certificate: pinned, not a CA that signs
// many. Sign alone authenticates the server but lets anyone on the path read
// the values; None lets anyone on the path also forge the server's messages,
// which matters doubly because of the decoder exposure below.
//
// The client certificate must carry the application URI in its subject
// alternative names (SAN "URI:urn:..."): servers refuse a certificate
// without one, or whose URI differs from the ApplicationURI of the session,
// with BadCertificateURIInvalid. Config.ApplicationURI names it (default: the
// certificate's first URI); Validate, New and every connect check the
// certificate for it, so the mistake is reported here, before any server
// sees it.
//
// A user name and password go with AuthUsername only: set with another Auth
// they are an error, never a silent anonymous session.
//
// # A hostile server
//
// gopcua v0.8.0, the version this package builds on, allocates whatever an
// array length in a message claims before it reads the elements: four
// changed bytes in a PublishResponse claim 2^31-1 entries and make the client
// allocate 16 GiB (8 GiB for an array of 4-byte values). With overcommit the
// allocation may pass and cost only address space; where address space or
// memory is limited (a container limit, ulimit -v, no overcommit) the Go
// runtime stops the whole process with a fatal out-of-memory error that no
// recover catches, taking every other source of the process with it.
//
// A message can carry such a length only if it comes from the server, or
// from someone who can write into the connection. So the exposed
// configurations are: PolicyNone (or ModeNone) on a network that is not
// fully trusted, where anyone on the path can inject it; and any
// configuration talking to a server that is compromised or not trustworthy,
// since a server can always send it. SignAndEncrypt (or Sign) with a pinned
// server certificate leaves only the second: the messages are checked before
// they are decoded. Where a malicious or compromised server is a concern, run
// the OPC UA sources in a process of their own (one per plant area, say) with
// a memory limit, so a crash costs those sources only and the supervisor of
// that process restarts it. The tests TestHostileArrayLengthAllocates and
// TestHostileArrayLengthKillsTheProcess show the behaviour and fail once a
// gopcua version bounds its arrays.
//
// # Permanent refusals
//
// Errors of Run that retrying with the same configuration cannot fix match
// scada.ErrPermanent, besides scada.ErrConnection: while connecting,
// credentials refused (BadUserAccessDenied, BadIdentityTokenRejected,
// BadIdentityTokenInvalid, BadUserSignatureInvalid), a client certificate the
// server does not accept (BadCertificate..., BadSecurityChecksFailed,
// BadNoValidCertificates), a security policy or mode refused
// (BadSecurityPolicyRejected, BadSecurityModeRejected), a configuration the
// server rejects (BadTcpEndpointUrlInvalid, BadServerUriInvalid, an expired
// license), and this package's own [ErrNoEndpoint], [ErrUntrustedServer] and
// [ErrCertificateURI]. A scada.Collector shows such a source as refused, with
// the cause, and tries it again only every CollectorConfig.PermanentDelay
// (1 minute by default) instead of at the backoff's rate. The same codes
// during an established session (a channel renewal that fails, say) are
// connection losses, retried as usual.
//
// # Values
//
// Every numeric variant type and Boolean become float64 (Booleans 0 or 1).
// The point's quality is the OPC UA status code as the server sent it
// ([scada.Quality] uses OPC UA's numbering). A Bad status carries no value:
// the point's Value is 0, never the last good value. Uncertain values are
// kept. The time is the source timestamp, the server timestamp when there is
// none, the receive time when there is neither. The unit is the tag's Unit,
// or else the node's EngineeringUnits property (EUInformation): the
// canonical symbol of the units package for a UNECE code or a name it knows
// ("°C" for CEL or "degC"), the display name as the server gives it otherwise.
//
// A node the server does not know, cannot read or that holds something that
// is not a number gives a Bad point for that tag and a [*TagError]
// (Config.OnTagError); the other tags keep flowing.
//
// # Connection loss
//
// gopcua's own AutoReconnect is switched off: in v0.8.0 it can report
// Connected while its subscriptions are gone and no data arrives (gopcua
// #876). Instead Run returns a [*ConnError] (matching scada.ErrConnection)
// when the channel or session fails, when the server reports the
// subscriptions lost, or when the watchdog sees neither data nor keep-alives
// for Config.NoDataTimeout. Before returning, it delivers one
// BadNoCommunication point for every tag, so consumers see the gap.
//
// # Scale
//
// The publish loop is this package's, not gopcua's Subscription: it keeps
// several publish requests in flight (gopcua keeps one), sees keep-alives
// (which gopcua hides, so no watchdog could tell a quiet server from a dead
// one), acknowledges what it delivered and puts responses back in sequence
// order. A missing sequence number is waited for up to 2 s (or two
// publishing intervals) before it counts as a gap in Stats.SequenceGaps and
// the responses after it go on; one that arrives later still is delivered,
// never dropped. Tags are split into subscriptions of at most
// Config.MaxItemsPerSubscription items; Read, Browse and CreateMonitoredItems
// are split to the server's operation limits (MaxNodesPerRead,
// MaxNodesPerBrowse, MaxMonitoredItemsPerCall), read at connect time.
//
// # Optional capabilities
//
// A Source also implements [scada.Browser] ([Source.Browse] lists the
// variables below a node) and [scada.Writer] ([Source.Write] writes a setpoint
// to a tag marked Writable, converted to the node's data type).
//
// Both use the session of the running Run when it is connected, and
// otherwise open a short connection of their own (same endpoint, security
// and user, bounded by DialTimeout and RequestTimeout) and close it after the
// call. So a Write works without Run, for a commissioning tool or while Run
// is reconnecting, and its outcome is always the server's answer, never a
// value queued for later: an OPC UA session is cheap to open and the server
// checks the user's write permission per session, so writing on its own
// session keeps the result clear. A Write during an outage fails with the
// connection error, after at most DialTimeout. The cost: each Write without a
// running session takes a session slot on the server for a moment (servers
// with tight session limits answer BadTooManySessions) and the latency of
// opening a session.
//
// [Source.History] ([scada.HistoryReader]), [Source.HistoryTags], [Source.Call] and
// [Source.Acknowledge] / [Source.Confirm] ([scada.ConditionAcker]) do the
// same.
//
// # Events and alarms
//
// With Config.Events ([EventConfig]) a Source also subscribes to events: one
// more subscription with an event monitored item per object (the Server
// object by default) and an EventFilter whose select clauses are the
// standard fields of scada.Event (BaseEventType; ConditionType's
// ConditionId, ConditionName, BranchId, Retain; AlarmConditionType's
// ActiveState; AcknowledgeableConditionType's AckedState and
// ConfirmedState) plus the caller's [EventField]s, and whose where clause
// is OfType for EventConfig.Types and Severity >= EventConfig.MinSeverity.
// After every (re)connect the Source calls ConditionRefresh, so the active
// alarms are reported again. Events go to EventConfig.Sink, or to the Sink
// given to Run when it is a scada.EventSink; they are delivered after the
// points of the same publish response.
//
// An event field list that does not map (a missing or mistyped field) is an
// [*EventFieldError], counted in EventStats.BadEvents: the event is still
// delivered when only an optional field is wrong, dropped when EventId,
// EventType, Time or Severity is; the events around it are delivered.
//
// Guarantee: the events the server queued for the subscription reach the
// EventSink at most once per session, in the server's order. Events raised
// while the connection is down are lost, except that the conditions still
// retained come back through ConditionRefresh; a consumer keys them by
// Condition.ID and Condition.Branch, last state wins. Events are not
// written to a scada/buffer Buffer yet.
//
// # Method calls
//
// [Source.Call] calls a method with typed input arguments and returns its
// outputs; a refusal is a [*CallError] with the method's status and each
// argument's ([*ArgumentError]). Acknowledge and Confirm are the
// AcknowledgeableConditionType methods called on the condition with the
// event's EventId.
//
// # History and backfill
//
// [Source.History] reads raw history (HistoryRead, ReadRawModifiedDetails)
// over [from, to), page by page through continuation points, releasing
// them (ReleaseContinuationPoints) when the caller stops early or ctx
// ends. [Source.HistoryTags] reads many tags at once: each HistoryRead
// asks for up to Config.HistoryNodesPerRead nodes (fewer when the server
// advertises a smaller MaxNodesPerHistoryReadData,
// MaxHistoryContinuationPoints or MaxNodesPerRead), every node follows its
// own continuation points, and a node that finishes makes room for the
// next. A bad status ends the read of its tag with a [*HistoryError]; a
// value out of [from, to), without timestamp or not numeric is a
// [*HistoryValueError] and the read goes on; both are counted in
// EventStats.HistoryErrors, and the other tags' points are delivered.
//
// With Config.Backfill ([BackfillConfig]) the Source fills the gap of an
// outage from history: the gaps that end at the live points of one
// response are read together, many tags per request. The filled points
// carry the scada.Backfilled quality bit.
//
// Guarantee (backfill): per tag, the points reach the Sink in increasing
// timestamp order and none twice; when the server kept the history of
// the gap, none is missing. Proof: TestBackfillManyTags (in-process,
// scripted historian) and TestInteropBackfill (node-opcua, a 60 s outage
// in CI, into a disk Buffer, every value checked against the server's).
//
// The history benchmark needs node-opcua (.ci/interop/opcua.sh installs
// it) and reads a day of 100 tags at 1 s:
//
//	go test -tags interop -run '^$' -bench OPCUAHistoryRead -benchtime 1x -count 3 ./scada/opcua/
//
// # Observability
//
// [Source.Stats] returns counters (points, Bad points, tag errors, keep-alives,
// sequence gaps, the operation limits in use), [Source.EventStats] those of
// events, history and backfill. Connection events go to
// Config.Logger (nil discards).
package opcua
