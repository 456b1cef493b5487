package resilience_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/greenlang/gl001/resilience"
)

func ExampleBackoff_Delay() {
	b := resilience.Backoff{Initial: time.Second, Max: 10 * time.Second, Jitter: -1} // no jitter, to print exact values
	for n := range 6 {
		fmt.Println(n, b.Delay(n))
	}
	// Output:
	// 0 1s
	// 1 2s
	// 2 4s
	// 3 8s
	// 4 10s
	// 5 10s
}

func ExampleRetry() {
	attempts := 0
	read := func(ctx context.Context) error {
		attempts++
		if attempts < 3 {
			return errors.New("slave device busy")
		}
		return nil
	}
	cfg := resilience.RetryConfig{MaxAttempts: 5, Backoff: resilience.Backoff{Initial: time.Millisecond, Max: 10 * time.Millisecond}}
	err := resilience.Retry(context.Background(), cfg, read)
	fmt.Println(err, "after", attempts, "attempts")

	err = resilience.Retry(context.Background(), cfg, func(context.Context) error { return errors.New("timeout") })
	var ex *resilience.ExceededError
	fmt.Println(errors.Is(err, resilience.ErrExceeded), errors.As(err, &ex) && ex.Attempts == 5)
	// Output:
	// <nil> after 3 attempts
	// true true
}

func ExampleSupervisor() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	attempts := 0
	s, err := resilience.NewSupervisor(resilience.SupervisorConfig{
		Name:    "boiler-1",
		Backoff: resilience.Backoff{Initial: time.Millisecond, Max: time.Millisecond},
		OnStateChange: func(st resilience.Status) {
			fmt.Printf("%s: %s (attempts %d, last error %q)\n", st.Name, st.State, st.Attempts, st.LastError)
			if st.State == resilience.StateConnected {
				cancel() // stop the example once connected
			}
		},
	}, func(ctx context.Context, connected func()) error {
		attempts++
		if attempts == 1 {
			return errors.New("dial tcp 10.0.0.7:502: connection refused")
		}
		connected()
		<-ctx.Done() // serve until told to stop
		return ctx.Err()
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("Run:", s.Run(ctx))
	// Output:
	// boiler-1: connecting (attempts 1, last error "")
	// boiler-1: backing off (attempts 1, last error "dial tcp 10.0.0.7:502: connection refused")
	// boiler-1: connecting (attempts 2, last error "dial tcp 10.0.0.7:502: connection refused")
	// boiler-1: connected (attempts 2, last error "dial tcp 10.0.0.7:502: connection refused")
	// boiler-1: stopped (attempts 2, last error "dial tcp 10.0.0.7:502: connection refused")
	// Run: context canceled
}

func ExampleRedact() {
	err := errors.New(`dial opc.tcp://operator:s3cret@10.0.0.5:4840: connection refused`)
	fmt.Println(resilience.Redact(err.Error()))
	fmt.Println(resilience.Redact("login with key K-77 failed", "K-77"))
	// Output:
	// dial opc.tcp://operator:xxxxx@10.0.0.5:4840: connection refused
	// login with key xxxxx failed
}
