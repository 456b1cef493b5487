package guard

import (
	"errors"
	"fmt"

	"github.com/greenlang/gl001/scada"
)

// Result is the outcome of one write attempt, as the audit [Record] and a
// *[Error] carry it.
type Result uint8

// The outcomes of a write attempt. Confirmed and DryRun are successes; every
// other result is a refusal (nothing was written) except WriteFailed and
// Unconfirmed, which come after the write was sent.
const (
	Confirmed      Result = iota + 1 // written and read back within tolerance
	DryRun                           // every check passed; dry-run mode wrote nothing
	NotPermitted                     // no rule lets the requester write the tag
	NotConfigured                    // the guard has no limits for the tag
	OutOfRange                       // the value is outside [Min, Max] (or NaN, Inf)
	StepTooLarge                     // the change from the current value exceeds MaxStep
	RateTooHigh                      // the change since the last write is faster than MaxRate
	TooSoon                          // the last write of the tag is less than MinInterval ago
	BadQuality                       // the current value is not Good and the limits need it
	Disconnected                     // the device cannot be reached: nothing is queued
	NoCurrentValue                   // the current value could not be read
	WriteFailed                      // the device refused the write
	Unconfirmed                      // written, but the read-back did not show the value in time
	Canceled                         // ctx ended before the write's turn came
	// The outcomes only an acknowledge or confirm (see [Acks]) has.
	Accepted     // the server accepted the acknowledge or confirm
	NotCondition // the event is not a condition's (no Condition, no condition or event id)
	CallFailed   // the server refused the acknowledge or confirm
)

var resultNames = [...]string{
	Confirmed: "confirmed", DryRun: "dry_run", NotPermitted: "not_permitted",
	NotConfigured: "not_configured", OutOfRange: "out_of_range", StepTooLarge: "step_too_large",
	RateTooHigh: "rate_too_high", TooSoon: "too_soon", BadQuality: "bad_quality",
	Disconnected: "disconnected", NoCurrentValue: "no_current_value", WriteFailed: "write_failed",
	Unconfirmed: "unconfirmed", Canceled: "canceled",
	Accepted: "accepted", NotCondition: "not_condition", CallFailed: "call_failed",
}

// String returns the result's name, e.g. "out_of_range"; the audit log
// carries it.
func (r Result) String() string {
	if int(r) < len(resultNames) && resultNames[r] != "" {
		return resultNames[r]
	}
	return fmt.Sprintf("result(%d)", uint8(r))
}

// OK reports whether the attempt succeeded (Confirmed, Accepted or DryRun).
func (r Result) OK() bool { return r == Confirmed || r == DryRun || r == Accepted }

// Written reports whether the write (or the acknowledge or confirm call)
// was sent to the device.
func (r Result) Written() bool {
	return r == Confirmed || r == WriteFailed || r == Unconfirmed || r == Accepted || r == CallFailed
}

// Sentinels, one per refusal reason: errors.Is(err, guard.ErrOutOfRange)
// tells the reasons apart whatever the protocol. Every error [Guard.Apply]
// returns is a *[Error] that matches exactly one of them.
var (
	// ErrNotPermitted: no permission rule lets the requester write the tag,
	// or the request names no requester. Not retryable.
	ErrNotPermitted = errors.New("guard: write not permitted")
	// ErrNotConfigured: the guard has no limits for the tag, so it refuses to
	// write it. It also matches scada.ErrNotWritable. Not retryable.
	ErrNotConfigured = errors.New("guard: no limits configured for the tag")
	// ErrOutOfRange: the value is outside the tag's range, or not a number.
	// Not retryable with the same value.
	ErrOutOfRange = errors.New("guard: value out of range")
	// ErrStepTooLarge: the value is too far from the current value. Approach
	// it in smaller steps.
	ErrStepTooLarge = errors.New("guard: step from the current value too large")
	// ErrRateTooHigh: the value would change the tag faster than allowed
	// since its last write. Retryable later.
	ErrRateTooHigh = errors.New("guard: rate of change too high")
	// ErrTooSoon: the tag was written less than its minimum interval ago.
	// Retryable later.
	ErrTooSoon = errors.New("guard: too soon after the last write")
	// ErrBadQuality: the tag's current value is not Good, and the limits
	// require it (RequireGood, or a MaxStep that needs a trustworthy current
	// value). Retryable once the device reports Good again.
	ErrBadQuality = errors.New("guard: current quality is not good")
	// ErrDisconnected: the device cannot be reached, so the write is refused
	// now; it is never queued for later. It also matches
	// scada.ErrConnection. Usually found before the write, and then nothing
	// was sent; when the connection failed while the write was being sent
	// (Record.Detail says so), the device may have taken it. Retryable
	// after the connection is back, once the tag reads as expected.
	ErrDisconnected = errors.New("guard: device disconnected, write refused")
	// ErrNoCurrentValue: the current value could not be read for another
	// reason than the connection. Not retryable without a fix.
	ErrNoCurrentValue = errors.New("guard: current value unreadable")
	// ErrWriteFailed: the device refused the write (a Bad status, an
	// exception, a broker's refusal). The device's error is wrapped.
	// Retrying the same write fails the same way.
	ErrWriteFailed = errors.New("guard: write failed")
	// ErrUnconfirmed: the write was sent but the read-back did not show the
	// value within the tolerance and time limit: the device did not confirm.
	// Do not retry blindly; the device may be in local control.
	ErrUnconfirmed = errors.New("guard: device did not confirm the write")
	// ErrCanceled: the context ended while the write waited for an earlier
	// write of the same tag. It also matches the context's error. Nothing
	// was written.
	ErrCanceled = errors.New("guard: canceled before the write")
	// ErrNotCondition: an acknowledge or confirm names an event that is not
	// a condition's, or lacks the condition id or the event id the server
	// needs. Not retryable.
	ErrNotCondition = errors.New("guard: not a condition's event")
	// ErrCallFailed: the server refused the acknowledge or confirm (the
	// state is already acknowledged, the event id is stale, the condition
	// does not support confirm). The server's error is wrapped. Retrying
	// the same request fails the same way; acknowledge the newest event of
	// the condition instead.
	ErrCallFailed = errors.New("guard: acknowledge or confirm refused")
)

var sentinels = [...]error{
	NotPermitted: ErrNotPermitted, NotConfigured: ErrNotConfigured, OutOfRange: ErrOutOfRange,
	StepTooLarge: ErrStepTooLarge, RateTooHigh: ErrRateTooHigh, TooSoon: ErrTooSoon,
	BadQuality: ErrBadQuality, Disconnected: ErrDisconnected, NoCurrentValue: ErrNoCurrentValue,
	WriteFailed: ErrWriteFailed, Unconfirmed: ErrUnconfirmed, Canceled: ErrCanceled,
	NotCondition: ErrNotCondition, CallFailed: ErrCallFailed,
}

// Error is what [Guard.Apply] returns when a write is refused or not
// confirmed, and what [Acks] returns when an acknowledge or confirm is
// refused or fails: the Result says why, Detail says it in words (no
// secrets), and Err is the underlying error, if any (the device's refusal,
// a connection error, ctx.Err()). errors.Is matches the Result's sentinel
// and, through Err, the underlying error.
type Error struct {
	Result Result
	// Action is what was attempted: empty for a write, "acknowledge" or
	// "confirm" for [Acks].
	Action string
	// Tag is the tag written, or the condition id acknowledged.
	Tag       string
	Requester string
	Detail    string
	Err       error
}

func (e *Error) Error() string {
	action := e.Action
	if action == "" {
		action = "write"
	}
	s := fmt.Sprintf("guard: %s %q by %q: %s", action, e.Tag, e.Requester, e.Result)
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// Is matches the sentinel of e.Result, and scada.ErrNotWritable for
// NotConfigured, scada.ErrConnection for Disconnected.
func (e *Error) Is(target error) bool {
	if int(e.Result) < len(sentinels) && sentinels[e.Result] != nil && target == sentinels[e.Result] {
		return true
	}
	switch e.Result {
	case NotConfigured:
		return target == scada.ErrNotWritable
	case Disconnected:
		return target == scada.ErrConnection
	}
	return false
}
