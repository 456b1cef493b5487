package coord

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

type plainParams struct {
	Boiler string  `json:"boiler"`
	Rate   float64 `json:"rate"`
	Levels [2]int  `json:"levels"`
	Inner  struct {
		On bool `json:"on"`
	} `json:"inner"`
}

type upperName string

func (u *upperName) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	*u = upperName(strings.ToUpper(s))
	return nil
}

func TestShareable(t *testing.T) {
	for _, c := range []struct {
		name string
		d    bool
	}{
		{"plain struct", newParamsDecoder[plainParams]().shared != nil},
		{"string", newParamsDecoder[string]().shared != nil},
		{"!slice", newParamsDecoder[struct{ IDs []string }]().shared == nil},
		{"!map", newParamsDecoder[map[string]float64]().shared == nil},
		{"!pointer field", newParamsDecoder[struct{ P *int }]().shared == nil},
		{"!interface", newParamsDecoder[any]().shared == nil},
		{"!raw message", newParamsDecoder[json.RawMessage]().shared == nil},
		{"!custom unmarshaler", newParamsDecoder[struct{ N upperName }]().shared == nil},
		{"!time (text unmarshaler)", newParamsDecoder[struct{ At time.Time }]().shared == nil},
	} {
		if !c.d {
			t.Errorf("%s: wrong sharing decision", c.name)
		}
	}
	// One cache per type, whichever agent asks.
	a, b := newParamsDecoder[plainParams](), newParamsDecoder[plainParams]()
	if a.shared != b.shared {
		t.Error("two caches for one type")
	}
}

// Shared decoding gives what json.Unmarshal gives, for the same bytes and
// for other bytes, and a payload changed after decoding changes nothing.
func TestParamsDecoderShared(t *testing.T) {
	d := newParamsDecoder[plainParams]()
	payload := []byte(`{"boiler":"B-1","rate":2.5,"levels":[1,2],"inner":{"on":true}}`)
	var first, second, want plainParams
	if err := d.decode(payload, &first); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(payload, &want); err != nil {
		t.Fatal(err)
	}
	copy(payload, `{"boiler":"B-9"`) // the caller reuses its buffer
	if err := d.decode([]byte(`{"boiler":"B-1","rate":2.5,"levels":[1,2],"inner":{"on":true}}`), &second); err != nil {
		t.Fatal(err)
	}
	if first != want || second != want {
		t.Fatalf("decoded %+v and %+v, want %+v", first, second, want)
	}
	var other plainParams
	if err := d.decode(payload, &other); err != nil {
		t.Fatal(err)
	}
	if other.Boiler != "B-9" || other.Rate != 2.5 {
		t.Fatalf("other bytes decoded as %+v", other)
	}
	var bad plainParams
	if err := d.decode([]byte(`{"rate":"fast"}`), &bad); err == nil {
		t.Fatal("a wrong type decoded without error")
	}
	if err := d.decode([]byte(`{"rate":"fast"}`), &bad); err == nil {
		t.Fatal("a wrong type decoded without error the second time")
	}
}

// Types that cannot be shared are decoded afresh for each handler: one
// handler changing its slice does not reach another's.
func TestParamsDecoderUnshared(t *testing.T) {
	type listParams struct{ IDs []string }
	d := newParamsDecoder[listParams]()
	payload := []byte(`{"IDs":["a","b"]}`)
	var p1, p2 listParams
	if err := d.decode(payload, &p1); err != nil {
		t.Fatal(err)
	}
	p1.IDs[0] = "changed"
	if err := d.decode(payload, &p2); err != nil {
		t.Fatal(err)
	}
	if p2.IDs[0] != "a" {
		t.Fatalf("second handler saw %v", p2.IDs)
	}
}

// Large payloads are decoded each time and not kept.
func TestParamsDecoderKeepsNoLargePayload(t *testing.T) {
	d := newParamsDecoder[plainParams]()
	big := []byte(`{"boiler":"` + strings.Repeat("B", maxSharedParams) + `"}`)
	var p plainParams
	if err := d.decode(big, &p); err != nil {
		t.Fatal(err)
	}
	if len(p.Boiler) != maxSharedParams {
		t.Fatalf("decoded %d bytes of name", len(p.Boiler))
	}
	if last := d.shared.last.Load(); last != nil && len(last.payload) > maxSharedParams {
		t.Errorf("kept a %d-byte payload", len(last.payload))
	}
}

// Decoding through the shared cache, first and again, gives what
// json.Unmarshal gives: the same value, or an error from both.
func FuzzParamsDecoder(f *testing.F) {
	for _, s := range []string{`{"boiler":"B-1","rate":2.5}`, `{"levels":[1,2,3]}`, `{"inner":{"on":true}}`, `{"rate":"x"}`, `[]`, `null`, `{"boiler":"\u00e9"}`, `{`} {
		f.Add([]byte(s))
	}
	d := newParamsDecoder[plainParams]()
	f.Fuzz(func(t *testing.T, payload []byte) {
		var want plainParams
		werr := json.Unmarshal(payload, &want)
		for range 2 {
			var got plainParams
			err := d.decode(payload, &got)
			if (err == nil) != (werr == nil) || (err == nil && got != want) {
				t.Fatalf("decode(%q) = %+v, %v; json.Unmarshal gives %+v, %v", payload, got, err, want, werr)
			}
		}
	})
}
