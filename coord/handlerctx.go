package coord

import (
	"context"
	"sync"
	"time"
)

// handlerCtx is the context a handler runs with: the subscription's context
// bounded by the message deadline. context.WithDeadline would arm a runtime
// timer for every message, which costs more than a typical handler; most
// handlers return long before the deadline without looking at Done, so the
// timer is armed only when a handler asks for Done or Err (or derives a
// context, which asks for Done). Deadline needs no timer.
//
// When the handler returns, end cancels the context as the deferred cancel of
// context.WithDeadline would: a goroutine the handler left behind sees Done
// closed and Err set to context.Canceled.
type handlerCtx struct {
	parent   context.Context
	deadline time.Time

	mu     sync.Mutex
	armed  context.Context // nil until Done, Err or Value needs it
	cancel context.CancelFunc
	ended  bool
}

func newHandlerCtx(parent context.Context, deadline time.Time) *handlerCtx {
	return &handlerCtx{parent: parent, deadline: deadline}
}

// ctx returns the armed context, arming it on first use.
func (c *handlerCtx) ctx() context.Context {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.armed == nil {
		if c.ended {
			// First use after the handler returned: already over.
			c.armed, c.cancel = context.WithCancel(c.parent)
			c.cancel()
		} else {
			c.armed, c.cancel = context.WithDeadline(c.parent, c.deadline)
		}
	}
	return c.armed
}

// end cancels the context; the handler has returned.
func (c *handlerCtx) end() {
	c.mu.Lock()
	c.ended = true
	cancel := c.cancel
	c.mu.Unlock()
	if cancel != nil {
		cancel()
	}
}

func (c *handlerCtx) Deadline() (time.Time, bool) {
	if d, ok := c.parent.Deadline(); ok && d.Before(c.deadline) {
		return d, true
	}
	return c.deadline, true
}

func (c *handlerCtx) Done() <-chan struct{} { return c.ctx().Done() }

func (c *handlerCtx) Err() error { return c.ctx().Err() }

// Value answers from the parent while nothing can have ended this context
// yet; otherwise from the armed context, so that context.Cause and derived
// contexts see this context's own cancellation.
func (c *handlerCtx) Value(key any) any {
	c.mu.Lock()
	idle := c.armed == nil && !c.ended
	c.mu.Unlock()
	if idle && time.Now().Before(c.deadline) {
		return c.parent.Value(key)
	}
	return c.ctx().Value(key)
}

func (c *handlerCtx) String() string { return "coord.handlerContext" }
