package jwtauth_test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"go.uber.org/goleak"

	"github.com/greenlang/gl001/coord"
	"github.com/greenlang/gl001/coord/jwtauth"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var secret = []byte("0123456789abcdef0123456789abcdef-test-only")

func hs(t testing.TB) *jwtauth.HS256 {
	t.Helper()
	h, err := jwtauth.NewHS256(secret)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func guard(t testing.TB, v coord.Verifier, now func() time.Time) *coord.Guard {
	t.Helper()
	g, err := coord.NewGuard(coord.GuardConfig{Verifier: v, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func msg(from string) coord.Message {
	return coord.Message{
		ID: coord.NewID(), Type: coord.TypeCommand, From: from, To: "GL-042", Name: "set_firing_rate",
		CorrelationID: "cmd-1", Time: time.Now(), Payload: json.RawMessage(`{"percent":72.5}`),
	}
}

func sealed(t testing.TB, s coord.Signer, from string) coord.Message {
	t.Helper()
	m := msg(from)
	if err := coord.Seal(&m, s, time.Minute); err != nil {
		t.Fatal(err)
	}
	return m
}

func wantReject(t *testing.T, g *coord.Guard, m coord.Message, want error) {
	t.Helper()
	err := g.Check(&m)
	if !errors.Is(err, want) {
		t.Fatalf("Check = %v, want %v", err, want)
	}
	var ve *coord.VerifyError
	if !errors.As(err, &ve) || ve.MessageID != m.ID {
		t.Fatalf("Check error %T does not carry the message id", err)
	}
}

func TestHS256Guard(t *testing.T) {
	h := hs(t)
	now := time.Now()
	clock := func() time.Time { return now }
	g := guard(t, h, clock)

	good := sealed(t, h, "GL-001")
	if err := g.Check(&good); err != nil {
		t.Fatalf("fresh signed message rejected: %v", err)
	}
	wantReject(t, g, good, coord.ErrReplayed)

	unsigned := msg("GL-001")
	wantReject(t, g, unsigned, coord.ErrUnsigned)

	for name, change := range map[string]func(*coord.Message){
		"payload":     func(m *coord.Message) { m.Payload = json.RawMessage(`{"percent":100}`) },
		"to":          func(m *coord.Message) { m.To = "GL-043" },
		"name":        func(m *coord.Message) { m.Name = "shutdown" },
		"sender":      func(m *coord.Message) { m.From = "GL-002" },
		"id":          func(m *coord.Message) { m.ID = coord.NewID() },
		"deadline":    func(m *coord.Message) { m.Deadline = now.Add(time.Hour) },
		"error":       func(m *coord.Message) { m.Error = &coord.ReplyError{Code: "x"} },
		"signature":   func(m *coord.Message) { m.Signature = m.Signature[:len(m.Signature)-2] + "AA" },
		"garbage":     func(m *coord.Message) { m.Signature = "not-a-jwt" },
		"correlation": func(m *coord.Message) { m.CorrelationID = "cmd-2" },
	} {
		t.Run("tampered "+name, func(t *testing.T) {
			m := sealed(t, h, "GL-001")
			change(&m)
			wantReject(t, g, m, coord.ErrTampered)
		})
	}

	// Routing fields are not protected: a bus sets them.
	routed := sealed(t, h, "GL-001")
	routed.Subject, routed.ReplyTo, routed.Headers = "gl001.agent.GL-042", "_INBOX.x", map[string]string{"Trace-Id": "1"}
	if err := g.Check(&routed); err != nil {
		t.Fatalf("routing fields changed by the bus rejected: %v", err)
	}

	// Expiry, judged by the guard's clock with its skew (2 s default).
	old := sealed(t, h, "GL-001")
	now = now.Add(time.Minute + 3*time.Second)
	wantReject(t, g, old, coord.ErrExpired)

	other, err := jwtauth.NewHS256(bytes.Repeat([]byte("k"), 32))
	if err != nil {
		t.Fatal(err)
	}
	wantReject(t, g, sealed(t, other, "GL-001"), coord.ErrTampered)

	st := g.Stats()
	if st.Accepted != 2 || st.Replayed != 1 || st.Unsigned != 1 || st.Expired != 1 || st.Tampered != 11 {
		t.Errorf("stats = %+v", st)
	}
}

func TestAlgorithmConfusion(t *testing.T) {
	h := hs(t)
	pub, priv, _ := ed25519.GenerateKey(nil)
	ed, err := jwtauth.NewEdDSAVerifier(map[string]ed25519.PublicKey{"GL-001": pub})
	if err != nil {
		t.Fatal(err)
	}
	es, err := jwtauth.NewEdDSASigner(priv)
	if err != nil {
		t.Fatal(err)
	}
	// An HS256 token presented to the EdDSA verifier and the reverse.
	wantReject(t, guard(t, ed, nil), sealed(t, h, "GL-001"), coord.ErrTampered)
	wantReject(t, guard(t, h, nil), sealed(t, es, "GL-001"), coord.ErrTampered)

	// alg "none".
	m := msg("GL-001")
	none, err := jwt.NewWithClaims(jwt.SigningMethodNone, jwt.MapClaims{"iss": "GL-001", "jti": m.ID}).
		SignedString(jwt.UnsafeAllowNoneSignatureType)
	if err != nil {
		t.Fatal(err)
	}
	m.Signature = none
	wantReject(t, guard(t, h, nil), m, coord.ErrTampered)
}

func TestEdDSAPerAgent(t *testing.T) {
	keys := map[string]ed25519.PublicKey{}
	signers := map[string]*jwtauth.EdDSASigner{}
	for _, id := range []string{"GL-001", "GL-002"} {
		pub, priv, err := ed25519.GenerateKey(nil)
		if err != nil {
			t.Fatal(err)
		}
		keys[id] = pub
		if signers[id], err = jwtauth.NewEdDSASigner(priv); err != nil {
			t.Fatal(err)
		}
	}
	v, err := jwtauth.NewEdDSAVerifier(keys)
	if err != nil {
		t.Fatal(err)
	}
	g := guard(t, v, nil)
	m := sealed(t, signers["GL-002"], "GL-002")
	if err := g.Check(&m); err != nil {
		t.Fatalf("own key: %v", err)
	}
	// GL-002 signing as GL-001 with its own key.
	wantReject(t, g, sealed(t, signers["GL-002"], "GL-001"), coord.ErrTampered)
	// Unknown sender.
	_, priv, _ := ed25519.GenerateKey(nil)
	s3, _ := jwtauth.NewEdDSASigner(priv)
	m3 := sealed(t, s3, "GL-003")
	err = g.Check(&m3)
	if !errors.Is(err, coord.ErrTampered) || !errors.Is(err, jwtauth.ErrUnknownSender) {
		t.Fatalf("unknown sender = %v", err)
	}

	// Multi accepts both schemes.
	multi := guard(t, jwtauth.Multi{hs(t), v}, nil)
	for _, m := range []coord.Message{sealed(t, hs(t), "GL-009"), sealed(t, signers["GL-001"], "GL-001")} {
		if err := multi.Check(&m); err != nil {
			t.Errorf("Multi rejected %v", err)
		}
	}
}

func TestParallelVerify(t *testing.T) {
	h := hs(t)
	g := guard(t, h, nil)
	msgs := make([]coord.Message, 99)
	for i := range msgs {
		msgs[i] = sealed(t, h, "GL-001")
	}
	var wg sync.WaitGroup
	errs := make(chan error, 2*len(msgs))
	for range 2 { // each message twice: exactly one must be accepted
		for i := range msgs {
			wg.Go(func() {
				m := msgs[i]
				errs <- g.Check(&m)
			})
		}
	}
	wg.Wait()
	close(errs)
	var ok, replayed int
	for err := range errs {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, coord.ErrReplayed):
			replayed++
		default:
			t.Error(err)
		}
	}
	if ok != 99 || replayed != 99 {
		t.Errorf("accepted %d, replayed %d; want 99 and 99", ok, replayed)
	}
}

func TestConfigErrors(t *testing.T) {
	if _, err := jwtauth.NewHS256([]byte("short")); !errors.Is(err, jwtauth.ErrWeakSecret) {
		t.Errorf("short key: %v", err)
	}
	if _, err := jwtauth.NewEdDSASigner(nil); !errors.Is(err, jwtauth.ErrBadKey) {
		t.Errorf("nil EdDSA key: %v", err)
	}
	if _, err := jwtauth.NewEdDSAVerifier(map[string]ed25519.PublicKey{"a": {1}, "b": nil}); !errors.Is(err, jwtauth.ErrBadKey) {
		t.Errorf("bad public keys: %v", err)
	}
}

func TestFromEnv(t *testing.T) {
	t.Setenv(jwtauth.EnvSecret, "")
	if _, err := jwtauth.FromEnv(); !errors.Is(err, jwtauth.ErrNoSecret) {
		t.Errorf("unset: %v", err)
	}
	weak := "hunter2-weak"
	t.Setenv(jwtauth.EnvSecret, weak)
	_, err := jwtauth.FromEnv()
	if !errors.Is(err, jwtauth.ErrWeakSecret) {
		t.Errorf("weak: %v", err)
	}
	if err != nil && strings.Contains(err.Error(), weak) {
		t.Error("error message contains the secret")
	}
	t.Setenv(jwtauth.EnvSecret, string(secret))
	h, err := jwtauth.FromEnv()
	if err != nil {
		t.Fatal(err)
	}
	// Same key as NewHS256(secret): tokens interoperate.
	g := guard(t, hs(t), nil) // built first: a Guard refuses what was issued before it
	m := sealed(t, h, "GL-001")
	if err := g.Check(&m); err != nil {
		t.Errorf("token from FromEnv key rejected: %v", err)
	}
}

func FuzzVerify(f *testing.F) {
	h := hs(f)
	m := sealed(f, h, "GL-001")
	f.Add(m.Signature)
	f.Add("")
	f.Add("a.b.c")
	f.Add("eyJhbGciOiJIUzI1NiJ9.e30.")
	f.Fuzz(func(t *testing.T, tok string) {
		c, err := h.Verify(tok)
		if err != nil {
			return
		}
		// Only tokens this key signed verify; their claims round-trip.
		again, err := h.Sign(c)
		if err != nil {
			t.Fatalf("re-sign verified claims: %v", err)
		}
		if c2, err := h.Verify(again); err != nil || c2.Sender != c.Sender || c2.MessageID != c.MessageID || c2.Digest != c.Digest {
			t.Fatalf("claims do not round-trip: %+v vs %+v (%v)", c, c2, err)
		}
	})
}

func BenchmarkVerifyHS256(b *testing.B) {
	h := hs(b)
	m := sealed(b, h, "GL-001")
	for b.Loop() {
		if _, err := h.Verify(m.Signature); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyEdDSA(b *testing.B) {
	pub, priv, _ := ed25519.GenerateKey(nil)
	s, _ := jwtauth.NewEdDSASigner(priv)
	v, _ := jwtauth.NewEdDSAVerifier(map[string]ed25519.PublicKey{"GL-001": pub})
	m := sealed(b, s, "GL-001")
	for b.Loop() {
		if _, err := v.Verify(m.Signature); err != nil {
			b.Fatal(err)
		}
	}
}

// Tokens from the precomputed-header signer carry the header the library
// itself writes and verify with the library's own parser.
func TestSignMatchesLibrary(t *testing.T) {
	h := hs(t)
	m := msg("GL-001")
	if err := coord.Seal(&m, h, time.Minute); err != nil {
		t.Fatal(err)
	}
	claims := jwt.MapClaims{}
	tok, err := jwt.NewParser().ParseWithClaims(m.Signature, claims, func(*jwt.Token) (any, error) { return secret, nil })
	if err != nil {
		t.Fatal(err)
	}
	lib, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(secret)
	if err != nil {
		t.Fatal(err)
	}
	if a, b, _ := strings.Cut(m.Signature, "."); a != strings.Split(lib, ".")[0] || b == "" {
		t.Errorf("header segment %q, library writes %q", a, strings.Split(lib, ".")[0])
	}
	if tok.Header["alg"] != "HS256" || claims["iss"] != "GL-001" || claims["jti"] != m.ID {
		t.Errorf("header %v, claims %v", tok.Header, claims)
	}
}

func BenchmarkSignHS256(b *testing.B) {
	h := hs(b)
	m := msg("GL-001")
	for b.Loop() {
		if err := coord.Seal(&m, h, time.Minute); err != nil {
			b.Fatal(err)
		}
	}
}

// FuzzFastVerify checks that the fast path never accepts what the library's
// parser rejects, and returns the same claims when both accept.
func FuzzFastVerify(f *testing.F) {
	h := hs(f)
	m := sealed(f, h, "GL-001")
	f.Add(m.Signature)
	head, rest, _ := strings.Cut(m.Signature, ".")
	f.Add(head + "." + rest + "x")
	f.Add(head + ".e30." + strings.Split(rest, ".")[1])
	f.Add(head + "." + rest + ".")
	parser := jwt.NewParser(jwt.WithValidMethods([]string{"HS256"}), jwt.WithoutClaimsValidation())
	f.Fuzz(func(t *testing.T, tok string) {
		got, err := h.Verify(tok)
		c := jwt.MapClaims{}
		_, perr := parser.ParseWithClaims(tok, c, func(*jwt.Token) (any, error) { return secret, nil })
		if err == nil && perr != nil {
			t.Fatalf("accepted a token the library rejects (%v): %q", perr, tok)
		}
		if err == nil && (c["iss"] != got.Sender && !(c["iss"] == nil && got.Sender == "")) {
			t.Fatalf("claims differ: %v vs %+v", c, got)
		}
	})
}

func TestEdDSAFastPathKeyChoice(t *testing.T) {
	pubA, privA, _ := ed25519.GenerateKey(nil)
	pubB, _, _ := ed25519.GenerateKey(nil)
	v, _ := jwtauth.NewEdDSAVerifier(map[string]ed25519.PublicKey{"GL-001": pubA, "GL-002": pubB})
	sA, _ := jwtauth.NewEdDSASigner(privA)
	m := sealed(t, sA, "GL-001")
	if c, err := v.Verify(m.Signature); err != nil || c.Sender != "GL-001" {
		t.Fatalf("own key: %+v %v", c, err)
	}
	if _, err := v.Verify(sealed(t, sA, "GL-002").Signature); err == nil {
		t.Fatal("GL-001's key accepted for GL-002")
	}
}
