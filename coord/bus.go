package coord

import (
	"context"
	"fmt"
	"strings"
)

// Bus is subject-based messaging with request/reply, like NATS. Subjects are
// dot-separated tokens ("gl001.agent.GL-042"); a subscription may use "*" for
// exactly one token and a final ">" for one or more tokens.
//
// Implementations: NewLocalBus (in-process) and coord/natsbus (NATS). Both pass
// the conformance suite in coord/bustest. All methods are safe for concurrent
// use.
type Bus interface {
	// Publish sends m on subject (a literal subject, no wildcards). It does
	// not wait for subscribers: a slow subscriber never blocks a publisher.
	Publish(ctx context.Context, subject string, m Message) error
	// Subscribe calls h for every message on a subject matching the pattern,
	// one message at a time and in publication order per publisher. Messages
	// that arrive while the subscription's bounded queue is full are dropped
	// and counted (Subscription.Stats).
	Subscribe(subject string, h Handler) (Subscription, error)
	// Request publishes m with a fresh ReplyTo and returns the first reply.
	// It fails with ErrNoResponders when nothing is subscribed and with
	// ErrTimeout (also matching context.DeadlineExceeded) when the context
	// or the bus's default request timeout expires first.
	Request(ctx context.Context, subject string, m Message) (Message, error)
	// Close stops every subscription and fails pending requests. Later calls
	// return ErrClosed. Do not call Close from inside a Handler.
	Close() error
}

// Handler handles one delivered message. ctx is cancelled when the
// subscription ends. To answer a request, publish a TypeResponse message on
// m.ReplyTo. A Handler that blocks holds up only its own subscription.
type Handler func(ctx context.Context, m Message)

// Subscription is a live subscription.
type Subscription interface {
	// Subject returns the pattern subscribed to.
	Subject() string
	// Unsubscribe stops delivery; messages still queued are discarded. A
	// handler already running finishes. Later calls return ErrClosed.
	Unsubscribe() error
	// Stats returns the delivery counters.
	Stats() SubscriptionStats
}

// SubscriptionStats is a snapshot of one subscription's counters.
type SubscriptionStats struct {
	Delivered uint64 // messages handed to the handler
	Dropped   uint64 // messages dropped because the queue was full
	Pending   int    // messages queued now
}

// ValidSubject reports whether s is a well-formed subject. With wildcards
// false it must be literal (what Publish and Request take); with wildcards
// true "*" tokens and a final ">" are allowed (what Subscribe takes).
func ValidSubject(s string, wildcards bool) error {
	if s == "" {
		return fmt.Errorf("%w: empty", ErrBadSubject)
	}
	// One pass over the bytes: it runs on every Publish.
	tokStart := 0
	for i := 0; i <= len(s); i++ {
		if i < len(s) {
			switch s[i] {
			case '.':
			case ' ', '\t', '\r', '\n':
				return fmt.Errorf("%w: white space in %q", ErrBadSubject, s)
			default:
				continue
			}
		}
		tok := s[tokStart:i]
		switch {
		case tok == "":
			return fmt.Errorf("%w: empty token in %q", ErrBadSubject, s)
		case tok == "*" || tok == ">":
			if !wildcards {
				return fmt.Errorf("%w: wildcard in %q", ErrBadSubject, s)
			}
			if tok == ">" && i != len(s) {
				return fmt.Errorf("%w: '>' not last in %q", ErrBadSubject, s)
			}
		}
		tokStart = i + 1
	}
	return nil
}

// MatchSubject reports whether the literal subject matches pattern under the
// NATS rules: "*" matches one token, a final ">" one or more.
func MatchSubject(pattern, subject string) bool {
	for {
		pt, prest, pmore := strings.Cut(pattern, ".")
		st, srest, smore := strings.Cut(subject, ".")
		switch {
		case pt == ">":
			return st != ""
		case pt != "*" && pt != st:
			return false
		}
		if !pmore || !smore {
			return pmore == smore
		}
		pattern, subject = prest, srest
	}
}
