package wire

import (
	"bytes"
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/greenlang/gl001/scada"
	"github.com/greenlang/gl001/scada/buffer"
)

// goldenEvents are the events of testdata/events-v1.bin: a condition with
// every state field, a plain event without times, and Fields of every kind.
func goldenEvents() []scada.Event {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.UTC)
	return []scada.Event{
		{
			Source: "opcua1", Time: t0, ReceiveTime: t0.Add(2 * time.Millisecond), EventType: "i=9341",
			SourceNode: "ns=1;s=Boiler1.SteamTemp", SourceName: "SteamTemp", Severity: 800,
			Message: "Steam temperature high", ID: []byte{0x1f, 0x2e, 0, 0xff},
			Condition: &scada.Condition{ID: "ns=1;s=Boiler1.HighTemp", Name: "HighTemperature", Branch: "ns=1;g=7",
				Retain: true, Active: true, Acknowledged: false, Confirmed: true, State: "High"},
			Fields: map[string]any{
				"limit": 185.0, "latched": true, "area": "Boilerhouse", "since": t0.Add(-time.Hour),
				"never": time.Time{}, "raw": []byte{1, 2}, "none": nil, "json": []any{"a", 1.0},
			},
		},
		{Source: "opcua1", EventType: "i=2041", Message: "Audit", Severity: 1},
	}
}

func goldenEventHeader() Header {
	return Header{Edge: "boilerhouse-1", Buffer: "0123456789abcdef0123456789abcdef", Source: "opcua1", First: 40, Last: 43}
}

// The two events sit at offsets 40 and 43 of the event batch [40, 43].
var goldenEventSel = []int32{0, 3}

func goldenEventBatch() []scada.Event {
	evs := make([]scada.Event, 4)
	for i, ev := range goldenEvents() {
		evs[goldenEventSel[i]] = ev
	}
	return evs
}

func TestEventsGolden(t *testing.T) {
	got, err := AppendEvents(nil, goldenEventHeader(), goldenEventBatch(), goldenEventSel)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", "events-v1.bin")
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
	var d DecodedEvents
	if err := DecodeEvents(want, &d); err != nil {
		t.Fatal(err)
	}
	h := goldenEventHeader()
	h.Version, h.Count = Version, 2
	if d.Header != h {
		t.Fatalf("header %+v, want %+v", d.Header, h)
	}
	if !reflect.DeepEqual(d.Events, goldenEvents()) {
		t.Fatalf("events\n%+v\nwant\n%+v", d.Events, goldenEvents())
	}
	if !reflect.DeepEqual(d.Offsets, []buffer.Offset{40, 43}) {
		t.Fatalf("offsets %v", d.Offsets)
	}
}

func TestEventsOtherFieldTypes(t *testing.T) {
	evs := []scada.Event{{Source: "s", Fields: map[string]any{"n": 42, "m": map[string]int{"x": 1}}}}
	b, err := AppendEvents(nil, Header{Source: "s"}, evs, nil)
	if err != nil {
		t.Fatal(err)
	}
	var d DecodedEvents
	if err := DecodeEvents(b, &d); err != nil {
		t.Fatal(err)
	}
	if want := map[string]any{"n": 42.0, "m": map[string]any{"x": 1.0}}; !reflect.DeepEqual(d.Events[0].Fields, want) {
		t.Fatalf("fields %v, want %v", d.Events[0].Fields, want)
	}
	evs[0].Fields["c"] = make(chan int)
	if out, err := AppendEvents([]byte("keep"), Header{Source: "s"}, evs, nil); !errors.Is(err, scada.ErrBadInput) || string(out) != "keep" {
		t.Fatalf("unencodable field: %q, %v", out, err)
	}
}

func TestDecodeEventsErrors(t *testing.T) {
	good, err := AppendEvents(nil, goldenEventHeader(), goldenEventBatch(), goldenEventSel)
	if err != nil {
		t.Fatal(err)
	}
	withCRC := func(b []byte) []byte { return appendCRC(b, 0) }
	cases := map[string][]byte{
		"empty":       {},
		"truncated":   good[:len(good)-3],
		"flipped":     func() []byte { b := bytes.Clone(good); b[20] ^= 1; return b }(),
		"version 2":   withCRC(appendVarintField(nil, feVersion, 2)),
		"no count":    withCRC(appendVarintField(nil, feVersion, 1)),
		"count short": withCRC(appendVarintField(appendVarintField(nil, feVersion, 1), feCount, 1)),
		"out of order": func() []byte {
			b, _ := AppendEvents(nil, Header{Source: "s", First: 0, Last: 5}, make([]scada.Event, 6), []int32{3, 1})
			return b
		}(),
		"point batch": func() []byte { var e Encoder; return e.Append(nil, goldenHeader(), goldenBatch(), goldenSel) }(),
	}
	for name, b := range cases {
		var d DecodedEvents
		err := DecodeEvents(b, &d)
		var de *EventDecodeError
		if !errors.As(err, &de) || !errors.Is(err, ErrDecode) || !errors.Is(err, scada.ErrBadInput) {
			t.Errorf("%s: %v, want an *EventDecodeError matching ErrDecode", name, err)
		}
		if name == "version 2" && !errors.Is(err, ErrVersion) {
			t.Errorf("%s: %v does not match ErrVersion", name, err)
		}
	}
}

func FuzzDecodeEvents(f *testing.F) {
	good, _ := AppendEvents(nil, goldenEventHeader(), goldenEventBatch(), goldenEventSel)
	f.Add(good)
	one, _ := AppendEvents(nil, Header{Source: "s"}, []scada.Event{{Message: "m"}}, nil)
	f.Add(one)
	f.Fuzz(func(t *testing.T, b []byte) {
		fuzzEvents(t, b)
		fuzzEvents(t, appendCRC(bytes.Clone(b), 0))
	})
}

func fuzzEvents(t *testing.T, b []byte) {
	var d DecodedEvents
	if err := DecodeEvents(b, &d); err != nil {
		if !errors.Is(err, ErrDecode) {
			t.Fatalf("error %v does not match ErrDecode", err)
		}
		return
	}
	if len(d.Events) != d.Count || len(d.Offsets) != d.Count {
		t.Fatalf("%d events, %d offsets, count %d", len(d.Events), len(d.Offsets), d.Count)
	}
	if d.Count == 0 {
		return
	}
	span := int(d.Offsets[d.Count-1]-d.First) + 1
	if span > 1<<16 {
		return
	}
	evs := make([]scada.Event, span)
	sel := make([]int32, d.Count)
	for i, off := range d.Offsets {
		sel[i] = int32(off - d.First)
		evs[sel[i]] = d.Events[i]
	}
	again, err := AppendEvents(nil, d.Header, evs, sel)
	if err != nil {
		t.Fatalf("a decoded batch does not encode: %v", err)
	}
	var d2 DecodedEvents
	if err := DecodeEvents(again, &d2); err != nil {
		t.Fatalf("re-encoded message fails: %v", err)
	}
	for i := range d.Events {
		a, b := d.Events[i], d2.Events[i]
		if a.Message != b.Message || !a.Time.Equal(b.Time) || a.Severity != b.Severity || !bytes.Equal(a.ID, b.ID) ||
			len(a.Fields) != len(b.Fields) || (a.Condition == nil) != (b.Condition == nil) {
			t.Fatalf("event %d: %+v then %+v", i, a, b)
		}
		for k, v := range a.Fields {
			if f, ok := v.(float64); ok && math.IsNaN(f) {
				continue
			}
			if tv, ok := v.(time.Time); ok {
				if !tv.Equal(b.Fields[k].(time.Time)) {
					t.Fatalf("event %d field %q: %v then %v", i, k, v, b.Fields[k])
				}
				continue
			}
			if !reflect.DeepEqual(v, b.Fields[k]) {
				t.Fatalf("event %d field %q: %#v then %#v", i, k, v, b.Fields[k])
			}
		}
	}
}
