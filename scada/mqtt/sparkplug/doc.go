// Package sparkplug decodes Sparkplug B (Eclipse Sparkplug, the
// spBv1.0 namespace) for the MQTT source in scada/mqtt.
//
// [Decoder] is an mqtt.Decoder that keeps each edge node's alias tables from
// its NBIRTH and DBIRTH messages and sequence numbers, turns NBIRTH, DBIRTH,
// NDATA and DDATA metrics into points, marks a node's or device's tags Bad on
// NDEATH and DDEATH (a node's NDEATH drops its state), and asks an edge node to publish its births again (an
// NCMD with "Node Control/Rebirth") when it sees an unknown alias, data from
// a node it has no birth for, or a gap in the sequence numbers.
//
//	dec, err := sparkplug.NewDecoder(sparkplug.Config{})
//	...
//	src, err := mqtt.New(mqtt.Config{
//		Broker:   "mqtts://broker.plant.local:8883",
//		ClientID: "gl001-sparkplug",
//		Subscriptions: []mqtt.Subscription{{Topic: "spBv1.0/plant/#", QoS: 1, Decoder: dec}},
//	})
//
// The payload codec ([Unmarshal], [Marshal], [Payload], [Metric]) follows
// Eclipse Tahu's sparkplug_b.proto field for field and is written with
// google.golang.org/protobuf/encoding/protowire, so no generated code is
// needed. Metric metadata is skipped; data sets, templates and extensions are
// kept as their encoded bytes. A metric's value is a protobuf oneof: when a
// metric carries two value fields the last one wins and the other is
// cleared, so Metric.Kind always names the value held and Marshal writes
// back what was read.
//
// # Commands
//
// [Commander] writes setpoints to edge nodes: an NCMD or DCMD carrying one
// metric, addressed by the alias (or, without one, the name) its birth
// defined, with the birth's data type, a timestamp and a sequence number.
// It finds the metric in a Decoder's births, publishes through a
// [Publisher] (an mqtt.Commander), and fails with scada.ErrConnection for a
// node that is not online. The node's NDATA or DDATA is the confirmation;
// the write guard of scada/guard reads it back through a guard.Latest.
//
// # Limits
//
// The state a Decoder keeps grows with what edge nodes publish, so it is
// bounded: Config.MaxMetrics (10000 metrics in one payload, refused before
// they are built), Config.MaxAliases (10000 metrics defined by one edge
// node's births) and Config.MaxNodes (1024 edge nodes; a node's NDEATH frees
// its place). Past a limit Decode returns a *mqtt.LimitError, counted in
// Stats.LimitExceeded, and the Source reports and counts the message as bad.
package sparkplug
