package modbus

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/greenlang/gl001/scada"
	"github.com/greenlang/gl001/scada/scadatest"
)

// pki is a test CA with a server certificate for 127.0.0.1 and a client
// certificate, all generated in the test.
type pki struct {
	pool              *x509.CertPool
	server, client    tls.Certificate
	caPEM             []byte
	clientPEM, keyPEM []byte
}

func newPKI(t testing.TB) *pki {
	t.Helper()
	newKey := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	caKey := newKey()
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test plant CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	leaf := func(serial int64, cn string, usage x509.ExtKeyUsage, ips []net.IP) (tls.Certificate, []byte, []byte) {
		k := newKey()
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
			NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage}, IPAddresses: ips,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &k.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		kder, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
		keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})
		c, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			t.Fatal(err)
		}
		return c, certPEM, keyPEM
	}
	p := &pki{pool: x509.NewCertPool(), caPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})}
	p.pool.AddCert(ca)
	p.server, _, _ = leaf(2, "plc", x509.ExtKeyUsageServerAuth, []net.IP{net.IPv4(127, 0, 0, 1)})
	p.client, p.clientPEM, p.keyPEM = leaf(3, "historian", x509.ExtKeyUsageClientAuth, nil)
	return p
}

// files writes the client's PEM files and returns their paths.
func (p *pki) files(t testing.TB) (cert, key, ca string) {
	dir := t.TempDir()
	cert, key, ca = filepath.Join(dir, "client.pem"), filepath.Join(dir, "client.key"), filepath.Join(dir, "ca.pem")
	for name, b := range map[string][]byte{cert: p.clientPEM, key: p.keyPEM, ca: p.caPEM} {
		if err := os.WriteFile(name, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return cert, key, ca
}

func TestTLSFromEnv(t *testing.T) {
	p := newPKI(t)
	srv := newServer(t, scadatest.ModbusConfig{TLSCert: &p.server, TLSClientCAs: p.pool})
	srv.SetRegisters(1, scadatest.ModbusHolding, 0, 0x4148, 0x0000)
	cert, key, ca := p.files(t)
	t.Setenv(EnvCertPath, cert)
	t.Setenv(EnvKeyPath, key)
	t.Setenv(EnvCAPath, ca)
	cfg, err := TLSFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.MinVersion != tls.VersionTLS13 {
		t.Errorf("MinVersion %x, want TLS 1.3", cfg.MinVersion)
	}
	s := newSource(t, Config{Name: "plc", Address: srv.Addr(), TLS: cfg,
		Devices: []Device{{UnitID: 1, Tags: []Tag{{Name: "v", Type: Float32}}}}})
	sink := newCollector()
	if err := dial(t, s).Poll(context.Background(), sink); err != nil {
		t.Fatal(err)
	}
	if p := last(sink.snapshot())["v"]; !p.Quality.IsGood() || p.Value != 12.5 {
		t.Errorf("over TLS: %+v", p)
	}
}

func TestTLSFromEnvMissing(t *testing.T) {
	t.Setenv(EnvCertPath, "")
	t.Setenv(EnvKeyPath, "")
	t.Setenv(EnvCAPath, "")
	_, err := TLSFromEnv()
	for _, v := range []string{EnvCertPath, EnvKeyPath, EnvCAPath} {
		if err == nil || !strings.Contains(err.Error(), v) {
			t.Errorf("missing %s not reported: %v", v, err)
		}
	}
}

func TestLoadTLSErrorsHideContents(t *testing.T) {
	p := newPKI(t)
	cert, _, ca := p.files(t)
	bad := filepath.Join(t.TempDir(), "bad.key")
	if err := os.WriteFile(bad, []byte("secret-key-material"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := LoadTLS(cert, bad, ca)
	if err == nil || strings.Contains(err.Error(), "secret-key-material") || !strings.Contains(err.Error(), bad) {
		t.Errorf("bad key: %v", err)
	}
	if _, err := LoadTLS(cert, bad, filepath.Join(t.TempDir(), "none.pem")); err == nil {
		t.Error("missing CA accepted")
	}
}

func TestTLSClientWithoutCertificateRefused(t *testing.T) {
	p := newPKI(t)
	srv := newServer(t, scadatest.ModbusConfig{TLSCert: &p.server, TLSClientCAs: p.pool})
	// A client that presents no certificate when asked (Validate refuses a
	// TLS config without any way to present one).
	none := func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &tls.Certificate{}, nil }
	s := newSource(t, Config{Name: "plc", Address: srv.Addr(), TLS: &tls.Config{RootCAs: p.pool, GetClientCertificate: none},
		Devices: []Device{{UnitID: 1, Tags: []Tag{{Name: "v"}}}}})
	// With TLS 1.3 the server's refusal arrives after the client's side of
	// the handshake, so it may surface at the first request.
	err := s.Run(context.Background(), newCollector())
	if !errors.Is(err, scada.ErrConnection) {
		t.Fatalf("Run without a client certificate: %v", err)
	}
}

func TestTLSWrongServerRefused(t *testing.T) {
	p, other := newPKI(t), newPKI(t)
	srv := newServer(t, scadatest.ModbusConfig{TLSCert: &other.server, TLSClientCAs: p.pool})
	s := newSource(t, Config{Name: "plc", Address: srv.Addr(), TLS: &tls.Config{RootCAs: p.pool, Certificates: []tls.Certificate{p.client}},
		Devices: []Device{{UnitID: 1, Tags: []Tag{{Name: "v"}}}}})
	if _, err := s.Dial(context.Background()); !errors.Is(err, scada.ErrConnection) {
		t.Fatalf("dial to a server of another CA: %v", err)
	}
}

// tls12Front is a TLS 1.2-only front end that forwards to a plain Modbus
// server: a device that cannot do TLS 1.3.
func tls12Front(t *testing.T, p *pki, backend string) string {
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{
		Certificates: []tls.Certificate{p.server}, ClientCAs: p.pool, ClientAuth: tls.RequireAndVerifyClientCert,
		MinVersion: tls.VersionTLS12, MaxVersion: tls.VersionTLS12,
	})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			b, err := net.Dial("tcp", backend)
			if err != nil {
				c.Close()
				continue
			}
			mu.Lock()
			conns = append(conns, c, b)
			mu.Unlock()
			wg.Add(2)
			go func() { defer wg.Done(); _, _ = io.Copy(b, c); b.Close() }()
			go func() { defer wg.Done(); _, _ = io.Copy(c, b); c.Close() }()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

func TestTLS13ByDefault(t *testing.T) {
	p := newPKI(t)
	backend := newServer(t, scadatest.ModbusConfig{})
	backend.SetRegisters(1, scadatest.ModbusHolding, 0, 99)
	front := tls12Front(t, p, backend.Addr())
	cfg := Config{Name: "old-plc", Address: front,
		TLS:     &tls.Config{RootCAs: p.pool, Certificates: []tls.Certificate{p.client}},
		Devices: []Device{{UnitID: 1, Tags: []Tag{{Name: "v"}}}}}

	if _, err := newSource(t, cfg).Dial(context.Background()); !errors.Is(err, scada.ErrConnection) {
		t.Fatalf("TLS 1.2 device accepted by default: %v", err)
	}

	cfg.TLS.MinVersion = tls.VersionTLS12 // the explicit opt-in
	s := newSource(t, cfg)
	sink := newCollector()
	if err := dial(t, s).Poll(context.Background(), sink); err != nil {
		t.Fatal(err)
	}
	if p := last(sink.snapshot())["v"]; !p.Quality.IsGood() || p.Value != 99 {
		t.Errorf("over TLS 1.2 when allowed: %+v", p)
	}
}

func TestValidateTLS(t *testing.T) {
	c := validConfig()
	c.TLS = &tls.Config{MinVersion: tls.VersionTLS11}
	err := c.Validate()
	if err == nil || !strings.Contains(err.Error(), "below TLS 1.2") || !strings.Contains(err.Error(), "no client certificate") {
		t.Errorf("Validate: %v", err)
	}
}
