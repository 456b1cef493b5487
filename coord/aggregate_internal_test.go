package coord

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"testing"
)

func TestReduce(t *testing.T) {
	xs := []float64{4, 1, 3, 2}
	for a, want := range map[Aggregation]float64{Average: 2.5, Sum: 10, Min: 1, Max: 4, Median: 2.5} {
		if got := reduce(a, xs); got != want {
			t.Errorf("%v = %v, want %v", a, got, want)
		}
	}
	if got := reduce(Median, []float64{7}); got != 7 {
		t.Errorf("median of one = %v", got)
	}
	if xs[0] != 4 {
		t.Error("Median sorted the caller's slice")
	}
	if !math.IsNaN(reduce(All, xs)) {
		t.Error("All has no number")
	}
}

func TestMajority(t *testing.T) {
	raw := func(ss ...string) []json.RawMessage {
		var out []json.RawMessage
		for _, s := range ss {
			out = append(out, json.RawMessage(s))
		}
		return out
	}
	v, n := majority(raw(`{"a": 1}`, `"x"`, `{"a":1}`, `"x"`, `{ "a" : 1 }`))
	if string(v) != `{"a": 1}` || n != 3 {
		t.Errorf("majority = %s x%d (whitespace must not split votes)", v, n)
	}
	v, n = majority(raw(`"b"`, `"a"`, `"a"`, `"b"`))
	if string(v) != `"b"` || n != 2 {
		t.Errorf("tie = %s x%d, want the value seen first", v, n)
	}
	if v, n := majority(nil); v != nil || n != 0 {
		t.Error("majority of nothing")
	}
}

func TestValueField(t *testing.T) {
	if _, err := value(json.RawMessage(`[1]`), "x"); !errors.Is(err, ErrBadMessage) {
		t.Errorf("array with field: %v", err)
	}
	if _, err := value(nil, ""); !errors.Is(err, ErrBadMessage) {
		t.Errorf("empty: %v", err)
	}
	if v, err := value(json.RawMessage(`{"x": 2.5}`), "x"); err != nil || string(v) != "2.5" {
		t.Errorf("field: %s %v", v, err)
	}
	if _, err := number(json.RawMessage(`"3"`)); !errors.Is(err, ErrBadMessage) {
		t.Errorf("string as number: %v", err)
	}
}

func TestReplyErrorCodes(t *testing.T) {
	for code, s := range codeSentinels {
		re := replyErrorFor(s)
		if re.Code != code || !errors.Is(re, s) {
			t.Errorf("%v -> %+v", s, re)
		}
	}
	re := replyErrorFor(errors.New("line one\nline two"))
	if re.Code != CodeHandler || re.Message != "line one line two" {
		t.Errorf("plain error -> %+v", re)
	}
	orig := &ReplyError{Code: "custom", Message: "x\n"}
	if re := replyErrorFor(orig); re == orig || re.Message != "x" || orig.Message != "x\n" {
		t.Errorf("ReplyError not copied: %+v", re)
	}
}

func FuzzLookup(f *testing.F) {
	f.Add([]byte(`{"temp": 181.5, "status": "ok"}`), "temp")
	f.Add([]byte(`{"a":{"temp":[1,"}"]},"temp":"x\\"y","temp":2}`), "temp")
	f.Add([]byte(`{"te\\u006dp": true}`), "temp")
	f.Add([]byte(`[1,2]`), "0")
	f.Add([]byte(` { } `), "")
	f.Fuzz(func(t *testing.T, doc []byte, key string) {
		if !json.Valid(doc) {
			return
		}
		got, isObj := lookup(doc, key)
		var m map[string]json.RawMessage
		err := json.Unmarshal(doc, &m)
		if (err == nil) != isObj && !(err == nil && m == nil) {
			t.Fatalf("isObj = %v, encoding/json says %v", isObj, err)
		}
		if err != nil {
			return
		}
		want, ok := m[key]
		if ok != (got != nil) || (ok && !bytes.Equal(want, got)) {
			t.Fatalf("lookup(%s, %q) = %s, want %s (%v)", doc, key, got, want, ok)
		}
	})
}

// On valid JSON (the values number sees come from replies checked with
// json.Valid) number agrees with json.Unmarshal into a float64: the same
// value, or an error from both.
func FuzzNumber(f *testing.F) {
	for _, s := range []string{"1", "-2.5", " 3e2 ", "+1", "1_000", "0x10", "Inf", "NaN", "1e999", `"1"`, "", ".5", "1.", "-", "1e", "00", "true"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, v []byte) {
		if !json.Valid(v) {
			return
		}
		got, err := number(v)
		var want float64
		werr := json.Unmarshal(v, &want)
		if (err == nil) != (werr == nil) || (err == nil && got != want) {
			t.Fatalf("number(%q) = %v, %v; json.Unmarshal gives %v, %v", v, got, err, want, werr)
		}
	})
}
