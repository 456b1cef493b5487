package wire

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/greenlang/gl001/scada"
	"github.com/greenlang/gl001/scada/buffer"
)

// randomBatch returns n points over a few tags and units, some of whose
// strings share their bytes and some not, with every column varied.
func randomBatch(r *rand.Rand, n int) []scada.Point {
	tags := []string{"boiler1.steam_temp", "boiler1.flow", "b2.t", "", "boiler3.zone07.temp"}
	units := []string{"degC", "", "kg/s", "bar"}
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	pts := make([]scada.Point, n)
	for i := range pts {
		tag := tags[r.IntN(len(tags))]
		if r.IntN(3) == 0 {
			tag = strings.Clone(tag) // the same text at another address
		}
		unit := units[r.IntN(len(units))]
		if r.IntN(3) == 0 {
			unit = strings.Clone(unit)
		}
		p := scada.Point{Tag: tag, Unit: unit, Value: r.NormFloat64() * 100, Source: "plc1"}
		if r.IntN(4) > 0 {
			p.Quality = scada.Quality(r.Uint32())
		}
		switch r.IntN(6) {
		case 0: // no time
		case 1:
			p.Time = time.Date(1500+r.IntN(1200), 1, 1, 0, 0, 0, 0, time.UTC)
		default:
			p.Time = t0.Add(time.Duration(r.Int64N(int64(time.Hour))) - time.Minute)
		}
		if r.IntN(2) == 0 {
			p.Score, p.Scored = uint8(r.IntN(101)), true
		}
		if r.IntN(3) == 0 {
			p.Reasons = scada.Reason(r.IntN(1 << 16))
		}
		pts[i] = p
	}
	return pts
}

// TestEncoderMatchesReference checks that Encoder writes, byte for byte,
// what the first encoder of version 1 wrote, for random batches, with and
// without a selection, reusing one Encoder across messages.
func TestEncoderMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var e Encoder
	var ref refEncoder
	for k := range 500 {
		n := r.IntN(300)
		if k%50 == 0 {
			n = 0
		}
		pts := randomBatch(r, n)
		var sel []int32
		if r.IntN(2) == 0 {
			sel = []int32{}
			for i := range pts {
				if r.IntN(3) > 0 {
					sel = append(sel, int32(i))
				}
			}
		}
		h := Header{Edge: "edge", Buffer: "buf", Source: "plc1", First: 100 + uint64Offset(r.IntN(1000))}
		h.Last = h.First + uint64Offset(max(n, 1)) - 1
		got := e.Append(nil, h, pts, sel)
		want := ref.Append(nil, h, pts, sel)
		if !bytes.Equal(got, want) {
			t.Fatalf("message %d (%d points, sel %v): encodings differ\n got %x\nwant %x", k, n, sel != nil, got, want)
		}
		var d Decoded
		if err := Decode(got, &d); err != nil {
			t.Fatalf("message %d: %v", k, err)
		}
	}
}

// BenchmarkEncodeReference compares Encoder with the reference encoder on
// a message of 2048 points of 250 tags, as the JetStream Target makes them
// from a batch of 8192 points of 4 sources.
func BenchmarkEncodeReference(b *testing.B) {
	pts := benchBatch(2048, 250)
	b.Run("encoder", func(b *testing.B) {
		var e Encoder
		var buf []byte
		b.ReportAllocs()
		for b.Loop() {
			buf = e.Append(buf[:0], Header{Edge: "edge", Buffer: "buf", Source: "plc-a", First: 0, Last: 8191}, pts, nil)
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(pts)), "ns/point")
		b.ReportMetric(float64(len(buf))/float64(len(pts)), "bytes/point")
	})
	b.Run("reference", func(b *testing.B) {
		var e refEncoder
		var buf []byte
		for b.Loop() {
			buf = e.Append(buf[:0], Header{Edge: "edge", Buffer: "buf", Source: "plc-a", First: 0, Last: 8191}, pts, nil)
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(pts)), "ns/point")
	})
}

func benchBatch(n, tags int) []scada.Point {
	names := make([]string, tags)
	for i := range names {
		names[i] = fmt.Sprintf("boiler%d.zone%02d.temp", i/100, i%100)
	}
	t0 := time.Unix(1_760_000_000, 0).UTC()
	pts := make([]scada.Point, n)
	for i := range pts {
		pts[i] = scada.Point{Tag: names[i%tags], Value: 20 + float64(i%977)*0.125, Unit: "degC", Score: 97, Scored: true,
			Time: t0.Add(time.Duration(i/tags) * time.Second), Source: "plc-a"}
	}
	return pts
}

func uint64Offset(i int) buffer.Offset { return buffer.Offset(i) }
