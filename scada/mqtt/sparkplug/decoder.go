package sparkplug

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/greenlang/gl001/scada"
	"github.com/greenlang/gl001/scada/mqtt"
)

// Namespace is the first topic level of Sparkplug B.
const Namespace = "spBv1.0"

// RebirthMetric is the node control metric a host sets to true in an NCMD to
// ask an edge node to publish its births again.
const RebirthMetric = "Node Control/Rebirth"

// Defaults of the Decoder's limits ([Config]).
const (
	DefaultMaxMetrics = 10000 // metrics in one payload
	DefaultMaxAliases = 10000 // metrics (and their aliases) the births of one edge node define
	DefaultMaxNodes   = 1024  // edge nodes one Decoder keeps state for
)

// DefaultRebirthInterval is the default of Config.RebirthInterval.
const DefaultRebirthInterval = 10 * time.Second

// ErrUnknownAlias is matched by the error Decode returns when data metrics
// name an alias (or, without a birth, a metric) the node's birth did not
// define. The other metrics of the message are delivered and a rebirth is
// requested.
var ErrUnknownAlias = errors.New("sparkplug: unknown metric alias")

// Config configures a [Decoder]. Zero values mean the defaults.
type Config struct {
	// Tag names the tag of a metric. Default: "group/node/metric" for node
	// metrics and "group/node/device/metric" for device metrics.
	Tag func(group, node, device, metric string) string
	// RebirthInterval is the least time between two rebirth requests to the
	// same edge node. Default 10 s.
	RebirthInterval time.Duration
	// Logger receives births, deaths, sequence gaps and rebirth requests.
	// Nil discards.
	Logger *slog.Logger

	// The limits below bound the memory a broker's messages can make a
	// Decoder hold. Past a limit, Decode returns a *mqtt.LimitError (it
	// matches mqtt.ErrLimit and scada.ErrBadInput), counts it in
	// Stats.LimitExceeded, and the Source counts the message as bad; the
	// other messages go on. With the defaults a Decoder holds at most about
	// 1024 nodes x 10000 metrics; a Source's Config.MaxPayload (1 MiB)
	// bounds one message.

	// MaxMetrics caps the metrics of one payload: a payload with more is
	// refused whole, before its metrics are built. Default 10000.
	MaxMetrics int
	// MaxAliases caps the metrics (with their aliases) the NBIRTH and
	// DBIRTHs of one edge node define. The metrics of a birth past the cap
	// are not registered (no points, data naming them is refused as
	// unknown). Default 10000.
	MaxAliases int
	// MaxNodes caps the edge nodes the Decoder keeps state for. Messages of
	// a further node are refused until a known node's state is freed by its
	// NDEATH. Default 1024.
	MaxNodes int
}

// Decoder is an [mqtt.Decoder] for Sparkplug B. Subscribe it to
// "spBv1.0/<group>/#" (or "spBv1.0/#"). It keeps, per edge node, the alias
// table of the NBIRTH and DBIRTHs and the message sequence number, and:
//
//   - turns NBIRTH, DBIRTH, NDATA and DDATA metrics into points (numeric and
//     Boolean types; strings only when they hold a number), with the
//     metric's timestamp, or the payload's, or the receive time;
//   - gives a metric with is_null a Bad point (scada.BadNoData);
//   - reads the unit from the metric property "engUnit" (or "engUnits") and
//     the quality from the property "Quality" (192 Good, 500 stale, below 64
//     Bad, between Uncertain);
//   - on NDEATH (whose bdSeq matches the birth's) gives every metric of the
//     node and its devices a Bad point (scada.BadNoCommunication), on DDEATH
//     every metric of the device;
//   - on an unknown alias, data from an edge node it has no birth for, or a
//     gap in the sequence numbers, publishes an NCMD with
//     "Node Control/Rebirth" = true to the edge node, at most once per
//     RebirthInterval per node.
//
// NCMD, DCMD and STATE messages give no points. Decoder is safe for
// concurrent use.
type Decoder struct {
	tag      func(group, node, device, metric string) string
	interval time.Duration
	log      *slog.Logger

	maxMetrics, maxAliases, maxNodes int

	mu      sync.Mutex
	nodes   map[nodeKey]*node
	payload Payload // reused under mu

	births, deaths, staleDeaths, gaps, unknown, rebirths, limited atomic.Uint64
}

// Stats is a snapshot of a Decoder's counters.
type Stats struct {
	Births          uint64 // NBIRTH and DBIRTH messages
	Deaths          uint64 // NDEATH and DDEATH messages applied
	StaleDeaths     uint64 // NDEATHs ignored because their bdSeq belongs to an older session
	SequenceGaps    uint64
	UnknownAliases  uint64 // metrics that could not be resolved
	RebirthRequests uint64 // NCMD rebirth requests published
	LimitExceeded   uint64 // messages refused or cut by MaxMetrics, MaxAliases or MaxNodes
}

type nodeKey struct{ group, node string }

type metricInfo struct {
	device string
	tag    string
	unit   string
	dtype  DataType
}

type node struct {
	born        bool
	bdSeq       uint64
	hasBdSeq    bool
	seq         uint64
	hasSeq      bool
	byAlias     map[uint64]*metricInfo
	byName      map[string]*metricInfo // device + "\x00" + name
	lastRebirth time.Time
}

// NewDecoder returns a Sparkplug B decoder.
func NewDecoder(cfg Config) (*Decoder, error) {
	if cfg.RebirthInterval < 0 {
		return nil, errors.New("sparkplug: Config.RebirthInterval is negative")
	}
	if cfg.MaxMetrics < 0 || cfg.MaxAliases < 0 || cfg.MaxNodes < 0 {
		return nil, errors.New("sparkplug: Config.MaxMetrics, MaxAliases and MaxNodes must not be negative")
	}
	d := &Decoder{tag: cfg.Tag, interval: cfg.RebirthInterval, log: cfg.Logger, nodes: map[nodeKey]*node{},
		maxMetrics: orDefault(cfg.MaxMetrics, DefaultMaxMetrics), maxAliases: orDefault(cfg.MaxAliases, DefaultMaxAliases),
		maxNodes: orDefault(cfg.MaxNodes, DefaultMaxNodes)}
	if d.tag == nil {
		d.tag = defaultTag
	}
	if d.interval == 0 {
		d.interval = DefaultRebirthInterval
	}
	if d.log == nil {
		d.log = slog.New(slog.DiscardHandler)
	}
	return d, nil
}

func orDefault(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

// limit counts and returns a limit error.
func (d *Decoder) limit(what string, max, got int) error {
	d.limited.Add(1)
	return &mqtt.LimitError{Limit: what, Max: max, Got: got}
}

func defaultTag(group, node, device, metric string) string {
	if device == "" {
		return group + "/" + node + "/" + metric
	}
	return group + "/" + node + "/" + device + "/" + metric
}

// Stats returns a snapshot of the decoder's counters.
func (d *Decoder) Stats() Stats {
	return Stats{
		Births: d.births.Load(), Deaths: d.deaths.Load(), StaleDeaths: d.staleDeaths.Load(),
		SequenceGaps: d.gaps.Load(), UnknownAliases: d.unknown.Load(), RebirthRequests: d.rebirths.Load(),
		LimitExceeded: d.limited.Load(),
	}
}

// Topic is a parsed Sparkplug B topic.
type Topic struct {
	Group, Type, Node, Device string
}

// ParseTopic parses spBv1.0/<group>/<type>/<node>[/<device>]. STATE topics
// (spBv1.0/STATE/<host>) parse with Type "STATE".
func ParseTopic(topic string) (Topic, error) {
	parts := strings.Split(topic, "/")
	if len(parts) < 3 || parts[0] != Namespace {
		return Topic{}, fmt.Errorf("sparkplug: topic %q is not in the %s namespace", topic, Namespace)
	}
	if parts[1] == "STATE" {
		return Topic{Type: "STATE", Node: strings.Join(parts[2:], "/")}, nil
	}
	t := Topic{Group: parts[1], Type: parts[2]}
	switch t.Type {
	case "NBIRTH", "NDEATH", "NDATA", "NCMD":
		if len(parts) != 4 {
			return Topic{}, fmt.Errorf("sparkplug: %s topic %q needs spBv1.0/group/%s/node", t.Type, topic, t.Type)
		}
		t.Node = parts[3]
	case "DBIRTH", "DDEATH", "DDATA", "DCMD":
		if len(parts) != 5 {
			return Topic{}, fmt.Errorf("sparkplug: %s topic %q needs spBv1.0/group/%s/node/device", t.Type, topic, t.Type)
		}
		t.Node, t.Device = parts[3], parts[4]
	default:
		return Topic{}, fmt.Errorf("sparkplug: topic %q has unknown message type %q", topic, t.Type)
	}
	if t.Group == "" || t.Node == "" || (len(parts) == 5 && t.Device == "") {
		return Topic{}, fmt.Errorf("sparkplug: topic %q has an empty level", topic)
	}
	return t, nil
}

// Decode implements [mqtt.Decoder].
func (d *Decoder) Decode(dst []scada.Point, m *mqtt.Message) ([]scada.Point, error) {
	t, err := ParseTopic(m.Topic)
	if err != nil {
		return dst, err
	}
	switch t.Type {
	case "STATE", "NCMD", "DCMD":
		return dst, nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	p := &d.payload
	if err := unmarshal(m.Payload, p, d.maxMetrics); err != nil {
		if errors.Is(err, mqtt.ErrLimit) {
			d.limited.Add(1)
		}
		return dst, err
	}
	key := nodeKey{t.Group, t.Node}
	n := d.nodes[key]
	if n == nil {
		// Topics come from the broker: keep the table bounded.
		if len(d.nodes) >= d.maxNodes {
			return dst, d.limit("edge nodes", d.maxNodes, len(d.nodes)+1)
		}
		n = &node{}
		d.nodes[key] = n
	}
	now := m.Received
	ptime := now
	if t := msTime(p.Timestamp); p.HasTimestamp && !t.IsZero() {
		ptime = t
	}

	switch t.Type {
	case "NBIRTH":
		d.births.Add(1)
		*n = node{byAlias: map[uint64]*metricInfo{}, byName: map[string]*metricInfo{}, born: true,
			lastRebirth: n.lastRebirth, seq: p.Seq, hasSeq: p.HasSeq}
		for i := range p.Metrics {
			if p.Metrics[i].Name == "bdSeq" {
				if v, ok := numeric(&p.Metrics[i], p.Metrics[i].DataType); ok {
					n.bdSeq, n.hasBdSeq = uint64(v), true
				}
			}
		}
		d.log.Debug("sparkplug: node birth", "group", t.Group, "node", t.Node, "metrics", len(p.Metrics))
		return d.birth(dst, t, n, p, ptime)

	case "DBIRTH":
		d.births.Add(1)
		rebirth := d.checkSeq(t, n, p)
		if !n.born {
			rebirth = true
			n.byAlias, n.byName = map[uint64]*metricInfo{}, map[string]*metricInfo{}
		}
		for k, mi := range n.byName {
			if mi.device == t.Device {
				delete(n.byName, k)
			}
		}
		for k, mi := range n.byAlias {
			if mi.device == t.Device {
				delete(n.byAlias, k)
			}
		}
		dst, err := d.birth(dst, t, n, p, ptime)
		if rebirth {
			d.requestRebirth(t, n, m, now)
		}
		return dst, err

	case "NDATA", "DDATA":
		rebirth := d.checkSeq(t, n, p)
		if !n.born {
			rebirth = true
		}
		var missing int
		for i := range p.Metrics {
			mt := &p.Metrics[i]
			mi := d.resolve(n, t.Device, mt)
			if mi == nil && (mt.Name == "" || mt.DataType == Unknown && mt.Kind == NoValue) {
				missing++
				continue
			}
			if mi == nil {
				// A named metric without a birth: decodable on its own.
				mi = &metricInfo{device: t.Device, tag: d.tag(t.Group, t.Node, t.Device, mt.Name), dtype: mt.DataType}
			}
			dst = appendPoint(dst, mi, mt, ptime)
		}
		if missing > 0 {
			d.unknown.Add(uint64(missing))
			rebirth = true
		}
		if rebirth {
			d.requestRebirth(t, n, m, now)
		}
		if missing > 0 {
			return dst, fmt.Errorf("%w: %d of %d metrics", ErrUnknownAlias, missing, len(p.Metrics))
		}
		return dst, nil

	case "NDEATH":
		if n.hasBdSeq {
			for i := range p.Metrics {
				if p.Metrics[i].Name != "bdSeq" {
					continue
				}
				if v, ok := numeric(&p.Metrics[i], p.Metrics[i].DataType); ok && uint64(v) != n.bdSeq {
					d.staleDeaths.Add(1)
					d.log.Debug("sparkplug: stale node death ignored", "group", t.Group, "node", t.Node)
					return dst, nil
				}
			}
		}
		d.deaths.Add(1)
		d.log.Info("sparkplug: node death", "group", t.Group, "node", t.Node)
		dst = d.markBad(dst, n, nil, ptime)
		// The node's state goes with it (its next NBIRTH defines it again),
		// so a node that left frees its place under MaxNodes.
		delete(d.nodes, key)
		return dst, nil

	case "DDEATH":
		d.deaths.Add(1)
		if d.checkSeq(t, n, p) {
			d.requestRebirth(t, n, m, now)
		}
		d.log.Info("sparkplug: device death", "group", t.Group, "node", t.Node, "device", t.Device)
		return d.markBad(dst, n, &t.Device, ptime), nil
	}
	return dst, nil
}

// checkSeq records the payload's sequence number and reports a gap.
func (d *Decoder) checkSeq(t Topic, n *node, p *Payload) bool {
	if !p.HasSeq {
		return false
	}
	gap := n.hasSeq && p.Seq != (n.seq+1)%256
	if gap {
		d.gaps.Add(1)
		d.log.Warn("sparkplug: sequence gap", "group", t.Group, "node", t.Node, "want", (n.seq+1)%256, "got", p.Seq)
	}
	n.seq, n.hasSeq = p.Seq, true
	return gap
}

func (d *Decoder) resolve(n *node, device string, mt *Metric) *metricInfo {
	if n.byAlias == nil {
		return nil
	}
	if mt.HasAlias {
		if mi := n.byAlias[mt.Alias]; mi != nil && mi.device == device {
			return mi
		}
		if mt.Name == "" {
			return nil
		}
	}
	return n.byName[device+"\x00"+mt.Name]
}

// birth registers the metrics of an NBIRTH or DBIRTH and returns their
// points. Metrics past the node's MaxAliases are not registered: it returns
// a limit error then.
func (d *Decoder) birth(dst []scada.Point, t Topic, n *node, p *Payload, ptime time.Time) ([]scada.Point, error) {
	var over int
	for i := range p.Metrics {
		mt := &p.Metrics[i]
		if mt.Name == "" {
			continue
		}
		if _, known := n.byName[t.Device+"\x00"+mt.Name]; !known && len(n.byName) >= d.maxAliases {
			over++
			continue
		}
		mi := &metricInfo{device: t.Device, tag: d.tag(t.Group, t.Node, t.Device, mt.Name), dtype: mt.DataType}
		mi.unit, _ = propUnit(mt)
		n.byName[t.Device+"\x00"+mt.Name] = mi
		if mt.HasAlias {
			n.byAlias[mt.Alias] = mi
		}
		if mt.Name == "bdSeq" || strings.HasPrefix(mt.Name, "Node Control/") || strings.HasPrefix(mt.Name, "Device Control/") {
			continue
		}
		dst = appendPoint(dst, mi, mt, ptime)
	}
	if over > 0 {
		d.log.Warn("sparkplug: birth past the node's alias limit", "group", t.Group, "node", t.Node,
			"device", t.Device, "limit", d.maxAliases, "dropped", over)
		return dst, d.limit("aliases per node", d.maxAliases, d.maxAliases+over)
	}
	return dst, nil
}

// markBad gives every metric of the node (device == nil) or of one device a
// Bad point.
func (d *Decoder) markBad(dst []scada.Point, n *node, device *string, at time.Time) []scada.Point {
	for _, mi := range n.byName {
		if device != nil && mi.device != *device {
			continue
		}
		if strings.HasSuffix(mi.tag, "/bdSeq") || strings.Contains(mi.tag, "Node Control/") || strings.Contains(mi.tag, "Device Control/") {
			continue
		}
		if !isNumericType(mi.dtype) {
			continue
		}
		dst = append(dst, scada.Point{Tag: mi.tag, Unit: mi.unit, Quality: scada.BadNoCommunication, Time: at})
	}
	return dst
}

func (d *Decoder) requestRebirth(t Topic, n *node, m *mqtt.Message, now time.Time) {
	if m.Publish == nil || (!n.lastRebirth.IsZero() && now.Sub(n.lastRebirth) < d.interval) {
		return
	}
	n.lastRebirth = now
	ms := uint64(now.UnixMilli())
	req := Payload{Timestamp: ms, HasTimestamp: true, Metrics: []Metric{{
		Name: RebirthMetric, DataType: Boolean, Kind: BooleanValue, Bool: true, Timestamp: ms, HasTimestamp: true,
	}}}
	topic := Namespace + "/" + t.Group + "/NCMD/" + t.Node
	if err := m.Publish(topic, Marshal(nil, &req)); err != nil {
		d.log.Warn("sparkplug: rebirth request not sent", "group", t.Group, "node", t.Node, "error", err)
		return
	}
	d.rebirths.Add(1)
	d.log.Info("sparkplug: rebirth requested", "group", t.Group, "node", t.Node)
}

func appendPoint(dst []scada.Point, mi *metricInfo, mt *Metric, ptime time.Time) []scada.Point {
	dt := mt.DataType
	if dt == Unknown {
		dt = mi.dtype
	}
	pt := scada.Point{Tag: mi.tag, Unit: mi.unit, Quality: scada.Good, Time: ptime}
	if t := msTime(mt.Timestamp); mt.HasTimestamp && !t.IsZero() {
		pt.Time = t
	}
	if u, ok := propUnit(mt); ok {
		pt.Unit = u
	}
	if mt.IsNull {
		pt.Quality = scada.BadNoData
		return append(dst, pt)
	}
	v, ok := numeric(mt, dt)
	if !ok {
		return dst // not a number: strings, data sets, templates, bytes
	}
	pt.Value = v
	if q, ok := propQuality(mt); ok {
		pt.Quality = q
	}
	return append(dst, pt)
}

func isNumericType(dt DataType) bool {
	switch dt {
	case Int8, Int16, Int32, Int64, UInt8, UInt16, UInt32, UInt64, Float, Double, Boolean, Unknown:
		return true
	}
	return false
}

// numeric converts a metric's value to float64 according to its data type.
// Signed integers travel in int_value and long_value as two's complement.
func numeric(mt *Metric, dt DataType) (float64, bool) {
	switch mt.Kind {
	case IntValue:
		return intValue(uint64(mt.Int), dt)
	case LongValue:
		return intValue(mt.Long, dt)
	case FloatValue:
		f := float64(mt.Float)
		return f, !math.IsNaN(f) && !math.IsInf(f, 0)
	case DoubleValue:
		return mt.Double, !math.IsNaN(mt.Double) && !math.IsInf(mt.Double, 0)
	case BooleanValue:
		if mt.Bool {
			return 1, true
		}
		return 0, true
	case StringValue:
		if dt != String && dt != Text && dt != Unknown {
			return 0, false
		}
		f, err := strconv.ParseFloat(strings.TrimSpace(mt.String), 64)
		return f, err == nil && !math.IsNaN(f) && !math.IsInf(f, 0)
	}
	return 0, false
}

func intValue(u uint64, dt DataType) (float64, bool) {
	switch dt {
	case Int8:
		return float64(int8(u)), true
	case Int16:
		return float64(int16(u)), true
	case Int32:
		return float64(int32(u)), true
	case Int64:
		return float64(int64(u)), true
	case UInt8:
		return float64(uint8(u)), true
	case UInt16:
		return float64(uint16(u)), true
	case UInt32:
		return float64(uint32(u)), true
	case UInt64, Unknown:
		return float64(u), true
	case Boolean:
		return float64(min(u, 1)), true
	}
	return 0, false // DateTime and the rest are not measurements
}

func propUnit(mt *Metric) (string, bool) {
	for i := range mt.Properties {
		p := &mt.Properties[i]
		if (p.Key == "engUnit" || p.Key == "engUnits") && p.Kind == StringValue && !p.IsNull {
			return p.String, true
		}
	}
	return "", false
}

func propQuality(mt *Metric) (scada.Quality, bool) {
	for i := range mt.Properties {
		p := &mt.Properties[i]
		if p.Key != "Quality" || p.IsNull {
			continue
		}
		var q uint64
		switch p.Kind {
		case IntValue:
			q = uint64(int32(p.Int)) & math.MaxUint32
		case LongValue:
			q = p.Long
		default:
			return 0, false
		}
		switch {
		case q == 500:
			return scada.UncertainLastUsableValue, true
		case q < 64:
			return scada.Bad, true
		case q < 192:
			return scada.Uncertain, true
		case q < 256:
			return scada.Good, true
		}
		return scada.Uncertain, true
	}
	return 0, false
}

func msTime(ms uint64) time.Time {
	if ms > math.MaxInt64 {
		return time.Time{}
	}
	return time.UnixMilli(int64(ms)).UTC()
}
