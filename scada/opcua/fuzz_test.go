package opcua

import (
	"context"
	"encoding/binary"
	"math"
	"testing"
	"time"

	"github.com/gopcua/opcua/ua"

	"github.com/greenlang/gl001/scada"
)

// fuzzReader hands out the fuzz input piece by piece, zeros when it runs out.
type fuzzReader struct{ b []byte }

func (r *fuzzReader) byte() byte {
	if len(r.b) == 0 {
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *fuzzReader) uint32() uint32 {
	var x [4]byte
	for i := range x {
		x[i] = r.byte()
	}
	return binary.LittleEndian.Uint32(x[:])
}

func (r *fuzzReader) uint64() uint64 { return uint64(r.uint32())<<32 | uint64(r.uint32()) }

// variant builds one of the variants a server may send, sensible or not.
func (r *fuzzReader) variant() *ua.Variant {
	bits := r.uint64()
	var v any
	switch r.byte() % 16 {
	case 0:
		return nil
	case 1:
		v = math.Float64frombits(bits)
	case 2:
		v = math.Float32frombits(uint32(bits))
	case 3:
		v = int8(bits)
	case 4:
		v = uint8(bits)
	case 5:
		v = int16(bits)
	case 6:
		v = uint16(bits)
	case 7:
		v = int32(bits)
	case 8:
		v = uint32(bits)
	case 9:
		v = int64(bits)
	case 10:
		v = bits
	case 11:
		v = bits&1 == 1
	case 12:
		v = "text"
	case 13:
		v = []float64{1, 2}
	case 14:
		v = time.Unix(int64(bits>>1), 0)
	default:
		v = ua.NewExtensionObject(&ua.EUInformation{DisplayName: &ua.LocalizedText{Text: "degC"}})
	}
	return ua.MustVariant(v)
}

// FuzzPublishResponse drives the sequencer and the mapping to points with
// publish responses built from the fuzz input: any subscription and sequence
// numbers, client handles that exist or not, every variant type, any status,
// encoding mask and timestamps, status-change notifications. Nothing may
// panic, every point must name a configured tag, and a Bad point never
// carries a value.
//
// (The input is not decoded with gopcua's decoder: that one allocates what a
// length prefix claims, so a 20-byte message makes it allocate gigabytes. That
// is a property of the library, reached before this package sees a byte.)
func FuzzPublishResponse(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte("\x01\x00\x00\x00\x01\x00\x00\x00\x03\x00\x01\x00\x00\x00\x00\x00\x00\xf8\x3f\x01\x00\x00\x00\x00\x01"))
	f.Add([]byte("\x01\x00\x00\x00\x05\x00\x00\x00\x02\x01\x07\x80\x00\x00\x00\x00\x00\x00\x00\x0c\x00\x00\x00\x80\xff\x02"))
	f.Fuzz(func(t *testing.T, b []byte) {
		cfg := validConfig()
		cfg.Tags = []Tag{{Name: "a", NodeID: "ns=1;s=a"}, {Name: "b", NodeID: "ns=1;i=2"}}
		s, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		var got []scada.Point
		ss := newSession(s, nil, scada.SinkFunc(func(_ context.Context, batch []scada.Point) error {
			got = append(got, batch...)
			return nil
		}))
		q := &sequencer{grace: time.Second, limit: 2, subs: map[uint32]*subSeq{}}
		r := &fuzzReader{b: b}
		for range 1 + r.byte()%6 {
			res := &ua.PublishResponse{SubscriptionID: r.uint32() % 3, NotificationMessage: &ua.NotificationMessage{SequenceNumber: r.uint32()}}
			for range r.byte() % 3 {
				if r.byte()%4 == 0 {
					res.NotificationMessage.NotificationData = append(res.NotificationMessage.NotificationData,
						ua.NewExtensionObject(&ua.StatusChangeNotification{Status: ua.StatusCode(r.uint32())}))
					continue
				}
				dcn := &ua.DataChangeNotification{}
				for range r.byte() % 5 {
					item := &ua.MonitoredItemNotification{ClientHandle: uint32(r.byte() % 4)}
					if r.byte()%8 != 0 {
						item.Value = &ua.DataValue{
							EncodingMask:    r.byte(),
							Value:           r.variant(),
							Status:          ua.StatusCode(r.uint32()),
							SourceTimestamp: time.Unix(0, int64(r.uint64()>>2)),
							ServerTimestamp: time.Unix(0, int64(r.uint64()>>2)),
						}
					}
					dcn.MonitoredItems = append(dcn.MonitoredItems, item)
				}
				res.NotificationMessage.NotificationData = append(res.NotificationMessage.NotificationData, ua.NewExtensionObject(dcn))
			}
			ready, _ := q.push(res, nil, time.Unix(int64(r.byte()), 0))
			for _, r := range ready {
				_ = ss.handle(r, time.Unix(2, 0))
			}
		}
		if err := ss.flush(context.Background()); err != nil {
			t.Fatal(err)
		}
		for _, p := range got {
			if p.Tag != "a" && p.Tag != "b" {
				t.Fatalf("point for unknown tag %q", p.Tag)
			}
			if p.Quality.IsBad() && p.Value != 0 {
				t.Fatalf("Bad point with a value: %+v", p)
			}
			if p.Time.IsZero() {
				t.Fatalf("point without a time: %+v", p)
			}
		}
	})
}
