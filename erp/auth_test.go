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

// TestSecretWaitHonoursContext: while one caller's provider call is slow, a
// second caller whose context ends must get its context's error instead of
// waiting for the first caller's provider.
func TestSecretWaitHonoursContext(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	var calls atomic.Int32
	s := &cachedSecret{p: SecretFunc(func(ctx context.Context) (string, error) {
		if calls.Add(1) == 1 {
			close(entered)
			<-release
		}
		return "k3y-value", nil
	})}
	first := make(chan error, 1)
	go func() {
		_, err := s.get(context.Background())
		first <- err
	}()
	<-entered

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	second := make(chan error, 1)
	go func() {
		_, err := s.get(ctx)
		second <- err
	}()
	waited := false
	select {
	case err := <-second:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("second caller: %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Error("a caller with an ended context waited for another caller's secret provider")
		waited = true
	}
	close(release)
	if err := <-first; err != nil {
		t.Fatalf("first caller: %v", err)
	}
	if waited {
		<-second
	}
	if v, err := s.get(context.Background()); err != nil || v != "k3y-value" || calls.Load() != 1 {
		t.Errorf("cached secret = %q, %v after %d provider calls; want one call", v, err, calls.Load())
	}
}
