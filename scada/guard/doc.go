// Package guard is the write guard: what stands between whoever asks for a
// setpoint and the device that would take it.
//
// A [Guard] wraps a scada.Writer and a scada.Reader (usually one Source,
// or a Source and a [Latest] fed by its stream). Every write through
// [Guard.Apply] is
//
//   - permitted: a [Rule] list (path.Match patterns on requester and tag,
//     first match decides, no match refuses) says who may write which tag.
//     The requester is the authenticated identity of whoever asked, usually
//     the From of a coord message whose signature coord.Guard verified; this
//     package does not import coord, the rule shape is the same as
//     coord.Rule's;
//   - limited: each writable tag has [Limits]: a range, a maximum step from
//     the current value, a maximum rate of change, a minimum interval
//     between writes, and optionally a current quality that must be Good.
//     A tag without limits is not writable;
//   - serialised: writes of one tag run one after the other, each checked
//     against the state the previous one left;
//   - refused while the device is unreachable, never queued for later;
//   - confirmed: after the write the tag is read back (or the subscription
//     is awaited, through [Latest]) until it shows the value within the
//     tolerance, or the time limit passes and the write is reported
//     Unconfirmed;
//   - audited: one [Record] per attempt, allowed or refused (who, tag, old
//     value, requested value, result, read-back value, duration), to the
//     caller's *slog.Logger and to Config.OnAudit.
//
// Dry-run mode (Config.DryRun) checks and audits every write but sends
// nothing.
//
// # Acknowledging alarms
//
// Acknowledging or confirming an alarm changes the state of the plant's
// alarm system, so it goes through the same kind of guard: [Acks] wraps a
// scada.ConditionAcker (the Source that reported the alarm) and every
// [AckRequest] through [Acks.Apply] is permitted by the same [Rule] shape
// (the Tags patterns match the condition's id, its name or its source
// node), refused while the Source is unreachable ([ErrDisconnected],
// never queued), skipped in dry-run mode, and audited: one [AckRecord] per
// attempt (who, which action, which condition, the comment, the result).
// The results of an acknowledge are Accepted, DryRun, NotPermitted,
// NotCondition, Disconnected, Canceled and CallFailed; the errors are
// *[Error] values with Action set, matching [ErrNotPermitted],
// [ErrNotCondition], [ErrDisconnected], [ErrCanceled] or [ErrCallFailed].
//
// [Guard.As] gives a scada.Writer bound to one requester, for code that
// takes a Writer. [Latest] is a Sink that keeps each tag's last point, so
// the guard reads the current value and the read-back from a Source's
// stream (MQTT and Sparkplug have no read on demand). [History] keeps the
// latest audit records for a status page. Package scada/guard/guardtest is
// the suite every protocol's writer passes under the guard, and its RunAcks
// the suite of acknowledgements against a server with real alarms.
//
// # Errors
//
// Apply returns nil for a confirmed write (or a dry run that passed) and a
// *[Error] otherwise. Its Result names the reason and errors.Is matches one
// sentinel per reason: [ErrNotPermitted], [ErrNotConfigured],
// [ErrOutOfRange], [ErrStepTooLarge], [ErrRateTooHigh], [ErrTooSoon],
// [ErrBadQuality], [ErrDisconnected], [ErrNoCurrentValue],
// [ErrWriteFailed], [ErrUnconfirmed], [ErrCanceled]. Each sentinel's doc
// says whether a retry makes sense.
//
// # Guarantees
//
// At most one write per Apply call; none when any check fails, none in
// dry-run mode, none once the device is unreachable (the refusal is
// immediate: nothing waits for a reconnect). Exactly one audit record per
// call, emitted before Apply returns.
package guard
