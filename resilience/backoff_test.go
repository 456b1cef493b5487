package resilience

import (
	"strings"
	"testing"
	"time"
)

func TestBackoffDefaults(t *testing.T) {
	b := Backoff{}.WithDefaults()
	want := Backoff{Initial: 500 * time.Millisecond, Max: 60 * time.Second, Multiplier: 2, Jitter: 0.2}
	if b != want {
		t.Fatalf("defaults = %+v, want %+v", b, want)
	}
}

func TestBackoffGrowsAndCaps(t *testing.T) {
	b := Backoff{Initial: 100 * time.Millisecond, Max: time.Second, Multiplier: 3, Jitter: -1}
	want := []time.Duration{100 * time.Millisecond, 300 * time.Millisecond, 900 * time.Millisecond, time.Second, time.Second}
	for n, w := range want {
		if got := b.Delay(n); got != w {
			t.Errorf("Delay(%d) = %v, want %v", n, got, w)
		}
	}
	if got := b.Delay(-3); got != 100*time.Millisecond {
		t.Errorf("Delay(-3) = %v, want Initial", got)
	}
	if got := b.Delay(1 << 30); got != time.Second {
		t.Errorf("Delay(huge) = %v, want Max", got)
	}
}

func TestBackoffJitterBounds(t *testing.T) {
	b := Backoff{Initial: time.Second, Max: time.Hour, Jitter: 0.25}.WithDefaults()
	for _, r := range []float64{0, 0.25, 0.5, 0.999999} {
		got := b.delay(2, r) // 4s ± 25%
		if got < 3*time.Second || got > 5*time.Second {
			t.Errorf("delay(2, %v) = %v, want within [3s, 5s]", r, got)
		}
	}
	if got := b.delay(2, 0); got != 3*time.Second {
		t.Errorf("delay with r=0 = %v, want 3s", got)
	}
	if got := b.delay(2, 0.5); got != 4*time.Second {
		t.Errorf("delay with r=0.5 = %v, want 4s", got)
	}
	// Jitter never lifts a delay above Max.
	capped := Backoff{Initial: time.Second, Max: time.Second, Jitter: 0.5}.WithDefaults()
	if got := capped.delay(0, 0.999999); got > time.Second {
		t.Errorf("jittered delay %v exceeds Max", got)
	}
	for range 1000 {
		if d := (Backoff{}).Delay(3); d < 3200*time.Millisecond || d > 4800*time.Millisecond {
			t.Fatalf("default Delay(3) = %v, want 4s ± 20%%", d)
		}
	}
}

func TestBackoffValidate(t *testing.T) {
	if err := (Backoff{}).Validate(); err != nil {
		t.Fatalf("zero Backoff: %v", err)
	}
	err := Backoff{Initial: -1, Max: -1, Multiplier: 0.5, Jitter: 2}.Validate()
	if err == nil {
		t.Fatal("want an error")
	}
	for _, want := range []string{"Initial", "Max", "Multiplier", "Jitter"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
	if err := (Backoff{Initial: time.Minute, Max: time.Second}).Validate(); err == nil || !strings.Contains(err.Error(), "below Initial") {
		t.Errorf("Max below Initial: got %v", err)
	}
	if err := (Backoff{Initial: 2 * time.Minute}).Validate(); err == nil {
		t.Error("Initial above the default Max: want an error")
	}
}

func TestBreakerConfigValidate(t *testing.T) {
	if err := (BreakerConfig{}).Validate(); err != nil {
		t.Fatal(err)
	}
	err := BreakerConfig{Delay: -1, SuccessThreshold: -1}.Validate()
	if err == nil || !strings.Contains(err.Error(), "Delay") || !strings.Contains(err.Error(), "SuccessThreshold") {
		t.Fatalf("got %v", err)
	}
	if (BreakerConfig{FailureThreshold: -1}).Enabled() {
		t.Error("negative FailureThreshold must disable the breaker")
	}
	d := BreakerConfig{}.WithDefaults()
	if d.FailureThreshold != 5 || d.Delay != 30*time.Second || d.SuccessThreshold != 1 {
		t.Errorf("defaults = %+v", d)
	}
	for s, want := range map[BreakerState]string{BreakerClosed: "closed", BreakerOpen: "open", BreakerHalfOpen: "half-open", 9: "BreakerState(9)"} {
		if s.String() != want {
			t.Errorf("%d.String() = %q, want %q", int(s), s.String(), want)
		}
	}
}
