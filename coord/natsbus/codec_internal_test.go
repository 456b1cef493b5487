package natsbus

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/greenlang/gl001/coord"
)

// validValue is the one-pass form of this definition.
func validValueRef(v string) bool {
	return !strings.ContainsAny(v, "\r\n") && strings.TrimSpace(v) == v
}

func FuzzValidValue(f *testing.F) {
	for _, s := range []string{"", "GL-001", " a", "a ", "a\tb", "a\r", "\n", "\u00a0x", "x\u0085", "é", "\v", "a\fb"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		if got, want := validValue(v), validValueRef(v); got != want {
			t.Fatalf("validValue(%q) = %v, want %v", v, got, want)
		}
	})
}

// A reused encoder carries nothing of the previous message into the next:
// not its application headers, error, signature or times.
func TestEncoderReuse(t *testing.T) {
	now := time.Now()
	first := coord.Message{
		ID: "1", Type: coord.TypeResponse, From: "GL-042", To: "GL-001", Name: "boiler_load",
		CorrelationID: "c1", Time: now, Deadline: now.Add(time.Second), Headers: map[string]string{"Trace": "t1"},
		Error: &coord.ReplyError{Code: "handler", Message: "boom"}, Signature: "sig", Payload: []byte(`{"a":1}`),
	}
	second := coord.Message{ID: "2", Type: coord.TypeEvent, From: "GL-043", Payload: []byte(`{"b":2}`)}
	var e encoder
	if err := e.encode("s.one", &first); err != nil {
		t.Fatal(err)
	}
	e.reset()
	if len(e.msg.Header) != 0 || e.msg.Data != nil || e.msg.Subject != "" {
		t.Fatalf("reset left %+v", e.msg)
	}
	if err := e.encode("s.two", &second); err != nil {
		t.Fatal(err)
	}
	got, err := Decode(&e.msg)
	if err != nil {
		t.Fatal(err)
	}
	second.Subject = "s.two"
	if !reflect.DeepEqual(got, second) {
		t.Fatalf("decoded %+v\nwant    %+v", got, second)
	}
	if len(e.msg.Header) != 3 { // Coord-Id, Coord-Type, Coord-From
		t.Errorf("headers %v", e.msg.Header)
	}
}
