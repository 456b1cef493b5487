package main

import (
	"context"
	"errors"
	"fmt"
)

// part is one long-running piece of the orchestrator: the SCADA ingest, the
// buffer consumer, one ERP poller, the coordination rounds, the status
// server, the terminal summary. Run blocks until ctx ends or the part fails,
// and returns why; a part stopped by its context returns nil or ctx's error.
type part struct {
	name string
	run  func(ctx context.Context) error
}

// runParts is the one owner of the parts' lifetimes. It starts the parts in
// order, each on its own goroutine under its own context, and waits until
// ctx ends or a part fails. Then it stops them in the reverse order: a part
// is cancelled only once every part started after it has returned. So what
// is started first (the agents, the buffer's consumer) outlives what
// depends on it (the rounds, the ingest that feeds the consumer), and the
// final summary, started last, is taken while everything still runs.
//
// It returns the errors of the parts that failed, each named; a part that
// returns after its own cancellation has not failed.
func runParts(ctx context.Context, parts []part) error {
	type running struct {
		part
		cancel context.CancelFunc
		done   chan struct{}
		err    error
	}
	failed := make(chan struct{}, len(parts))
	rs := make([]*running, len(parts))
	for i, p := range parts {
		// The parts see ctx's values but not its cancellation: the runner
		// decides when each one stops.
		pctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		r := &running{part: p, cancel: cancel, done: make(chan struct{})}
		rs[i] = r
		go func() {
			defer close(r.done)
			r.err = p.run(pctx)
			if pctx.Err() == nil && r.err != nil {
				failed <- struct{}{}
			}
		}()
	}
	select {
	case <-ctx.Done():
	case <-failed:
	}
	var errs []error
	for i := len(rs) - 1; i >= 0; i-- {
		r := rs[i]
		r.cancel()
		<-r.done
		if r.err != nil && !errors.Is(r.err, context.Canceled) {
			errs = append(errs, fmt.Errorf("%s: %w", r.name, r.err))
		}
	}
	return errors.Join(errs...)
}
