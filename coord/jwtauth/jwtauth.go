package jwtauth

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"maps"
	"math"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/greenlang/gl001/coord"
)

// EnvSecret is the environment variable FromEnv reads the shared HS256 key
// from.
const EnvSecret = "AGENT_JWT_SECRET"

// MinSecretLen is the shortest HS256 key accepted, in bytes: the size of the
// SHA-256 output, as RFC 7518 section 3.2 requires.
const MinSecretLen = 32

var (
	// ErrNoSecret: AGENT_JWT_SECRET is unset or empty. Not retryable: set it.
	ErrNoSecret = errors.New("jwtauth: " + EnvSecret + " is not set")
	// ErrWeakSecret: the HS256 key is shorter than MinSecretLen bytes. Not
	// retryable: use a longer key.
	ErrWeakSecret = errors.New("jwtauth: HS256 key shorter than 32 bytes")
	// ErrBadKey: an EdDSA key is missing or has the wrong size. Not retryable.
	ErrBadKey = errors.New("jwtauth: bad key")
	// ErrUnknownSender: no EdDSA public key is registered for the token's
	// sender. The message is rejected as tampered. Retry after adding the key.
	ErrUnknownSender = errors.New("jwtauth: no key for sender")
)

// claims is the JWT body: iss = sender, jti = message id, iat and exp in
// seconds since the epoch (fractions allowed), and dig, the base64url SHA-256
// digest of the message's protected fields. It is flat rather than built on
// jwt.RegisteredClaims: decoding it is on the hot path of every message.
type claims struct {
	Iss string  `json:"iss"`
	Jti string  `json:"jti"`
	Iat float64 `json:"iat"`
	Exp float64 `json:"exp"`
	Dig string  `json:"dig"`
}

func numericDate(f float64) *jwt.NumericDate {
	if f == 0 {
		return nil
	}
	return jwt.NewNumericDate(toTime(f))
}

// toTime converts a NumericDate. The fraction is rounded to the microsecond:
// a float64 holds today's dates to about 0.2 µs, and truncating would turn
// the microsecond fromTime wrote into the nanosecond before it.
func toTime(f float64) time.Time {
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(math.Round(frac*1e6))*1e3)
}

func fromTime(t time.Time) float64 {
	if t.IsZero() {
		return 0
	}
	// Microseconds: a float64 holds them exactly for dates of this era, and
	// coord.Guard compares issue times with the time it started, so a
	// restart a millisecond after a message cannot make it look new.
	return float64(t.UnixMicro()) / 1e6
}

// The jwt.Claims methods. Claims validation is off (coord.Guard judges
// expiry), so these only serve the library's interface.
func (c *claims) GetExpirationTime() (*jwt.NumericDate, error) { return numericDate(c.Exp), nil }
func (c *claims) GetIssuedAt() (*jwt.NumericDate, error)       { return numericDate(c.Iat), nil }
func (c *claims) GetNotBefore() (*jwt.NumericDate, error)      { return nil, nil }
func (c *claims) GetIssuer() (string, error)                   { return c.Iss, nil }
func (c *claims) GetSubject() (string, error)                  { return "", nil }
func (c *claims) GetAudience() (jwt.ClaimStrings, error)       { return nil, nil }

func toJWT(c coord.Claims) *claims {
	return &claims{
		Iss: c.Sender,
		Jti: c.MessageID,
		Iat: fromTime(c.IssuedAt),
		Exp: fromTime(c.Expires),
		Dig: base64.RawURLEncoding.EncodeToString(c.Digest[:]),
	}
}

func fromJWT(j *claims) (coord.Claims, error) {
	c := coord.Claims{Sender: j.Iss, MessageID: j.Jti}
	if n, err := base64.RawURLEncoding.Decode(c.Digest[:], []byte(j.Dig)); err != nil || n != len(c.Digest) || len(j.Dig) != 43 {
		return coord.Claims{}, fmt.Errorf("jwtauth: malformed digest claim")
	}
	if j.Iat != 0 {
		c.IssuedAt = toTime(j.Iat)
	}
	if j.Exp != 0 {
		c.Expires = toTime(j.Exp)
	}
	return c, nil
}

// parse verifies the signature only; expiry and replay are coord.Guard's.
func parse(p *jwt.Parser, token string, key jwt.Keyfunc) (coord.Claims, error) {
	var j claims
	if _, err := p.ParseWithClaims(token, &j, key); err != nil {
		return coord.Claims{}, fmt.Errorf("jwtauth: %w", err)
	}
	return fromJWT(&j)
}

// HS256 signs and verifies with one shared secret (HMAC-SHA256). Every holder
// of the secret can sign as any sender; use EdDSA keys per agent when agents
// must not be able to speak for one another.
type HS256 struct {
	key    []byte
	parser *jwt.Parser
	macs   sync.Pool // *hs256State: HMAC keyed once, reset per use
}

// hs256State is a keyed HMAC-SHA256 and scratch space, reused across
// messages: keying an HMAC costs two SHA-256 blocks and allocations, which
// would be paid twice per message otherwise.
type hs256State struct {
	mac hash.Hash
	buf []byte
}

func (h *HS256) state() *hs256State {
	if st, ok := h.macs.Get().(*hs256State); ok {
		st.mac.Reset()
		return st
	}
	return &hs256State{mac: hmac.New(sha256.New, h.key), buf: make([]byte, 0, 512)}
}

// NewHS256 returns an HS256 signer and verifier. The key is copied.
func NewHS256(secret []byte) (*HS256, error) {
	if len(secret) < MinSecretLen {
		return nil, ErrWeakSecret
	}
	return &HS256{
		key:    append([]byte(nil), secret...),
		parser: jwt.NewParser(jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}), jwt.WithoutClaimsValidation()),
	}, nil
}

// FromEnv returns NewHS256 with the key in AGENT_JWT_SECRET. It reads the
// environment when called, never at package initialisation. Errors never
// contain the secret.
func FromEnv() (*HS256, error) {
	s := os.Getenv(EnvSecret)
	if s == "" {
		return nil, ErrNoSecret
	}
	return NewHS256([]byte(s))
}

// Sign implements coord.Signer. The token is the one
// jwt.SigningMethodHS256 would produce for the same header and claims.
func (h *HS256) Sign(c coord.Claims) (string, error) {
	st := h.state()
	defer h.macs.Put(st)
	b := append(st.buf[:0], hs256Header...)
	b = append(b, '.')
	var err error
	if b, err = appendClaims(b, c); err != nil {
		return "", err
	}
	st.mac.Write(b)
	var sum [sha256.Size]byte
	var tok strings.Builder
	tok.Grow(len(b) + 1 + base64.RawURLEncoding.EncodedLen(len(sum)))
	tok.Write(b)
	tok.WriteByte('.')
	enc := base64.RawURLEncoding.AppendEncode(b[len(b):], st.mac.Sum(sum[:0]))
	tok.Write(enc)
	st.buf = b[:0]
	return tok.String(), nil
}

// appendClaims appends the base64url segment of the claims of c: exactly
// json.Marshal(toJWT(c)), written without reflection when every string is
// plain ASCII that encoding/json leaves unescaped and every time is an
// ordinary date.
func appendClaims(b []byte, c coord.Claims) ([]byte, error) {
	j := toJWT(c)
	var stack [256]byte
	body, ok := claimsJSON(stack[:0], j)
	if !ok {
		var err error
		if body, err = json.Marshal(j); err != nil {
			return b, fmt.Errorf("jwtauth: %w", err)
		}
	}
	return base64.RawURLEncoding.AppendEncode(b, body), nil
}

// claimsJSON is the fast path of appendClaims; ok is false when it cannot
// be sure to match encoding/json byte for byte.
func claimsJSON(b []byte, j *claims) ([]byte, bool) {
	ok := true
	str := func(k, v string) {
		b = append(b, k...)
		for i := 0; i < len(v); i++ {
			if c := v[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
				ok = false
			}
		}
		b = append(b, '"')
		b = append(b, v...)
		b = append(b, '"')
	}
	num := func(k string, f float64) {
		b = append(b, k...)
		if a := math.Abs(f); math.IsNaN(f) || math.IsInf(f, 0) || (a != 0 && (a < 1e-6 || a >= 1e21)) {
			ok = false
		}
		b = strconv.AppendFloat(b, f, 'f', -1, 64)
	}
	str(`{"iss":`, j.Iss)
	str(`,"jti":`, j.Jti)
	num(`,"iat":`, j.Iat)
	num(`,"exp":`, j.Exp)
	str(`,"dig":`, j.Dig)
	b = append(b, '}')
	return b, ok
}

// The JOSE headers, encoded once: {"alg":...,"typ":"JWT"}, exactly what
// jwt.Token.SignedString would write.
var (
	hs256Header = segment(jwt.SigningMethodHS256)
	eddsaHeader = segment(jwt.SigningMethodEdDSA)
)

func segment(m jwt.SigningMethod) string {
	b, _ := json.Marshal(map[string]string{"alg": m.Alg(), "typ": "JWT"}) // strings: cannot fail
	return base64.RawURLEncoding.EncodeToString(b)
}

// sign builds the compact JWT around the library's signing method, with the
// header segment precomputed: signing runs for every message sent.
func sign(m jwt.SigningMethod, header string, key any, c coord.Claims) (string, error) {
	body, err := json.Marshal(toJWT(c))
	if err != nil {
		return "", fmt.Errorf("jwtauth: %w", err)
	}
	ss := header + "." + base64.RawURLEncoding.EncodeToString(body)
	sig, err := m.Sign(ss, key)
	if err != nil {
		return "", fmt.Errorf("jwtauth: %w", err)
	}
	return ss + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}

// Verify implements coord.Verifier.
func (h *HS256) Verify(token string) (coord.Claims, error) {
	if c, ok := h.fastVerify(token); ok {
		return c, nil
	}
	return parse(h.parser, token, func(*jwt.Token) (any, error) { return h.key, nil })
}

// fastVerify is fastVerify for HS256 with a pooled, already keyed HMAC: the
// same HMAC-SHA256 comparison jwt.SigningMethodHS256 makes, without keying a
// new HMAC per message. Any failure falls back to the parser (ok false).
func (h *HS256) fastVerify(token string) (coord.Claims, bool) {
	hd, rest, ok := strings.Cut(token, ".")
	if !ok || hd != hs256Header {
		return coord.Claims{}, false
	}
	payload, sig, ok := strings.Cut(rest, ".")
	if !ok || len(sig) != base64.RawURLEncoding.EncodedLen(sha256.Size) {
		return coord.Claims{}, false
	}
	st := h.state()
	defer h.macs.Put(st)
	b := append(st.buf[:0], sig...)
	var want [sha256.Size]byte
	if n, err := base64.RawURLEncoding.Decode(want[:], b); err != nil || n != len(want) {
		return coord.Claims{}, false
	}
	b = append(b[:0], token[:len(hd)+1+len(payload)]...)
	st.mac.Write(b)
	var got [sha256.Size]byte
	if !hmac.Equal(st.mac.Sum(got[:0]), want[:]) {
		return coord.Claims{}, false
	}
	// Decoded after the signing input, not over it.
	all, err := base64.RawURLEncoding.AppendDecode(b, b[len(hd)+1:])
	st.buf = all[:0]
	if err != nil {
		return coord.Claims{}, false
	}
	body := all[len(b):]
	var j claims
	if !parseClaims(body, &j) {
		if err := json.Unmarshal(body, &j); err != nil {
			return coord.Claims{}, false
		}
	}
	c, err := fromJWT(&j)
	return c, err == nil
}

// parseClaims reads claims in exactly the layout claimsJSON writes (keys in
// that order, plain ASCII strings, decimal numbers without exponent) without
// reflection; the claims are what json.Unmarshal would give. ok is false for
// anything else, which the caller hands to json.Unmarshal.
func parseClaims(b []byte, j *claims) bool {
	ok := true
	lit := func(s string) {
		if ok && len(b) >= len(s) && string(b[:len(s)]) == s {
			b = b[len(s):]
		} else {
			ok = false
		}
	}
	str := func(k string) string {
		lit(k)
		if !ok {
			return ""
		}
		for i := 0; i < len(b); i++ {
			switch c := b[i]; {
			case c == '"':
				v := string(b[:i])
				b = b[i+1:]
				return v
			case c < 0x20 || c > 0x7e || c == '\\':
				ok = false
				return ""
			}
		}
		ok = false
		return ""
	}
	num := func(k string) float64 {
		lit(k)
		if !ok {
			return 0
		}
		// -?(0|[1-9][0-9]*)(\.[0-9]+)?
		i := 0
		if i < len(b) && b[i] == '-' {
			i++
		}
		start := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == start || (b[start] == '0' && i > start+1) {
			ok = false
			return 0
		}
		if i < len(b) && b[i] == '.' {
			i++
			frac := i
			for i < len(b) && b[i] >= '0' && b[i] <= '9' {
				i++
			}
			if i == frac {
				ok = false
				return 0
			}
		}
		f, err := strconv.ParseFloat(string(b[:i]), 64)
		if err != nil {
			ok = false
			return 0
		}
		b = b[i:]
		return f
	}
	j.Iss = str(`{"iss":"`)
	j.Jti = str(`,"jti":"`)
	j.Iat = num(`,"iat":`)
	j.Exp = num(`,"exp":`)
	j.Dig = str(`,"dig":"`)
	lit("}")
	return ok && len(b) == 0
}

// fastVerify handles the common case of a token whose header segment is
// exactly the one this package writes, which pins the algorithm: it checks
// the signature with the library's signing method and decodes the flat
// claims, without the parser's generic header map. Any other token, and any
// failure, goes through the full jwt.Parser (ok false), so the outcome and
// the error are always the parser's.
func fastVerify(m jwt.SigningMethod, header string, key any, token string) (coord.Claims, bool) {
	h, rest, ok := strings.Cut(token, ".")
	if !ok || h != header {
		return coord.Claims{}, false
	}
	payload, sig, ok := strings.Cut(rest, ".")
	if !ok || strings.Contains(sig, ".") {
		return coord.Claims{}, false
	}
	rawSig, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || m.Verify(token[:len(h)+1+len(payload)], rawSig, key) != nil {
		return coord.Claims{}, false
	}
	body, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		return coord.Claims{}, false
	}
	var j claims
	if !parseClaims(body, &j) {
		if err := json.Unmarshal(body, &j); err != nil {
			return coord.Claims{}, false
		}
	}
	c, err := fromJWT(&j)
	return c, err == nil
}

// EdDSASigner signs as one agent with its Ed25519 private key.
type EdDSASigner struct {
	key ed25519.PrivateKey
}

// NewEdDSASigner returns a signer for the agent holding key.
func NewEdDSASigner(key ed25519.PrivateKey) (*EdDSASigner, error) {
	if len(key) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("%w: Ed25519 private key is %d bytes, want %d", ErrBadKey, len(key), ed25519.PrivateKeySize)
	}
	return &EdDSASigner{key: key}, nil
}

// Sign implements coord.Signer.
func (s *EdDSASigner) Sign(c coord.Claims) (string, error) {
	return sign(jwt.SigningMethodEdDSA, eddsaHeader, s.key, c)
}

// EdDSAVerifier verifies messages against the public key of the sender they
// claim (the iss claim), so one agent cannot sign as another. Verifying
// Ed25519 costs tens of microseconds: the Coordinator verifies replies in
// parallel.
type EdDSAVerifier struct {
	keys   map[string]ed25519.PublicKey
	parser *jwt.Parser
}

// NewEdDSAVerifier returns a verifier for the given senders' public keys. The
// map is copied.
func NewEdDSAVerifier(keys map[string]ed25519.PublicKey) (*EdDSAVerifier, error) {
	var errs []error
	for id, k := range keys {
		if len(k) != ed25519.PublicKeySize {
			errs = append(errs, fmt.Errorf("%w: public key of %q is %d bytes, want %d", ErrBadKey, id, len(k), ed25519.PublicKeySize))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return &EdDSAVerifier{
		keys:   maps.Clone(keys),
		parser: jwt.NewParser(jwt.WithValidMethods([]string{jwt.SigningMethodEdDSA.Alg()}), jwt.WithoutClaimsValidation()),
	}, nil
}

// Verify implements coord.Verifier.
func (v *EdDSAVerifier) Verify(token string) (coord.Claims, error) {
	if iss, ok := issuer(token); ok {
		if k, ok := v.keys[iss]; ok {
			if c, ok := fastVerify(jwt.SigningMethodEdDSA, eddsaHeader, k, token); ok && c.Sender == iss {
				return c, nil
			}
		}
	}
	return parse(v.parser, token, func(t *jwt.Token) (any, error) {
		c, ok := t.Claims.(*claims)
		if !ok {
			return nil, ErrUnknownSender
		}
		k, ok := v.keys[c.Iss]
		if !ok {
			return nil, fmt.Errorf("%w %q", ErrUnknownSender, c.Iss)
		}
		return k, nil
	})
}

// issuer reads the iss claim of a token without verifying it, to pick the
// key; the signature check that follows covers it.
func issuer(token string) (string, bool) {
	_, rest, ok := strings.Cut(token, ".")
	if !ok {
		return "", false
	}
	payload, _, ok := strings.Cut(rest, ".")
	if !ok {
		return "", false
	}
	body, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		return "", false
	}
	var j claims
	if parseClaims(body, &j) {
		return j.Iss, true
	}
	var iss struct {
		Iss string `json:"iss"`
	}
	if json.Unmarshal(body, &iss) != nil {
		return "", false
	}
	return iss.Iss, true
}

// Multi verifies with the first of several verifiers that accepts the token,
// for a fleet moving from the shared HS256 key to per-agent EdDSA keys.
type Multi []coord.Verifier

// Verify implements coord.Verifier.
func (m Multi) Verify(token string) (coord.Claims, error) {
	var errs []error
	for _, v := range m {
		c, err := v.Verify(token)
		if err == nil {
			return c, nil
		}
		errs = append(errs, err)
	}
	if len(errs) == 0 {
		return coord.Claims{}, errors.New("jwtauth: no verifier")
	}
	return coord.Claims{}, errors.Join(errs...)
}
