package wire

import (
	"bytes"
	"errors"
	"flag"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/greenlang/gl001/scada"
	"github.com/greenlang/gl001/scada/buffer"
)

var update = flag.Bool("update", false, "rewrite testdata/batch-v1.bin")

// goldenPoints are the points of testdata/batch-v1.bin: every column in use,
// two tags, two units (one empty), all quality severities, a point without a
// timestamp, scored and unscored points.
func goldenPoints() []scada.Point {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.UTC)
	return []scada.Point{
		{Tag: "boiler1.steam_temp", Value: 451.25, Unit: "degC", Quality: scada.Good, Score: 97, Scored: true, Time: t0, Source: "plc1"},
		{Tag: "boiler1.flow", Value: -0.5, Unit: "", Quality: scada.UncertainLastUsableValue, Score: 55, Scored: true, Reasons: 0x0005, Time: t0.Add(time.Millisecond), Source: "plc1"},
		{Tag: "boiler1.steam_temp", Value: 0, Unit: "degC", Quality: scada.BadNoCommunication, Time: t0.Add(-time.Second), Source: "plc1"},
		{Tag: "boiler1.flow", Value: math.Inf(1), Quality: scada.Good, Score: 0, Scored: true, Source: "plc1"},
	}
}

func goldenHeader() Header {
	return Header{Edge: "boilerhouse-1", Buffer: "0123456789abcdef0123456789abcdef", Source: "plc1", First: 1000, Last: 1006}
}

// goldenSel puts the four points at offsets 1000, 1002, 1003 and 1006 of a
// batch [1000, 1006], as if points of another source were between them.
var goldenSel = []int32{0, 2, 3, 6}

func goldenBatch() []scada.Point {
	pts := make([]scada.Point, 7)
	for i, p := range goldenPoints() {
		pts[goldenSel[i]] = p
	}
	return pts
}

func TestGolden(t *testing.T) {
	var e Encoder
	got := e.Append(nil, goldenHeader(), goldenBatch(), goldenSel)
	path := filepath.Join("testdata", "batch-v1.bin")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("encoding changed:\n got %x\nwant %x", got, want)
	}
	var d Decoded
	if err := Decode(want, &d); err != nil {
		t.Fatal(err)
	}
	h := goldenHeader()
	h.Version, h.Count = Version, 4
	if d.Header != h {
		t.Fatalf("header %+v, want %+v", d.Header, h)
	}
	if !reflect.DeepEqual(d.Points, goldenPoints()) {
		t.Fatalf("points\n%+v\nwant\n%+v", d.Points, goldenPoints())
	}
	if !reflect.DeepEqual(d.Offsets, []buffer.Offset{1000, 1002, 1003, 1006}) {
		t.Fatalf("offsets %v", d.Offsets)
	}
}

func TestRoundTripAllPoints(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0).UTC()
	var pts []scada.Point
	for i := range 500 {
		pts = append(pts, scada.Point{
			Tag: "t" + string(rune('a'+i%7)), Value: float64(i) / 3, Unit: []string{"", "kg/s", "bar"}[i%3],
			Quality: scada.Quality(uint32(i%3) << 30), Score: uint8(i % 101), Scored: i%4 != 0,
			Reasons: scada.Reason(i % 9), Time: t0.Add(time.Duration(i%5) * time.Hour), Source: "s",
		})
		if !pts[i].Scored {
			pts[i].Score = 0
		}
	}
	pts = append(pts, scada.Point{Tag: "far", Time: time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC), Source: "s"})
	var e Encoder
	b := e.Append(nil, Header{Edge: "e", Buffer: "b", Source: "s", First: 7, Last: 7 + buffer.Offset(len(pts)-1)}, pts, nil)
	var d Decoded
	if err := Decode(b, &d); err != nil {
		t.Fatal(err)
	}
	last := len(pts) - 1
	if d.Points[last].Time.Year() != 2262 {
		t.Fatalf("a time past 2262 decodes as %v, want clamped to 2262", d.Points[last].Time)
	}
	d.Points[last].Time, pts[last].Time = time.Time{}, time.Time{}
	if !reflect.DeepEqual(d.Points, pts) {
		t.Fatal("round trip changed the points")
	}
	for i, off := range d.Offsets {
		if off != buffer.Offset(7+i) {
			t.Fatalf("offset %d is %d", i, off)
		}
	}
	// Reusing the Decoded keeps nothing of the previous message.
	b = e.Append(b[:0], Header{Source: "x", First: 1, Last: 1}, []scada.Point{{Tag: "only", Source: "x"}}, nil)
	if err := Decode(b, &d); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(d.Points, []scada.Point{{Tag: "only", Source: "x"}}) {
		t.Fatalf("reused decode: %+v", d.Points)
	}
}

func TestDecodeErrors(t *testing.T) {
	var e Encoder
	good := e.Append(nil, goldenHeader(), goldenBatch(), goldenSel)
	v2 := append([]byte{1<<3 | wtVarint, 2}, good[2:]...)
	cases := map[string][]byte{
		"empty":         {},
		"truncated":     good[:len(good)-3],
		"version 2":     v2,
		"garbage":       []byte("{\"tag\":\"x\"}"),
		"wrong type":    {1<<3 | wtLen, 1, 1},
		"count too big": {1<<3 | wtVarint, 1, fCount<<3 | wtVarint, 0xff, 0xff, 0x3f},
	}
	for name, b := range cases {
		t.Run(name, func(t *testing.T) {
			var d Decoded
			err := Decode(b, &d)
			var de *DecodeError
			if !errors.As(err, &de) || !errors.Is(err, ErrDecode) || !errors.Is(err, scada.ErrBadInput) {
				t.Fatalf("Decode: %v, want a *DecodeError matching ErrDecode and ErrBadInput", err)
			}
			if errors.Is(err, ErrVersion) != (name == "version 2") {
				t.Fatalf("ErrVersion match wrong for %v", err)
			}
		})
	}
	// Every prefix of a good message fails cleanly or decodes.
	for i := range good {
		var d Decoded
		if err := Decode(good[:i], &d); err == nil {
			t.Fatalf("prefix of %d bytes decoded", i)
		}
	}
}

// FuzzDecode feeds arbitrary bytes to Decode: it must not panic, and
// whatever it accepts must encode and decode again to the same points.
func FuzzDecode(f *testing.F) {
	var e Encoder
	f.Add(e.Append(nil, goldenHeader(), goldenBatch(), goldenSel))
	f.Add(e.Append(nil, Header{Source: "s", First: 0, Last: 0}, []scada.Point{{Tag: "a", Source: "s"}}, nil))
	f.Add([]byte{1<<3 | wtVarint, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		fuzzOne(t, b)
		// The fuzzer rarely finds a valid checksum: check the same bytes
		// with one, so the column decoding sees arbitrary input too.
		fuzzOne(t, appendCRC(append([]byte(nil), b...), 0))
	})
}

func fuzzOne(t *testing.T, b []byte) {
	{
		var d Decoded
		if err := Decode(b, &d); err != nil {
			if !errors.Is(err, ErrDecode) {
				t.Fatalf("error %v does not match ErrDecode", err)
			}
			return
		}
		if len(d.Points) != d.Count || len(d.Offsets) != d.Count {
			t.Fatalf("%d points, %d offsets, count %d", len(d.Points), len(d.Offsets), d.Count)
		}
		// Re-encode at the decoded offsets and compare.
		if d.Count == 0 {
			return
		}
		span := int(d.Offsets[d.Count-1]-d.First) + 1
		if span > 1<<16 {
			return
		}
		pts := make([]scada.Point, span)
		sel := make([]int32, d.Count)
		for i, off := range d.Offsets {
			sel[i] = int32(off - d.First)
			pts[sel[i]] = d.Points[i]
		}
		var e Encoder
		again := e.Append(nil, d.Header, pts, sel)
		var d2 Decoded
		if err := Decode(again, &d2); err != nil {
			t.Fatalf("re-encoded message fails: %v", err)
		}
		for i := range d.Points {
			a, b := d.Points[i], d2.Points[i]
			if a.Tag != b.Tag || a.Unit != b.Unit || math.Float64bits(a.Value) != math.Float64bits(b.Value) ||
				a.Quality != b.Quality || !a.Time.Equal(b.Time) || a.Score != b.Score || a.Scored != b.Scored || a.Reasons != b.Reasons {
				t.Fatalf("point %d: %+v then %+v", i, a, b)
			}
		}
	}
}

func benchPoints(n, tags int) []scada.Point {
	t0 := time.Unix(1_700_000_000, 0).UTC()
	pts := make([]scada.Point, n)
	for i := range pts {
		pts[i] = scada.Point{Tag: tagNames[i%tags], Value: float64(i%1000) * 0.25, Unit: "degC",
			Score: 98, Scored: true, Time: t0.Add(time.Duration(i/tags) * time.Second), Source: "plc1"}
	}
	return pts
}

var tagNames = func() []string {
	s := make([]string, 1000)
	for i := range s {
		s[i] = "boiler" + string(rune('0'+i%10)) + ".tag" + string(rune('a'+i/10%26)) + string(rune('a'+i/260))
	}
	return s
}()

func BenchmarkEncode(b *testing.B) {
	pts := benchPoints(4096, 1000)
	var e Encoder
	var buf []byte
	h := Header{Edge: "e", Buffer: "b", Source: "plc1", First: 0, Last: 4095}
	for b.Loop() {
		buf = e.Append(buf[:0], h, pts, nil)
	}
	b.ReportMetric(float64(len(buf))/float64(len(pts)), "bytes/point")
	b.ReportMetric(float64(b.N)*float64(len(pts))/b.Elapsed().Seconds(), "points/s")
}

func BenchmarkDecode(b *testing.B) {
	pts := benchPoints(4096, 1000)
	var e Encoder
	buf := e.Append(nil, Header{Edge: "e", Buffer: "b", Source: "plc1", First: 0, Last: 4095}, pts, nil)
	var d Decoded
	for b.Loop() {
		if err := Decode(buf, &d); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)*float64(len(pts))/b.Elapsed().Seconds(), "points/s")
}
