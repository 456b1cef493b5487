package resilience_test

import (
	"testing"
	"time"

	"github.com/greenlang/gl001/resilience"
)

func TestBreakerOpensAfterThresholdAndProbes(t *testing.T) {
	b, err := resilience.NewBreaker(resilience.BreakerConfig{FailureThreshold: 3, Delay: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if !b.Allow() {
			t.Fatalf("call %d refused while closed", i)
		}
		b.Failure()
	}
	if got := b.State(); got != resilience.BreakerOpen {
		t.Fatalf("state after 3 failures = %v, want open", got)
	}
	if b.Opens() != 1 || b.ConsecutiveFailures() != 3 {
		t.Fatalf("opens %d, failures %d; want 1 and 3", b.Opens(), b.ConsecutiveFailures())
	}
	// After the delay the breaker lets one probe through; a success closes it.
	deadline := time.Now().Add(10 * time.Second)
	for !b.Allow() {
		if time.Now().After(deadline) {
			t.Fatal("breaker never allowed a probe after its delay")
		}
		time.Sleep(time.Millisecond)
	}
	if b.Allow() {
		t.Fatal("a second probe was allowed while the first is out")
	}
	b.Success()
	if got := b.State(); got != resilience.BreakerClosed {
		t.Fatalf("state after a successful probe = %v, want closed", got)
	}
	if b.ConsecutiveFailures() != 0 {
		t.Fatalf("failures after success = %d", b.ConsecutiveFailures())
	}
}

func TestBreakerRefusesWhileOpen(t *testing.T) {
	b, err := resilience.NewBreaker(resilience.BreakerConfig{FailureThreshold: 1, Delay: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	b.Failure()
	if b.Allow() {
		t.Fatal("an open breaker allowed a call before its delay")
	}
}

func TestBreakerDisabledAllowsEverything(t *testing.T) {
	b, err := resilience.NewBreaker(resilience.BreakerConfig{FailureThreshold: -1})
	if err != nil {
		t.Fatal(err)
	}
	for range 100 {
		b.Failure()
	}
	if !b.Allow() || b.State() != resilience.BreakerClosed || b.Opens() != 0 {
		t.Fatal("a disabled breaker refused or opened")
	}
}

func TestNewBreakerRejectsBadConfig(t *testing.T) {
	if _, err := resilience.NewBreaker(resilience.BreakerConfig{Delay: -time.Second}); err == nil {
		t.Fatal("negative delay accepted")
	}
}
