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

// TestAppendBySource checks that AppendBySource writes, for each source in
// order of first appearance, the bytes Append writes for the selection of
// that source's points, over random batches of a few sources (in runs and
// mixed) and of more than 16, reusing one Encoder.
func TestAppendBySource(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	var e, ref Encoder
	for k := range 300 {
		nsrc := 1 + r.IntN(4)
		if k%4 == 0 {
			nsrc = 17 + r.IntN(20)
		}
		pts := randomBatch(r, 1+r.IntN(400))
		cur := 0
		for i := range pts {
			if r.IntN(3) == 0 {
				cur = r.IntN(nsrc)
			}
			pts[i].Source = fmt.Sprintf("plc-%d", cur)
		}
		h := Header{Edge: "edge", Buffer: "buf", First: 1000, Last: 1000 + buffer.Offset(len(pts)) - 1}
		var order []string
		sels := map[string][]int32{}
		for i, p := range pts {
			if _, ok := sels[p.Source]; !ok {
				order = append(order, p.Source)
			}
			sels[p.Source] = append(sels[p.Source], int32(i))
		}
		got, size := 0, 0
		e.AppendBySource(h, pts, func(n int) []byte { size = n; return make([]byte, 0, n) }, func(source string, part, parts int, msg []byte) {
			if parts != len(order) || part != got || source != order[part] {
				t.Fatalf("batch %d: message %d of %d for %q, want %d of %d for %q", k, part, parts, source, got, len(order), order[got])
			}
			if cap(msg) != size {
				t.Fatalf("batch %d: message of %d bytes outgrew its size bound %d", k, len(msg), size)
			}
			mh := h
			mh.Source = source
			want := ref.Append(nil, mh, pts, sels[source])
			if !bytes.Equal(msg, want) {
				t.Fatalf("batch %d, source %s: encodings differ\n got %x\nwant %x", k, source, msg, want)
			}
			got++
		})
		if got != len(order) {
			t.Fatalf("batch %d: %d messages, want %d", k, got, len(order))
		}
	}
}

// BenchmarkAppendBySource encodes a batch of 8192 points of 1000 tags over
// 4 sources, alternating, as one message per source: in one pass
// (AppendBySource) and by selections (Append per source).
func BenchmarkAppendBySource(b *testing.B) {
	pts := benchBatch(8192, 1000)
	srcs := []string{"plc-a", "plc-b", "plc-c", "plc-d"}
	for i := range pts {
		pts[i].Source = srcs[i%1000%4]
	}
	h := Header{Edge: "edge", Buffer: "buf", First: 0, Last: 8191}
	buf := make([]byte, 0, 1<<20)
	b.Run("one-pass", func(b *testing.B) {
		var e Encoder
		for b.Loop() {
			e.AppendBySource(h, pts, func(int) []byte { return buf[:0] }, func(string, int, int, []byte) {})
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(pts)), "ns/point")
	})
	b.Run("selections", func(b *testing.B) {
		var e Encoder
		for b.Loop() {
			sels := map[string][]int32{}
			for i := range pts {
				sels[pts[i].Source] = append(sels[pts[i].Source], int32(i))
			}
			for _, s := range srcs {
				hs := h
				hs.Source = s
				buf = e.Append(buf[:0], hs, pts, sels[s])
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(pts)), "ns/point")
	})
}
