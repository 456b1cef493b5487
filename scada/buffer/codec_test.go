package buffer

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/greenlang/gl001/scada"
)

// goldenRecord is the encoding of goldenPoints in format version 2, checked
// byte by byte against the format described in codec.go.
var goldenRecord = []byte{
	0x37, 0x00, 0x00, 0x00, // payload length 55
	0x69, 0xc9, 0xce, 0x95, // CRC32-C
	0x00,                                                 // first offset - base
	0x03,                                                 // 3 points
	0x80, 0x80, 0xd0, 0xe2, 0xc6, 0xbf, 0xce, 0x97, 0x2f, // append time (zigzag varint)
	// t1 = 21.5 degC, not scored: new tag, predicted time, decimal scale 1,
	// new unit; the status (Good, not scored) is the table's entry 0: no field
	0x26, 0x00, 0x02, 't', '1', 0x01, 0xae, 0x03, 0x00, 0x04, 'd', 'e', 'g', 'C',
	// t1 = 21.75 one second later, scored 97: tag ref 0, time residual 1 s,
	// decimal scale 2, new status: quality Good, word 97<<1|1
	0x12, 0x01, 0x80, 0xa8, 0xd6, 0xb9, 0x07, 0x02, 0xfe, 0x21, 0x00, 0x00, 0xc3, 0x01,
	// t2 = 0.1 BadSensorFailure, scored 20 for reasons 0x0105: new tag,
	// predicted time, scale 1, new status: quality, word 0x0105<<9|20<<1|1
	0x16, 0x00, 0x02, 't', '2', 0x01, 0x02, 0x00, 0x80, 0x80, 0xb0, 0x84, 0x08, 0xa9, 0x94, 0x08,
}

// goldenRecordV1 is goldenPointsV1 as format version 1 wrote it (before
// scores): it must still decode.
var goldenRecordV1 = []byte{
	0x30, 0x00, 0x00, 0x00, // payload length 48
	0x9f, 0xe6, 0xdd, 0x64, // CRC32-C
	0x00,                                                 // first offset - base
	0x03,                                                 // 3 points
	0x80, 0x80, 0xd0, 0xe2, 0xc6, 0xbf, 0xce, 0x97, 0x2f, // append time (zigzag varint)
	// t1 = 21.5 degC: new tag, predicted time, decimal scale 1, new unit
	0x26, 0x00, 0x02, 't', '1', 0x01, 0xae, 0x03, 0x00, 0x04, 'd', 'e', 'g', 'C',
	// t1 = 21.75 one second later: tag ref 0, time residual 1 s, decimal scale 2
	0x02, 0x01, 0x80, 0xa8, 0xd6, 0xb9, 0x07, 0x02, 0xfe, 0x21,
	// t2 = 0.1 BadSensorFailure: new tag, predicted time, scale 1, new quality
	0x16, 0x00, 0x02, 't', '2', 0x01, 0x02, 0x00, 0x80, 0x80, 0xb0, 0x84, 0x08,
}

const goldenAppendTime = int64(1_700_000_000_000_000_000)

func goldenPoints() []scada.Point {
	pts := goldenPointsV1()
	pts[1].Score, pts[1].Scored = 97, true
	pts[2].Score, pts[2].Scored, pts[2].Reasons = 20, true, 0x0105
	return pts
}

func goldenPointsV1() []scada.Point {
	t0 := time.Unix(0, goldenAppendTime).UTC()
	return []scada.Point{
		{Tag: "t1", Value: 21.5, Unit: "degC", Time: t0},
		{Tag: "t1", Value: 21.75, Unit: "degC", Time: t0.Add(time.Second)},
		{Tag: "t2", Value: 0.1, Quality: scada.BadSensorFailure, Time: t0},
	}
}

func TestRecordGolden(t *testing.T) {
	got := newSegEncoder().appendRecord(nil, 0, goldenAppendTime, goldenPoints())
	if !bytes.Equal(got, goldenRecord) {
		t.Fatalf("encoding changed:\n got % x\nwant % x", got, goldenRecord)
	}
	for _, tc := range []struct {
		name    string
		version byte
		rec     []byte
		want    []scada.Point
	}{
		{"v2", 2, goldenRecord, goldenPoints()},
		{"v1", 1, goldenRecordV1, goldenPointsV1()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			payload := tc.rec[frameHeaderSize:]
			if err := checkFrame(tc.rec[:frameHeaderSize], payload); err != nil {
				t.Fatal(err)
			}
			dec := newSegDecoder()
			dec.version = tc.version
			rel, at, pts, err := dec.decodeRecord(payload, nil)
			if err != nil || rel != 0 || at != goldenAppendTime || len(pts) != len(tc.want) {
				t.Fatalf("decode: rel %d, time %d, %d points, %v", rel, at, len(pts), err)
			}
			for i, want := range tc.want {
				if !samePoint(pts[i], want) {
					t.Errorf("point %d: %+v, want %+v", i, pts[i], want)
				}
			}
		})
	}
}

// TestUnscoredPointsCostNothing: a point no stage scored takes the same bytes
// in format version 2 as in version 1, except one byte for each new quality
// in a segment.
func TestUnscoredPointsCostNothing(t *testing.T) {
	sim := newPlantSim(1000)
	enc := newSegEncoder()
	var b []byte
	quals := map[scada.Quality]bool{scada.Good: true}
	n := 0
	for range 20 {
		pts := sim.next(1000)
		for _, p := range pts {
			quals[p.Quality] = true
		}
		b = enc.appendRecord(b, uint64(n), goldenAppendTime, pts)
		n += len(pts)
	}
	// Scored points whose score stays put for a while cost little more.
	sim = newPlantSim(1000)
	enc = newSegEncoder()
	var scored []byte
	n = 0
	for r := range 20 {
		pts := sim.next(1000)
		for i := range pts {
			pts[i].Score, pts[i].Scored = uint8(90+(r/5)), true
		}
		scored = enc.appendRecord(scored, uint64(n), goldenAppendTime, pts)
		n += len(pts)
	}
	t.Logf("unscored: %.3f bytes a point; scored: %.3f", float64(len(b))/float64(n), float64(len(scored))/float64(n))
	// The v1 size of the same data is what the version 1 encoder wrote:
	// the plant data format test holds it under 12 bytes a point; here
	// the difference is bounded by the new-quality entries.
	if extra := len(b) - v1Size(t, b); extra != len(quals)-1 {
		t.Fatalf("unscored points cost %d bytes more than in version 1, want %d (one per new quality)", extra, len(quals)-1)
	}
	if float64(len(scored)) > 1.1*float64(len(b)) {
		t.Fatalf("scored points take %d bytes, unscored %d: more than 10%% extra", len(scored), len(b))
	}
}

// v1Size is how many bytes the records in b would take in version 1: each
// new status entry has one byte (the zero score word) less.
func v1Size(t *testing.T, b []byte) int {
	t.Helper()
	dec := newSegDecoder()
	size := 0
	for len(b) > 0 {
		n := int(binary.LittleEndian.Uint32(b))
		before := len(dec.quals)
		if _, _, _, err := dec.decodeRecord(b[frameHeaderSize:frameHeaderSize+n], nil); err != nil {
			t.Fatal(err)
		}
		size += frameHeaderSize + n - (len(dec.quals) - before)
		b = b[frameHeaderSize+n:]
	}
	return size
}

func TestRecordDecodeErrors(t *testing.T) {
	payload := goldenRecord[frameHeaderSize:]
	for name, tc := range map[string]struct {
		b    []byte
		want error
	}{
		"empty":          {nil, errShort},
		"no points":      {[]byte{0, 0, 0}, errCount},
		"too many":       {[]byte{0, 0xff, 0xff, 0x03, 0}, errCount},
		"truncated":      {payload[:len(payload)-3], errShort},
		"trailing":       {append(bytes.Clone(payload), 0), errTrailing},
		"undefined tag":  {[]byte{0, 1, 0, 0x04, 0x05}, errTagRef},
		"sequential tag": {[]byte{0, 1, 0, 0x0c}, errTagRef},
		"bad scale":      {[]byte{0, 1, 0, 0x06, 0, 1, 'a', 10, 0}, errScale},
		"scale missing":  {[]byte{0, 1, 0, 0x05, 0, 1, 'a', 2}, errScale},
		"bad xor":        {[]byte{0, 1, 0, 0x07, 0, 1, 'a', 0x80}, errXOR},
		"wide and pred":  {[]byte{0, 1, 0, 0x84, 0, 1, 'a'}, errWideTime},
		"wide nsec":      {[]byte{0, 1, 0, 0x80, 0, 1, 'a', 0, 0x80, 0x94, 0xeb, 0xdc, 0x03}, errWideTime},
		"quality ref":    {[]byte{0, 1, 0, 0x14, 0, 1, 'a', 5}, errQualRef},
		"score":          {[]byte{0, 1, 0, 0x14, 0, 1, 'a', 0, 0, 0x80, 0x80, 0x80, 0x10}, errScore},
		"string ref":     {[]byte{0, 1, 0, 0x24, 0, 1, 'a', 9}, errStrRef},
		"overlong":       {[]byte{0, 1, 0, 0x04, 0, 0xff, 0xff, 0xff, 0x0f}, errStrLen},
		"bad varint":     {[]byte{0, 1, 0, 0x00, 0, 1, 'a', 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, errVarint},
	} {
		t.Run(name, func(t *testing.T) {
			_, _, _, err := newSegDecoder().decodeRecord(tc.b, nil)
			if !errors.Is(err, tc.want) {
				t.Fatalf("decode % x: %v, want %v", tc.b, err, tc.want)
			}
		})
	}
}

// TestRecordRoundTripRandom encodes random points, the kind of data no plant
// sends (every field changing at random), through several records of one
// segment and checks they decode to themselves.
func TestRecordRoundTripRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	enc, dec := newSegEncoder(), newSegDecoder()
	var frames []byte
	var want []scada.Point
	at := time.Now().UnixNano()
	for rec := range 50 {
		pts := make([]scada.Point, 1+r.IntN(300))
		for i := range pts {
			pts[i] = randomPoint(r)
		}
		frames = enc.appendRecord(frames, uint64(len(want)), at+int64(rec), pts)
		want = append(want, pts...)
	}
	var got []scada.Point
	for len(frames) > 0 {
		n := int(uint32(frames[0]) | uint32(frames[1])<<8 | uint32(frames[2])<<16 | uint32(frames[3])<<24)
		if err := checkFrame(frames[:frameHeaderSize], frames[frameHeaderSize:frameHeaderSize+n]); err != nil {
			t.Fatal(err)
		}
		var err error
		var rel uint64
		rel, _, got, err = dec.decodeRecord(frames[frameHeaderSize:frameHeaderSize+n], got)
		if err != nil {
			t.Fatal(err)
		}
		if rel > uint64(len(got)) {
			t.Fatalf("record offset %d past %d points", rel, len(got))
		}
		frames = frames[frameHeaderSize+n:]
	}
	if len(got) != len(want) {
		t.Fatalf("%d points decoded, want %d", len(got), len(want))
	}
	for i := range want {
		if !samePoint(got[i], want[i]) {
			t.Fatalf("point %d: %+v, want %+v", i, got[i], want[i])
		}
	}
}

func randomPoint(r *rand.Rand) scada.Point {
	tags := []string{"a", "b", "boiler.temp", "", "x.y.z"}
	vals := []float64{0, math.Copysign(0, -1), math.NaN(), math.Inf(1), 1e-310, 123.45, -7, 1 << 60}
	var p scada.Point
	p.Tag = tags[r.IntN(len(tags))]
	switch r.IntN(3) {
	case 0:
		p.Value = vals[r.IntN(len(vals))]
	case 1:
		p.Value = float64(r.IntN(100000)) / 100
	default:
		p.Value = math.Float64frombits(r.Uint64())
	}
	p.Quality = []scada.Quality{scada.Good, scada.GoodClamped, scada.Uncertain, scada.BadNoCommunication, scada.Quality(r.Uint32())}[r.IntN(5)]
	switch r.IntN(3) {
	case 0:
	case 1:
		p.Score, p.Scored, p.Reasons = uint8(r.IntN(101)), true, scada.Reason(r.IntN(1<<16))
	default:
		p.Score, p.Scored, p.Reasons = uint8(r.Uint32()), r.IntN(2) == 0, scada.Reason(r.Uint32())
	}
	p.Unit = []string{"", "degC", "kPa"}[r.IntN(3)]
	p.Source = []string{"", "s1", "s2"}[r.IntN(3)]
	switch r.IntN(4) {
	case 0:
	case 1:
		p.Time = time.Unix(0, r.Int64()).UTC()
	default:
		p.Time = time.Date(2026, 1, 1, 0, 0, r.IntN(100), r.IntN(1e9), time.UTC)
	}
	return p
}

// FuzzBufferRecord feeds arbitrary bytes to the record decoder, as a disk
// would after a fault. It must never panic; what it accepts must encode and
// decode again to the same points.
func FuzzBufferRecord(f *testing.F) {
	f.Add(goldenRecord[frameHeaderSize:])
	r := rand.New(rand.NewPCG(3, 4))
	for range 8 {
		pts := make([]scada.Point, 1+r.IntN(20))
		for i := range pts {
			pts[i] = randomPoint(r)
		}
		rec := newSegEncoder().appendRecord(nil, uint64(r.IntN(1000)), r.Int64(), pts)
		f.Add(rec[frameHeaderSize:])
	}
	f.Add(goldenRecordV1[frameHeaderSize:])
	f.Fuzz(func(t *testing.T, payload []byte) {
		// Version 1 records (no score words) decode without panicking too.
		v1 := newSegDecoder()
		v1.version = 1
		if _, _, _, err := v1.decodeRecord(payload, nil); err != nil {
			var ce errCodec
			if !errors.As(err, &ce) {
				t.Fatalf("version 1 decode error %v is not a codec error", err)
			}
		}
		rel, at, pts, err := newSegDecoder().decodeRecord(payload, nil)
		if err != nil {
			var ce errCodec
			if !errors.As(err, &ce) {
				t.Fatalf("decode error %v is not a codec error", err)
			}
			return
		}
		again := newSegEncoder().appendRecord(nil, rel, at, pts)
		if err := checkFrame(again[:frameHeaderSize], again[frameHeaderSize:]); err != nil {
			t.Fatal(err)
		}
		rel2, at2, pts2, err := newSegDecoder().decodeRecord(again[frameHeaderSize:], nil)
		if err != nil || rel2 != rel || at2 != at || len(pts2) != len(pts) {
			t.Fatalf("re-encoded record: %v (rel %d/%d, time %d/%d, %d/%d points)", err, rel2, rel, at2, at, len(pts2), len(pts))
		}
		for i := range pts {
			if !samePoint(pts[i], pts2[i]) {
				t.Fatalf("point %d: %+v, then %+v", i, pts[i], pts2[i])
			}
		}
	})
}

// FuzzBufferSegment feeds arbitrary segment files to the recovery scan, which
// must report damage as a *CorruptError and never panic.
func FuzzBufferSegment(f *testing.F) {
	seg := appendSegHeader(nil, 0, [segIDLen]byte{1}, 0)
	seg = append(seg, goldenRecord...)
	f.Add(seg)
	var m segMeta
	m.add(goldenAppendTime, goldenPoints())
	f.Add(appendTrailer(bytes.Clone(seg), m))
	f.Add(seg[:len(seg)-5])
	v1 := append(appendSegHeader(nil, 0, [segIDLen]byte{}, 0)[:segHeaderSizeV1], goldenRecordV1...)
	v1[4] = 1
	f.Add(v1)
	f.Add(appendTrailer(bytes.Clone(v1), m))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(dir, segName(0))
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		res, err := scanSegment(path)
		if err != nil {
			t.Fatalf("scan: %v", err)
		}
		if res.bad != nil && (res.bad.File != path || res.bad.Offset < 0 || res.bad.Offset > int64(len(data))) {
			t.Fatalf("CorruptError %+v for a %d-byte file", res.bad, len(data))
		}
		if res.end > res.size {
			t.Fatalf("good records end at %d in a %d-byte file", res.end, res.size)
		}
		// What recovery reads of a damaged segment without decoding it.
		if _, err := probeSegment(path); err != nil {
			t.Fatalf("probe: %v", err)
		}
		if n := countFrames(path, segHeaderSize) + countFrames(path, segHeaderSizeV1); n > uint64(len(data)) {
			t.Fatalf("%d points counted in a %d-byte file", n, len(data))
		}
	})
}

// FuzzBufferCursors feeds arbitrary cursor files to their parser.
func FuzzBufferCursors(f *testing.F) {
	f.Add(encodeCursors(map[string]Offset{"historian": 42, "dash": 7}, logState{first: 3, next: 90, lost: []span{{5, 9}}}))
	f.Add(appendCursorRecord(nil, "x", 1<<40)[:9])
	f.Fuzz(func(t *testing.T, data []byte) {
		m, _, good := parseCursors(data)
		if good < 0 || good > len(data) {
			t.Fatalf("good prefix %d of %d bytes", good, len(data))
		}
		// The good prefix parses to the same cursors.
		m2, _, good2 := parseCursors(data[:good])
		if good2 != good || len(m2) != len(m) {
			t.Fatalf("prefix parses differently: %d/%d bytes, %d/%d cursors", good2, good, len(m2), len(m))
		}
	})
}
