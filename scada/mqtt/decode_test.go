package mqtt_test

import (
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/greenlang/gl001/scada"
	"github.com/greenlang/gl001/scada/mqtt"
)

var received = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func msg(payload string) *mqtt.Message {
	return &mqtt.Message{Topic: "t", Payload: []byte(payload), Tag: "topic.tag", Unit: "sub-unit", Received: received}
}

func TestNumber(t *testing.T) {
	for in, want := range map[string]float64{"21.5": 21.5, " -3 \n": -3, "1e3": 1000, "true": 1, "false": 0, "0x1p4": 16} {
		pts, err := mqtt.Number{}.Decode(nil, msg(in))
		if err != nil || len(pts) != 1 || pts[0].Value != want || pts[0].Tag != "topic.tag" || pts[0].Unit != "sub-unit" || !pts[0].Quality.IsGood() {
			t.Errorf("%q: %v, %v", in, pts, err)
		}
	}
	for _, in := range []string{"", "  ", "abc", "1,5", "NaN-ish", "NaN", "+Inf", "1e999"} {
		if pts, err := (mqtt.Number{}).Decode(nil, msg(in)); err == nil || len(pts) != 0 {
			t.Errorf("%q: %v, %v; want an error", in, pts, err)
		}
	}
}

func TestJSONDecoder(t *testing.T) {
	def := mustJSON(t, mqtt.JSONConfig{})
	nested := mustJSON(t, mqtt.JSONConfig{Value: "d.v", Time: "d.t", Quality: "d.q", Unit: "d.u", Tag: "d.name"})
	listed := mustJSON(t, mqtt.JSONConfig{Points: "body.points", Value: "v"})
	ms := mustJSON(t, mqtt.JSONConfig{TimeUnit: time.Millisecond})
	for _, tc := range []struct {
		name    string
		dec     *mqtt.JSONDecoder
		payload string
		want    []scada.Point
		err     string
	}{
		{"bare value", def, `{"value": 1.5}`, []scada.Point{{Tag: "topic.tag", Value: 1.5, Unit: "sub-unit", Time: received}}, ""},
		{"all fields", def, `{"tag":"b1.temp","value":"451.5","unit":"degC","quality":"bad","timestamp":"2024-05-06T07:08:09.5Z","extra":[1,{"a":null}]}`,
			[]scada.Point{{Tag: "b1.temp", Value: 451.5, Unit: "degC", Quality: scada.Bad, Time: time.Date(2024, 5, 6, 7, 8, 9, 5e8, time.UTC)}}, ""},
		{"unix seconds", def, `{"value":1,"timestamp":1700000000}`, []scada.Point{{Tag: "topic.tag", Value: 1, Unit: "sub-unit", Time: time.Unix(1700000000, 0).UTC()}}, ""},
		{"unix ms", def, `{"value":1,"timestamp":1700000000123}`, []scada.Point{{Tag: "topic.tag", Value: 1, Unit: "sub-unit", Time: time.UnixMilli(1700000000123).UTC()}}, ""},
		{"unix ns", def, `{"value":1,"timestamp":1700000000123456789}`, []scada.Point{{Tag: "topic.tag", Value: 1, Unit: "sub-unit", Time: time.Unix(0, 1700000000123456789).UTC()}}, ""},
		{"configured unit", ms, `{"value":1,"timestamp":5}`, []scada.Point{{Tag: "topic.tag", Value: 1, Unit: "sub-unit", Time: time.UnixMilli(5).UTC()}}, ""},
		{"status code", def, `{"value":1,"quality":2156658688}`, []scada.Point{{Tag: "topic.tag", Value: 1, Unit: "sub-unit", Quality: scada.BadSensorFailure, Time: received}}, ""},
		{"hex status", def, `{"value":1,"quality":"0x80310000"}`, []scada.Point{{Tag: "topic.tag", Value: 1, Unit: "sub-unit", Quality: scada.BadNoCommunication, Time: received}}, ""},
		{"bool value and quality", def, `{"value":true,"quality":false}`, []scada.Point{{Tag: "topic.tag", Value: 1, Unit: "sub-unit", Quality: scada.Bad, Time: received}}, ""},
		{"null value is bad", def, `{"value":null}`, []scada.Point{{Tag: "topic.tag", Unit: "sub-unit", Quality: scada.BadNoData, Time: received}}, ""},
		{"escaped strings", def, `{"tag":"b\u00fc\"1","value":2,"unit":"m\/s"}`, []scada.Point{{Tag: "bü\"1", Value: 2, Unit: "m/s", Time: received}}, ""},
		{"nested paths", nested, `{"id":7,"d":{"name":"n1","v":-2.5e-3,"u":"bar","q":0,"t":1700000000},"v":99}`,
			[]scada.Point{{Tag: "n1", Value: -2.5e-3, Unit: "bar", Time: time.Unix(1700000000, 0).UTC()}}, ""},
		{"first key wins", def, `{"value":1,"value":2}`, []scada.Point{{Tag: "topic.tag", Value: 1, Unit: "sub-unit", Time: received}}, ""},
		{"array", def, ` [ {"tag":"a","value":1} , {"tag":"b","value":2} ] `,
			[]scada.Point{{Tag: "a", Value: 1, Unit: "sub-unit", Time: received}, {Tag: "b", Value: 2, Unit: "sub-unit", Time: received}}, ""},
		{"empty array", def, `[]`, nil, ""},
		{"points path", listed, `{"body":{"points":[{"tag":"x","v":1},{"v":2}]}}`,
			[]scada.Point{{Tag: "x", Value: 1, Unit: "sub-unit", Time: received}, {Tag: "topic.tag", Value: 2, Unit: "sub-unit", Time: received}}, ""},
		{"bad element kept out", def, `[{"tag":"a","value":1},{"tag":"b"},{"tag":"c","value":"x"},7,{"tag":"d","value":4}]`,
			[]scada.Point{{Tag: "a", Value: 1, Unit: "sub-unit", Time: received}, {Tag: "d", Value: 4, Unit: "sub-unit", Time: received}}, "3 bad array elements, first: element 1: no \"value\""},
		{"missing value", def, `{"v":1}`, nil, `no "value"`},
		{"object value", def, `{"value":{"x":1}}`, nil, "not a number"},
		{"bad quality", def, `{"value":1,"quality":"meh"}`, nil, "unknown quality"},
		{"bad time", def, `{"value":1,"timestamp":"yesterday"}`, nil, "RFC 3339"},
		{"negative time", def, `{"value":1,"timestamp":-5}`, nil, "Unix time"},
		{"overflow", def, `{"value":1e999}`, nil, "out of range"},
		{"not json", def, `value=1`, nil, "neither"},
		{"truncated", def, `{"value": 1`, nil, "unexpected end"},
		{"trailing data", def, `{"value":1} x`, []scada.Point{{Tag: "topic.tag", Value: 1, Unit: "sub-unit", Time: received}}, "after the JSON value"},
		{"bad number", def, `{"value":01}`, nil, "unexpected"},
		{"points not array", listed, `{"body":{"points":{}}}`, nil, "not an array"},
		{"points missing", listed, `{"body":{}}`, nil, "no \"body.points\""},
		{"deep nesting", def, `{"x":` + strings.Repeat("[", 300) + strings.Repeat("]", 300) + `,"value":1}`, nil, "nested too deeply"},
		{"control char", def, "{\"tag\":\"a\x01\",\"value\":1}", nil, "control character"},
		{"empty", def, ``, nil, "empty payload"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.dec.Decode(nil, msg(tc.payload))
			if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
				t.Fatalf("err = %v, want %q", err, tc.err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] && !(got[i].Time.Equal(tc.want[i].Time) && withoutTime(got[i]) == withoutTime(tc.want[i])) {
					t.Errorf("point %d = %+v, want %+v", i, got[i], tc.want[i])
				}
			}
		})
	}
}

func withoutTime(p scada.Point) scada.Point { p.Time = time.Time{}; return p }

func TestJSONConfigValidate(t *testing.T) {
	_, err := mqtt.NewJSONDecoder(mqtt.JSONConfig{Value: "a..b", Points: ".", TimeUnit: -1})
	if err == nil || strings.Count(err.Error(), "\n") != 2 {
		t.Fatalf("err = %v, want three problems", err)
	}
}

// The decoder agrees with encoding/json on what is valid JSON.
func FuzzJSONDecoder(f *testing.F) {
	for _, s := range []string{`{"value":1}`, `[{"tag":"a","value":2,"timestamp":1700000000000,"quality":"good","unit":"C"}]`,
		`{"value":"3","timestamp":"2024-01-01T00:00:00Z"}`, `{"value":null,"x":[1,2,{"y":"\u00e9"}]}`, `[1,"a",{}]`, `{"value":1e308}`} {
		f.Add([]byte(s))
	}
	dec, err := mqtt.NewJSONDecoder(mqtt.JSONConfig{})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		m := &mqtt.Message{Topic: "t", Payload: payload, Tag: "tag", Received: received}
		pts, err := dec.Decode(nil, m)
		for _, p := range pts {
			if math.IsNaN(p.Value) || math.IsInf(p.Value, 0) {
				t.Fatalf("non-finite value from %q", payload)
			}
			if p.Tag == "" {
				t.Fatalf("empty tag from %q", payload)
			}
		}
		if err == nil && !json.Valid(payload) {
			t.Fatalf("accepted invalid JSON %q", payload)
		}
		if err != nil && len(pts) == 0 && errors.Is(err, nil) {
			t.Fatal("unreachable")
		}
	})
}

func FuzzNumber(f *testing.F) {
	for _, s := range []string{"1", " 2.5 ", "true", "-1e-9", "x"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		pts, err := mqtt.Number{}.Decode(nil, &mqtt.Message{Payload: payload, Tag: "t"})
		if err == nil && len(pts) != 1 || err != nil && len(pts) != 0 {
			t.Fatalf("%q: %v, %v", payload, pts, err)
		}
	})
}
