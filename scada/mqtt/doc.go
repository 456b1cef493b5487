// Package mqtt reads SCADA points from an MQTT 5 broker: a [scada.Source]
// built on github.com/eclipse/paho.golang.
//
// Process-heat plants' IoT sensors and edge gateways publish over MQTT: a
// number per topic, JSON documents, or Sparkplug B (see the subpackage
// scada/mqtt/sparkplug). A [Source] subscribes to topic filters, names tags
// from topic segments, decodes payloads with a pluggable [Decoder] and
// delivers points to a [scada.Sink].
//
//	src, err := mqtt.New(mqtt.Config{
//		Broker:   "mqtts://broker.plant.local:8883",
//		ClientID: "gl001-boilerhouse",
//		Username: "gl001",
//		CAFile:   "/etc/gl001/plant-ca.pem",
//		Subscriptions: []mqtt.Subscription{{
//			Topic: "plant/{site}/{device}/{tag}", // subscribes to plant/+/+/+
//			Tag:   "{site}.{device}.{tag}",
//			QoS:   1,
//		}},
//	})
//
// # Connections and reconnection
//
// Each [Source.Run] is one connection's life: dial, CONNECT, SUBSCRIBE,
// deliver, and return when the connection fails. Run does not reconnect;
// [scada.Collector] runs it again with exponential backoff, jitter, a
// circuit breaker and a health snapshot, as it does every other Source.
// This package uses paho's plain client rather than autopaho on purpose:
// autopaho reconnects inside the client (with a constant 10 s delay by
// default), which would hide an outage from the Collector's health and
// breaker and stack a second retry loop under the first. With one owner of
// reconnection, an MQTT source fails, backs off and reports like an OPC UA
// or Modbus one. A program that uses a Source without a Collector calls Run
// in a loop with a backoff of its own.
//
// What survives a reconnection is the MQTT session. By default a Source
// connects with Clean Start off and a session expiry (Config.SessionExpiry,
// 24 h; [EndSessionOnDisconnect] asks for none), so the broker keeps its subscriptions and queues the QoS 1 and 2
// messages published while it was away; they arrive when Run connects again.
// The client side of the session (packet identifiers, QoS 2 receipts) lives
// in the Source across Runs too, so a QoS 2 message is delivered once even
// across a reconnection. A Run subscribes when the broker has lost the
// session (a restart without persistence, an expired session), which
// restores the subscriptions, and on the first connection of a Source, in
// case the persisted session holds another configuration's filters. It
// subscribes with retain handling 1, so a resumed session does not replay
// retained messages. When the broker's DISCONNECT or a read error ends the
// connection, Run's error says which (a reason code such as 0x8B, server
// shutting down).
//
// Broker URLs are mqtt:// (or tcp://), mqtts:// (or ssl://, tls://), ws://
// and wss://. TLS defaults to version 1.3 at least; a caller that must reach
// an older broker lowers Config.TLS.MinVersion explicitly. Config.CAFile,
// CertFile and KeyFile add a private CA and a client certificate. The
// password comes from the caller or, through the explicit [Config.FromEnv],
// from MQTT_PASSWORD; it never appears in logs or errors ([Config.String]
// redacts it).
//
// # Topics and tags
//
// A Subscription's Topic is an MQTT filter whose single-level segments may
// be named in braces; the names feed the Tag template. "+" and "#" work as
// in MQTT, and {#} names what "#" matched. "$share/<group>/<filter>" makes a
// shared subscription: GL-001 instances with the same group split a
// firehose between them. What happens to a stopped member's share depends on
// its session: with CleanStart its session ends with the connection (the
// default expiry with CleanStart is 0) and the broker gives the whole stream
// to the members still connected; with a persistent session the broker
// queues the member's share until it returns or the session expires. See
// Config.SessionExpiry for the trade-off. A message is decoded by the first Subscription
// whose pattern matches its topic.
//
// # Decoders
//
// [Number] (the default) reads a payload that is one number. A
// [JSONDecoder] reads JSON with configurable paths for value, timestamp,
// quality, unit and tag, one point per object or an array of them; it scans
// the payload once without building maps. scada/mqtt/sparkplug decodes
// Sparkplug B. Any [Decoder] can be plugged in.
//
// A payload a decoder rejects is counted in [Stats].BadMessages, logged and
// passed to Config.OnBadMessage as a [*DecodeError] naming its topic (it
// matches [scada.ErrBadInput]); the good points of the same payload and the
// messages around it are delivered as usual.
//
// # Limits on input
//
// A broker delivers whatever publishers send, so the Source bounds what one
// message can cost: Config.MaxPayload (1 MiB) refuses larger payloads before
// any decoding, and Config.MaxPointsPerMessage (10000) keeps the first
// points of a message that gives more (decoders see the cap in
// Message.MaxPoints and stop there). Both are reported as a [*LimitError]
// (matching [ErrLimit] and [scada.ErrBadInput]) through
// Config.OnBadMessage and counted in Stats.LimitExceeded and
// Stats.BadMessages. The Sparkplug decoder adds limits of its own (metrics
// per payload, aliases per edge node, edge nodes per decoder). A topic that
// is not valid UTF-8 or holds NUL is refused (Stats.BadTopics), and a point
// whose tag or unit is not valid UTF-8 or holds NUL is dropped
// (Stats.BadTags): every store and wire format downstream needs valid
// UTF-8. Refused messages are acknowledged, so they do not come back, and
// the stream goes on.
//
// # Acknowledgements and flow control
//
// A QoS 1 or 2 message is acknowledged only after the sink accepted its
// points, in the order the messages arrived; if the sink fails, Run returns
// its error and the unacknowledged messages come back on the next
// connection. Delivery is therefore at least once (a QoS 2 message exactly
// once within the life of the Source). paho would acknowledge when the
// handler returns and its own manual acknowledgement sends acks on a 50 ms
// timer after a linear search per message, so the Source takes over the
// acknowledgement from paho's session state: the PUBACKs of a delivered
// batch leave in one write, and QoS 2 PUBRECs go through the session state,
// which records them.
//
// Config.ReceiveMaximum (default 1024) caps the QoS 1/2 messages the broker
// may have in flight to us and sizes the client's receive queue, so a slow
// sink holds back the broker instead of building a hidden backlog in the
// client. Decoding runs on paho's receiving goroutine while a second
// goroutine hands batches of up to Config.MaxBatch points to the sink and
// acknowledges them, so decoding and delivery overlap.
//
// Brokers drop messages for slow subscribers, even at QoS 1 (mochi when more
// than 8192 are queued for one client): watch the broker's own counters.
// BenchmarkMQTTIngest checks them.
//
// # Connection details
//
// paho reads each packet header a byte at a time, so the Source puts a
// buffered reader under it. On plain TCP the connection keeps its writev
// (each packet leaves in one system call, whichever goroutine writes it); on
// TLS and websocket connections, which have none, a packet's pieces are
// gathered and written once, so acknowledgements do not become several TLS
// records or websocket frames.
//
// # Writing setpoints
//
// [Commander] is the [scada.Writer] of MQTT: it publishes a tag's setpoint
// to the command topic configured for it ([Command]), at QoS 1 on a
// connection of its own, and returns once the broker acknowledged it. It
// queues nothing: with the broker away a write fails with
// scada.ErrConnection. The device confirms by publishing its new value,
// which the Source's subscription delivers; put writes behind the guard of
// scada/guard with a guard.Latest fed by the Source to read it back.
//
// # Observability
//
// [Source.Stats] is a snapshot of the counters: connected (true once the
// broker acknowledged the subscriptions), session present,
// connects, messages, points, bad messages, unmatched topics, acks.
// Config.Logger receives connection events and bad payload reports.
package mqtt
