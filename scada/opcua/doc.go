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
// order. Tags are split into subscriptions of at most
// Config.MaxItemsPerSubscription items; Read, Browse and CreateMonitoredItems
// are split to the server's operation limits (MaxNodesPerRead,
// MaxNodesPerBrowse, MaxMonitoredItemsPerCall), read at connect time.
//
// # Optional capabilities
//
// A Source also implements [scada.Browser] ([Source.Browse] lists the
// variables below a node) and [scada.Writer] ([Source.Write] writes a setpoint
// to a tag marked Writable, converted to the node's data type). Both use the
// running session, or a short connection of their own when Run is not
// connected.
//
// # Observability
//
// [Source.Stats] returns counters (points, Bad points, tag errors, keep-alives,
// sequence gaps, the operation limits in use). Connection events go to
// Config.Logger (nil discards).
package opcua
