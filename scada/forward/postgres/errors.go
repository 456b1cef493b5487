package postgres

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/greenlang/gl001/scada"
)

// Sentinel errors. Every error of this package that has a known cause
// matches one of them with errors.Is and is an *[Error] carrying the SQLSTATE.
var (
	// ErrConnection marks a failure to reach or keep the server: refused,
	// reset, timed out, the server shutting down. Retrying is safe: a Send that
	// failed this way committed nothing (or everything, which the next Send
	// sees through the stream position and drops). It also matches
	// [scada.ErrConnection].
	ErrConnection = errors.New("postgres: connection failed")
	// ErrAuth marks credentials the server refused (SQLSTATE 28P01, 28000), a
	// role without the needed privilege (42501), or a server certificate that
	// does not verify under sslmode=verify-full (unknown authority, another
	// host name, expired). Retrying does not help until an operator fixes the
	// password, the grants or the certificates; it also matches
	// [scada.ErrPermanent].
	ErrAuth = errors.New("postgres: authentication or permission refused")
	// ErrSchema marks tables that do not have the shape this package created
	// (a column dropped, a type changed, a table missing) or a schema version
	// newer than this code knows. Retrying does not help until the table is
	// repaired; the message names the table and column. It also matches
	// [scada.ErrPermanent].
	ErrSchema = errors.New("postgres: historian schema does not match")
	// ErrTimeout marks a statement the server cancelled after the configured
	// statement timeout or lock timeout (57014, 55P03). Nothing was
	// committed; retrying is safe.
	ErrTimeout = errors.New("postgres: statement timed out")
	// ErrStorage marks a server out of disk, memory or connection slots
	// (SQLSTATE class 53). Nothing was committed; retrying is safe once
	// space is freed.
	ErrStorage = errors.New("postgres: server out of resources")
	// ErrDiskFull marks a server that could not extend a file: the disk or
	// the tablespace holding the table is full (SQLSTATE 53100). It also
	// matches [ErrStorage]. Nothing was committed; retrying is safe and
	// succeeds once space is freed (DropBefore frees whole days).
	ErrDiskFull = errors.New("postgres: disk full")
	// ErrConfig marks a Config that cannot work: an unparsable DSN, TLS
	// weaker than verify-full towards a remote host, PG* variables that would
	// silently change a DSN. Not retryable.
	ErrConfig = errors.New("postgres: invalid configuration")
	// ErrBadRecord marks an ERP record that cannot be stored: no source key,
	// a quantity that is not an energy (its unit does not convert to kWh), a
	// period that ends before it starts. The record is skipped; the others of
	// the call are stored. Not retryable.
	ErrBadRecord = errors.New("postgres: ERP record cannot be stored")
)

// Error is a failure with a known cause. Its message never contains the
// password of the connection.
type Error struct {
	Op    string // what was being done, e.g. "send", "migrate"
	Kind  error  // one of the sentinels above, or nil when the cause is unknown
	Code  string // the SQLSTATE the server sent, or ""
	Table string // the table concerned, when known
	Msg   string // the cause, password removed
	err   error  // the server's *pgconn.PgError or a context error, never the connect config
}

// Error says what failed and why.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("postgres: ")
	b.WriteString(e.Op)
	if e.Table != "" {
		b.WriteString(" ")
		b.WriteString(e.Table)
	}
	b.WriteString(": ")
	if e.Kind != nil {
		b.WriteString(strings.TrimPrefix(e.Kind.Error(), "postgres: "))
		b.WriteString(": ")
	}
	if e.Code == codeDiskFull {
		b.WriteString("disk full: ")
	}
	b.WriteString(e.Msg)
	if e.Code != "" {
		b.WriteString(" (SQLSTATE ")
		b.WriteString(e.Code)
		b.WriteString(")")
	}
	return b.String()
}

// Unwrap returns the sentinel, the matching [scada] sentinel and the server's
// *pgconn.PgError or context error.
func (e *Error) Unwrap() []error {
	var errs []error
	if e.Kind != nil {
		errs = append(errs, e.Kind)
	}
	if e.Code == codeDiskFull {
		errs = append(errs, ErrDiskFull)
	}
	switch e.Kind {
	case ErrConnection:
		errs = append(errs, scada.ErrConnection)
	case ErrAuth, ErrSchema:
		errs = append(errs, scada.ErrPermanent)
	}
	if e.err != nil {
		errs = append(errs, e.err)
	}
	return errs
}

// classify turns an error of pgx into an *Error, removing secret from its
// text. A context error of ctx is returned as it is.
func classify(op string, err error, secret string) error {
	if err == nil {
		return nil
	}
	var own *Error
	if errors.As(err, &own) {
		return err
	}
	e := &Error{Op: op}
	var pgErr *pgconn.PgError
	switch {
	case errors.As(err, &pgErr):
		e.Code = pgErr.Code
		e.Table = pgErr.TableName
		e.err = pgErr
		e.Msg = pgErr.Message
		if pgErr.ColumnName != "" {
			e.Msg += " (column " + pgErr.ColumnName + ")"
		}
		if pgErr.Detail != "" {
			e.Msg += ": " + pgErr.Detail
		}
		e.Kind = kindOf(pgErr.Code)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		e.Msg = err.Error()
		if errors.Is(err, context.Canceled) {
			e.err = context.Canceled
		} else {
			e.err = context.DeadlineExceeded
		}
		e.Kind = ErrConnection
	case isCertErr(err):
		e.Msg = err.Error()
		e.Kind = ErrAuth
	default:
		e.Msg = err.Error()
		var netErr net.Error
		if errors.As(err, &netErr) || pgconn.SafeToRetry(err) || isConnectErr(err) || pgconn.Timeout(err) {
			e.Kind = ErrConnection
		}
	}
	e.Msg = redact(e.Msg, secret)
	return e
}

// isCertErr reports a server certificate that did not verify (unknown
// authority, wrong host name, expired).
func isCertErr(err error) bool {
	var cve *tls.CertificateVerificationError
	var ua x509.UnknownAuthorityError
	var he x509.HostnameError
	var ie x509.CertificateInvalidError
	return errors.As(err, &cve) || errors.As(err, &ua) || errors.As(err, &he) || errors.As(err, &ie)
}

func isConnectErr(err error) bool {
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		return true
	}
	// pgx reports a connection closed under it ("conn closed", "unexpected
	// EOF") without a type of its own.
	s := err.Error()
	return strings.Contains(s, "conn closed") || strings.Contains(s, "unexpected EOF") ||
		strings.Contains(s, "connection reset") || strings.Contains(s, "broken pipe") ||
		strings.Contains(s, "failed to deallocate") || strings.Contains(s, "closed pool")
}

// codeDiskFull is SQLSTATE disk_full.
const codeDiskFull = "53100"

func kindOf(code string) error {
	switch {
	case code == "28P01" || code == "28000" || code == "42501":
		return ErrAuth
	case code == "42703" || code == "42P01" || code == "42804" || code == "22P03" ||
		code == "42P10" || code == "42883" || code == "23502":
		// undefined column or table, datatype mismatch, bad binary format,
		// no matching unique index for ON CONFLICT, undefined function, a
		// NOT NULL column this package does not fill.
		return ErrSchema
	case code == "57014" || code == "55P03":
		return ErrTimeout
	case strings.HasPrefix(code, "53"):
		return ErrStorage
	case strings.HasPrefix(code, "08") || code == "57P01" || code == "57P02" || code == "57P03":
		return ErrConnection
	}
	return nil
}

// redact replaces every occurrence of secret in s.
func redact(s, secret string) string {
	if secret == "" {
		return s
	}
	return strings.ReplaceAll(s, secret, "[redacted]")
}

func schemaErr(op, table, format string, args ...any) error {
	return &Error{Op: op, Kind: ErrSchema, Table: table, Msg: fmt.Sprintf(format, args...)}
}
