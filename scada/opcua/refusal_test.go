package opcua

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gopcua/opcua/ua"
	"github.com/gopcua/opcua/uacp"

	"github.com/greenlang/gl001/scada"
)

// writeTestCert writes a self-signed certificate with the given URIs in its
// subject alternative names and returns its path. Only the certificate is
// read by the checks under test, so the key type does not matter.
func writeTestCert(t *testing.T, uris ...string) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "gl001 test client"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
	for _, s := range uris {
		u, err := url.Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		tmpl.URIs = append(tmpl.URIs, u)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "client.pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestValidateRefusesCredentialsWithoutAuthUsername: a user name or password
// set with another Auth used to connect anonymously without a word.
func TestValidateRefusesCredentialsWithoutAuthUsername(t *testing.T) {
	for _, c := range []struct {
		name string
		edit func(*Config)
	}{
		{"username, anonymous", func(c *Config) { c.Username = "operator" }},
		{"password, anonymous", func(c *Config) { c.Password = "hunter2" }},
		{"both, certificate", func(c *Config) {
			c.Auth, c.Username, c.Password = AuthCertificate, "operator", "hunter2"
			c.CertFile, c.KeyFile = "c.pem", "k.pem"
		}},
	} {
		cfg := validConfig()
		c.edit(&cfg)
		err := cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), "set Auth to AuthUsername") {
			t.Errorf("%s: Validate = %v, want the credentials refused", c.name, err)
		}
		if err != nil && strings.Contains(err.Error(), "hunter2") {
			t.Errorf("%s: the error shows the password: %v", c.name, err)
		}
	}
	cfg := validConfig()
	cfg.Auth, cfg.Username, cfg.Password = AuthUsername, "operator", "hunter2"
	if err := cfg.Validate(); err != nil {
		t.Errorf("AuthUsername with credentials: %v", err)
	}
}

func TestValidateChecksTheApplicationURI(t *testing.T) {
	secure := func(cert, appURI string) Config {
		cfg := validConfig()
		cfg.SecurityPolicy, cfg.SecurityMode = PolicyBasic256Sha256, ModeSignAndEncrypt
		cfg.CertFile, cfg.KeyFile, cfg.CAFile = cert, "k.pem", "ca.pem"
		cfg.ApplicationURI = appURI
		return cfg
	}
	withURI := writeTestCert(t, "urn:plant:gl001", "urn:plant:gl001:backup")
	noURI := writeTestCert(t)
	for _, c := range []struct {
		name    string
		cfg     Config
		wantErr string
	}{
		{"the certificate's first URI", secure(withURI, ""), ""},
		{"another URI of the certificate", secure(withURI, "urn:plant:gl001:backup"), ""},
		{"a URI the certificate lacks", secure(withURI, "urn:plant:other"), `ApplicationURI "urn:plant:other" is not among`},
		{"a certificate without a URI", secure(noURI, ""), "BadCertificateURIInvalid"},
		{"not a URI", secure(withURI, "gl001 client"), "not an absolute URI"},
	} {
		err := c.cfg.Validate()
		switch {
		case c.wantErr == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)):
			t.Errorf("%s: Validate = %v, want %q", c.name, err, c.wantErr)
		case c.wantErr != "" && c.wantErr != "not an absolute URI" && (!errors.Is(err, ErrCertificateURI) || !errors.Is(err, scada.ErrPermanent)):
			t.Errorf("%s: %v does not match ErrCertificateURI and scada.ErrPermanent", c.name, err)
		}
	}
	// The URI the session announces is the one checked.
	der, err := parseCert(mustRead(t, withURI))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := applicationURI(der, ""); err != nil || got != "urn:plant:gl001" {
		t.Errorf("derived application URI = %q, %v", got, err)
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestStatusErrorPrintsTheCodeOnce: the message used to end in
// "(0x801F0000) (0x801F0000)".
func TestStatusErrorPrintsTheCodeOnce(t *testing.T) {
	for _, c := range []struct {
		err  *StatusError
		want string
	}{
		{&StatusError{Op: "Connect", Code: scada.BadUserAccessDenied},
			"opcua: Connect: BadUserAccessDenied: User does not have permission to perform the requested operation. (0x801F0000)"},
		{&StatusError{Op: "Read", Code: scada.Quality(ua.StatusBadNodeIDUnknown)},
			"opcua: Read: BadNodeIDUnknown: The node id refers to a node that does not exist in the server address space. (0x80340000)"},
		{&StatusError{Op: "Write", Code: 0x80340400}, // with info bits
			"opcua: Write: BadNodeIDUnknown: The node id refers to a node that does not exist in the server address space. (0x80340400)"},
		{&StatusError{Op: "Read", Code: 0x80FF0000}, "opcua: Read: status (0x80FF0000)"},
	} {
		got := c.err.Error()
		if got != c.want {
			t.Errorf("Error() = %q\nwant      %q", got, c.want)
		}
		if n := strings.Count(got, "(0x"); n != 1 {
			t.Errorf("%q shows the code %d times", got, n)
		}
	}
}

func TestRefusalsArePermanent(t *testing.T) {
	conn := func(op string, err error) error { return &ConnError{Endpoint: "opc.tcp://plc:4840", Op: op, Err: err} }
	for _, c := range []struct {
		name       string
		err        error
		permanent  bool
		connection bool
	}{
		{"wrong password", conn("session", statusErr(opConnect, ua.StatusBadUserAccessDenied)), true, true},
		{"token rejected", conn("session", statusErr(opConnect, ua.StatusBadIdentityTokenRejected)), true, true},
		{"token invalid", conn("session", statusErr(opConnect, ua.StatusBadIdentityTokenInvalid)), true, true},
		{"client certificate untrusted (transport ERR)", conn("session", statusErr(opConnect, &uacp.Error{ErrorCode: uint32(ua.StatusBadCertificateUntrusted)})), true, true},
		{"security checks failed", conn("session", statusErr(opConnect, ua.StatusBadSecurityChecksFailed)), true, true},
		{"certificate URI", conn("session", statusErr(opConnect, ua.StatusBadCertificateURIInvalid)), true, true},
		{"policy rejected", conn("get endpoints", statusErr(opGetEndpoints, ua.StatusBadSecurityPolicyRejected)), true, true},
		{"no endpoint", conn("select endpoint", ErrNoEndpoint), true, true},
		{"untrusted server", conn("verify server", ErrUntrustedServer), true, true},
		{"certificate without URI", conn("client certificate", ErrCertificateURI), true, true},
		{"password withheld", conn("session", sanitize(statusErr(opConnect, errors.Join(ua.StatusBadUserAccessDenied, errors.New("pw=s3cret"))), "s3cret")), true, true},
		{"refused", conn("dial", errors.New("dial tcp 127.0.0.1:4840: connect: connection refused")), false, true},
		{"too many sessions", conn("session", statusErr(opConnect, ua.StatusBadTooManySessions)), false, true},
		{"channel lost mid-session", conn("publish", statusErr("Publish", ua.StatusBadSecurityChecksFailed)), false, true},
		{"a node the user may not read", &StatusError{Op: "Read", Code: scada.BadUserAccessDenied}, false, false},
	} {
		if got := errors.Is(c.err, scada.ErrPermanent); got != c.permanent {
			t.Errorf("%s: errors.Is(%v, ErrPermanent) = %v, want %v", c.name, c.err, got, c.permanent)
		}
		if got := errors.Is(c.err, scada.ErrConnection); got != c.connection {
			t.Errorf("%s: errors.Is(%v, ErrConnection) = %v, want %v", c.name, c.err, got, c.connection)
		}
		if strings.Contains(c.err.Error(), "s3cret") {
			t.Errorf("%s: %v shows the password", c.name, c.err)
		}
	}
}
