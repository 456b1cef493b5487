package erp

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestTokenRefreshedBeforeExpiry(t *testing.T) {
	now := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	var fetches atomic.Int32
	a := &tokenAuth{refreshBefore: 60 * time.Second, now: func() time.Time { return now }}
	a.fetch = func(context.Context) (Token, error) {
		n := fetches.Add(1)
		return Token{AccessToken: "tok-" + string(rune('0'+n)), Expiry: now.Add(100 * time.Second)}, nil
	}
	tok := func() string {
		t.Helper()
		v, err := a.token(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return v.AccessToken
	}
	if tok() != "tok-1" {
		t.Fatal("first token")
	}
	// A 100 s token is replaced a quarter of its life (25 s) before it expires.
	now = now.Add(74 * time.Second)
	if tok() != "tok-1" || fetches.Load() != 1 {
		t.Error("token replaced too early")
	}
	now = now.Add(2 * time.Second)
	if tok() != "tok-2" {
		t.Error("token not replaced 24 s before expiry")
	}
	// A 401 with the current token drops it; one with an old token does not.
	req, _ := http.NewRequest("GET", "https://x", nil)
	req.Header.Set("Authorization", "Bearer tok-1")
	a.reject(req)
	if tok() != "tok-2" {
		t.Error("a stale rejection dropped the current token")
	}
	req.Header.Set("Authorization", "Bearer tok-2")
	a.reject(req)
	if tok() != "tok-3" {
		t.Error("a rejected token was reused")
	}
}

func TestOneTokenFetchAtATime(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{}, 16)
	var fetches atomic.Int32
	a := &tokenAuth{refreshBefore: time.Minute, now: time.Now}
	a.fetch = func(ctx context.Context) (Token, error) {
		fetches.Add(1)
		started <- struct{}{}
		select {
		case <-release:
			return Token{AccessToken: "shared", Expiry: time.Now().Add(time.Hour)}, nil
		case <-ctx.Done():
			return Token{}, ctx.Err()
		}
	}
	// The first caller gives up while fetching; a waiter must fetch for itself.
	ctx, cancel := context.WithCancel(context.Background())
	leaderDone := make(chan error, 1)
	go func() {
		_, err := a.token(ctx)
		leaderDone <- err
	}()
	<-started
	var wg sync.WaitGroup
	results := make(chan string, 8)
	for range 8 {
		wg.Go(func() {
			v, err := a.token(context.Background())
			if err != nil {
				t.Error(err)
			}
			results <- v.AccessToken
		})
	}
	cancel()
	if err := <-leaderDone; !errors.Is(err, context.Canceled) {
		t.Fatalf("leader: %v", err)
	}
	<-started // one waiter took over the fetch
	close(release)
	wg.Wait()
	close(results)
	for r := range results {
		if r != "shared" {
			t.Errorf("token %q", r)
		}
	}
	if n := fetches.Load(); n != 2 {
		t.Errorf("%d fetches, want 2 (the abandoned one and one shared by all waiters)", n)
	}
}
