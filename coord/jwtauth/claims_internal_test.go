package jwtauth

import (
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/greenlang/gl001/coord"
)

// claimsJSON must write exactly what json.Marshal writes whenever it claims
// to; otherwise appendClaims falls back to json.Marshal.
func TestClaimsJSONMatchesEncodingJSON(t *testing.T) {
	now := time.Now()
	for _, c := range []coord.Claims{
		{Sender: "GL-001", MessageID: "4K30GQ8GAQQ12se", IssuedAt: now, Expires: now.Add(time.Minute)},
		{Sender: "GL-042", MessageID: "x", Expires: now},
		{Sender: "", MessageID: ""},
		{Sender: "a<b>&c", MessageID: "q\"uote\\"},
		{Sender: "tab\there", MessageID: "é"},
		{Sender: "GL-001", MessageID: "1", IssuedAt: time.Unix(0, 1), Expires: time.Unix(1<<40, 0)},
		{Sender: "GL-001", MessageID: "1", IssuedAt: time.Unix(-5, 0), Expires: time.Unix(0, 500e6)},
	} {
		c.Digest[0], c.Digest[31] = 0xfb, 0xff
		want, err := json.Marshal(toJWT(c))
		if err != nil {
			t.Fatal(err)
		}
		got, ok := claimsJSON(nil, toJWT(c))
		if ok && string(got) != string(want) {
			t.Errorf("claimsJSON = %s, json.Marshal = %s", got, want)
		}
	}
	for _, f := range []float64{0, 1e-7, 1e21, -1e-7, math.MaxFloat64} {
		got, ok := claimsJSON(nil, &claims{Iat: f})
		want, _ := json.Marshal(&claims{Iat: f})
		if ok && string(got) != string(want) {
			t.Errorf("iat %v: claimsJSON = %s, json.Marshal = %s", f, got, want)
		}
	}
}

func FuzzClaimsJSON(f *testing.F) {
	f.Add("GL-001", "4K30GQ8GAQQ12se", 1.7e9, 1.7e9+60)
	f.Add("a<b", "\x00", 1e-7, 1e21)
	f.Fuzz(func(t *testing.T, iss, jti string, iat, exp float64) {
		j := &claims{Iss: iss, Jti: jti, Iat: iat, Exp: exp, Dig: "AAAA"}
		want, err := json.Marshal(j)
		got, ok := claimsJSON(nil, j)
		if ok && (err != nil || string(got) != string(want)) {
			t.Fatalf("claimsJSON = %s, json.Marshal = %s (%v)", got, want, err)
		}
	})
}

// parseClaims must agree with json.Unmarshal whenever it accepts, and accept
// everything claimsJSON writes.
func FuzzParseClaims(f *testing.F) {
	now := time.Now()
	for _, c := range []coord.Claims{
		{Sender: "GL-001", MessageID: "4K30GQ8GAQQ12se", IssuedAt: now, Expires: now.Add(time.Minute)},
		{Sender: "", MessageID: "", IssuedAt: time.Unix(-3, 0)},
	} {
		b, _ := claimsJSON(nil, toJWT(c))
		f.Add(b)
	}
	f.Add([]byte(`{"iss":"a","jti":"b","iat":01,"exp":1.,"dig":"x"}`))
	f.Add([]byte(`{"iss":"a\u0041","jti":"b","iat":1e3,"exp":-0,"dig":"x"} `))
	f.Fuzz(func(t *testing.T, b []byte) {
		var fast claims
		if !parseClaims(b, &fast) {
			return
		}
		var slow claims
		if err := json.Unmarshal(b, &slow); err != nil {
			t.Fatalf("parseClaims accepted what json.Unmarshal rejects (%v): %q", err, b)
		}
		if fast != slow {
			t.Fatalf("parseClaims = %+v, json.Unmarshal = %+v for %q", fast, slow, b)
		}
	})
}

func TestParseClaimsReadsWhatSignWrites(t *testing.T) {
	now := time.Now()
	c := coord.Claims{Sender: "GL-001", MessageID: "4K30GQ8GAQQ12se", IssuedAt: now, Expires: now.Add(time.Minute)}
	c.Digest[3] = 7
	b, ok := claimsJSON(nil, toJWT(c))
	if !ok {
		t.Fatal("claimsJSON refused ordinary claims")
	}
	var j claims
	if !parseClaims(b, &j) || j != *toJWT(c) {
		t.Fatalf("parseClaims(%s) = %+v", b, j)
	}
}
