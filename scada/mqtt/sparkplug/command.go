package sparkplug

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/greenlang/gl001/scada"
)

// Publisher publishes one message and returns once the broker took it;
// *mqtt.Commander implements it (QoS 1, on a connection of its own).
type Publisher interface {
	Publish(ctx context.Context, topic string, payload []byte) error
}

// CommanderConfig configures a [Commander].
type CommanderConfig struct {
	// Decoder is the Decoder that reads the edge nodes' births: the
	// Commander finds a tag's metric (group, node, device, name, alias and
	// data type) in its state. Required.
	Decoder *Decoder
	// Publisher sends the commands. Required.
	Publisher Publisher
	// ByName sends the metric's name even when its birth gave an alias.
	// By default a metric with an alias is addressed by alias only, as the
	// specification prefers.
	ByName bool
}

// Commander writes setpoints to edge nodes' metrics: an NCMD for a metric
// of the node's NBIRTH, a DCMD for one of a device's DBIRTH, to
// spBv1.0/<group>/NCMD/<node>[/<device>], carrying one metric with the
// birth's data type, addressed by its alias (or, without one, its birth
// name), a timestamp and a sequence number that counts the Commander's
// commands (0 to 255, then 0 again). It implements [scada.Writer]; the
// node's confirmation is the NDATA or DDATA it publishes back, which the
// Source delivers: wire a scada/guard.Guard with a guard.Latest fed by the
// Source to read it back.
//
// A tag is known once the Decoder saw its birth; a tag whose node died
// (NDEATH) is unknown until the next birth, so a write to it fails with an
// error matching scada.ErrConnection: the command would reach nobody.
// Finding a tag scans the Decoder's births: writes are rare, births large.
type Commander struct {
	cfg CommanderConfig

	mu  sync.Mutex // one command at a time, so the sequence numbers go out in order
	seq uint64
}

// ErrNotNumeric is returned for a metric whose data type holds no number
// (String, DataSet...), and for a value its type cannot hold. It matches
// scada.ErrBadInput.
var ErrNotNumeric = fmt.Errorf("sparkplug: value does not fit the metric's type: %w", scada.ErrBadInput)

// NewCommander returns a Commander.
func NewCommander(cfg CommanderConfig) (*Commander, error) {
	var errs []error
	if cfg.Decoder == nil {
		errs = append(errs, errors.New("sparkplug: CommanderConfig.Decoder is required"))
	}
	if cfg.Publisher == nil {
		errs = append(errs, errors.New("sparkplug: CommanderConfig.Publisher is required"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return &Commander{cfg: cfg}, nil
}

var _ scada.Writer = (*Commander)(nil)

// target is a metric as its birth defined it.
type target struct {
	group, node, device, name string
	alias                     uint64
	hasAlias                  bool
	dtype                     DataType
}

// lookup finds the metric a tag names in the Decoder's births.
func (d *Decoder) lookup(tag string) (target, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for key, n := range d.nodes {
		if !n.born {
			continue
		}
		for k, mi := range n.byName {
			if mi.tag != tag {
				continue
			}
			dev, name, _ := strings.Cut(k, "\x00")
			t := target{group: key.group, node: key.node, device: dev, name: name, dtype: mi.dtype}
			for a, m := range n.byAlias {
				if m == mi {
					t.alias, t.hasAlias = a, true
					break
				}
			}
			return t, true
		}
	}
	return target{}, false
}

// Write sends value to the metric the tag names, as an NCMD or DCMD. A tag
// no live birth defines fails with an error matching scada.ErrConnection
// (the node is not online, or never was); a value the metric's type cannot
// hold with [ErrNotNumeric]; the Publisher's errors are returned as they
// are.
func (c *Commander) Write(ctx context.Context, tag string, value float64) error {
	t, ok := c.cfg.Decoder.lookup(tag)
	if !ok {
		return fmt.Errorf("sparkplug: write %q: no edge node online has the metric in its birth: %w", tag, scada.ErrConnection)
	}
	mt := Metric{DataType: t.dtype}
	if t.hasAlias {
		mt.Alias, mt.HasAlias = t.alias, true
	}
	if !t.hasAlias || c.cfg.ByName {
		mt.Name = t.name
	}
	if err := setValue(&mt, value); err != nil {
		return fmt.Errorf("sparkplug: write %q (%v): %w", tag, t.dtype, err)
	}
	topic := Namespace + "/" + t.group + "/NCMD/" + t.node
	if t.device != "" {
		topic = Namespace + "/" + t.group + "/DCMD/" + t.node + "/" + t.device
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	ms := uint64(time.Now().UnixMilli())
	mt.Timestamp, mt.HasTimestamp = ms, true
	p := Payload{Timestamp: ms, HasTimestamp: true, Seq: c.seq, HasSeq: true, Metrics: []Metric{mt}}
	if err := c.cfg.Publisher.Publish(ctx, topic, Marshal(nil, &p)); err != nil {
		return fmt.Errorf("sparkplug: write %q: %w", tag, err)
	}
	c.seq = (c.seq + 1) % 256
	return nil
}

// setValue stores v in the metric's value field for its data type.
func setValue(mt *Metric, v float64) error {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return fmt.Errorf("%v: %w", v, ErrNotNumeric)
	}
	integer := func(lo, hi float64) error {
		if v != math.Trunc(v) || v < lo || v > hi {
			return fmt.Errorf("%v outside [%v, %v] or not whole: %w", v, lo, hi, ErrNotNumeric)
		}
		return nil
	}
	switch mt.DataType {
	case Int8, Int16, Int32:
		bits := map[DataType]float64{Int8: 7, Int16: 15, Int32: 31}[mt.DataType]
		if err := integer(-math.Pow(2, bits), math.Pow(2, bits)-1); err != nil {
			return err
		}
		mt.Kind, mt.Int = IntValue, uint32(int32(v))
		switch mt.DataType { // two's complement within the type's width
		case Int8:
			mt.Int = uint32(uint8(int8(v)))
		case Int16:
			mt.Int = uint32(uint16(int16(v)))
		}
	case UInt8, UInt16:
		hi := map[DataType]float64{UInt8: math.MaxUint8, UInt16: math.MaxUint16}[mt.DataType]
		if err := integer(0, hi); err != nil {
			return err
		}
		mt.Kind, mt.Int = IntValue, uint32(v)
	case UInt32:
		if err := integer(0, math.MaxUint32); err != nil {
			return err
		}
		mt.Kind, mt.Long = LongValue, uint64(v)
	case Int64:
		if err := integer(-(1 << 53), 1<<53); err != nil { // exact in a float64
			return err
		}
		mt.Kind, mt.Long = LongValue, uint64(int64(v))
	case UInt64:
		if err := integer(0, 1<<53); err != nil {
			return err
		}
		mt.Kind, mt.Long = LongValue, uint64(v)
	case Float:
		if math.Abs(v) > math.MaxFloat32 {
			return fmt.Errorf("%v: %w", v, ErrNotNumeric)
		}
		mt.Kind, mt.Float = FloatValue, float32(v)
	case Double:
		mt.Kind, mt.Double = DoubleValue, v
	case Boolean:
		if v != 0 && v != 1 {
			return fmt.Errorf("%v is not 0 or 1: %w", v, ErrNotNumeric)
		}
		mt.Kind, mt.Bool = BooleanValue, v == 1
	default:
		return fmt.Errorf("type %v: %w", mt.DataType, ErrNotNumeric)
	}
	return nil
}
