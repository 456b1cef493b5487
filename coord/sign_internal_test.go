package coord

import (
	"errors"
	"strconv"
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
// signed for the far future, and ids that share a prefix stay apart.
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
		tokens[m.Signature] = Claims{Sender: from, MessageID: id, Digest: Digest(m), Expires: exp}
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
