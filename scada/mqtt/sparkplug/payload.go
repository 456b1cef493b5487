package sparkplug

import (
	"errors"
	"fmt"
	"math"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/greenlang/gl001/scada/mqtt"
)

// DataType is a Sparkplug B metric data type (the DataType enum of Eclipse
// Tahu's sparkplug_b.proto).
type DataType uint32

// Sparkplug B data types.
const (
	Unknown         DataType = 0
	Int8            DataType = 1
	Int16           DataType = 2
	Int32           DataType = 3
	Int64           DataType = 4
	UInt8           DataType = 5
	UInt16          DataType = 6
	UInt32          DataType = 7
	UInt64          DataType = 8
	Float           DataType = 9
	Double          DataType = 10
	Boolean         DataType = 11
	String          DataType = 12
	DateTime        DataType = 13
	Text            DataType = 14
	UUID            DataType = 15
	DataSet         DataType = 16
	Bytes           DataType = 17
	File            DataType = 18
	Template        DataType = 19
	PropertySet     DataType = 20
	PropertySetList DataType = 21
)

// ValueKind says which member of a Metric's value oneof is set.
type ValueKind uint8

// Value kinds, named after the proto fields.
const (
	NoValue ValueKind = iota
	IntValue
	LongValue
	FloatValue
	DoubleValue
	BooleanValue
	StringValue
	BytesValue
	DataSetValue   // kept as encoded bytes
	TemplateValue  // kept as encoded bytes
	ExtensionValue // kept as encoded bytes
)

// Payload is a Sparkplug B payload (org.eclipse.tahu.protobuf.Payload). The
// Has* fields record the presence of proto2 optional scalars.
type Payload struct {
	Timestamp    uint64 // ms since the Unix epoch
	HasTimestamp bool
	Metrics      []Metric
	Seq          uint64
	HasSeq       bool
	UUID         string
	Body         []byte
}

// Metric is a Sparkplug B metric. Metadata is skipped when decoding;
// data sets, templates and extensions are kept as their encoded bytes in Raw.
type Metric struct {
	Name         string
	Alias        uint64
	HasAlias     bool
	Timestamp    uint64 // ms since the Unix epoch
	HasTimestamp bool
	DataType     DataType
	IsHistorical bool
	IsTransient  bool
	IsNull       bool
	Properties   []Property

	Kind    ValueKind
	Int     uint32  // int_value: Int8/16/32 (two's complement), UInt8/16/32
	Long    uint64  // long_value: Int64 (two's complement), UInt32/64, DateTime
	Float   float32 // float_value
	Double  float64 // double_value
	Bool    bool    // boolean_value
	String  string  // string_value: String, Text, UUID
	Bytes   []byte  // bytes_value: Bytes, File
	Raw     []byte  // dataset_value, template_value or extension_value, encoded
	Unknown bool    // the metric carried fields this package does not know
}

// Property is one entry of a metric's PropertySet. Nested property sets are
// not decoded (Kind is NoValue for them).
type Property struct {
	Key    string
	Type   DataType
	IsNull bool
	Kind   ValueKind
	Int    uint32
	Long   uint64
	Float  float32
	Double float64
	Bool   bool
	String string
}

// Field numbers of sparkplug_b.proto.
const (
	fPayloadTimestamp = 1
	fPayloadMetrics   = 2
	fPayloadSeq       = 3
	fPayloadUUID      = 4
	fPayloadBody      = 5

	fMetricName         = 1
	fMetricAlias        = 2
	fMetricTimestamp    = 3
	fMetricDatatype     = 4
	fMetricIsHistorical = 5
	fMetricIsTransient  = 6
	fMetricIsNull       = 7
	fMetricMetadata     = 8
	fMetricProperties   = 9
	fMetricInt          = 10
	fMetricLong         = 11
	fMetricFloat        = 12
	fMetricDouble       = 13
	fMetricBoolean      = 14
	fMetricString       = 15
	fMetricBytes        = 16
	fMetricDataSet      = 17
	fMetricTemplate     = 18
	fMetricExtension    = 19

	fPropSetKeys   = 1
	fPropSetValues = 2

	fPropType    = 1
	fPropIsNull  = 2
	fPropInt     = 3
	fPropLong    = 4
	fPropFloat   = 5
	fPropDouble  = 6
	fPropBoolean = 7
	fPropString  = 8
)

// ErrMalformed is matched by every error Unmarshal returns.
var ErrMalformed = errors.New("sparkplug: malformed payload")

func malformed(format string, a ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrMalformed}, a...)...)
}

// Unmarshal decodes a Sparkplug B payload into p, reusing p's metric slice.
// Unknown fields are skipped, as protobuf requires.
func Unmarshal(b []byte, p *Payload) error { return unmarshal(b, p, 0) }

// unmarshal is Unmarshal that refuses, with a *mqtt.LimitError, a payload of
// more than maxMetrics metrics (0: no limit) before allocating them.
func unmarshal(b []byte, p *Payload, maxMetrics int) error {
	metrics := p.Metrics[:0]
	*p = Payload{}
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return malformed("payload tag: %v", protowire.ParseError(n))
		}
		b = b[n:]
		switch {
		case num == fPayloadTimestamp && typ == protowire.VarintType:
			p.Timestamp, n = protowire.ConsumeVarint(b)
			p.HasTimestamp = true
		case num == fPayloadSeq && typ == protowire.VarintType:
			p.Seq, n = protowire.ConsumeVarint(b)
			p.HasSeq = true
		case num == fPayloadMetrics && typ == protowire.BytesType:
			var v []byte
			v, n = protowire.ConsumeBytes(b)
			if n >= 0 {
				if maxMetrics > 0 && len(metrics) == maxMetrics {
					p.Metrics = metrics[:0]
					return &mqtt.LimitError{Limit: "metrics per payload", Max: maxMetrics, Got: maxMetrics + 1}
				}
				metrics = append(metrics, Metric{})
				if err := unmarshalMetric(v, &metrics[len(metrics)-1]); err != nil {
					return fmt.Errorf("metric %d: %w", len(metrics)-1, err)
				}
			}
		case num == fPayloadUUID && typ == protowire.BytesType:
			var v []byte
			v, n = protowire.ConsumeBytes(b)
			p.UUID = string(v)
		case num == fPayloadBody && typ == protowire.BytesType:
			var v []byte
			v, n = protowire.ConsumeBytes(b)
			p.Body = v
		default:
			n = protowire.ConsumeFieldValue(num, typ, b)
		}
		if n < 0 {
			return malformed("payload field %d: %v", num, protowire.ParseError(n))
		}
		b = b[n:]
	}
	p.Metrics = metrics
	return nil
}

func unmarshalMetric(b []byte, m *Metric) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return malformed("metric tag: %v", protowire.ParseError(n))
		}
		b = b[n:]
		var (
			u uint64
			v []byte
		)
		switch typ {
		case protowire.VarintType:
			u, n = protowire.ConsumeVarint(b)
		case protowire.Fixed32Type:
			var x uint32
			x, n = protowire.ConsumeFixed32(b)
			u = uint64(x)
		case protowire.Fixed64Type:
			u, n = protowire.ConsumeFixed64(b)
		case protowire.BytesType:
			v, n = protowire.ConsumeBytes(b)
		default:
			n = protowire.ConsumeFieldValue(num, typ, b)
		}
		if n < 0 {
			return malformed("metric field %d: %v", num, protowire.ParseError(n))
		}
		b = b[n:]
		want := wantType(num)
		if want != typ {
			if want != unknownWire {
				return malformed("metric field %d has wire type %d, want %d", num, typ, want)
			}
			m.Unknown = true
			continue
		}
		switch num {
		case fMetricName:
			m.Name = string(v)
		case fMetricAlias:
			m.Alias, m.HasAlias = u, true
		case fMetricTimestamp:
			m.Timestamp, m.HasTimestamp = u, true
		case fMetricDatatype:
			m.DataType = DataType(uint32(u))
		case fMetricIsHistorical:
			m.IsHistorical = u != 0
		case fMetricIsTransient:
			m.IsTransient = u != 0
		case fMetricIsNull:
			m.IsNull = u != 0
		case fMetricMetadata:
			// Not needed for points.
		case fMetricProperties:
			props, err := unmarshalPropertySet(v, m.Properties[:0])
			if err != nil {
				return err
			}
			m.Properties = props
		case fMetricInt, fMetricLong, fMetricFloat, fMetricDouble, fMetricBoolean, fMetricString,
			fMetricBytes, fMetricDataSet, fMetricTemplate, fMetricExtension:
			// The value is a protobuf oneof: the last field on the wire wins
			// and the others are cleared, so Kind and the value members
			// agree and Marshal writes back the value that was read.
			m.clearValue()
			switch num {
			case fMetricInt:
				m.Kind, m.Int = IntValue, uint32(u)
			case fMetricLong:
				m.Kind, m.Long = LongValue, u
			case fMetricFloat:
				m.Kind, m.Float = FloatValue, math.Float32frombits(uint32(u))
			case fMetricDouble:
				m.Kind, m.Double = DoubleValue, math.Float64frombits(u)
			case fMetricBoolean:
				m.Kind, m.Bool = BooleanValue, u != 0
			case fMetricString:
				m.Kind, m.String = StringValue, string(v)
			case fMetricBytes:
				m.Kind, m.Bytes = BytesValue, v
			case fMetricDataSet:
				m.Kind, m.Raw = DataSetValue, v
			case fMetricTemplate:
				m.Kind, m.Raw = TemplateValue, v
			case fMetricExtension:
				m.Kind, m.Raw = ExtensionValue, v
			}
		}
	}
	return nil
}

// clearValue empties the value oneof.
func (m *Metric) clearValue() {
	m.Kind, m.Int, m.Long, m.Float, m.Double, m.Bool, m.String, m.Bytes, m.Raw = NoValue, 0, 0, 0, 0, false, "", nil, nil
}

// clearValue empties the value oneof.
func (p *Property) clearValue() {
	p.Kind, p.Int, p.Long, p.Float, p.Double, p.Bool, p.String = NoValue, 0, 0, 0, 0, false, ""
}

const unknownWire protowire.Type = -1

func wantType(num protowire.Number) protowire.Type {
	switch num {
	case fMetricName, fMetricMetadata, fMetricProperties, fMetricString, fMetricBytes,
		fMetricDataSet, fMetricTemplate, fMetricExtension:
		return protowire.BytesType
	case fMetricAlias, fMetricTimestamp, fMetricDatatype, fMetricIsHistorical, fMetricIsTransient,
		fMetricIsNull, fMetricInt, fMetricLong, fMetricBoolean:
		return protowire.VarintType
	case fMetricFloat:
		return protowire.Fixed32Type
	case fMetricDouble:
		return protowire.Fixed64Type
	}
	return unknownWire
}

func unmarshalPropertySet(b []byte, props []Property) ([]Property, error) {
	nk, nv := 0, 0
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return nil, malformed("property set tag: %v", protowire.ParseError(n))
		}
		b = b[n:]
		if typ != protowire.BytesType || (num != fPropSetKeys && num != fPropSetValues) {
			n = protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return nil, malformed("property set field %d: %v", num, protowire.ParseError(n))
			}
			b = b[n:]
			continue
		}
		v, n := protowire.ConsumeBytes(b)
		if n < 0 {
			return nil, malformed("property set field %d: %v", num, protowire.ParseError(n))
		}
		b = b[n:]
		idx := nk
		if num == fPropSetValues {
			idx = nv
		}
		for len(props) <= idx {
			props = append(props, Property{})
		}
		if num == fPropSetKeys {
			props[idx].Key = string(v)
			nk++
		} else {
			if err := unmarshalProperty(v, &props[idx]); err != nil {
				return nil, err
			}
			nv++
		}
	}
	if nk != nv {
		return nil, malformed("property set has %d keys and %d values", nk, nv)
	}
	return props, nil
}

func unmarshalProperty(b []byte, p *Property) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return malformed("property tag: %v", protowire.ParseError(n))
		}
		b = b[n:]
		switch {
		case typ == protowire.VarintType && num <= fPropBoolean && num != fPropFloat && num != fPropDouble:
			var u uint64
			u, n = protowire.ConsumeVarint(b)
			switch num {
			case fPropType:
				p.Type = DataType(uint32(u))
			case fPropIsNull:
				p.IsNull = u != 0
			case fPropInt:
				p.clearValue()
				p.Kind, p.Int = IntValue, uint32(u)
			case fPropLong:
				p.clearValue()
				p.Kind, p.Long = LongValue, u
			case fPropBoolean:
				p.clearValue()
				p.Kind, p.Bool = BooleanValue, u != 0
			}
		case typ == protowire.Fixed32Type && num == fPropFloat:
			var u uint32
			u, n = protowire.ConsumeFixed32(b)
			p.clearValue()
			p.Kind, p.Float = FloatValue, math.Float32frombits(u)
		case typ == protowire.Fixed64Type && num == fPropDouble:
			var u uint64
			u, n = protowire.ConsumeFixed64(b)
			p.clearValue()
			p.Kind, p.Double = DoubleValue, math.Float64frombits(u)
		case typ == protowire.BytesType && num == fPropString:
			var v []byte
			v, n = protowire.ConsumeBytes(b)
			p.clearValue()
			p.Kind, p.String = StringValue, string(v)
		default:
			n = protowire.ConsumeFieldValue(num, typ, b)
		}
		if n < 0 {
			return malformed("property field %d: %v", num, protowire.ParseError(n))
		}
		b = b[n:]
	}
	return nil
}

// Marshal appends the encoding of p to dst. It writes the fields this
// package models; Raw values (data sets, templates, extensions) are written
// back as they were read.
func Marshal(dst []byte, p *Payload) []byte {
	if p.HasTimestamp {
		dst = protowire.AppendTag(dst, fPayloadTimestamp, protowire.VarintType)
		dst = protowire.AppendVarint(dst, p.Timestamp)
	}
	var mb []byte
	for i := range p.Metrics {
		mb = marshalMetric(mb[:0], &p.Metrics[i])
		dst = protowire.AppendTag(dst, fPayloadMetrics, protowire.BytesType)
		dst = protowire.AppendBytes(dst, mb)
	}
	if p.HasSeq {
		dst = protowire.AppendTag(dst, fPayloadSeq, protowire.VarintType)
		dst = protowire.AppendVarint(dst, p.Seq)
	}
	if p.UUID != "" {
		dst = protowire.AppendTag(dst, fPayloadUUID, protowire.BytesType)
		dst = protowire.AppendString(dst, p.UUID)
	}
	if p.Body != nil {
		dst = protowire.AppendTag(dst, fPayloadBody, protowire.BytesType)
		dst = protowire.AppendBytes(dst, p.Body)
	}
	return dst
}

func appendVarintField(dst []byte, num protowire.Number, v uint64) []byte {
	dst = protowire.AppendTag(dst, num, protowire.VarintType)
	return protowire.AppendVarint(dst, v)
}

func boolU(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

func marshalMetric(dst []byte, m *Metric) []byte {
	if m.Name != "" {
		dst = protowire.AppendTag(dst, fMetricName, protowire.BytesType)
		dst = protowire.AppendString(dst, m.Name)
	}
	if m.HasAlias {
		dst = appendVarintField(dst, fMetricAlias, m.Alias)
	}
	if m.HasTimestamp {
		dst = appendVarintField(dst, fMetricTimestamp, m.Timestamp)
	}
	if m.DataType != Unknown {
		dst = appendVarintField(dst, fMetricDatatype, uint64(m.DataType))
	}
	if m.IsHistorical {
		dst = appendVarintField(dst, fMetricIsHistorical, 1)
	}
	if m.IsTransient {
		dst = appendVarintField(dst, fMetricIsTransient, 1)
	}
	if m.IsNull {
		dst = appendVarintField(dst, fMetricIsNull, 1)
	}
	if len(m.Properties) > 0 {
		var ps []byte
		for _, p := range m.Properties {
			ps = protowire.AppendTag(ps, fPropSetKeys, protowire.BytesType)
			ps = protowire.AppendString(ps, p.Key)
		}
		for i := range m.Properties {
			ps = protowire.AppendTag(ps, fPropSetValues, protowire.BytesType)
			ps = protowire.AppendBytes(ps, marshalProperty(nil, &m.Properties[i]))
		}
		dst = protowire.AppendTag(dst, fMetricProperties, protowire.BytesType)
		dst = protowire.AppendBytes(dst, ps)
	}
	switch m.Kind {
	case IntValue:
		dst = appendVarintField(dst, fMetricInt, uint64(m.Int))
	case LongValue:
		dst = appendVarintField(dst, fMetricLong, m.Long)
	case FloatValue:
		dst = protowire.AppendTag(dst, fMetricFloat, protowire.Fixed32Type)
		dst = protowire.AppendFixed32(dst, math.Float32bits(m.Float))
	case DoubleValue:
		dst = protowire.AppendTag(dst, fMetricDouble, protowire.Fixed64Type)
		dst = protowire.AppendFixed64(dst, math.Float64bits(m.Double))
	case BooleanValue:
		dst = appendVarintField(dst, fMetricBoolean, boolU(m.Bool))
	case StringValue:
		dst = protowire.AppendTag(dst, fMetricString, protowire.BytesType)
		dst = protowire.AppendString(dst, m.String)
	case BytesValue:
		dst = protowire.AppendTag(dst, fMetricBytes, protowire.BytesType)
		dst = protowire.AppendBytes(dst, m.Bytes)
	case DataSetValue:
		dst = protowire.AppendTag(dst, fMetricDataSet, protowire.BytesType)
		dst = protowire.AppendBytes(dst, m.Raw)
	case TemplateValue:
		dst = protowire.AppendTag(dst, fMetricTemplate, protowire.BytesType)
		dst = protowire.AppendBytes(dst, m.Raw)
	case ExtensionValue:
		dst = protowire.AppendTag(dst, fMetricExtension, protowire.BytesType)
		dst = protowire.AppendBytes(dst, m.Raw)
	}
	return dst
}

func marshalProperty(dst []byte, p *Property) []byte {
	if p.Type != Unknown {
		dst = appendVarintField(dst, fPropType, uint64(p.Type))
	}
	if p.IsNull {
		dst = appendVarintField(dst, fPropIsNull, 1)
	}
	switch p.Kind {
	case IntValue:
		dst = appendVarintField(dst, fPropInt, uint64(p.Int))
	case LongValue:
		dst = appendVarintField(dst, fPropLong, p.Long)
	case FloatValue:
		dst = protowire.AppendTag(dst, fPropFloat, protowire.Fixed32Type)
		dst = protowire.AppendFixed32(dst, math.Float32bits(p.Float))
	case DoubleValue:
		dst = protowire.AppendTag(dst, fPropDouble, protowire.Fixed64Type)
		dst = protowire.AppendFixed64(dst, math.Float64bits(p.Double))
	case BooleanValue:
		dst = appendVarintField(dst, fPropBoolean, boolU(p.Bool))
	case StringValue:
		dst = protowire.AppendTag(dst, fPropString, protowire.BytesType)
		dst = protowire.AppendString(dst, p.String)
	}
	return dst
}
