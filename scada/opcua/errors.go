package opcua

import (
	"errors"
	"fmt"
	"strings"

	"github.com/gopcua/opcua/ua"
	"github.com/gopcua/opcua/uacp"

	"github.com/greenlang/gl001/scada"
)

// Sentinels of this package. Errors returned by a Source also match the
// scada sentinels (scada.ErrConnection, scada.ErrUnknownTag ...) where they fit.
var (
	// ErrNoData is the watchdog's verdict: neither data nor keep-alives arrived
	// within Config.NoDataTimeout, so the session is presumed dead although the
	// socket may still be open. Retry is safe: reconnecting rebuilds everything.
	ErrNoData = errors.New("opcua: no data or keep-alive within the timeout")
	// ErrSubscriptionLost reports that the server no longer has the
	// subscriptions (BadNoSubscription, BadSubscriptionIdInvalid, a lifetime
	// expiry). Retry is safe: reconnecting recreates them.
	ErrSubscriptionLost = errors.New("opcua: subscription lost")
	// ErrUntrustedServer reports a server certificate that does not verify
	// against Config.CAFile. Not retryable until the trust list changes: it
	// matches scada.ErrPermanent.
	ErrUntrustedServer error = refusal("opcua: server certificate not trusted")
	// ErrNoEndpoint reports that the server offers no endpoint with the
	// configured security policy, mode and authentication. Not retryable
	// until the configuration or the server changes: it matches
	// scada.ErrPermanent.
	ErrNoEndpoint error = refusal("opcua: no matching endpoint")
	// ErrRunning is returned by Run while another Run of the same Source is
	// active. Not retryable: one Source is one connection.
	ErrRunning = errors.New("opcua: source already running")
)

// refusal is a sentinel error that also matches scada.ErrPermanent.
type refusal string

func (r refusal) Error() string { return string(r) }

// Is matches scada.ErrPermanent.
func (r refusal) Is(target error) bool { return target == scada.ErrPermanent }

// StatusError is an OPC UA status code returned by the server for an
// operation. errors.Is matches another *StatusError with the same code (so
// errors.Is(err, &StatusError{Code: scada.BadNodeIDUnknown}) works),
// scada.ErrConnection for codes that mean the session or channel is gone, and
// scada.ErrPermanent for the server's refusals of who we are while connecting
// (see [StatusError.Is]).
type StatusError struct {
	Op   string        // the service, e.g. "Read", "Publish", "CreateMonitoredItems"; "Connect" and "GetEndpoints" while connecting
	Code scada.Quality // the status code, with OPC UA's numbering
}

// Error gives the operation, the code's name and description, and its value
// once, e.g. "opcua: Connect: BadUserAccessDenied: User does not have
// permission to perform the requested operation. (0x801F0000)".
func (e *StatusError) Error() string {
	c := ua.StatusCode(e.Code)
	d, ok := ua.StatusCodes[c]
	if !ok {
		d, ok = ua.StatusCodes[c&0xFFFF0000] // the code without its info bits
	}
	name := strings.TrimPrefix(d.Name, "Status") // gopcua's names are its Go identifiers
	switch {
	case !ok:
		return fmt.Sprintf("opcua: %s: status (0x%08X)", e.Op, uint32(c))
	case d.Text == "":
		return fmt.Sprintf("opcua: %s: %s (0x%08X)", e.Op, name, uint32(c))
	}
	return fmt.Sprintf("opcua: %s: %s: %s (0x%08X)", e.Op, name, d.Text, uint32(c))
}

// Is reports whether target is a *StatusError with the same code,
// scada.ErrConnection and the code means the connection is gone, or
// scada.ErrPermanent and the code is a refusal that retrying cannot fix
// returned while connecting: credentials (BadUserAccessDenied,
// BadIdentityTokenInvalid, BadIdentityTokenRejected, BadUserSignatureInvalid),
// certificates (BadCertificate..., BadSecurityChecksFailed,
// BadNoValidCertificates, BadApplicationSignatureInvalid), no matching
// policy (BadSecurityPolicyRejected, BadSecurityModeRejected) or a
// configuration the server rejects (BadTcpEndpointUrlInvalid,
// BadServerUriInvalid, BadProtocolVersionUnsupported, BadLicenseExpired,
// BadLicenseNotAvailable).
func (e *StatusError) Is(target error) bool {
	switch t := target.(type) {
	case *StatusError:
		return t.Code.Code() == e.Code.Code()
	}
	switch target {
	case scada.ErrConnection:
		return connectionCode(ua.StatusCode(e.Code))
	case scada.ErrPermanent:
		return (e.Op == opConnect || e.Op == opGetEndpoints) && permanentCode(ua.StatusCode(e.Code))
	}
	return false
}

// The operations of a StatusError while connecting.
const (
	opConnect      = "Connect"
	opGetEndpoints = "GetEndpoints"
)

// permanentCode reports whether a status code returned while connecting is
// a refusal that retrying with the same configuration cannot fix.
func permanentCode(c ua.StatusCode) bool {
	switch c & 0xFFFF0000 {
	case ua.StatusBadUserAccessDenied, ua.StatusBadIdentityTokenInvalid, ua.StatusBadIdentityTokenRejected,
		ua.StatusBadUserSignatureInvalid,
		ua.StatusBadCertificateInvalid, ua.StatusBadSecurityChecksFailed, ua.StatusBadCertificatePolicyCheckFailed,
		ua.StatusBadCertificateTimeInvalid, ua.StatusBadCertificateIssuerTimeInvalid, ua.StatusBadCertificateHostNameInvalid,
		ua.StatusBadCertificateURIInvalid, ua.StatusBadCertificateUseNotAllowed, ua.StatusBadCertificateIssuerUseNotAllowed,
		ua.StatusBadCertificateUntrusted, ua.StatusBadCertificateRevocationUnknown, ua.StatusBadCertificateIssuerRevocationUnknown,
		ua.StatusBadCertificateRevoked, ua.StatusBadCertificateIssuerRevoked, ua.StatusBadCertificateChainIncomplete,
		ua.StatusBadNoValidCertificates, ua.StatusBadApplicationSignatureInvalid,
		ua.StatusBadSecurityPolicyRejected, ua.StatusBadSecurityModeRejected,
		ua.StatusBadTCPEndpointURLInvalid, ua.StatusBadServerURIInvalid, ua.StatusBadProtocolVersionUnsupported,
		ua.StatusBadLicenseExpired, ua.StatusBadLicenseNotAvailable:
		return true
	}
	return false
}

// connectionCode reports whether a status code means the session or the
// secure channel is gone, so that only reconnecting helps.
func connectionCode(c ua.StatusCode) bool {
	switch c & 0xFFFF0000 {
	case ua.StatusBadSessionIDInvalid, ua.StatusBadSessionClosed, ua.StatusBadSessionNotActivated,
		ua.StatusBadSecureChannelIDInvalid, ua.StatusBadSecureChannelClosed, ua.StatusBadConnectionClosed,
		ua.StatusBadServerNotConnected, ua.StatusBadNotConnected, ua.StatusBadCommunicationError,
		ua.StatusBadServerHalted, ua.StatusBadShutdown, ua.StatusBadTCPInternalError,
		ua.StatusBadNoSubscription, ua.StatusBadSubscriptionIDInvalid, ua.StatusBadTooManySessions,
		ua.StatusBadSecurityChecksFailed, ua.StatusBadCertificateInvalid:
		return true
	}
	return false
}

// ConnError is what Run returns when the connection, the session or the
// subscriptions failed. It matches scada.ErrConnection, so the Collector
// reconnects with backoff; when the cause is a refusal that retrying cannot
// fix (a *StatusError while connecting, ErrNoEndpoint, ErrUntrustedServer,
// ErrCertificateURI) it matches scada.ErrPermanent too, and the Collector
// retries only slowly. It never contains a password.
type ConnError struct {
	Endpoint string
	Op       string // "dial", "session", "subscribe", "publish", "read", "watchdog" ...
	Err      error
}

func (e *ConnError) Error() string {
	return fmt.Sprintf("opcua: %s %s: %v", e.Op, e.Endpoint, e.Err)
}

// Unwrap returns the cause.
func (e *ConnError) Unwrap() error { return e.Err }

// Is matches scada.ErrConnection.
func (e *ConnError) Is(target error) bool { return target == scada.ErrConnection }

// TagError is a problem with one tag: the rest of the source keeps running.
// It matches scada.ErrUnknownTag for nodes the server does not know and
// scada.ErrBadInput for values that are not numeric; Unwrap gives the
// *StatusError when the server returned a status.
type TagError struct {
	Tag    string
	NodeID string
	Err    error
}

func (e *TagError) Error() string {
	return fmt.Sprintf("opcua: tag %s (%s): %v", e.Tag, e.NodeID, e.Err)
}

// Unwrap returns the cause.
func (e *TagError) Unwrap() error { return e.Err }

// Is matches scada.ErrUnknownTag when the server does not know the node.
func (e *TagError) Is(target error) bool {
	if target != scada.ErrUnknownTag {
		return false
	}
	var se *StatusError
	if errors.As(e.Err, &se) {
		switch se.Code.Code() {
		case scada.BadNodeIDUnknown, 0x80330000: // BadNodeIdInvalid
			return true
		}
	}
	return false
}

// statusErr turns an error from gopcua into a *StatusError when it is a
// status code (from a service fault or a transport ERR message), keeping
// other errors as they are.
func statusErr(op string, err error) error {
	var sc ua.StatusCode
	if errors.As(err, &sc) {
		return &StatusError{Op: op, Code: scada.Quality(sc)}
	}
	var te *uacp.Error
	if errors.As(err, &te) {
		return &StatusError{Op: op, Code: scada.Quality(te.ErrorCode)}
	}
	return fmt.Errorf("opcua: %s: %w", op, err)
}
