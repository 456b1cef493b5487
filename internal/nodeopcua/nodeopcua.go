// Package nodeopcua starts the node-opcua server of the interop tier
// (.ci/interop/opcua_server.mjs) for the tests that need a third-party OPC
// UA server: secure channels with user names, Alarms & Conditions, history.
// The tier scripts install node-opcua; a missing node or node-opcua fails
// the calling test, never skips it.
package nodeopcua

import (
	"bufio"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// WriteCert writes a self-signed application instance certificate and its
// key, PEM, into dir as name.pem and name.key, as OPC UA wants them: the
// application URI in the SAN, usable for signing and encryption, for client
// and server, valid for localhost and 127.0.0.1.
func WriteCert(t testing.TB, dir, name, appURI string) (certFile, keyFile string) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	uri, err := url.Parse(appURI)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: name, Organization: []string{"GreenLang GL-001 interop"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment | x509.KeyUsageKeyEncipherment | x509.KeyUsageDataEncipherment | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
		URIs:                  []*url.URL{uri},
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, name+".pem"), filepath.Join(dir, name+".key")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// Options says how to start the server.
type Options struct {
	// Interop is the folder .ci/interop, absolute or relative to the
	// test's working directory (its package folder).
	Interop string
	// Tier names the tier script that installs node-opcua, for the
	// message of a missing peer.
	Tier string
	// CertFile, KeyFile: the server's certificate and key (WriteCert);
	// PKI: the folder of its trust lists.
	CertFile, KeyFile, PKI string
	// User and Password: the one user name the server accepts.
	User, Password string
	// Port: 0 for a free one; a fixed port restarts a server where a
	// client expects it.
	Port int
	// Env: extra environment variables of the script (NAME=value).
	Env []string
}

// Server is one running server process.
type Server struct {
	// Endpoint is the server's opc.tcp URL.
	Endpoint string
	// HistoryStart is the first second of the synthetic history the
	// script announces.
	HistoryStart time.Time
	// Stop stops the process (closing its stdin, then killing it after
	// 15 s) and waits for it; it is safe to call more than once and also
	// runs at the test's cleanup.
	Stop func()
}

// Start starts the server and waits until it listens.
func Start(t testing.TB, o Options) Server {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("interop peer missing: node is not installed (run %s): %v", o.Tier, err)
	}
	interop, err := filepath.Abs(o.Interop)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(interop, "node_modules", "node-opcua", "package.json")); err != nil {
		t.Fatalf("interop peer missing: node-opcua is not installed in %s (run %s): %v", interop, o.Tier, err)
	}
	cmd := exec.Command(node, filepath.Join(interop, "opcua_server.mjs"), o.CertFile, o.KeyFile, o.PKI, o.User, o.Password, fmt.Sprint(o.Port))
	cmd.Dir = interop
	cmd.Stderr = os.Stderr
	cmd.Env = append(os.Environ(), o.Env...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	stop := func() {
		once.Do(func() {
			stdin.Close() // the script shuts down when its stdin ends
			done := make(chan struct{})
			go func() { _ = cmd.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(15 * time.Second):
				_ = cmd.Process.Kill()
				<-done
			}
		})
	}
	t.Cleanup(stop)
	type ready struct {
		endpoint string
		history  int64
	}
	up := make(chan ready, 1)
	go func() {
		var histMS int64
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if ms, ok := strings.CutPrefix(sc.Text(), "HISTORY "); ok {
				fmt.Sscan(ms, &histMS)
			}
			if ep, ok := strings.CutPrefix(sc.Text(), "READY "); ok {
				up <- ready{ep, histMS}
			}
		}
		close(up)
	}()
	select {
	case r, ok := <-up:
		if !ok {
			t.Fatal("node-opcua server exited before it was ready")
		}
		return Server{Endpoint: r.endpoint, HistoryStart: time.UnixMilli(r.history), Stop: stop}
	case <-time.After(180 * time.Second):
		t.Fatal("node-opcua server did not start")
	}
	return Server{}
}
