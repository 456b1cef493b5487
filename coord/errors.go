package coord

import (
	"errors"
	"fmt"
)

// Sentinel errors. Bus implementations, the Coordinator and the Agent wrap them
// with %w, so callers test with errors.Is whatever the transport.
var (
	// ErrClosed is returned by calls on a Bus, Subscription, Coordinator or
	// Agent that is already closed. Not retryable on the same value.
	ErrClosed = errors.New("coord: closed")
	// ErrNoResponders is returned by Request when nothing is subscribed to the
	// subject (like nats.ErrNoResponders). Retry is safe once a responder is up.
	ErrNoResponders = errors.New("coord: no responders")
	// ErrTimeout is returned by Request when no reply came before the deadline.
	// The error also matches context.DeadlineExceeded. The responder may still
	// have acted on the message: retry only idempotent messages, with the same
	// CorrelationID so the responder can dedupe.
	ErrTimeout = errors.New("coord: timed out")
	// ErrBadSubject is returned for a malformed subject (empty token, space,
	// wildcard where a literal subject is needed). Not retryable.
	ErrBadSubject = errors.New("coord: bad subject")
	// ErrBadMessage marks a message that could not be decoded or lacks a
	// required field. It is counted and dropped; retrying the same input fails
	// the same way.
	ErrBadMessage = errors.New("coord: bad message")
	// ErrBadConfig is wrapped by every Config.Validate problem. Not retryable.
	ErrBadConfig = errors.New("coord: bad config")

	// ErrUnsigned: a message arrived without a signature where one is
	// required. Not retryable as is: sign it.
	ErrUnsigned = errors.New("coord: unsigned message")
	// ErrExpired: the signature's expiry has passed. Retry with a fresh message.
	ErrExpired = errors.New("coord: expired message")
	// ErrReplayed: a message with this sender and id was already accepted,
	// or was issued before the receiving Guard started, so that it may have
	// been. Retry with a new message id (keep the CorrelationID).
	ErrReplayed = errors.New("coord: replayed message")
	// ErrFuture: the message is dated ahead of the receiver's clock by more
	// than the tolerated skew. Retry once the clocks agree.
	ErrFuture = errors.New("coord: message dated in the future")
	// ErrReplayMemoryFull: the receiving Guard remembers as many live
	// message ids as it may, and refuses rather than forget one. Retry later
	// with a new message id: entries expire within minutes.
	ErrReplayMemoryFull = errors.New("coord: replay memory full")
	// ErrTampered: the signature does not verify, or the message does not
	// match what was signed. Not retryable: the message was altered or signed
	// with another key.
	ErrTampered = errors.New("coord: tampered message")

	// ErrDenied: the access-control policy does not let this sender issue this
	// command to this agent. Not retryable without a policy change.
	ErrDenied = errors.New("coord: denied")
	// ErrUnknownCommand: the agent has no handler for the command name. Not
	// retryable.
	ErrUnknownCommand = errors.New("coord: unknown command")
	// ErrUnknownAgent: the agent is not in the registry. Retry after it
	// registers.
	ErrUnknownAgent = errors.New("coord: unknown agent")
	// ErrUnreachable: the registry marks the agent unreachable (missed
	// heartbeats), so nothing was sent to it. Retry once it heartbeats again.
	ErrUnreachable = errors.New("coord: agent unreachable")
	// ErrHandler: the agent's handler returned an error. Whether a retry is
	// safe depends on the handler; handlers are required to be idempotent.
	ErrHandler = errors.New("coord: handler failed")
	// ErrNoTargets: a Command selected no agent (empty registry, no agent with
	// the capability). Retry after agents register.
	ErrNoTargets = errors.New("coord: no targets")
)

// Error codes carried by error replies (Message.Error.Code). ReplyError.Is maps
// them back onto the sentinels, so errors.Is(err, ErrDenied) matches a remote
// denial.
const (
	CodeDenied         = "denied"
	CodeUnknownCommand = "unknown_command"
	CodeBadMessage     = "bad_message"
	CodeUnsigned       = "unsigned"
	CodeExpired        = "expired"
	CodeReplayed       = "replayed"
	CodeFuture         = "future"
	CodeMemoryFull     = "replay_memory_full"
	CodeTampered       = "tampered"
	CodeHandler        = "handler"
)

var codeSentinels = map[string]error{
	CodeDenied:         ErrDenied,
	CodeUnknownCommand: ErrUnknownCommand,
	CodeBadMessage:     ErrBadMessage,
	CodeUnsigned:       ErrUnsigned,
	CodeExpired:        ErrExpired,
	CodeReplayed:       ErrReplayed,
	CodeFuture:         ErrFuture,
	CodeMemoryFull:     ErrReplayMemoryFull,
	CodeTampered:       ErrTampered,
	CodeHandler:        ErrHandler,
}

// ReplyError is the error an agent sends back instead of a result. It travels
// in Message.Error. Is matches the sentinel of its Code, so
// errors.Is(err, ErrDenied) holds for a denial from a remote agent.
type ReplyError struct {
	// Code is one of the Code constants, or an application code.
	Code string `json:"code"`
	// Message is the human-readable reason. Agents never put secrets in it.
	Message string `json:"message,omitempty"`
}

// Error implements error.
func (e *ReplyError) Error() string {
	if e.Message == "" {
		return "coord: remote error: " + e.Code
	}
	return "coord: remote error: " + e.Code + ": " + e.Message
}

// Is reports whether target is the sentinel of e's Code.
func (e *ReplyError) Is(target error) bool {
	s, ok := codeSentinels[e.Code]
	return ok && s == target
}

// replyErrorFor turns a local error into the ReplyError an agent sends back.
func replyErrorFor(err error) *ReplyError {
	var re *ReplyError
	if errors.As(err, &re) {
		return &ReplyError{Code: re.Code, Message: oneLine(re.Message)}
	}
	for code, s := range codeSentinels {
		if s != ErrHandler && errors.Is(err, s) {
			return &ReplyError{Code: code, Message: oneLine(err.Error())}
		}
	}
	return &ReplyError{Code: CodeHandler, Message: oneLine(err.Error())}
}

// VerifyError is returned by Guard.Check when a message is rejected. It wraps
// one of ErrUnsigned, ErrFuture, ErrExpired, ErrReplayed, ErrReplayMemoryFull
// or ErrTampered.
type VerifyError struct {
	Sender    string // Message.From as received (not trusted)
	MessageID string // Message.ID as received (not trusted)
	Err       error  // the sentinel, possibly joined with the verifier's cause
}

// Error implements error.
func (e *VerifyError) Error() string {
	return fmt.Sprintf("coord: message %q from %q rejected: %v", e.MessageID, e.Sender, e.Err)
}

// Unwrap returns the cause.
func (e *VerifyError) Unwrap() error { return e.Err }
