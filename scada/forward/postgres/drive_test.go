package postgres_test

import (
	"context"
	"fmt"

	"github.com/greenlang/gl001/scada/buffer"
	"github.com/greenlang/gl001/scada/forward"
)

// drive is the smallest loop that forwards a Buffer to a Target the way
// scada/forward.Forwarder does (Resume once, then Read, Send, Commit after
// the ack); the crash tests use it until that Forwarder is available here.
// It returns when the consumer has no lag left, or with the first error of
// Send. before, if set, runs before each Send.
func drive(ctx context.Context, buf buffer.Buffer, tg forward.Target, edge, consumer string, max int, before func(forward.Batch)) error {
	stream := forward.Stream{Edge: edge, Buffer: buf.ID()}
	if r, ok := tg.(forward.Resumer); ok {
		next, found, err := r.Resume(ctx, stream)
		if err != nil {
			return err
		}
		if found {
			if err := buf.Commit(ctx, consumer, next); err != nil {
				return fmt.Errorf("commit resumed offset %d: %w", next, err)
			}
		}
	}
	for {
		if lag(buf, consumer) == 0 {
			return nil
		}
		rb, err := buf.Read(ctx, consumer, max)
		if err != nil {
			return err
		}
		b := forward.Batch{Stream: stream, First: rb.First, Points: rb.Points}
		if before != nil {
			before(b)
		}
		if err := tg.Send(ctx, b); err != nil {
			return err
		}
		if err := buf.Commit(ctx, consumer, b.Next()); err != nil {
			return err
		}
	}
}

// lag returns how many points consumer has not committed; a consumer not
// known yet has all of them.
func lag(buf buffer.Buffer, consumer string) uint64 {
	st := buf.Stats()
	for _, c := range st.Consumers {
		if c.Name == consumer {
			return c.Lag
		}
	}
	return st.Points
}

func streamOf(buf buffer.Buffer, edge string) forward.Stream {
	return forward.Stream{Edge: edge, Buffer: buf.ID()}
}
