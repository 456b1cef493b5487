package postgres_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/greenlang/gl001/scada"
	"github.com/greenlang/gl001/scada/forward"
	"github.com/greenlang/gl001/scada/forward/postgres"
)

// newCA returns a self-signed CA certificate and its key.
func newCA(t *testing.T, name string) (*x509.Certificate, *ecdsa.PrivateKey, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return cert, key, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// serverCert returns a certificate for names signed by ca, and its key, in PEM.
func serverCert(t *testing.T, ca *x509.Certificate, caKey *ecdsa.PrivateKey, ips []net.IP, dns []string) ([]byte, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "historian test server"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: ips, DNSNames: dns,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
}

// enableTLS gives c a server certificate and turns TLS on.
func (c *cluster) enableTLS(t *testing.T, certPEM, keyPEM []byte) {
	t.Helper()
	crt, key := filepath.Join(c.dir, "server.crt"), filepath.Join(c.dir, "server.key")
	if err := os.WriteFile(crt, certPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(key, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if c.user != "" {
		if out, err := exec.Command("chown", c.user, crt, key).CombinedOutput(); err != nil {
			t.Fatalf("chown: %v: %s", err, out)
		}
	}
	c.exec(t, "ALTER SYSTEM SET ssl_cert_file = '"+crt+"'")
	c.exec(t, "ALTER SYSTEM SET ssl_key_file = '"+key+"'")
	c.exec(t, "ALTER SYSTEM SET ssl_min_protocol_version = 'TLSv1.3'")
	c.exec(t, "ALTER SYSTEM SET ssl = on")
	c.exec(t, "SELECT pg_reload_conf()")
}

// TestVerifyFull connects with sslmode=verify-full to a server whose
// certificate the CA signed for 127.0.0.1: the session is encrypted. A
// certificate from another CA, or for another host, is refused with
// ErrAuth, without the password in the error.
func TestVerifyFull(t *testing.T) {
	c := newCluster(t)
	ctx := testCtx(t)
	ca, caKey, caPEM := newCA(t, "plant CA")
	certPEM, keyPEM := serverCert(t, ca, caKey, []net.IP{net.IPv4(127, 0, 0, 1)}, []string{"localhost"})
	c.enableTLS(t, certPEM, keyPEM)
	dir := t.TempDir()
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, caPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	_, _, otherPEM := newCA(t, "someone else's CA")
	otherFile := filepath.Join(dir, "other.pem")
	if err := os.WriteFile(otherFile, otherPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	dsn := func(ca string) string {
		return strings.Replace(c.superDSN(), "sslmode=disable", "sslmode=verify-full sslrootcert="+ca, 1)
	}

	h, err := postgres.New(ctx, postgres.Config{DSN: dsn(caFile), Schema: "tls"})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	var ssl bool
	var version string
	if err := h.QueryRowForTest(ctx, "SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()", &ssl, &version); err != nil || !ssl {
		t.Fatalf("session encrypted: %v (%v)", ssl, err)
	}
	t.Logf("verify-full session: %s", version)
	if err := h.Send(ctx, forward.Batch{Stream: forward.Stream{Edge: "tls", Buffer: "b"}, Points: []scada.Point{{Tag: "t", Value: 1, Time: t0}}}); err != nil {
		t.Fatal(err)
	}

	_, err = postgres.New(ctx, postgres.Config{DSN: dsn(otherFile), Schema: "tls"})
	if !errors.Is(err, postgres.ErrAuth) || !errors.Is(err, scada.ErrPermanent) || strings.Contains(err.Error(), superPassword) {
		t.Fatalf("New against an unknown CA: %v, want ErrAuth without the password", err)
	}
	t.Logf("unknown CA: %v", err)

	// The same CA, a certificate for another name.
	certPEM, keyPEM = serverCert(t, ca, caKey, nil, []string{"db.elsewhere.example"})
	c.enableTLS(t, certPEM, keyPEM)
	_, err = postgres.New(ctx, postgres.Config{DSN: dsn(caFile), Schema: "tls"})
	if !errors.Is(err, postgres.ErrAuth) || strings.Contains(err.Error(), superPassword) {
		t.Fatalf("New against a certificate for another host: %v, want ErrAuth", err)
	}
	t.Logf("other host: %v", err)
}
