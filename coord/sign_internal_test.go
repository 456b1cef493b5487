package coord

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"
)

// issued is a Verifier that knows the claims of every token the test
// issued: the replay memory is what is under test, not signatures.
type issued map[string]Claims

func (v issued) Verify(tok string) (Claims, error) {
	c, ok := v[tok]
	if !ok {
		return Claims{}, ErrTampered
	}
	return c, nil
}

// TestReplayMemorySurvivesTrim checks that trimming the replay memory forgets
// only expired ids: replays of live messages stay rejected, including one
// that claims an expiry in the far future, and ids that share a prefix stay
// apart.
func TestReplayMemorySurvivesTrim(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	tokens := issued{}
	g, err := NewGuard(GuardConfig{Verifier: tokens, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	msg := func(from, id string, exp time.Time) *Message {
		m := &Message{ID: id, From: from}
		m.Signature = strconv.Itoa(len(tokens))
		tokens[m.Signature] = Claims{Sender: from, MessageID: id, Digest: Digest(m), IssuedAt: now, Expires: exp}
		return m
	}
	check := g.Check
	forever := time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)
	keep := []*Message{msg("GL-001", "far", forever), msg("GL-001", "soon", now.Add(time.Hour))}
	for _, m := range keep {
		if err := check(m); err != nil {
			t.Fatal(err)
		}
	}
	// Enough expired-by-then traffic to trim every shard several times.
	for i := range 40000 {
		if err := check(msg("GL-002", strconv.Itoa(i), now.Add(time.Second))); err != nil {
			t.Fatal(err)
		}
		if i == 20000 {
			now = now.Add(time.Minute) // the first half has expired
		}
	}
	for _, m := range keep {
		if err := check(m); !errors.Is(err, ErrReplayed) {
			t.Errorf("replay of %s after trimming: %v", m.ID, err)
		}
	}
	if err := check(msg("GL-00", "1x", forever)); err != nil {
		t.Errorf("(GL-00, 1x) mistaken for another pair: %v", err)
	}
	if err := check(msg("GL-001", "x", forever)); err != nil {
		t.Errorf("(GL-001, x): %v", err)
	}
	if err := check(msg("GL-0011", "", forever)); err != nil {
		t.Errorf("(GL-0011, \"\"): %v", err)
	}
}

// TestReplayMemoryIsBounded: with MaxRemembered live entries the Guard
// refuses further messages rather than forget one, and takes new ones again
// once entries expire; a claimed far-future expiry does not keep an entry
// past MaxLifetime+2*Skew.
func TestReplayMemoryIsBounded(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	tokens := issued{}
	g, err := NewGuard(GuardConfig{Verifier: tokens, MaxRemembered: 64, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	msg := func(id string) *Message {
		m := &Message{ID: id, From: "GL-001"}
		m.Signature = strconv.Itoa(len(tokens))
		tokens[m.Signature] = Claims{Sender: m.From, MessageID: id, Digest: Digest(m), IssuedAt: now,
			Expires: time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)}
		return m
	}
	var accepted []*Message
	full := 0
	for i := range 2000 {
		m := msg(strconv.Itoa(i))
		switch err := g.Check(m); {
		case err == nil:
			accepted = append(accepted, m)
		case errors.Is(err, ErrReplayMemoryFull):
			full++
		default:
			t.Fatal(err)
		}
	}
	if len(accepted) > 64 || full == 0 {
		t.Fatalf("accepted %d, refused %d as memory full; want at most 64 remembered", len(accepted), full)
	}
	n := 0
	for i := range g.seen {
		n += len(g.seen[i].ids)
	}
	if n > 64 {
		t.Errorf("%d entries remembered, MaxRemembered is 64", n)
	}
	for _, m := range accepted {
		if err := g.Check(m); !errors.Is(err, ErrReplayed) {
			t.Fatalf("replay of %s while memory full: %v", m.ID, err)
		}
	}
	if st := g.Stats(); st.Full != uint64(full) {
		t.Errorf("stats %+v, want Full %d", st, full)
	}
	// Past MaxLifetime plus the skew the far-future entries have expired.
	now = now.Add(MaxSignLifetime + 2*DefaultSkew + time.Second)
	if err := g.Check(msg("fresh")); err != nil {
		t.Errorf("after expiry: %v", err)
	}
	for _, m := range accepted[:1] {
		if err := g.Check(m); !errors.Is(err, ErrExpired) {
			t.Errorf("old message after expiry: %v", err)
		}
	}
}

func TestGuardConfigLimits(t *testing.T) {
	err := GuardConfig{Verifier: issued{}, MaxLifetime: time.Hour, Skew: time.Hour, MaxRemembered: -1}.Validate()
	for _, want := range []string{"MaxLifetime", "Skew", "MaxRemembered"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate: %v, want a %s problem", err, want)
		}
	}
}
