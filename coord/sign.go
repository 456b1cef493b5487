package coord

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// Claims is what a message signature binds: the sender, the message id, the
// digest of the protected fields (see Digest) and the expiry.
type Claims struct {
	Sender    string
	MessageID string
	Digest    [32]byte
	IssuedAt  time.Time
	Expires   time.Time
}

// Signer turns claims into a signature token. coord/jwtauth implements it
// with JWT (HS256 from AGENT_JWT_SECRET, or EdDSA per agent). Implementations
// are safe for concurrent use.
type Signer interface {
	Sign(c Claims) (string, error)
}

// Verifier checks a token's signature and returns its claims. It does not
// judge expiry or replay: Guard does, so every Verifier behaves alike.
// Implementations are safe for concurrent use.
type Verifier interface {
	Verify(token string) (Claims, error)
}

// DefaultSignTTL is how long a signature stays valid when the message has no
// Deadline and the caller gives no TTL.
const DefaultSignTTL = time.Minute

// Seal signs m in place: it sets Time if zero, then Signature over Digest(m)
// with an expiry of m.Deadline, or Time+ttl when there is no deadline (ttl
// <= 0 means DefaultSignTTL). Seal last: any later change to a protected
// field makes the message fail verification as tampered.
func Seal(m *Message, s Signer, ttl time.Duration) error {
	if m.ID == "" || m.From == "" {
		return fmt.Errorf("%w: signing needs ID and From", ErrBadMessage)
	}
	if m.Time.IsZero() {
		m.Time = time.Now()
	}
	if ttl <= 0 {
		ttl = DefaultSignTTL
	}
	exp := m.Deadline
	if exp.IsZero() {
		exp = m.Time.Add(ttl)
	}
	tok, err := s.Sign(Claims{Sender: m.From, MessageID: m.ID, Digest: Digest(m), IssuedAt: m.Time, Expires: exp})
	if err != nil {
		return fmt.Errorf("coord: sign message %q: %w", m.ID, err)
	}
	m.Signature = tok
	return nil
}

// GuardConfig configures a Guard.
type GuardConfig struct {
	// Verifier checks signatures. Required.
	Verifier Verifier
	// Skew is the clock difference tolerated when judging expiry. Zero means
	// 2 s; use a negative value for none.
	Skew time.Duration
	// Now returns the current time. Nil means time.Now.
	Now func() time.Time
}

// Validate reports every problem in the configuration.
func (c GuardConfig) Validate() error {
	if c.Verifier == nil {
		return fmt.Errorf("%w: GuardConfig.Verifier is nil", ErrBadConfig)
	}
	return nil
}

// Guard is the receiving side of signing. Check accepts a message only if it
// is signed, the signature verifies, the signed claims match the message,
// the expiry has not passed and the (sender, id) pair was not accepted
// before. Rejections are typed (ErrUnsigned, ErrExpired, ErrReplayed,
// ErrTampered inside a *VerifyError) and counted.
//
// Remembered ids are kept until their signature expires, so memory grows
// with message rate times signature lifetime. Guard is safe for concurrent
// use: the Coordinator verifies replies from many agents in parallel.
type Guard struct {
	v     Verifier
	skew  time.Duration
	now   func() time.Time
	seeds [2]maphash.Seed
	seen  [16]replayShard

	accepted, unsigned, expired, replayed, tampered atomic.Uint64
}

// replayKey identifies a (sender, message id) pair by two independently
// seeded 64-bit hashes. The replay memory holds a minute or more of traffic,
// so it is kept free of pointers: the garbage collector need not scan it
// and nothing is allocated per message. A replay always has the same key, so
// a hash collision can never let one through; it could only refuse a fresh
// message, with odds around n²/2¹²⁹ for n remembered ids, and the seeds are
// random per Guard so collisions cannot be aimed.
type replayKey [2]uint64

type replayShard struct {
	mu       sync.Mutex
	ids      map[replayKey]int64 // expiry, Unix nanoseconds
	nextTrim int
}

// GuardStats counts Check outcomes.
type GuardStats struct {
	Accepted, Unsigned, Expired, Replayed, Tampered uint64
}

// NewGuard returns a Guard.
func NewGuard(cfg GuardConfig) (*Guard, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	switch {
	case cfg.Skew == 0:
		cfg.Skew = 2 * time.Second
	case cfg.Skew < 0:
		cfg.Skew = 0
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	g := &Guard{v: cfg.Verifier, skew: cfg.Skew, now: cfg.Now, seeds: [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()}}
	for i := range g.seen {
		g.seen[i].ids = make(map[replayKey]int64)
		g.seen[i].nextTrim = 1024
	}
	return g, nil
}

// Stats returns the counters.
func (g *Guard) Stats() GuardStats {
	return GuardStats{
		Accepted: g.accepted.Load(), Unsigned: g.unsigned.Load(), Expired: g.expired.Load(),
		Replayed: g.replayed.Load(), Tampered: g.tampered.Load(),
	}
}

// Check verifies m; see Guard. A nil error means m is authentic and fresh.
func (g *Guard) Check(m *Message) error {
	reject := func(n *atomic.Uint64, err error) error {
		n.Add(1)
		return &VerifyError{Sender: m.From, MessageID: m.ID, Err: err}
	}
	if m.Signature == "" {
		return reject(&g.unsigned, ErrUnsigned)
	}
	c, err := g.v.Verify(m.Signature)
	if err != nil {
		if errors.Is(err, ErrExpired) {
			return reject(&g.expired, err)
		}
		return reject(&g.tampered, fmt.Errorf("%w: %w", ErrTampered, err))
	}
	switch {
	case c.Sender != m.From:
		return reject(&g.tampered, fmt.Errorf("%w: signed by %q", ErrTampered, c.Sender))
	case c.MessageID != m.ID:
		return reject(&g.tampered, fmt.Errorf("%w: signature is for another message", ErrTampered))
	case c.Expires.IsZero():
		return reject(&g.tampered, fmt.Errorf("%w: signature has no expiry", ErrTampered))
	case c.Digest != Digest(m):
		return reject(&g.tampered, fmt.Errorf("%w: content does not match the signature", ErrTampered))
	}
	now := g.now()
	if now.After(c.Expires.Add(g.skew)) {
		return reject(&g.expired, fmt.Errorf("%w: expired at %s", ErrExpired, c.Expires.UTC().Format(time.RFC3339)))
	}
	if !g.remember(g.replayKey(m.From, m.ID), c.Expires.Add(g.skew), now) {
		return reject(&g.replayed, ErrReplayed)
	}
	g.accepted.Add(1)
	return nil
}

func (g *Guard) replayKey(sender, id string) replayKey {
	var k replayKey
	var h maphash.Hash
	for i, seed := range g.seeds {
		h.SetSeed(seed)
		var n [8]byte
		binary.LittleEndian.PutUint64(n[:], uint64(len(sender)))
		_, _ = h.Write(n[:]) // a maphash.Hash never fails
		_, _ = h.WriteString(sender)
		_, _ = h.WriteString(id)
		k[i] = h.Sum64()
	}
	return k
}

var maxUnixNano = time.Unix(0, math.MaxInt64)

// remember records key until exp; false if it is already recorded.
func (g *Guard) remember(key replayKey, exp, now time.Time) bool {
	s := &g.seen[key[0]%uint64(len(g.seen))]
	e, t := exp.UnixNano(), now.UnixNano()
	if exp.After(maxUnixNano) {
		e = math.MaxInt64 // UnixNano would wrap: keep it until the end of time
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if prev, ok := s.ids[key]; ok && t < prev {
		return false
	}
	s.ids[key] = e
	if len(s.ids) >= s.nextTrim {
		for k, e := range s.ids {
			if t > e {
				delete(s.ids, k)
			}
		}
		s.nextTrim = max(1024, 2*len(s.ids))
	}
	return true
}
