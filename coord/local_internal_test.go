package coord

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// An inline subscription runs in the publisher's goroutine: the message has
// been handled when Publish returns, wildcards match as for any
// subscription, and after Unsubscribe it sees nothing more.
func TestSubscribeInline(t *testing.T) {
	b, err := NewLocalBus(LocalBusConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	var got []string
	sub, err := b.subscribeInline("_INBOX.x.*", func(ctx context.Context, m Message) {
		if ctx.Err() != nil {
			t.Errorf("handler context already ended: %v", ctx.Err())
		}
		got = append(got, m.Subject+"="+m.ID)
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"1", "2"} {
		if err := b.Publish(context.Background(), "_INBOX.x.a", Message{ID: id}); err != nil {
			t.Fatal(err)
		}
		if n := len(got); n == 0 || got[n-1] != "_INBOX.x.a="+id {
			t.Fatalf("after Publish %s: handled %v", id, got)
		}
	}
	if err := b.Publish(context.Background(), "_INBOX.y.a", Message{ID: "3"}); err != nil {
		t.Fatal(err)
	}
	if st := sub.Stats(); st.Delivered != 2 || st.Pending != 0 || st.Dropped != 0 {
		t.Errorf("stats %+v, want 2 delivered", st)
	}
	if err := sub.Unsubscribe(); err != nil {
		t.Fatal(err)
	}
	if err := b.Publish(context.Background(), "_INBOX.x.a", Message{ID: "4"}); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Errorf("handled %v after Unsubscribe", got)
	}
	if err := sub.Unsubscribe(); !errors.Is(err, ErrClosed) {
		t.Errorf("second Unsubscribe: %v, want ErrClosed", err)
	}
}

// Close waits for inline handlers in progress, and a bus that is closed
// refuses inline subscriptions.
func TestSubscribeInlineClose(t *testing.T) {
	b, err := NewLocalBus(LocalBusConfig{})
	if err != nil {
		t.Fatal(err)
	}
	entered, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	if _, err := b.subscribeInline("in.>", func(context.Context, Message) {
		once.Do(func() { close(entered) })
		<-release
	}); err != nil {
		t.Fatal(err)
	}
	published := make(chan error, 1)
	go func() { published <- b.Publish(context.Background(), "in.a", Message{}) }()
	<-entered
	closed := make(chan error, 1)
	go func() { closed <- b.Close() }()
	select {
	case err := <-closed:
		t.Fatalf("Close returned (%v) while a handler ran", err)
	case <-time.After(20 * time.Millisecond):
	}
	close(release)
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	if err := <-published; err != nil {
		t.Fatal(err)
	}
	if _, err := b.subscribeInline("in.>", func(context.Context, Message) {}); !errors.Is(err, ErrClosed) {
		t.Errorf("subscribeInline after Close: %v, want ErrClosed", err)
	}
}

// Publishers call an inline handler concurrently; every message is handled
// exactly once.
func TestSubscribeInlineConcurrent(t *testing.T) {
	b, err := NewLocalBus(LocalBusConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	var mu sync.Mutex
	seen := map[string]int{}
	if _, err := b.subscribeInline("c.*", func(_ context.Context, m Message) {
		mu.Lock()
		seen[m.ID]++
		mu.Unlock()
	}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 100 {
				_ = b.Publish(context.Background(), "c.x", Message{ID: NewID()})
			}
		})
	}
	wg.Wait()
	if len(seen) != 400 {
		t.Fatalf("%d distinct messages handled, want 400", len(seen))
	}
	for id, n := range seen {
		if n != 1 {
			t.Fatalf("%q handled %d times", id, n)
		}
	}
}
