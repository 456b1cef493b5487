// Package tlsrefusal tells a TLS handshake that a peer refused (a
// certificate, a version, a handshake it does not accept) from a connection
// that merely failed. The protocol packages mark the former as
// scada.ErrPermanent: retrying cannot fix it until a certificate or the
// configuration changes.
package tlsrefusal

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"strings"
)

// alerts are the TLS alerts (as Go prints them) that say a peer refused our
// certificate, version or handshake.
var alerts = []string{
	"bad certificate", "unsupported certificate", "revoked certificate", "expired certificate",
	"unknown certificate", "unknown certificate authority", "access denied", "certificate required",
	"protocol version not supported", "handshake failure", "insufficient security",
}

// Is reports whether err says that a TLS handshake was refused: our side
// could not verify the peer's certificate, the peer did not speak TLS, or
// the peer sent one of the alerts above.
func Is(err error) bool {
	var (
		verify   *tls.CertificateVerificationError
		unknown  x509.UnknownAuthorityError
		hostname x509.HostnameError
		invalid  x509.CertificateInvalidError
		header   tls.RecordHeaderError
	)
	if errors.As(err, &verify) || errors.As(err, &unknown) || errors.As(err, &hostname) ||
		errors.As(err, &invalid) || errors.As(err, &header) {
		return true
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "remote error" && op.Err != nil {
		msg := op.Err.Error()
		for _, a := range alerts {
			if strings.HasSuffix(msg, "tls: "+a) {
				return true
			}
		}
	}
	return false
}
