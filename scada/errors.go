package scada

import "errors"

// Sentinel errors shared by every Source. Protocol packages wrap them with %w,
// so callers test with errors.Is whatever the protocol.
var (
	// ErrClosed is returned by calls on something already closed. Not retryable.
	ErrClosed = errors.New("scada: closed")
	// ErrNotWritable is returned when a write targets a tag the configuration does
	// not mark writable. Not retryable: fix the configuration.
	ErrNotWritable = errors.New("scada: tag is not writable")
	// ErrUnknownTag is returned when a call names a tag the Source does not have.
	// Not retryable.
	ErrUnknownTag = errors.New("scada: unknown tag")
	// ErrConnection marks a failure of the connection itself (refused, reset,
	// timed out, session lost). Run returns errors that match it; the Collector
	// retries them with backoff.
	ErrConnection = errors.New("scada: connection failed")
	// ErrBadInput marks input from a device that could not be decoded (a malformed
	// payload, a wrong register count). The points around it are still delivered;
	// the bad input is counted. Retrying the same input fails the same way.
	ErrBadInput = errors.New("scada: bad input")
	// ErrPermanent marks a refusal that retrying cannot fix: credentials the
	// server rejects, an untrusted certificate, no endpoint or security policy
	// that matches, a configuration the device refuses. Run returns errors
	// that match it; the Collector shows the cause in health and retries only
	// slowly, in case an operator fixes the server side.
	ErrPermanent = errors.New("scada: refused permanently")
)
