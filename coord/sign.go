package coord

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
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

// MaxSignLifetime is the longest a signature is accepted for, counted from
// the message's Time: a few minutes beyond any sane clock skew, long enough
// for a message to cross a congested bus. [Seal] never signs a longer
// expiry, and a [Guard] treats a signature that claims one as expiring at
// Time+MaxSignLifetime (GuardConfig.MaxLifetime can only shorten it). A
// signature's lifetime bounds how long a captured message could be replayed,
// so it is not tied to the message's Deadline: a command due in an hour is
// still checked when it arrives, within seconds.
const MaxSignLifetime = 5 * time.Minute

// Seal signs m in place: it sets Time if zero, then Signature over Digest(m)
// with an expiry of m.Deadline, or Time+ttl when there is no deadline (ttl
// <= 0 means DefaultSignTTL), and never later than Time+MaxSignLifetime.
// Seal last: any later change to a protected field makes the message fail
// verification as tampered.
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
	if limit := m.Time.Add(MaxSignLifetime); exp.After(limit) {
		exp = limit
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
	// Skew is the clock difference tolerated when judging expiry and
	// messages dated ahead of the clock. Zero means DefaultSkew; use a
	// negative value for none. At most MaxSignLifetime.
	Skew time.Duration
	// MaxLifetime caps the accepted lifetime of a signature, from the
	// message's signed issue time: a longer expiry counts as ending there.
	// Zero means MaxSignLifetime, which is also the largest accepted value.
	MaxLifetime time.Duration
	// NotBefore refuses, as possible replays, messages issued before it: a
	// Guard remembers nothing from before it was built. Zero means the time
	// the Guard is built, to the microsecond (see Guard for what a restart
	// can and cannot reopen). A Verifier whose times are coarser than that
	// may see messages of the Guard's first tick refused.
	NotBefore time.Time
	// MaxRemembered bounds the replay memory, in messages. When it is full
	// of live entries, further messages are refused with ErrReplayMemoryFull
	// until entries expire (within MaxLifetime+2*Skew): the Guard refuses
	// rather than forget. Zero means DefaultMaxRemembered.
	MaxRemembered int
	// Now returns the current time. Nil means time.Now.
	Now func() time.Time
}

// Defaults of GuardConfig.
const (
	DefaultSkew          = 2 * time.Second
	DefaultMaxRemembered = 1 << 20 // about 50 MB at most
)

// Validate reports every problem in the configuration.
func (c GuardConfig) Validate() error {
	var errs []error
	if c.Verifier == nil {
		errs = append(errs, fmt.Errorf("%w: GuardConfig.Verifier is nil", ErrBadConfig))
	}
	if c.Skew > MaxSignLifetime {
		errs = append(errs, fmt.Errorf("%w: GuardConfig.Skew %v is above %v", ErrBadConfig, c.Skew, MaxSignLifetime))
	}
	if c.MaxLifetime < 0 || c.MaxLifetime > MaxSignLifetime {
		errs = append(errs, fmt.Errorf("%w: GuardConfig.MaxLifetime %v is outside [0, %v]", ErrBadConfig, c.MaxLifetime, MaxSignLifetime))
	}
	if c.MaxRemembered < 0 {
		errs = append(errs, fmt.Errorf("%w: GuardConfig.MaxRemembered %d is negative", ErrBadConfig, c.MaxRemembered))
	}
	return errors.Join(errs...)
}

// Guard is the receiving side of signing. Check accepts a message only if it
// is signed, the signature verifies, the signed claims match the message,
// it is not dated ahead of the clock by more than the skew, its expiry has
// not passed (a signature lives at most MaxLifetime from its issue time,
// whatever expiry it claims), it was issued after NotBefore, and the
// (sender, id) pair was not accepted before. Rejections are typed
// (ErrUnsigned, ErrFuture, ErrExpired, ErrReplayed, ErrReplayMemoryFull,
// ErrTampered inside a *VerifyError) and counted.
//
// # Replays and restarts
//
// The replay memory is kept in the process, not persisted. It does not need
// to be: an accepted (sender, id) is remembered until its signature can no
// longer be accepted (issue time + MaxLifetime + Skew), and a new Guard,
// after a restart, refuses every message issued before it was built
// (NotBefore), so a captured message is accepted at most once however often
// the receiver restarts. One case remains, bounded by the skew: a message
// dated ahead of the receiver's clock (by at most Skew) and accepted in the
// last Skew before a restart that took less than Skew. A receiver that must
// close that too sets NotBefore to its start plus Skew, refusing for that
// long the messages of senders whose clock is behind.
//
// Memory is bounded twice: entries live at most MaxLifetime+2*Skew, and
// there are at most MaxRemembered of them. Guard is safe for concurrent
// use: the Coordinator verifies replies from many agents in parallel.
type Guard struct {
	v         Verifier
	skew      time.Duration
	life      time.Duration
	notBefore time.Time
	maxShard  int // entries per shard
	now       func() time.Time
	seeds     [2]maphash.Seed
	seen      [16]replayShard

	accepted, unsigned, expired, replayed, tampered atomic.Uint64
	future, full                                    atomic.Uint64
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
	Future                                          uint64 // dated ahead of the clock by more than the skew
	Full                                            uint64 // refused because the replay memory was full
}

// NewGuard returns a Guard.
func NewGuard(cfg GuardConfig) (*Guard, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	switch {
	case cfg.Skew == 0:
		cfg.Skew = DefaultSkew
	case cfg.Skew < 0:
		cfg.Skew = 0
	}
	if cfg.MaxLifetime == 0 {
		cfg.MaxLifetime = MaxSignLifetime
	}
	if cfg.MaxRemembered == 0 {
		cfg.MaxRemembered = DefaultMaxRemembered
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.NotBefore.IsZero() {
		// At the microsecond precision of jwtauth's times, so that a
		// message signed in the Guard's first microsecond is not refused.
		cfg.NotBefore = cfg.Now().Truncate(time.Microsecond)
	}
	g := &Guard{
		v: cfg.Verifier, skew: cfg.Skew, life: cfg.MaxLifetime, notBefore: cfg.NotBefore, now: cfg.Now,
		seeds: [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()},
	}
	g.maxShard = max(1, (cfg.MaxRemembered+len(g.seen)-1)/len(g.seen))
	for i := range g.seen {
		g.seen[i].ids = make(map[replayKey]int64)
		g.seen[i].nextTrim = min(1024, g.maxShard)
	}
	return g, nil
}

// Stats returns the counters.
func (g *Guard) Stats() GuardStats {
	return GuardStats{
		Accepted: g.accepted.Load(), Unsigned: g.unsigned.Load(), Expired: g.expired.Load(),
		Replayed: g.replayed.Load(), Tampered: g.tampered.Load(), Future: g.future.Load(), Full: g.full.Load(),
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
	case c.IssuedAt.IsZero():
		return reject(&g.tampered, fmt.Errorf("%w: signature has no issue time", ErrTampered))
	case c.Digest != Digest(m):
		return reject(&g.tampered, fmt.Errorf("%w: content does not match the signature", ErrTampered))
	}
	now := g.now()
	if c.IssuedAt.After(now.Add(g.skew)) {
		return reject(&g.future, fmt.Errorf("%w: issued at %s", ErrFuture, c.IssuedAt.UTC().Format(time.RFC3339)))
	}
	exp := c.Expires
	if limit := c.IssuedAt.Add(g.life); exp.After(limit) {
		exp = limit
	}
	if now.After(exp.Add(g.skew)) {
		return reject(&g.expired, fmt.Errorf("%w: expired at %s", ErrExpired, exp.UTC().Format(time.RFC3339)))
	}
	if c.IssuedAt.Before(g.notBefore) {
		return reject(&g.replayed, fmt.Errorf("%w: issued before this guard started, at %s", ErrReplayed,
			c.IssuedAt.UTC().Format(time.RFC3339)))
	}
	switch g.remember(g.replayKey(m.From, m.ID), exp.Add(g.skew), now) {
	case seenBefore:
		return reject(&g.replayed, ErrReplayed)
	case memoryFull:
		return reject(&g.full, ErrReplayMemoryFull)
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

type rememberResult uint8

const (
	remembered rememberResult = iota
	seenBefore
	memoryFull
)

// remember records key until exp (never more than MaxLifetime+2*Skew ahead
// of now, as Check computes it). It reports seenBefore if key is recorded
// and live, and memoryFull if the key's shard holds its share of
// MaxRemembered live entries even after dropping the expired ones.
func (g *Guard) remember(key replayKey, exp, now time.Time) rememberResult {
	s := &g.seen[key[0]%uint64(len(g.seen))]
	e, t := exp.UnixNano(), now.UnixNano()
	s.mu.Lock()
	defer s.mu.Unlock()
	prev, ok := s.ids[key]
	if ok && t < prev {
		return seenBefore
	}
	if !ok && len(s.ids) >= s.nextTrim {
		for k, e := range s.ids {
			if t > e {
				delete(s.ids, k)
			}
		}
		s.nextTrim = min(max(1024, 2*len(s.ids)), g.maxShard)
		if len(s.ids) >= g.maxShard {
			return memoryFull
		}
	}
	s.ids[key] = e
	return remembered
}
