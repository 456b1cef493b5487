package coord_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/greenlang/gl001/coord"
)

func TestLocalBusOverflowCounted(t *testing.T) {
	var logs syncBuffer
	b, err := coord.NewLocalBus(coord.LocalBusConfig{QueueSize: 4, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	release := make(chan struct{})
	busy := make(chan struct{})
	slow, err := b.Subscribe("plant.>", func(ctx context.Context, m coord.Message) {
		if m.Name == "first" {
			close(busy)
		}
		<-release
	})
	if err != nil {
		t.Fatal(err)
	}
	var releaseOnce sync.Once
	defer releaseOnce.Do(func() { close(release) }) // before Close waits for the handler
	ctx := context.Background()
	if err := b.Publish(ctx, "plant.temp", coord.Message{Name: "first"}); err != nil {
		t.Fatal(err)
	}
	<-busy // the slow handler holds the first message; its queue is empty
	for range 10 {
		if err := b.Publish(ctx, "plant.temp", coord.Message{}); err != nil {
			t.Fatal(err)
		}
	}
	st := slow.Stats()
	if st.Dropped != 6 || st.Pending != 4 || st.Delivered != 1 {
		t.Errorf("slow subscription stats = %+v, want 6 dropped, 4 pending, 1 delivered", st)
	}
	if bs := b.Stats(); bs.Dropped != 6 || bs.Subscriptions != 1 || bs.Published != 11 {
		t.Errorf("bus stats = %+v", bs)
	}
	releaseOnce.Do(func() { close(release) })
	// Drops are logged at powers of two: 1, 2 and 4.
	if n := bytes.Count(logs.Bytes(), []byte("queue full")); n != 3 {
		t.Errorf("%d drop warnings logged, want 3:\n%s", n, logs.Bytes())
	}
}

func TestSubjects(t *testing.T) {
	for _, tc := range []struct {
		s          string
		literal    bool
		subscribed bool
	}{
		{"a", true, true},
		{"gl001.agent.GL-002", true, true},
		{"a.*", false, true},
		{"a.>", false, true},
		{">", false, true},
		{"a.>.b", false, false},
		{"a..b", false, false},
		{"", false, false},
		{"a b", false, false},
		{".a", false, false},
		{"a.", false, false},
		{"a.b*", true, true}, // '*' inside a token is literal, as in NATS
	} {
		if got := coord.ValidSubject(tc.s, false) == nil; got != tc.literal {
			t.Errorf("ValidSubject(%q, false) ok = %v", tc.s, got)
		}
		if got := coord.ValidSubject(tc.s, true) == nil; got != tc.subscribed {
			t.Errorf("ValidSubject(%q, true) ok = %v", tc.s, got)
		}
	}
}

// matchReference is the obvious token-by-token definition MatchSubject must
// agree with.
func matchReference(pattern, subject string) bool {
	p, s := strings.Split(pattern, "."), strings.Split(subject, ".")
	for i, pt := range p {
		if pt == ">" {
			return i < len(s)
		}
		if i >= len(s) || (pt != "*" && pt != s[i]) {
			return false
		}
	}
	return len(p) == len(s)
}

func FuzzMatchSubject(f *testing.F) {
	f.Add("a.*.c", "a.b.c")
	f.Add("a.>", "a")
	f.Add(">", "x.y")
	f.Add("*", "a.b")
	f.Fuzz(func(t *testing.T, pattern, subject string) {
		if coord.ValidSubject(pattern, true) != nil || coord.ValidSubject(subject, false) != nil {
			return
		}
		if got, want := coord.MatchSubject(pattern, subject), matchReference(pattern, subject); got != want {
			t.Fatalf("MatchSubject(%q, %q) = %v, want %v", pattern, subject, got, want)
		}
		// The bus's trie agrees with MatchSubject.
		b, err := coord.NewLocalBus(coord.LocalBusConfig{})
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		if _, err := b.Subscribe(pattern, func(context.Context, coord.Message) {}); err != nil {
			t.Fatal(err)
		}
		_, err = b.Request(context.Background(), subject, coord.Message{Deadline: time.Now()})
		delivered := err == nil || !isNoResponders(err)
		if delivered != matchReference(pattern, subject) {
			t.Fatalf("bus delivery of %q to %q = %v", subject, pattern, delivered)
		}
	})
}

func isNoResponders(err error) bool { return errors.Is(err, coord.ErrNoResponders) }
