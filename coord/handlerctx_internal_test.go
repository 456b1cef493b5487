package coord

import (
	"context"
	"errors"
	"testing"
	"time"
)

type ctxKey struct{}

func TestHandlerCtxBehavesLikeWithDeadline(t *testing.T) {
	parent := context.WithValue(context.Background(), ctxKey{}, "v")

	t.Run("deadline and values without a timer", func(t *testing.T) {
		dl := time.Now().Add(time.Hour)
		c := newHandlerCtx(parent, dl)
		defer c.end()
		if d, ok := c.Deadline(); !ok || !d.Equal(dl) {
			t.Fatalf("Deadline = %v %v", d, ok)
		}
		if c.Value(ctxKey{}) != "v" {
			t.Fatal("parent value lost")
		}
		if c.armed != nil {
			t.Fatal("armed without Done or Err")
		}
		if c.Err() != nil {
			t.Fatalf("Err = %v before the deadline", c.Err())
		}
	})

	t.Run("expires at the deadline", func(t *testing.T) {
		c := newHandlerCtx(parent, time.Now().Add(20*time.Millisecond))
		defer c.end()
		select {
		case <-c.Done():
		case <-time.After(10 * time.Second):
			t.Fatal("Done not closed after the deadline")
		}
		if !errors.Is(c.Err(), context.DeadlineExceeded) || !errors.Is(context.Cause(c), context.DeadlineExceeded) {
			t.Fatalf("Err = %v, Cause = %v", c.Err(), context.Cause(c))
		}
	})

	t.Run("past deadline seen by Cause without Done", func(t *testing.T) {
		c := newHandlerCtx(parent, time.Now().Add(-time.Second))
		defer c.end()
		if !errors.Is(context.Cause(c), context.DeadlineExceeded) {
			t.Fatalf("Cause = %v", context.Cause(c))
		}
	})

	t.Run("derived contexts follow it", func(t *testing.T) {
		c := newHandlerCtx(parent, time.Now().Add(time.Hour))
		child, cancel := context.WithCancel(c)
		defer cancel()
		c.end()
		select {
		case <-child.Done():
		case <-time.After(10 * time.Second):
			t.Fatal("child not cancelled when the handler returned")
		}
		if child.Value(ctxKey{}) != "v" {
			t.Fatal("child lost the parent value")
		}
	})

	t.Run("cancelled when the handler returns, also if first used later", func(t *testing.T) {
		c := newHandlerCtx(parent, time.Now().Add(time.Hour))
		c.end()
		<-c.Done() // would block forever if not cancelled
		if !errors.Is(c.Err(), context.Canceled) {
			t.Fatalf("Err = %v after end", c.Err())
		}
	})

	t.Run("parent cancellation", func(t *testing.T) {
		p, cancel := context.WithCancel(parent)
		c := newHandlerCtx(p, time.Now().Add(time.Hour))
		defer c.end()
		cancel()
		<-c.Done()
		if !errors.Is(c.Err(), context.Canceled) {
			t.Fatalf("Err = %v", c.Err())
		}
	})

	t.Run("earlier parent deadline wins", func(t *testing.T) {
		pd := time.Now().Add(time.Minute)
		p, cancel := context.WithDeadline(parent, pd)
		defer cancel()
		c := newHandlerCtx(p, time.Now().Add(time.Hour))
		defer c.end()
		if d, _ := c.Deadline(); !d.Equal(pd) {
			t.Fatalf("Deadline = %v, want the parent's %v", d, pd)
		}
	})
}
