// Package buffertest is the conformance suite every buffer.Buffer passes:
// the memory and disk buffers of this module, and any Buffer written
// elsewhere (over another store).
//
// A buffer runs it from a test with a [Harness] that opens it:
//
//	func TestConformance(t *testing.T) {
//		buffertest.TestBuffer(t, buffertest.Harness{
//			Open: func(t *testing.T, store string, cfg buffertest.Config) (buffer.Buffer, error) {
//				return mybuffer.Open(store, cfg.MaxAge, cfg.MaxBytes, cfg.Now, cfg.OnDrop)
//			},
//			Features: buffertest.Features{Persistent: true},
//		})
//	}
//
// Every check is also an exported function, TestXxx(t, h), so that one can
// run alone. [Features] says what a buffer can do beyond the basic contract:
// keep its log across Close and Open, and have faults injected into its store
// (for a disk buffer: a flipped byte, a deleted file ...), after which the
// suite checks the promise that nothing is lost silently: every point is
// either read back unchanged at its offset or reported dropped, once; offsets
// are never given out twice; a consumer's cursor never moves back.
//
// A buffer that also keeps events (buffer.EventLog) sets Features.Events,
// and the suite runs [TestEventLog] on it too: every field of an event
// back, bad events refused and counted, per-consumer event cursors
// independent of the point cursors, blocking reads, concurrent appenders,
// retention by age and bytes reported like points, and (Persistent) the
// event log surviving a reopen.
package buffertest
